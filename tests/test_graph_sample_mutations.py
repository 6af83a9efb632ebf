"""Sample mutations through the graph, against the sandbox's samples service."""

from __future__ import annotations

from typing import Any

from tests.conftest import SandboxControl, gateway_client, gql, sandbox_settings

CREATE = """
mutation Create($input: CreateSampleInput!) {
  createSample(input: $input) { id name barcode status sampleType allowedNextStatuses }
}
"""
CHANGE = """
mutation Change($input: ChangeSampleStatusInput!) {
  changeSampleStatus(input: $input) { id status allowedNextStatuses }
}
"""


async def test_create_update_and_delete_a_sample(sandbox: Any, control: SandboxControl) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        created = await gql(
            client, CREATE, input={"name": "GW-test plasma", "sampleType": "plasma", "volume": 1.5}
        )
        sample = created["data"]["createSample"]
        assert sample["status"] == "PENDING"
        assert sample["allowedNextStatuses"] == ["VALIDATED", "REJECTED", "DELETED"]
        assert sample["barcode"]
        updated = await gql(
            client,
            """mutation($id: ID!, $input: UpdateSampleInput!) {
                 updateSample(id: $id, input: $input) { id name notes volume }
               }""",
            id=sample["id"],
            input={"notes": "re-labelled", "volume": 2.0},
        )
        assert updated["data"]["updateSample"] == {
            "id": sample["id"],
            "name": "GW-test plasma",
            "notes": "re-labelled",
            "volume": 2.0,
        }
        deleted = await gql(
            client, "mutation($id: ID!) { deleteSample(id: $id) { id deleted } }", id=sample["id"]
        )
        assert deleted["data"]["deleteSample"] == {"id": sample["id"], "deleted": True}
        gone = await gql(client, "query($id: ID) { sample(id: $id) { id } }", id=sample["id"])
        assert gone == {"data": {"sample": None}}
        again = await gql(
            client, "mutation($id: ID!) { deleteSample(id: $id) { id } }", id=sample["id"]
        )
    assert again["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_legal_status_change_moves_the_sample(sandbox: Any, control: SandboxControl) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        sample = (await gql(client, CREATE, input={"name": "GW-move", "sampleType": "dna"}))[
            "data"
        ]["createSample"]
        moved = await gql(
            client, CHANGE, input={"id": sample["id"], "status": "VALIDATED", "reason": "QC ok"}
        )
    assert moved["data"]["changeSampleStatus"]["status"] == "VALIDATED"
    assert "IN_STORAGE" in moved["data"]["changeSampleStatus"]["allowedNextStatuses"]


async def test_illegal_status_change_is_bad_user_input_with_allowed_next_statuses(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        sample = (await gql(client, CREATE, input={"name": "GW-illegal", "sampleType": "rna"}))[
            "data"
        ]["createSample"]
        body = await gql(client, CHANGE, input={"id": sample["id"], "status": "COMPLETED"})
        after = await gql(client, "query($id: ID) { sample(id: $id) { status } }", id=sample["id"])
    error = body["errors"][0]
    assert body["data"] is None
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["currentStatus"] == "PENDING"
    assert error["extensions"]["allowedNextStatuses"] == ["VALIDATED", "REJECTED", "DELETED"]
    assert after["data"]["sample"]["status"] == "PENDING"


async def test_batch_create_reports_each_item_and_one_bad_item_fails_alone(
    sandbox: Any, control: SandboxControl
) -> None:
    items = [
        {"name": "GW-batch 1", "sampleType": "blood"},
        {"name": "", "sampleType": "blood"},
        {"name": "GW-batch 3", "sampleType": "saliva"},
    ]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(
            client,
            """mutation($input: [CreateSampleInput!]!) {
                 createSamples(input: $input) {
                   createdCount failedCount
                   results { index sample { name } error { code message } }
                 }
               }""",
            input=items,
        )
    payload = body["data"]["createSamples"]
    assert payload["createdCount"] == 2
    assert payload["failedCount"] == 1
    results = payload["results"]
    assert [r["index"] for r in results] == [0, 1, 2]
    assert results[0]["sample"]["name"] == "GW-batch 1"
    assert results[1]["sample"] is None
    assert results[1]["error"]["code"] == "BAD_USER_INPUT"
    assert results[2]["sample"]["name"] == "GW-batch 3"
    assert control.requests("samples") == 1


async def test_mutation_input_errors_change_nothing(sandbox: Any, control: SandboxControl) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        bad_id = await gql(client, CHANGE, input={"id": "nope", "status": "VALIDATED"})
        empty_batch = await gql(client, "mutation { createSamples(input: []) { createdCount } }")
        empty_update = await gql(
            client,
            "mutation($id: ID!) { updateSample(id: $id, input: {}) { id } }",
            id="00000000-0000-4000-8000-000000000001",
        )
        bad_template = await gql(
            client, CREATE, input={"name": "x", "sampleType": "dna", "templateId": "zzz"}
        )
    for body in (bad_id, empty_batch, empty_update, bad_template):
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert control.requests() == 0

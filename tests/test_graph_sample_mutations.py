"""Sample mutations through the graph, against the release-mode samples service."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import SandboxControl, codes, gateway_client, gql, sandbox_settings

CREATE = """
mutation Create($input: CreateSampleInput!) {
  createSample(input: $input) {
    id name barcode status sampleType collectionDate allowedNextStatuses
  }
}
"""
CHANGE = """
mutation Change($input: ChangeSampleStatusInput!) {
  changeSampleStatus(input: $input) { id status allowedNextStatuses }
}
"""
UPDATE = """
mutation($id: ID!, $input: UpdateSampleInput!) {
  updateSample(id: $id, input: $input) { id name notes volume collectionDate }
}
"""
BATCH = """
mutation($input: [CreateSampleInput!]!, $templateId: ID) {
  createSamples(input: $input, templateId: $templateId) {
    createdCount failedCount
    results { index sample { name sampleType templateId } error { code message } }
  }
}
"""
READ = "query($id: ID) { sample(id: $id) { id status collectionDate } }"


def _stored(sb: Any, sample_id: str) -> dict[str, Any]:
    """The sample as the samples service holds it (its own spelling)."""
    doc: dict[str, Any] = httpx.get(f"{sb.urls['samples']}/samples/{sample_id}").json()["data"]
    return doc


async def _new(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    body = await gql(client, CREATE, input={"name": name, "sampleType": "DNA", **fields})
    assert "errors" not in body, body
    sample: dict[str, Any] = body["data"]["createSample"]
    return sample


async def test_create_update_and_soft_delete_a_sample(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        sample = await _new(client, "GW-test plasma", sampleType="plasma", volume=1.5)
        assert control.by_route("samples") == {"POST /samples": 1}
        assert (sample["status"], sample["sampleType"]) == ("PENDING", "Plasma")
        assert sample["allowedNextStatuses"] == ["VALIDATED", "REJECTED", "DELETED"]
        assert sample["barcode"].startswith("LAB-")
        updated = await gql(
            client, UPDATE, id=sample["id"], input={"notes": "re-labelled", "volume": 2.0}
        )
        assert updated["data"]["updateSample"] == {
            "id": sample["id"],
            "name": "GW-test plasma",
            "notes": "re-labelled",
            "volume": 2.0,
            "collectionDate": None,
        }
        deleted = await gql(
            client, "mutation($id: ID!) { deleteSample(id: $id) { id deleted } }", id=sample["id"]
        )
        assert deleted["data"]["deleteSample"] == {"id": sample["id"], "deleted": True}
        after = await gql(client, READ, id=sample["id"])
        missing = await gql(
            client,
            "mutation($id: ID!) { deleteSample(id: $id) { id } }",
            id="00000000-0000-4000-8000-000000000000",
        )
    assert after["data"]["sample"]["status"] == "DELETED"
    assert missing["data"] == {"deleteSample": None}
    assert codes(missing) == ["NOT_FOUND"]


async def test_statuses_travel_in_pascal_case_both_ways(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        sample = await _new(client, "GW-move")
        for status in ("VALIDATED", "IN_STORAGE"):
            moved = await gql(client, CHANGE, input={"id": sample["id"], "status": status})
            assert moved["data"]["changeSampleStatus"]["status"] == status
        assert _stored(sandbox, sample["id"])["status"] == "InStorage"
        listed = await gql(
            client,
            "{ samples(filter: {status: IN_STORAGE}, first: 1000) { edges { node { id } } } }",
        )
    assert sample["id"] in [e["node"]["id"] for e in listed["data"]["samples"]["edges"]]
    assert moved["data"]["changeSampleStatus"]["allowedNextStatuses"] == [
        "IN_SEQUENCING",
        "REJECTED",
        "DELETED",
    ]


async def test_illegal_status_change_is_bad_user_input_with_allowed_next_statuses(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        sample = await _new(client, "GW-illegal")
        control.reset_stats()
        same = await gql(client, CHANGE, input={"id": sample["id"], "status": "PENDING"})
        body = await gql(client, CHANGE, input={"id": sample["id"], "status": "COMPLETED"})
        after = await gql(client, READ, id=sample["id"])
    # The release's error names neither status: one GET tells where the sample is.
    assert control.by_route("samples") == {"PUT /samples/{id}/status": 2, "GET /samples/{id}": 3}
    for answer in (same, body):
        assert answer["data"] == {"changeSampleStatus": None}
        error = answer["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["currentStatus"] == "PENDING"
        assert error["extensions"]["allowedNextStatuses"] == ["VALIDATED", "REJECTED", "DELETED"]
    assert after["data"]["sample"]["status"] == "PENDING"


async def test_status_change_options_the_release_ignores_are_unsupported_and_write_nothing(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        sample = await _new(client, "GW-notify")
        control.reset_stats()
        notify = await gql(
            client, CHANGE, input={"id": sample["id"], "status": "VALIDATED", "notify": True}
        )
        metadata = await gql(
            client, CHANGE, input={"id": sample["id"], "status": "VALIDATED", "metadata": {"a": 1}}
        )
    for body in (notify, metadata):
        assert body["data"] == {"changeSampleStatus": None}
        assert [(e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]] == [
            ("UPSTREAM_UNSUPPORTED", "samples")
        ]
    assert control.requests() == 0
    assert _stored(sandbox, sample["id"])["status"] == "Pending"


async def test_update_cannot_clear_a_field_and_says_so_before_writing(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        sample = await _new(client, "GW-clear", notes="keep me")
        control.reset_stats()
        cleared = await gql(client, UPDATE, id=sample["id"], input={"notes": None})
        template = await gql(
            client,
            UPDATE,
            id=sample["id"],
            input={"templateId": "00000000-0000-4000-8000-000000000001"},
        )
    for body in (cleared, template):
        assert body["data"] == {"updateSample": None}
        assert codes(body) == ["UPSTREAM_UNSUPPORTED"]
    assert control.requests() == 0
    assert _stored(sandbox, sample["id"])["notes"] == "keep me"


async def test_deleting_a_sample_in_sequencing_is_bad_user_input(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        sample = await _new(client, "GW-busy")
        for status in ("VALIDATED", "IN_SEQUENCING"):
            await gql(client, CHANGE, input={"id": sample["id"], "status": status})
        body = await gql(
            client, "mutation($id: ID!) { deleteSample(id: $id) { id } }", id=sample["id"]
        )
    assert body["data"] == {"deleteSample": None}
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["upstreamCode"] == "business_rule_violation"
    assert _stored(sandbox, sample["id"])["status"] == "InSequencing"


async def test_collection_dates_before_year_1000_are_stored_and_read_back(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        sample = await _new(client, "GW-ancient", collectionDate="0999-05-01T12:00:00Z")
        read = await gql(client, READ, id=sample["id"])
        listed = await gql(
            client,
            "{ samples(first: 1) { edges { node { id collectionDate } } } }",
        )
    assert sample["collectionDate"] == "0999-05-01T12:00:00+00:00"
    assert "errors" not in read
    assert read["data"]["sample"]["collectionDate"] == "0999-05-01T12:00:00+00:00"
    assert listed["data"]["samples"]["edges"][0]["node"] == {
        "id": sample["id"],
        "collectionDate": "0999-05-01T12:00:00+00:00",
    }
    assert _stored(sandbox, sample["id"])["collection_date"] == "0999-05-01T12:00:00Z"


async def test_collection_dates_the_gateway_could_not_read_back_are_refused_before_writing(
    sandbox: Any, control: SandboxControl
) -> None:
    # 0001-01-01T00:30+01:00 is year 0 in UTC: the release would store it and every later
    # read of it would fail.
    async with gateway_client(sandbox_settings(sandbox)) as client:
        existing = await _new(client, "GW-dated", collectionDate="2024-03-01T08:00:00Z")
        control.reset_stats()
        created = await gql(
            client,
            CREATE,
            input={
                "name": "GW-year0",
                "sampleType": "DNA",
                "collectionDate": "0001-01-01T00:30:00+01:00",
            },
        )
        updated = await gql(
            client, UPDATE, id=existing["id"], input={"collectionDate": "9999-12-31T23:30:00-01:00"}
        )
    assert created["data"] == {"createSample": None}
    assert updated["data"] == {"updateSample": None}
    assert codes(created) == codes(updated) == ["BAD_USER_INPUT"]
    assert control.requests() == 0
    assert _stored(sandbox, existing["id"])["collection_date"] == "2024-03-01T08:00:00Z"


async def test_batch_create_reports_each_item_and_one_bad_item_fails_alone(
    sandbox: Any, control: SandboxControl
) -> None:
    items = [
        {"name": "GW-batch 1", "sampleType": "blood"},
        {"name": "", "sampleType": "blood"},
        {"name": "GW-batch 3", "sampleType": "goo"},
        {"name": "GW-batch 4", "sampleType": "Cell Culture"},
    ]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        listed = await gql(client, "{ templates(first: 1) { edges { node { id } } } }")
        template_id = listed["data"]["templates"]["edges"][0]["node"]["id"]
        control.reset_stats()
        body = await gql(client, BATCH, input=items, templateId=template_id)
    assert "errors" not in body, body
    payload = body["data"]["createSamples"]
    assert (payload["createdCount"], payload["failedCount"]) == (2, 2)
    results = payload["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert results[0]["sample"] == {
        "name": "GW-batch 1",
        "sampleType": "Blood",
        "templateId": template_id,
    }
    assert results[1]["sample"] is None
    assert results[1]["error"]["code"] == "BAD_USER_INPUT"
    assert results[2]["sample"] is None
    assert results[2]["error"]["message"].startswith("Validation error: Invalid sample type 'goo'")
    assert results[3]["sample"]["sampleType"] == "Cell Culture"
    assert control.by_route("samples") == {"POST /samples/batch": 1}


async def test_mutation_input_errors_change_nothing(sandbox: Any, control: SandboxControl) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        bad_id = await gql(client, CHANGE, input={"id": "nope", "status": "VALIDATED"})
        empty_batch = await gql(client, "mutation { createSamples(input: []) { createdCount } }")
        too_many = await gql(
            client, BATCH, input=[{"name": f"GW-{i}", "sampleType": "DNA"} for i in range(101)]
        )
        empty_update = await gql(
            client,
            "mutation($id: ID!) { updateSample(id: $id, input: {}) { id } }",
            id="00000000-0000-4000-8000-000000000001",
        )
        bad_template = await gql(
            client, CREATE, input={"name": "x", "sampleType": "dna", "templateId": "zzz"}
        )
        long_name = await gql(client, CREATE, input={"name": "x" * 256, "sampleType": "DNA"})
    for body in (bad_id, empty_batch, too_many, empty_update, bad_template, long_name):
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert control.requests() == 0

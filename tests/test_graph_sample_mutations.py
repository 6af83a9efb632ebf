"""Sample mutations through the graph, against the release-mode samples service."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import SandboxControl, codes, gateway_client, gql, sandbox_settings

CREATE = """
mutation Create($input: CreateSampleInput!) {
  createSample(input: $input) {
    sample { id name barcode status sampleType collectionDate allowedNextStatuses }
    userErrors { field message code }
  }
}
"""
CHANGE = """
mutation Change($input: ChangeSampleStatusInput!) {
  changeSampleStatus(input: $input) {
    sample { id status allowedNextStatuses }
    userErrors { field message code }
  }
}
"""
UPDATE = """
mutation($input: UpdateSampleInput!) {
  updateSample(input: $input) {
    sample { id name notes volume collectionDate }
    userErrors { field message code }
  }
}
"""
DELETE = """
mutation($input: DeleteSampleInput!) {
  deleteSample(input: $input) {
    deletedSampleId
    sample { id status }
    userErrors { field message code }
  }
}
"""
BATCH = """
mutation($input: CreateSamplesInput!) {
  createSamples(input: $input) {
    createdCount failedCount
    samples { id }
    results {
      index
      sample { id name sampleType templateId }
      userErrors { field message code }
    }
    userErrors { field message code }
  }
}
"""
READ = "query($id: ID!) { sample(id: $id) { id status collectionDate } }"


def _stored(sb: Any, sample_id: str) -> dict[str, Any]:
    """The sample as the samples service holds it (its own spelling)."""
    doc: dict[str, Any] = httpx.get(f"{sb.urls['samples']}/samples/{sample_id}").json()["data"]
    return doc


async def _new(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    body = await gql(client, CREATE, input={"name": name, "sampleType": "DNA", **fields})
    assert "errors" not in body, body
    assert body["data"]["createSample"]["userErrors"] == [], body
    sample: dict[str, Any] = body["data"]["createSample"]["sample"]
    return sample


NOWHERE = "00000000-0000-4000-8000-000000000000"


async def test_create_update_and_soft_delete_a_sample(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        sample = await _new(client, "GW-test plasma", sampleType="PLASMA", volume=1.5)
        assert control.by_route("samples") == {"POST /samples": 1}
        assert (sample["status"], sample["sampleType"]) == ("PENDING", "PLASMA")
        assert sample["allowedNextStatuses"] == ["VALIDATED", "REJECTED", "DELETED"]
        assert sample["barcode"].startswith("LAB-")
        updated = await gql(
            client, UPDATE, input={"id": sample["id"], "notes": "re-labelled", "volume": 2.0}
        )
        assert updated["data"]["updateSample"] == {
            "sample": {
                "id": sample["id"],
                "name": "GW-test plasma",
                "notes": "re-labelled",
                "volume": 2.0,
                "collectionDate": None,
            },
            "userErrors": [],
        }
        deleted = await gql(client, DELETE, input={"id": sample["id"]})
        after = await gql(client, READ, id=sample["id"])
        missing = await gql(client, DELETE, input={"id": NOWHERE})
    assert "errors" not in deleted, deleted
    assert deleted["data"]["deleteSample"] == {
        "deletedSampleId": sample["id"],
        "sample": {"id": sample["id"], "status": "DELETED"},
        "userErrors": [],
    }
    assert after["data"]["sample"]["status"] == "DELETED"
    assert "errors" not in missing
    assert missing["data"]["deleteSample"]["deletedSampleId"] is None
    assert [(e["field"], e["code"]) for e in missing["data"]["deleteSample"]["userErrors"]] == [
        (["input", "id"], "NOT_FOUND")
    ]


async def test_statuses_travel_in_pascal_case_both_ways(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        sample = await _new(client, "GW-move")
        for status in ("VALIDATED", "IN_STORAGE"):
            moved = await gql(client, CHANGE, input={"id": sample["id"], "status": status})
            assert moved["data"]["changeSampleStatus"]["sample"]["status"] == status
        assert _stored(sandbox, sample["id"])["status"] == "InStorage"
        listed = await gql(
            client,
            "{ samples(filter: {statuses: [IN_STORAGE]}, first: 1000) { edges { node { id } } } }",
        )
    assert sample["id"] in [e["node"]["id"] for e in listed["data"]["samples"]["edges"]]
    assert moved["data"]["changeSampleStatus"]["sample"]["allowedNextStatuses"] == [
        "IN_SEQUENCING",
        "REJECTED",
        "DELETED",
    ]


async def test_illegal_status_change_is_a_user_error_with_the_unchanged_sample(
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
        assert "errors" not in answer, answer
        payload = answer["data"]["changeSampleStatus"]
        assert payload["sample"] == {
            "id": sample["id"],
            "status": "PENDING",
            "allowedNextStatuses": ["VALIDATED", "REJECTED", "DELETED"],
        }
        (error,) = payload["userErrors"]
        assert (error["field"], error["code"]) == (["input", "status"], "INVALID_TRANSITION")
        assert "PENDING" in error["message"]
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
        cleared = await gql(client, UPDATE, input={"id": sample["id"], "notes": None})
        template = await gql(client, UPDATE, input={"id": sample["id"], "templateId": NOWHERE})
    assert cleared["data"] == {"updateSample": None}
    assert codes(cleared) == ["UPSTREAM_UNSUPPORTED"]
    # The release cannot change a template: the input has no such field.
    assert codes(template) == ["BAD_USER_INPUT"]
    assert "templateId" in template["errors"][0]["message"]
    assert control.requests() == 0
    assert _stored(sandbox, sample["id"])["notes"] == "keep me"


async def test_deleting_a_sample_in_sequencing_is_a_conflict_user_error(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        sample = await _new(client, "GW-busy")
        for status in ("VALIDATED", "IN_SEQUENCING"):
            await gql(client, CHANGE, input={"id": sample["id"], "status": status})
        body = await gql(client, DELETE, input={"id": sample["id"]})
    assert "errors" not in body, body
    payload = body["data"]["deleteSample"]
    assert (payload["deletedSampleId"], payload["sample"]) == (None, None)
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "id"], "CONFLICT")
    ]
    assert "sequenced" in payload["userErrors"][0]["message"]
    assert _stored(sandbox, sample["id"])["status"] == "InSequencing"


async def test_a_duplicate_barcode_is_taken_on_the_barcode_field(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        first = await _new(client, "GW-barcode")
        other = await _new(client, "GW-barcode other")
        created = await gql(
            client,
            CREATE,
            input={"name": "GW-dup", "sampleType": "DNA", "barcode": first["barcode"]},
        )
        updated = await gql(client, UPDATE, input={"id": other["id"], "barcode": first["barcode"]})
    for body, name in ((created, "createSample"), (updated, "updateSample")):
        assert "errors" not in body, body
        payload = body["data"][name]
        assert payload["sample"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
            (["input", "barcode"], "TAKEN")
        ]
        assert first["barcode"] in payload["userErrors"][0]["message"]
    assert _stored(sandbox, other["id"])["barcode"] == other["barcode"]


async def test_collection_dates_before_year_1000_are_stored_and_read_back(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        sample = await _new(client, "GW-ancient", collectionDate="0999-05-01T12:00:00Z")
        read = await gql(client, READ, id=sample["id"])
    assert sample["collectionDate"] == "0999-05-01T12:00:00+00:00"
    assert "errors" not in read
    assert read["data"]["sample"]["collectionDate"] == "0999-05-01T12:00:00+00:00"
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
            client,
            UPDATE,
            input={"id": existing["id"], "collectionDate": "9999-12-31T23:30:00-01:00"},
        )
    for body, name in ((created, "createSample"), (updated, "updateSample")):
        assert "errors" not in body, body
        payload = body["data"][name]
        assert payload["sample"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
            (["input", "collectionDate"], "INVALID")
        ]
    assert control.requests() == 0
    assert _stored(sandbox, existing["id"])["collection_date"] == "2024-03-01T08:00:00Z"


async def test_batch_create_reports_each_item_and_one_bad_item_fails_alone(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        taken = (await _new(client, "GW-batch taken"))["barcode"]
        items = [
            {"name": "GW-batch 1", "sampleType": "BLOOD"},
            {"name": "", "sampleType": "BLOOD"},
            {"name": "GW-batch 3", "sampleType": "BLOOD", "barcode": taken},
            {"name": "GW-batch 4", "sampleType": "CELL_CULTURE"},
            {
                "name": "GW-batch 5",
                "sampleType": "DNA",
                "collectionDate": "0001-01-01T00:30:00+01:00",
            },
        ]
        listed = await gql(client, "{ templates(first: 1) { edges { node { id } } } }")
        template_id = listed["data"]["templates"]["edges"][0]["node"]["id"]
        control.reset_stats()
        body = await gql(client, BATCH, input={"samples": items, "templateId": template_id})
    assert "errors" not in body, body
    payload = body["data"]["createSamples"]
    assert (payload["createdCount"], payload["failedCount"]) == (2, 3)
    assert payload["userErrors"] == []
    results = payload["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [s["id"] for s in payload["samples"]] == [
        results[0]["sample"]["id"],
        results[3]["sample"]["id"],
    ]
    assert results[0]["sample"] == {
        "id": results[0]["sample"]["id"],
        "name": "GW-batch 1",
        "sampleType": "BLOOD",
        "templateId": template_id,
    }
    assert results[0]["userErrors"] == []
    failures = {
        r["index"]: [(e["field"], e["code"]) for e in r["userErrors"]]
        for r in results
        if r["sample"] is None
    }
    assert failures == {
        1: [(["input", "samples", "1", "name"], "INVALID")],
        2: [(["input", "samples", "2", "barcode"], "TAKEN")],
        4: [(["input", "samples", "4", "collectionDate"], "INVALID")],
    }
    assert results[3]["sample"]["sampleType"] == "CELL_CULTURE"
    assert control.by_route("samples") == {"POST /samples/batch": 1}


async def test_mutation_input_errors_are_user_errors_on_their_field_and_change_nothing(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        bad_id = await gql(client, CHANGE, input={"id": "nope", "status": "VALIDATED"})
        empty_batch = await gql(client, BATCH, input={"samples": []})
        too_many = await gql(
            client,
            BATCH,
            input={"samples": [{"name": f"GW-{i}", "sampleType": "DNA"} for i in range(101)]},
        )
        empty_update = await gql(client, UPDATE, input={"id": NOWHERE})
        bad_template = await gql(
            client, CREATE, input={"name": "x", "sampleType": "DNA", "templateId": "zzz"}
        )
        long_name = await gql(client, CREATE, input={"name": "x" * 256, "sampleType": "DNA"})
        long_reason = await gql(
            client, CHANGE, input={"id": NOWHERE, "status": "VALIDATED", "reason": "r" * 501}
        )
        bad_type = await gql(client, CREATE, input={"name": "x", "sampleType": "goo"})
    expected = [
        (bad_id, "changeSampleStatus", ["input", "id"], "INVALID"),
        (empty_batch, "createSamples", ["input", "samples"], "INVALID"),
        (too_many, "createSamples", ["input", "samples"], "LIMIT_EXCEEDED"),
        (empty_update, "updateSample", ["input"], "INVALID"),
        (bad_template, "createSample", ["input", "templateId"], "INVALID"),
        (long_name, "createSample", ["input", "name"], "INVALID"),
        (long_reason, "changeSampleStatus", ["input", "reason"], "INVALID"),
    ]
    for body, name, field, code in expected:
        assert "errors" not in body, body
        assert [(e["field"], e["code"]) for e in body["data"][name]["userErrors"]] == [
            (field, code)
        ], name
    # A sample type outside the release's list cannot even be written down.
    assert codes(bad_type) == ["BAD_USER_INPUT"]
    assert control.requests() == 0


async def test_one_failing_mutation_leaves_the_others_of_the_document_to_run(
    sandbox: Any, control: SandboxControl
) -> None:
    """Issue 12's reproduction: an illegal move between two updates returned `data: null`
    and the third never ran."""
    document = """
    mutation($a: UpdateSampleInput!, $b: ChangeSampleStatusInput!, $c: UpdateSampleInput!) {
      a: updateSample(input: $a) { sample { id notes } userErrors { code } }
      b: changeSampleStatus(input: $b) {
        sample { id status allowedNextStatuses } userErrors { field code }
      }
      c: updateSample(input: $c) { sample { id notes } userErrors { code } }
    }
    """
    async with gateway_client(sandbox_settings(sandbox)) as client:
        one, two = await _new(client, "GW-multi 1"), await _new(client, "GW-multi 2")
        body = await gql(
            client,
            document,
            a={"id": one["id"], "notes": "a saved"},
            b={"id": one["id"], "status": "COMPLETED"},
            c={"id": two["id"], "notes": "c saved"},
        )
    assert "errors" not in body, body
    data = body["data"]
    assert data["a"] == {"sample": {"id": one["id"], "notes": "a saved"}, "userErrors": []}
    assert data["b"]["userErrors"] == [{"field": ["input", "status"], "code": "INVALID_TRANSITION"}]
    assert data["b"]["sample"]["allowedNextStatuses"] == ["VALIDATED", "REJECTED", "DELETED"]
    assert data["c"] == {"sample": {"id": two["id"], "notes": "c saved"}, "userErrors": []}
    assert _stored(sandbox, two["id"])["notes"] == "c saved"


def _nested(depth: int) -> Any:
    """A JSON value of ``depth`` nested lists."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


async def test_metadata_nested_past_the_json_depth_limit_is_bad_user_input_and_writes_nothing(
    sandbox: Any, control: SandboxControl
) -> None:
    # 250 levels: the samples service stores it, and every later answer holding it would
    # nest past what the gateway's encoder writes.
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        answers = [
            await gql(
                client,
                CREATE,
                input={"name": "GW-deep", "sampleType": "DNA", "metadata": {"a": _nested(depth)}},
            )
            for depth in (64, 250)
        ]
        assert control.requests() == 0
        at_limit = await gql(
            client,
            CREATE,
            input={"name": "GW-deep-ok", "sampleType": "DNA", "metadata": _nested(63)},
        )
    for body in answers:
        assert body["data"] is None
        assert codes(body) == ["BAD_USER_INPUT"]
        assert "at most 64 lists or objects deep" in body["errors"][0]["message"]
    assert at_limit["data"]["createSample"]["userErrors"] == [], at_limit

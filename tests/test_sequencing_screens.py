"""The job-submission screen (issue 12, item 5): platforms, workflows, sample sheets to
list and to create, and a job on a new sheet; and refetching sequencing objects by id
(item 7). Against the sandbox as the release."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from sandbox.tokens import mint_token
from tests.conftest import SandboxControl, gateway_client, gql, sandbox_settings

SHEETS = """
query($first: Int, $after: String) {
  sampleSheets(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id name platform status formatVersion sampleCount createdAt }
  }
}
"""

CREATE_SHEET = """
mutation($input: CreateSampleSheetInput!) {
  createSampleSheet(input: $input) {
    sampleSheet {
      id name platform status formatVersion sampleCount createdById
      entries { sampleId sampleName well plate indexI7 indexI5 project sample { id } }
    }
    userErrors { field message code }
  }
}
"""

CREATE_JOB = """
mutation($input: CreateSequencingJobInput!) {
  createSequencingJob(input: $input) {
    sequencingJob { id status sampleSheet { id } samples(first: 10) { nodes { id } } }
    userErrors { field code }
  }
}
"""

USER_ID = "3c0d9a5e-0a7e-4b8e-9d0b-6d6f6f6f6f04"


def _sandbox_samples(sandbox: Any, count: int) -> list[dict[str, Any]]:
    with httpx.Client(base_url=sandbox.urls["samples"], timeout=10) as http:
        body = http.get("/samples", params={"page_size": count}).json()
    data = body["data"]
    samples: list[dict[str, Any]] = data if isinstance(data, list) else data["samples"]
    assert len(samples) >= count
    return samples[:count]


@asynccontextmanager
async def _cleanup(sandbox: Any) -> AsyncIterator[dict[str, list[str]]]:
    made: dict[str, list[str]] = {"jobs": [], "sheets": []}
    try:
        yield made
    finally:
        async with httpx.AsyncClient(base_url=sandbox.urls["sequencing"]) as http:
            for job_id in made["jobs"]:
                await http.delete(f"/jobs/{job_id}")
            for sheet_id in made["sheets"]:
                await http.delete(f"/sample-sheets/{sheet_id}")


async def test_platforms_are_the_release_four_names_without_an_upstream_call(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, "{ platforms }")
        calls = control.requests()
    assert body == {
        "data": {"platforms": ["ILLUMINA_NOVASEQ", "ILLUMINA_HISEQ", "ION_TORRENT", "NANOPORE"]}
    }
    assert calls == 0


async def test_workflows_are_the_service_workflow_records(
    sandbox: Any, control: SandboxControl
) -> None:
    query = """{ workflows(first: 10) {
      totalCount pageInfo { hasNextPage } nodes { id name workflowType isActive }
    } }"""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, query)
        routes = control.by_route("sequencing")
    # The release's workflow table is empty (no route creates one): an empty list, read
    # from the service, not an error and not made up.
    assert body == {
        "data": {"workflows": {"totalCount": 0, "pageInfo": {"hasNextPage": False}, "nodes": []}}
    }
    assert routes == {"GET /workflows": 1}


async def test_sample_sheets_page_newest_first_and_load_entries_on_demand(
    sandbox: Any, control: SandboxControl
) -> None:
    with httpx.Client(base_url=sandbox.urls["sequencing"], timeout=10) as http:
        truth = http.get("/sample-sheets", params={"page_size": 100}).json()["data"]
    expected = [s["id"] for s in truth["sample_sheets"]]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        first = (await gql(client, SHEETS, first=7))["data"]["sampleSheets"]
        after = first["pageInfo"]["endCursor"]
        second = (await gql(client, SHEETS, first=7, after=after))["data"]["sampleSheets"]
        list_routes = control.by_route("sequencing")
        control.reset_stats()
        with_entries = await gql(
            client, "{ sampleSheets(first: 3) { nodes { id sampleCount entries { sampleId } } } }"
        )
        entry_routes = control.by_route("sequencing")
    assert first["totalCount"] == truth["pagination"]["total_count"] >= 60
    assert [n["id"] for n in first["nodes"] + second["nodes"]] == expected[:14]
    assert list_routes == {"GET /sample-sheets": 2}
    node = first["nodes"][0]
    assert node["formatVersion"] == "1.0"
    assert node["platform"] in {"ILLUMINA_NOVASEQ", "ILLUMINA_HISEQ", "ION_TORRENT", "NANOPORE"}
    assert "errors" not in with_entries, with_entries
    sheets = with_entries["data"]["sampleSheets"]["nodes"]
    assert all(len(s["entries"]) == s["sampleCount"] > 0 for s in sheets)
    assert entry_routes == {"GET /sample-sheets": 1, "GET /sample-sheets/{id}": 3}


async def test_create_a_sample_sheet_then_a_job_on_it(
    sandbox: Any, control: SandboxControl
) -> None:
    samples = _sandbox_samples(sandbox, 3)
    rows = [
        {
            "sampleId": s["id"],
            "sampleName": s["name"],
            "plate": "P1",
            "well": f"A0{i + 1}",
            "indexI7": "ACGTACGT"[i:] + "ACGTACGT"[:i],
            "indexI5": "TTGGCCAA",
            "project": "GW-SHEET",
        }
        for i, s in enumerate(samples)
    ]
    token = mint_token("lab_technician", user_id=USER_ID)
    async with (
        _cleanup(sandbox) as made,
        gateway_client(sandbox_settings(sandbox), token=token) as client,
    ):
        created = await gql(
            client,
            CREATE_SHEET,
            input={"name": "GW sheet", "platform": "ILLUMINA_NOVASEQ", "samples": rows},
        )
        assert "errors" not in created, created
        sheet = created["data"]["createSampleSheet"]["sampleSheet"]
        made["sheets"].append(sheet["id"])
        job = await gql(
            client,
            CREATE_JOB,
            input={
                "name": "GW job on a new sheet",
                "platform": "ILLUMINA_NOVASEQ",
                "workflowName": "standard_wgs",
                "sampleSheetId": sheet["id"],
            },
        )
        assert "errors" not in job, job
        made["jobs"].append(job["data"]["createSequencingJob"]["sequencingJob"]["id"])
        listed = (await gql(client, SHEETS, first=5))["data"]["sampleSheets"]["nodes"]
    assert created["data"]["createSampleSheet"]["userErrors"] == []
    assert (sheet["name"], sheet["platform"], sheet["status"]) == (
        "GW sheet",
        "ILLUMINA_NOVASEQ",
        "DRAFT",
    )
    assert (sheet["formatVersion"], sheet["sampleCount"]) == ("1.0", 3)
    assert sheet["createdById"] == USER_ID  # the caller, not a random id
    assert [
        (e["sampleId"], e["well"], e["indexI7"], e["indexI5"], e["project"])
        for e in sheet["entries"]
    ] == [(r["sampleId"], r["well"], r["indexI7"], r["indexI5"], r["project"]) for r in rows]
    assert all(e["sample"]["id"] == e["sampleId"] for e in sheet["entries"])
    created_job = job["data"]["createSequencingJob"]["sequencingJob"]
    assert created_job["status"] == "DRAFT"
    assert created_job["sampleSheet"] == {"id": sheet["id"]}
    assert [n["id"] for n in created_job["samples"]["nodes"]] == [s["id"] for s in samples]
    assert listed[0]["id"] == sheet["id"]


async def test_a_sample_sheet_with_a_bad_row_is_a_user_error_and_creates_nothing(
    sandbox: Any, control: SandboxControl
) -> None:
    (sample,) = _sandbox_samples(sandbox, 1)
    good = {"sampleId": sample["id"], "sampleName": sample["name"]}
    missing = "00000000-0000-4000-8000-00000000abcd"
    cases: list[tuple[dict[str, Any], list[str], str]] = [
        ({"name": " ", "samples": [good]}, ["input", "name"], "INVALID"),
        ({"name": "s", "samples": []}, ["input", "samples"], "INVALID"),
        (
            {"name": "s", "samples": [good, {**good, "sampleId": "nope"}]},
            ["input", "samples", "1", "sampleId"],
            "INVALID",
        ),
        (
            {"name": "s", "samples": [good, {**good, "sampleName": ""}]},
            ["input", "samples", "1", "sampleName"],
            "INVALID",
        ),
        (
            {"name": "s", "samples": [{**good, "sampleId": missing}]},
            ["input", "samples", "0", "sampleId"],
            "NOT_FOUND",
        ),
    ]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        answers = [
            await gql(client, CREATE_SHEET, input={"platform": "NANOPORE", **given})
            for given, _, _ in cases
        ]
        writes = control.by_route("sequencing")
    for body, (_, field, code) in zip(answers, cases, strict=True):
        assert "errors" not in body, body
        payload = body["data"]["createSampleSheet"]
        assert payload["sampleSheet"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, code)]
    assert writes == {}


async def test_jobs_sheets_refetch_through_node_and_nodes(
    sandbox: Any, control: SandboxControl
) -> None:
    with httpx.Client(base_url=sandbox.urls["sequencing"], timeout=10) as http:
        summary = http.get("/jobs", params={"limit": 1}).json()["jobs"][0]
        job = http.get(f"/jobs/{summary['id']}").json()
    query = """query($id: ID!, $ids: [ID!]!) {
      node(id: $id) { __typename id ... on SequencingJob { name status } }
      nodes(ids: $ids) {
        __typename id ... on SampleSheet { sampleCount } ... on SequencingJob { name }
      }
    }"""
    ids = [job["sample_sheet_id"], job["id"], "00000000-0000-4000-8000-00000000cafe"]
    async with gateway_client(sandbox_settings(sandbox), role="lab_technician") as client:
        body = await gql(client, query, id=job["id"], ids=ids)
    assert "errors" not in body, body
    assert body["data"]["node"] == {
        "__typename": "SequencingJob",
        "id": job["id"],
        "name": job["name"],
        "status": job["status"].upper().replace("ONHOLD", "ON_HOLD"),
    }
    found = body["data"]["nodes"]
    assert [n and n["__typename"] for n in found] == ["SampleSheet", "SequencingJob", None]
    assert found[0]["id"] == job["sample_sheet_id"]
    assert found[1]["name"] == job["name"]

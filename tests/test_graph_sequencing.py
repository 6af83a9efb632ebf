"""Sequencing through the graph against the sandbox as the release (and a smaller set with
every extension): the job list and its gateway-side filters, detail fields of list nodes,
sample sheets, job samples and creators, the jobs of samples, the job mutations, batching
and partial results. Upstream requests are counted by route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.conftest import (
    SandboxControl,
    codes,
    extension_settings,
    gateway_client,
    gql,
    mint_token,
    sandbox_settings,
)
from upstreams.config import Timeouts

ADMIN = ("admin@tracseq.lab", "admin-tracseq")
MISSING = "00000000-0000-4000-8000-000000000000"

JOBS = """
query($filter: SequencingJobFilter, $first: Int, $after: String) {
  sequencingJobs(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node {
      id name status priority platform workflowName createdAt estimatedCompletion
    } }
  }
}
"""

JOBS_WITH_SAMPLES = """
query($first: Int) {
  sequencingJobs(first: $first) { edges { node {
    id sampleSheetId
    samples(first: 10) { totalCount edges { node { id name } } }
  } } }
}
"""

JOB = """
query($id: ID!) {
  sequencingJob(id: $id) {
    id name status priority
    createdBy { id fullName role }
    sampleSheet {
      id name sampleCount
      formatVersion platform status
      entries { sampleId sampleName well plate project indexI7 indexI5 sample { id name } }
    }
    samples(first: 200) { totalCount edges { node { id name } } }
  }
}
"""

JOB_FIELDS = """
    id name status priority platform workflowName sampleSheetId description createdById
    samples(first: 1) { totalCount }
"""

CREATE = (
    "mutation($input: CreateSequencingJobInput!) { createSequencingJob(input: $input) {"
    " sequencingJob {" + JOB_FIELDS + "} userErrors { field message code } } }"
)

SUBMIT = (
    "mutation($input: SubmitSequencingJobInput!) { submitSequencingJob(input: $input) {"
    " sequencingJob {" + JOB_FIELDS + "} userErrors { field message code } } }"
)

CHANGE = """
mutation($input: ChangeSequencingJobStatusInput!) {
  changeSequencingJobStatus(input: $input) {
    sequencingJob { id status actualStart actualCompletion }
    userErrors { field message code }
  }
}
"""

CANCEL = """
mutation($id: ID!) {
  cancelSequencingJob(input: {id: $id}) {
    sequencingJob { id status }
    userErrors { field message code }
  }
}
"""


async def _jobs(client: httpx.AsyncClient, first: int = 20, **filter: Any) -> dict[str, Any]:
    body = await gql(client, JOBS, first=first, filter=filter or None)
    assert "errors" not in body, body
    connection: dict[str, Any] = body["data"]["sequencingJobs"]
    return connection


async def _admin_headers(sandbox: Any) -> dict[str, str]:
    """A lab administrator's bearer token (user lookups need one), from auth directly."""
    async with httpx.AsyncClient(base_url=sandbox.urls["auth"]) as http:
        response = await http.post("/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
    response.raise_for_status()
    return {"authorization": f"Bearer {response.json()['data']['access_token']}"}


async def _gql_as(
    client: httpx.AsyncClient, headers: dict[str, str], query: str, **variables: Any
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@asynccontextmanager
async def _deleting_jobs(sandbox: Any) -> AsyncIterator[list[str]]:
    """Job ids appended to the yielded list are deleted from the sandbox afterwards."""
    created: list[str] = []
    try:
        yield created
    finally:
        async with httpx.AsyncClient(base_url=sandbox.urls["sequencing"]) as http:
            for job_id in created:
                await http.delete(f"/jobs/{job_id}")


DETAIL_NODES = """
query($first: Int) {
  sequencingJobs(first: $first) { edges { node {
    id description sampleSheetId createdById metadata runId updatedAt
  } } }
}
"""

SAMPLE_JOBS = "query($id: ID!) { sample(id: $id) { id sequencingJobs { id name status } } }"

PLATFORMS = {"ILLUMINA_NOVASEQ", "ILLUMINA_HISEQ", "ION_TORRENT", "NANOPORE"}


class Truth:
    """What the sandbox holds, read straight from it (before a test resets the counters)."""

    def __init__(self, sandbox: Any) -> None:
        with httpx.Client(base_url=sandbox.urls["sequencing"], timeout=10) as http:
            self.summaries: list[dict[str, Any]] = http.get("/jobs", params={"limit": 100}).json()[
                "jobs"
            ]
            assert len(self.summaries) < 100, "the seed fits one page"
            self.jobs = {j["id"]: http.get(f"/jobs/{j['id']}").json() for j in self.summaries}
            sheet_ids = {j["sample_sheet_id"] for j in self.jobs.values() if j["sample_sheet_id"]}
            self.sheets = {
                s: http.get(f"/sample-sheets/{s}").json()["data"] for s in sorted(sheet_ids)
            }

    def jobs_of(self, sample_id: str) -> list[str]:
        return [
            j["id"]
            for j in (self.jobs[s["id"]] for s in self.summaries)
            if j["sample_sheet_id"] in self.sheets
            and sample_id in {e["sample_id"] for e in self.sheets[j["sample_sheet_id"]]["entries"]}
        ]


async def test_sequencing_jobs_page_forward_without_overlap_one_list_call_each(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        first = (await gql(client, JOBS, first=7))["data"]["sequencingJobs"]
        routes = control.by_route("sequencing")
        after = first["pageInfo"]["endCursor"]
        second = (await gql(client, JOBS, first=7, after=after))["data"]["sequencingJobs"]
        both = (await gql(client, JOBS, first=14))["data"]["sequencingJobs"]
        count_only = await gql(
            client, "{ sequencingJobs(first: 0) { totalCount edges { cursor } } }"
        )
    assert routes == {"GET /jobs": 1}
    ids = [e["node"]["id"] for e in first["edges"] + second["edges"]]
    assert ids == [e["node"]["id"] for e in both["edges"]]
    assert first["totalCount"] == second["totalCount"] >= 60
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert count_only["data"]["sequencingJobs"] == {"totalCount": first["totalCount"], "edges": []}
    created = [e["node"]["createdAt"] for e in both["edges"]]
    assert created == sorted(created, reverse=True)
    nodes = [e["node"] for e in both["edges"]]
    assert {n["platform"] for n in nodes} <= PLATFORMS


async def test_list_nodes_load_detail_only_fields_once_each_through_the_job_loader(
    sandbox: Any, control: SandboxControl
) -> None:
    truth = Truth(sandbox)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, DETAIL_NODES, first=5)
        routes = control.by_route("sequencing")
    assert "errors" not in body, body
    nodes = [e["node"] for e in body["data"]["sequencingJobs"]["edges"]]
    assert routes == {"GET /jobs": 1, "GET /jobs/{id}": 5}
    for node in nodes:
        job = truth.jobs[node["id"]]
        assert node["description"] == job["description"] is not None
        assert node["sampleSheetId"] == job["sample_sheet_id"] is not None
        assert node["createdById"] == job["created_by"]
        assert node["metadata"] == job["metadata"] != {}


async def test_filters_apply_in_the_gateway_over_every_page(
    sandbox: Any, control: SandboxControl
) -> None:
    truth = Truth(sandbox)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        completed = await _jobs(client, first=100, statuses=["COMPLETED"])
        routes = control.by_route("sequencing")
        on_hold = await _jobs(client, first=100, statuses=["ON_HOLD"])
        normal = await _jobs(client, first=100, priorities=["NORMAL"])
        nanopore = await _jobs(client, first=100, platforms=["NANOPORE"])
        both = await _jobs(client, first=100, statuses=["COMPLETED"], priorities=["NORMAL"])
        page_one = await _jobs(client, first=3, statuses=["COMPLETED"])
        page_two = await gql(
            client,
            JOBS,
            first=3,
            after=page_one["pageInfo"]["endCursor"],
            filter={"statuses": ["COMPLETED"]},
        )
    assert routes == {"GET /jobs": 1}
    for connection, check in (
        (completed, lambda j: j["status"] == "Completed"),
        (on_hold, lambda j: j["status"] == "OnHold"),
        (normal, lambda j: j["priority"] == "Normal"),
        (nanopore, lambda j: j["platform_id"] == "nanopore"),
        (both, lambda j: j["status"] == "Completed" and j["priority"] == "Normal"),
    ):
        expected = [j["id"] for j in truth.summaries if check(j)]
        assert expected, "the seed has jobs of every kind filtered on here"
        assert [e["node"]["id"] for e in connection["edges"]] == expected
        assert connection["totalCount"] == len(expected) < len(truth.summaries)
    pages = page_one["edges"] + page_two["data"]["sequencingJobs"]["edges"]
    assert [e["node"]["id"] for e in pages] == [e["node"]["id"] for e in completed["edges"]][:6]
    assert page_one["pageInfo"]["hasNextPage"] is True


async def test_sample_sequencing_jobs_link_through_job_details_and_sheets_once_per_request(
    sandbox: Any, control: SandboxControl
) -> None:
    truth = Truth(sandbox)
    counts: dict[str, int] = {}
    for job_id in (s["id"] for s in truth.summaries):
        sheet = truth.sheets.get(truth.jobs[job_id]["sample_sheet_id"])
        for entry in (sheet or {}).get("entries", []):
            counts[entry["sample_id"]] = counts.get(entry["sample_id"], 0) + 1
    busy = max(counts, key=lambda k: counts[k])
    others = sorted(counts)[:4]
    many = (
        "{ "
        + " ".join(
            f's{i}: sample(id: "{sample_id}") {{ id sequencingJobs {{ id }} }}'
            for i, sample_id in enumerate([busy, *others])
        )
        + " }"
    )
    expected_routes = {
        "GET /jobs": 1,
        "GET /jobs/{id}": len(truth.jobs),
        "GET /sample-sheets/{id}": len(truth.sheets),
    }
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        one = await gql(client, SAMPLE_JOBS, id=busy)
        one_routes = control.by_route("sequencing")
        control.reset_stats()
        several = await gql(client, many)
        several_routes = control.by_route("sequencing")
    assert "errors" not in one, one
    assert counts[busy] >= 2
    assert [j["id"] for j in one["data"]["sample"]["sequencingJobs"]] == truth.jobs_of(busy)
    assert one_routes == expected_routes
    assert "errors" not in several, several
    for i, sample_id in enumerate([busy, *others]):
        got = [j["id"] for j in several["data"][f"s{i}"]["sequencingJobs"]]
        assert got == truth.jobs_of(sample_id)
        assert len(got) == counts[sample_id]
    assert several_routes == expected_routes


async def test_sample_sequencing_jobs_with_the_extension_is_one_call(
    sandbox_ext: Any, control_ext: SandboxControl
) -> None:
    truth = Truth(sandbox_ext)
    sample_id = next(iter(truth.sheets.values()))["entries"][0]["sample_id"]
    async with gateway_client(extension_settings(sandbox_ext)) as client:
        control_ext.reset_stats()
        body = await gql(client, SAMPLE_JOBS, id=sample_id)
        routes = control_ext.by_route("sequencing")
    assert "errors" not in body, body
    assert [j["id"] for j in body["data"]["sample"]["sequencingJobs"]] == truth.jobs_of(sample_id)
    assert routes == {"GET /jobs": 1}


async def test_sequencing_job_with_its_sample_sheet_entries_and_samples(
    sandbox: Any, control: SandboxControl
) -> None:
    truth = Truth(sandbox)
    job_id = truth.summaries[0]["id"]
    sheet = truth.sheets[truth.jobs[job_id]["sample_sheet_id"]]
    headers = await _admin_headers(sandbox)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await _gql_as(client, headers, JOB, id=job_id)
        routes = control.by_route("sequencing")
        sample_calls = control.requests("samples")
        auth_calls = control.requests("auth")
        missing = await gql(client, JOB, id=MISSING)
    assert "errors" not in body, body
    job = body["data"]["sequencingJob"]
    assert routes == {"GET /jobs/{id}": 1, "GET /sample-sheets/{id}": 1}
    distinct = {e["sample_id"] for e in sheet["entries"]}
    assert sample_calls == len(distinct)
    assert auth_calls == 1
    got = job["sampleSheet"]
    assert got["id"] == sheet["sample_sheet"]["id"]
    platform = sheet["sample_sheet"]["platform_id"].upper()
    assert (got["formatVersion"], got["platform"]) == ("1.0", platform)
    assert got["sampleCount"] == len(got["entries"]) == job["samples"]["totalCount"] > 0
    assert [
        (e["sampleId"], e["well"], e["indexI7"], e["indexI5"], e["project"]) for e in got["entries"]
    ] == [
        (e["sample_id"], e["sample_well"], e["index1"], e["index2"], e["project"])
        for e in sheet["entries"]
    ]
    assert all(e["sample"]["id"] == e["sampleId"] for e in got["entries"])
    assert [e["sampleId"] for e in got["entries"]] == [
        e["node"]["id"] for e in job["samples"]["edges"]
    ]
    assert missing == {"data": {"sequencingJob": None}}


async def test_job_samples_batched_through_loaders(
    sandbox: Any, sandbox_ext: Any, control: SandboxControl, control_ext: SandboxControl
) -> None:
    for settings, ctl, extended in (
        (sandbox_settings(sandbox), control, False),
        (extension_settings(sandbox_ext), control_ext, True),
    ):
        async with gateway_client(settings) as client:
            ctl.reset_stats()
            body = await gql(client, JOBS_WITH_SAMPLES, first=20)
            routes = ctl.by_route("sequencing")
            sample_calls = ctl.requests("samples")
        assert "errors" not in body, body
        jobs = [e["node"] for e in body["data"]["sequencingJobs"]["edges"]]
        assert len(jobs) == 20
        assert all(len(j["samples"]["edges"]) == min(10, j["samples"]["totalCount"]) for j in jobs)
        sheets = {j["sampleSheetId"] for j in jobs}
        ids = {s["node"]["id"] for j in jobs for s in j["samples"]["edges"]}
        # one jobs page, the 20 details (one ?ids= batch with the extension), one GET per
        # distinct sample sheet (the service has no batch of sheets); the samples in one
        # batch call with the extension, or one GET per distinct sample without it
        if extended:
            assert routes == {"GET /jobs": 2, "GET /sample-sheets/{id}": len(sheets)}
            assert sample_calls == 1
        else:
            assert routes == {
                "GET /jobs": 1,
                "GET /jobs/{id}": 20,
                "GET /sample-sheets/{id}": len(sheets),
            }
            assert sample_calls == len(ids)


async def test_job_creators_and_assignees_are_people_loaded_once_per_distinct_user(
    sandbox: Any, control: SandboxControl
) -> None:
    query = """{ sequencingJobs(first: 20) { edges { node {
      createdById createdBy { __typename id fullName role }
      assignedToId assignedTo { __typename id fullName role }
    } } } }"""
    headers = await _admin_headers(sandbox)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await _gql_as(client, headers, query)
        routes, auth_calls = control.by_route("sequencing"), control.requests("auth")
    assert "errors" not in body, body
    nodes = [e["node"] for e in body["data"]["sequencingJobs"]["edges"]]
    assert all(n["createdBy"]["id"] == n["createdById"] for n in nodes)
    assert all(n["createdBy"]["__typename"] == "Person" and n["createdBy"]["role"] for n in nodes)
    assigned = [n for n in nodes if n["assignedToId"] is not None]
    assert assigned, "the seed assigns every job that is not a draft"
    assert all(n["assignedTo"]["id"] == n["assignedToId"] for n in assigned)
    assert all(n["assignedTo"] is None for n in nodes if n["assignedToId"] is None)
    people = {n["createdById"] for n in nodes} | {n["assignedToId"] for n in assigned}
    assert 1 < len(people) < 20
    assert routes == {"GET /jobs": 1, "GET /jobs/{id}": 20}
    assert auth_calls == len(people)


def _new(name: str, **more: Any) -> dict[str, Any]:
    """A CreateSequencingJobInput."""
    return {"name": name, "platform": "NANOPORE", "workflowName": "standard_wgs", **more}


def _errors(payload: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def test_create_keeps_a_draft_submit_submits_and_statuses_move_in_pascal_case(
    sandbox: Any, control: SandboxControl
) -> None:
    truth = Truth(sandbox)
    sheet_id = truth.jobs[truth.summaries[0]["id"]]["sample_sheet_id"]
    base = {
        "name": "GW test run",
        "platform": "ILLUMINA_NOVASEQ",
        "workflowName": "standard_wgs",
        "sampleSheetId": sheet_id,
        "description": "from the gateway tests",
    }
    async with (
        _deleting_jobs(sandbox) as created,
        gateway_client(sandbox_settings(sandbox)) as client,
        httpx.AsyncClient(base_url=sandbox.urls["sequencing"]) as direct,
    ):
        control.reset_stats()
        made = await gql(client, CREATE, input={**base, "priority": "HIGH"})
        create_routes = control.by_route("sequencing")
        assert "errors" not in made, made
        draft = made["data"]["createSequencingJob"]["sequencingJob"]
        created.append(draft["id"])
        control.reset_stats()
        submitted = await gql(client, SUBMIT, input={"id": draft["id"]})
        submit_routes = control.by_route("sequencing")
        job = submitted["data"]["submitSequencingJob"]["sequencingJob"]
        resubmitted = await gql(client, SUBMIT, input={"id": draft["id"]})
        validated = await gql(client, CHANGE, input={"id": job["id"], "status": "VALIDATED"})
        held = await gql(client, CHANGE, input={"id": job["id"], "status": "ON_HOLD"})
        on_wire = (await direct.get(f"/jobs/{job['id']}")).json()["status"]
        listed = await _jobs(client, first=100, statuses=["ON_HOLD"])
        jump = await gql(client, CHANGE, input={"id": job["id"], "status": "RUNNING"})
        cancelled = await gql(client, CANCEL, id=job["id"])
        again = await gql(client, CANCEL, id=job["id"])
        reread = await gql(client, JOB, id=job["id"])
        gone = await gql(client, CANCEL, id=MISSING)
        unknown_sheet = await gql(client, CREATE, input={**base, "sampleSheetId": MISSING})
        control.reset_stats()
        empty_name = await gql(client, CREATE, input={**base, "name": "  "})
        empty_name_calls = control.requests("sequencing")
    # create: the job, then its detail (create answers a summary) and the checked sheet
    assert create_routes == {"GET /sample-sheets/{id}": 1, "POST /jobs": 1, "GET /jobs/{id}": 1}
    assert made["data"]["createSequencingJob"]["userErrors"] == []
    assert (draft["status"], draft["priority"], draft["name"]) == ("DRAFT", "HIGH", "GW test run")
    assert (draft["platform"], draft["workflowName"]) == ("ILLUMINA_NOVASEQ", "standard_wgs")
    assert draft["description"] == "from the gateway tests"
    assert draft["sampleSheetId"] == sheet_id
    assert draft["samples"]["totalCount"] == len(truth.sheets[sheet_id]["entries"])
    assert submit_routes == {"PUT /jobs/{id}/status": 1, "GET /sample-sheets/{id}": 1}
    assert (job["id"], job["status"]) == (draft["id"], "SUBMITTED")
    assert submitted["data"]["submitSequencingJob"]["userErrors"] == []
    assert resubmitted["data"]["submitSequencingJob"]["sequencingJob"] is None
    assert _errors(resubmitted["data"]["submitSequencingJob"]) == [
        (["input", "id"], "INVALID_TRANSITION")
    ]
    assert validated["data"]["changeSequencingJobStatus"]["sequencingJob"]["status"] == "VALIDATED"
    assert held["data"]["changeSequencingJobStatus"]["sequencingJob"]["status"] == "ON_HOLD"
    assert on_wire == "OnHold"
    assert job["id"] in {e["node"]["id"] for e in listed["edges"]}
    assert "errors" not in jump, jump
    jumped = jump["data"]["changeSequencingJobStatus"]
    assert jumped["sequencingJob"] is None
    assert jumped["userErrors"] == [
        {
            "field": ["input", "status"],
            "message": 'Invalid job status transition: from "OnHold" to "Running"',
            "code": "INVALID_TRANSITION",
        }
    ]
    changed = cancelled["data"]["cancelSequencingJob"]
    assert changed == {"sequencingJob": {"id": job["id"], "status": "CANCELLED"}, "userErrors": []}
    assert "errors" not in again, again
    assert _errors(again["data"]["cancelSequencingJob"]) == [
        (["input", "id"], "INVALID_TRANSITION")
    ]
    assert (
        "terminal state: Cancelled"
        in again["data"]["cancelSequencingJob"]["userErrors"][0]["message"]
    )
    assert reread["data"]["sequencingJob"]["status"] == "CANCELLED"
    assert _errors(gone["data"]["cancelSequencingJob"]) == [(["input", "id"], "NOT_FOUND")]
    assert _errors(unknown_sheet["data"]["createSequencingJob"]) == [
        (["input", "sampleSheetId"], "NOT_FOUND")
    ]
    assert _errors(empty_name["data"]["createSequencingJob"]) == [(["input", "name"], "INVALID")]
    assert empty_name_calls == 0


async def test_the_creator_rule_meets_the_release_random_creator(
    sandbox: Any, control: SandboxControl
) -> None:
    # The release records a random created_by for every job it creates, so a technician is
    # never the creator of the job they submitted: only leads may cancel it.
    technician = mint_token("lab_technician", user_id="3c0d9a5e-0a7e-4b8e-9d0b-6d6f6f6f6f02")
    lead = mint_token("principal_investigator")
    async with (
        _deleting_jobs(sandbox) as created,
        gateway_client(sandbox_settings(sandbox), token=technician) as client,
    ):
        made = await gql(client, CREATE, input=_new("mine"))
        job = made["data"]["createSequencingJob"]["sequencingJob"]
        created.append(job["id"])
        by_technician = await gql(client, CANCEL, id=job["id"])
        by_lead = await _gql_as(client, {"authorization": f"Bearer {lead}"}, CANCEL, id=job["id"])
    assert job["createdById"] != "3c0d9a5e-0a7e-4b8e-9d0b-6d6f6f6f6f02"
    assert codes(by_technician) == ["FORBIDDEN"]
    assert by_technician["data"] == {"cancelSequencingJob": None}
    assert by_lead["data"]["cancelSequencingJob"]["sequencingJob"]["status"] == "CANCELLED"


async def test_bad_arguments_are_bad_user_input_and_reach_no_upstream(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        bodies = [
            await gql(client, JOB, id="not-a-uuid"),
            await gql(client, JOBS, first=101),
            await gql(client, JOBS, first=5, after="garbage!"),
            await gql(client, JOBS, first=5, filter={"statuses": ["OnHold"]}),
            await gql(client, JOBS, first=5, filter={"sampleId": "x"}),
            await gql(client, CREATE, input={**_new("n"), "platform": "NovaSeq 6000"}),
            await gql(client, CREATE, input={**_new("n"), "platform": "illumina_novaseq"}),
        ]
        payloads = [
            (await gql(client, CANCEL, id="12"))["data"]["cancelSequencingJob"],
            (await gql(client, CHANGE, input={"id": "x", "status": "QUEUED"}))["data"][
                "changeSequencingJobStatus"
            ],
            (await gql(client, SUBMIT, input={"id": "x"}))["data"]["submitSequencingJob"],
            (await gql(client, CREATE, input=_new("n", sampleSheetId="x")))["data"][
                "createSequencingJob"
            ],
            (await gql(client, CREATE, input=_new("n", workflowName=" ")))["data"][
                "createSequencingJob"
            ],
        ]
    for body in bodies:
        assert codes(body) == ["BAD_USER_INPUT"], body
    assert [_errors(p) for p in payloads] == [
        [(["input", "id"], "INVALID")],
        [(["input", "id"], "INVALID")],
        [(["input", "id"], "INVALID")],
        [(["input", "sampleSheetId"], "INVALID")],
        [(["input", "workflowName"], "INVALID")],
    ]
    assert control.requests() == 0


async def test_sequencing_down_nulls_only_the_sequencing_fields(
    sandbox: Any, control: SandboxControl
) -> None:
    query = """{
      storageLocations(first: 3) { totalCount edges { node { id name } } }
      sequencingJobs(first: 3) { totalCount }
    }"""
    control.fault("sequencing", status=503, times=None)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        body = await gql(client, query)
    assert body["data"]["sequencingJobs"] is None
    assert len(body["data"]["storageLocations"]["edges"]) == 3
    errors = [
        (e["path"], e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]
    ]
    assert errors == [(["sequencingJobs"], "UPSTREAM_UNAVAILABLE", "sequencing")]
    assert "127.0.0.1" not in str(body)


async def test_samples_down_nulls_only_the_job_samples(
    sandbox: Any, control: SandboxControl
) -> None:
    control.fault("samples", status=503, times=None)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        body = await gql(client, JOBS_WITH_SAMPLES, first=3)
    jobs = [e["node"] for e in body["data"]["sequencingJobs"]["edges"]]
    assert len(jobs) == 3
    assert all(j["id"] and j["samples"] is None for j in jobs)
    codes = {(e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]}
    assert codes == {("UPSTREAM_UNAVAILABLE", "samples")}
    assert len(body["errors"]) == 3


async def test_slow_sample_sheets_time_out_alone(sandbox: Any, control: SandboxControl) -> None:
    control.wait_idle("sequencing")
    control.fault("sequencing", delay_ms=1500, path_prefix="/sample-sheets/", methods=["GET"])
    settings = sandbox_settings(sandbox, timeouts=Timeouts(connect=1.0, read=0.3, total=0.6))
    async with gateway_client(settings) as client:
        body = await gql(
            client, "{ sequencingJobs(first: 2) { edges { node { id name sampleSheet { id } } } } }"
        )
    control.wait_idle("sequencing")
    nodes = [e["node"] for e in body["data"]["sequencingJobs"]["edges"]]
    assert len(nodes) == 2
    assert all(n["id"] and n["name"] and n["sampleSheet"] is None for n in nodes)
    pairs = {(e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]}
    assert pairs == {("UPSTREAM_TIMEOUT", "sequencing")}

"""Sequencing through the graph: the job list and lookups, sample sheets, job samples and
creators, the job mutations, batching and partial results, against the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.conftest import SandboxControl, gateway_client, gql, mint_token, sandbox_settings
from upstreams.config import Timeouts

ADMIN = ("admin@tracseq.lab", "admin-tracseq")
MISSING = "00000000-0000-4000-8000-000000000000"

JOBS = """
query($filter: SequencingJobFilter, $first: Int, $after: String) {
  sequencingJobs(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node {
      id name status priority platformId platformName workflowId sampleSheetId runId
      createdById assignedToId createdAt updatedAt
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
    createdBy { id email }
    sampleSheet {
      id name sampleCount
      entries { sampleId sampleName well lane indexI7 sample { id name } }
    }
    samples(first: 200) { totalCount edges { node { id name } } }
  }
}
"""

SUBMIT = """
mutation($input: SubmitSequencingJobInput!) {
  submitSequencingJob(input: $input) {
    id name status priority platformId workflowId sampleSheetId description
    samples(first: 1) { totalCount }
  }
}
"""

CHANGE = """
mutation($input: ChangeSequencingJobStatusInput!) {
  changeSequencingJobStatus(input: $input) { id status metadata }
}
"""

CANCEL = "mutation($id: ID!) { cancelSequencingJob(id: $id) { id status } }"


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


async def test_sequencing_jobs_page_forward_without_overlap(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        first = (await gql(client, JOBS, first=7))["data"]["sequencingJobs"]
        assert control.requests() == 1
        after = first["pageInfo"]["endCursor"]
        second = (await gql(client, JOBS, first=7, after=after))["data"]["sequencingJobs"]
        both = (await gql(client, JOBS, first=14))["data"]["sequencingJobs"]
        count_only = await gql(
            client, "{ sequencingJobs(first: 0) { totalCount edges { cursor } } }"
        )
    ids = [e["node"]["id"] for e in first["edges"] + second["edges"]]
    assert ids == [e["node"]["id"] for e in both["edges"]]
    assert first["totalCount"] == second["totalCount"] >= 60
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert count_only["data"]["sequencingJobs"] == {"totalCount": first["totalCount"], "edges": []}
    created = [e["node"]["createdAt"] for e in both["edges"]]
    assert created == sorted(created, reverse=True)
    node = both["edges"][0]["node"]
    assert node["status"] in {
        "DRAFT",
        "SUBMITTED",
        "VALIDATED",
        "QUEUED",
        "RUNNING",
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "ON_HOLD",
    }
    assert node["priority"] in {"LOW", "NORMAL", "HIGH", "URGENT", "CRITICAL"}


async def test_sequencing_jobs_filter(sandbox: Any, control: SandboxControl) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        everything = await _jobs(client, first=100)
        completed = await _jobs(client, first=100, status="COMPLETED")
        normal = await _jobs(client, first=100, priority="NORMAL")
        miseq = await _jobs(client, first=100, platform="MiSeq")
        on_hold = await _jobs(client, first=100, status="ON_HOLD")
    nodes = [e["node"] for e in everything["edges"]]
    for connection, check in (
        (completed, lambda n: n["status"] == "COMPLETED"),
        (normal, lambda n: n["priority"] == "NORMAL"),
        (miseq, lambda n: n["platformName"] == "MiSeq"),
        (on_hold, lambda n: n["status"] == "ON_HOLD"),
    ):
        got = [e["node"] for e in connection["edges"]]
        assert got, "the seed has jobs of every kind filtered on here"
        assert all(check(n) for n in got)
        assert connection["totalCount"] == len(got) == sum(1 for n in nodes if check(n))


async def test_sequencing_job_by_id_with_sheet_samples_and_creator(
    sandbox: Any, control: SandboxControl
) -> None:
    headers = await _admin_headers(sandbox)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        listed = (await _jobs(client, first=1))["edges"][0]["node"]
        control.reset_stats()
        body = await _gql_as(client, headers, JOB, id=listed["id"])
        # the job, its sample sheet (once, for both fields), one samples batch, the creator
        assert control.requests("sequencing") == 2
        assert control.requests("samples") == 1
        assert control.requests("auth") == 1
        missing = await gql(client, JOB, id=MISSING)
    assert "errors" not in body, body
    job = body["data"]["sequencingJob"]
    assert job["id"] == listed["id"]
    assert job["createdBy"]["id"] == listed["createdById"]
    sheet = job["sampleSheet"]
    assert sheet["id"] == listed["sampleSheetId"]
    assert sheet["sampleCount"] == len(sheet["entries"]) == job["samples"]["totalCount"] > 0
    assert [e["sampleId"] for e in sheet["entries"]] == [
        e["node"]["id"] for e in job["samples"]["edges"]
    ]
    assert all(e["sample"]["id"] == e["sampleId"] for e in sheet["entries"])
    assert all(e["sample"]["name"] == e["sampleName"] for e in sheet["entries"])
    assert missing == {"data": {"sequencingJob": None}}


async def test_job_samples_batched_through_loaders(sandbox: Any, control: SandboxControl) -> None:
    for batch in (True, False):
        overrides: dict[str, Any] = {} if batch else {"batch_services": frozenset()}
        async with gateway_client(sandbox_settings(sandbox, **overrides)) as client:
            control.reset_stats()
            body = await gql(client, JOBS_WITH_SAMPLES, first=20)
        assert "errors" not in body, body
        jobs = [e["node"] for e in body["data"]["sequencingJobs"]["edges"]]
        assert len(jobs) == 20
        assert all(len(j["samples"]["edges"]) == min(10, j["samples"]["totalCount"]) for j in jobs)
        sheets = {j["sampleSheetId"] for j in jobs}
        ids = {s["node"]["id"] for j in jobs for s in j["samples"]["edges"]}
        # one jobs page + one GET per distinct sample sheet (the service has no batch of
        # sheets); the samples in one batch call, or one GET per distinct sample without it
        assert control.requests("sequencing") == 1 + len(sheets)
        assert control.requests("samples") == (1 if batch else len(ids))


async def test_job_creators_load_once_per_distinct_user(
    sandbox: Any, control: SandboxControl
) -> None:
    query = "{ sequencingJobs(first: 20) { edges { node { createdById createdBy { id } } } } }"
    headers = await _admin_headers(sandbox)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await _gql_as(client, headers, query)
        requests = (control.requests("sequencing"), control.requests("auth"))
        control.reset_stats()
        technician = await _gql_as(
            client, {"authorization": f"Bearer {mint_token('lab_technician')}"}, query
        )
        technician_auth_calls = control.requests("auth")
    nodes = [e["node"] for e in body["data"]["sequencingJobs"]["edges"]]
    assert all(n["createdBy"]["id"] == n["createdById"] for n in nodes)
    creators = {n["createdById"] for n in nodes}
    assert 1 < len(creators) < 20
    assert requests == (1, len(creators))
    # Users are for administrators: a technician sees the jobs, createdBy null with a code,
    # and the gateway asks auth nothing.
    tech_nodes = [e["node"] for e in technician["data"]["sequencingJobs"]["edges"]]
    assert [n["createdById"] for n in tech_nodes] == [n["createdById"] for n in nodes]
    assert all(n["createdBy"] is None for n in tech_nodes)
    assert {e["extensions"]["code"] for e in technician["errors"]} == {"FORBIDDEN"}
    assert technician_auth_calls == 0


async def test_submit_change_status_and_cancel_a_job(sandbox: Any, control: SandboxControl) -> None:
    async with (
        _deleting_jobs(sandbox) as created,
        gateway_client(sandbox_settings(sandbox)) as client,
    ):
        model = (await _jobs(client, first=1))["edges"][0]["node"]
        base = {
            "name": "GW test run",
            "platformId": model["platformId"],
            "workflowId": model["workflowId"],
            "sampleSheetId": model["sampleSheetId"],
            "description": "from the gateway tests",
        }
        submitted = await gql(client, SUBMIT, input={**base, "priority": "HIGH"})
        assert "errors" not in submitted, submitted
        job = submitted["data"]["submitSequencingJob"]
        created.append(job["id"])
        draft = await gql(client, SUBMIT, input={**base, "draft": True})
        created.append(draft["data"]["submitSequencingJob"]["id"])
        queued = await gql(
            client, CHANGE, input={"id": job["id"], "status": "QUEUED", "notes": "go"}
        )
        same = await gql(client, CHANGE, input={"id": job["id"], "status": "QUEUED"})
        cancelled = await gql(client, CANCEL, id=job["id"])
        again = await gql(client, CANCEL, id=job["id"])
        reread = await gql(client, JOB, id=job["id"])
        gone = await gql(client, CANCEL, id=MISSING)
        empty_name = await gql(client, SUBMIT, input={**base, "name": "  "})
    assert job["status"] == "SUBMITTED"
    assert job["priority"] == "HIGH"
    assert job["name"] == "GW test run"
    assert job["sampleSheetId"] == model["sampleSheetId"]
    assert job["samples"]["totalCount"] > 0
    assert draft["data"]["submitSequencingJob"]["status"] == "DRAFT"
    assert draft["data"]["submitSequencingJob"]["priority"] == "NORMAL"
    changed = queued["data"]["changeSequencingJobStatus"]
    assert changed["status"] == "QUEUED"
    assert changed["metadata"]["status_notes"][-1]["notes"] == "go"
    assert same["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert cancelled["data"]["cancelSequencingJob"] == {"id": job["id"], "status": "CANCELLED"}
    assert again["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Cancelled" in again["errors"][0]["message"]
    assert reread["data"]["sequencingJob"]["status"] == "CANCELLED"
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert empty_name["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_bad_arguments_are_bad_user_input_and_reach_no_upstream(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        bodies = [
            await gql(client, JOB, id="not-a-uuid"),
            await gql(client, CANCEL, id="12"),
            await gql(client, CHANGE, input={"id": "x", "status": "QUEUED"}),
            await gql(
                client,
                SUBMIT,
                input={"name": "n", "platformId": "p", "workflowId": MISSING},
            ),
            await gql(client, JOBS, first=101),
            await gql(client, JOBS, first=5, after="garbage!"),
            await gql(client, JOBS, first=5, filter={"status": "Running"}),
        ]
    for body in bodies:
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
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

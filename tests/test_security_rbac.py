"""Authorisation rules on records: who may cancel, edit and delete a sequencing job (by
GraphQL and REST alike, cancelling by whichever route asks for it), who may delete from
storage, and the tables README prints of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.permissions import mutation_rules, mutation_table
from graph.schema import create_schema
from sandbox.runner import SandboxProcess
from security import rbac
from tests.conftest import codes, gateway_client, gql, mint_token, sandbox_settings

OTHER = "3c0d9a5e-0a7e-4b8e-9d0b-6d6f6f6f6f01"
MISSING = "00000000-0000-4000-8000-00000000beef"
CHANGE = """mutation($id: ID!, $status: JobStatus!) {
  changeSequencingJobStatus(input: {id: $id, status: $status}) {
    sequencingJob { status } userErrors { field code }
  }
}"""
CANCEL = """mutation($id: ID!) {
  cancelSequencingJob(input: {id: $id}) { sequencingJob { status } userErrors { field code } }
}"""
REMOVE = """mutation($id: ID!) {
  removeSampleFromStorage(input: {sampleId: $id}) { userErrors { field code } }
}"""


class Jobs:
    """Clones of a seeded job, straight at the sequencing service: a clone keeps its
    source's (known) creator, where a created job gets a random one. Deleted at the end."""

    def __init__(self, sandbox: SandboxProcess) -> None:
        self.url = f"{sandbox.urls['sequencing']}/jobs"
        listed = httpx.get(self.url, params={"limit": 100}).json()["jobs"]
        seeded = httpx.get(f"{self.url}/{listed[-1]['id']}").json()
        self.creator: str = seeded["created_by"]
        self._source = seeded["id"]
        self._made: list[str] = []

    def new(self, status: str = "Draft") -> str:
        job_id: str = httpx.post(f"{self.url}/{self._source}/clone").json()["id"]
        self._made.append(job_id)
        if status != "Draft":
            self.move(job_id, "Submitted")
        if status not in ("Draft", "Submitted"):
            self.move(job_id, status)
        return job_id

    def move(self, job_id: str, status: str) -> None:
        httpx.put(f"{self.url}/{job_id}/status", json={"status": status}).raise_for_status()

    def status(self, job_id: str) -> str | None:
        answer = httpx.get(f"{self.url}/{job_id}")
        return None if answer.status_code == 404 else str(answer.json()["status"])

    def name(self, job_id: str) -> str:
        return str(httpx.get(f"{self.url}/{job_id}").json()["name"])

    def close(self) -> None:
        for job_id in self._made:
            httpx.delete(f"{self.url}/{job_id}")


@pytest.fixture
def jobs(sandbox: SandboxProcess) -> Iterator[Jobs]:
    made = Jobs(sandbox)
    yield made
    made.close()


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _gateway_refused(response: httpx.Response) -> bool:
    """The gateway's own 403 (not the service's answer)."""
    return (
        response.status_code == 403
        and response.json()["error"]["code"] == "FORBIDDEN"
        and response.json()["error"]["message"].startswith("Not allowed")
    )


def _rule_of(body: dict[str, Any]) -> list[str]:
    return [e["extensions"].get("rule") for e in body.get("errors") or []]


# ---------------------------------------------------------------- cancelling, by GraphQL


async def test_cancelling_by_a_status_change_is_for_the_creator_or_a_lead(
    sandbox: SandboxProcess, jobs: Jobs
) -> None:
    mine, theirs = jobs.new("Submitted"), jobs.new("Submitted")
    creator = mint_token("lab_technician", user_id=jobs.creator)
    other = mint_token("lab_technician", user_id=OTHER)
    lead = mint_token("principal_investigator", user_id=OTHER)
    async with gateway_client(sandbox_settings(sandbox), token=other) as client:
        refused = await gql(client, CHANGE, id=mine, status="CANCELLED")
        status_after_refusal = jobs.status(mine)
        client.headers.update(_bearer(creator))
        by_creator = await gql(client, CHANGE, id=mine, status="CANCELLED")
        client.headers.update(_bearer(lead))
        by_lead = await gql(client, CHANGE, id=theirs, status="CANCELLED")
    assert codes(refused) == ["FORBIDDEN"]
    assert _rule_of(refused) == [rbac.MANAGE_SEQUENCING_JOB]
    assert refused["data"] == {"changeSequencingJobStatus": None}
    assert status_after_refusal == "Submitted"
    assert by_creator["data"]["changeSequencingJobStatus"]["sequencingJob"] == {
        "status": "CANCELLED"
    }
    assert by_lead["data"]["changeSequencingJobStatus"]["sequencingJob"] == {"status": "CANCELLED"}


async def test_other_status_moves_of_anyones_job_stay_with_the_bench(
    sandbox: SandboxProcess, jobs: Jobs
) -> None:
    theirs = jobs.new("Submitted")
    other = mint_token("lab_technician", user_id=OTHER)
    async with gateway_client(sandbox_settings(sandbox), token=other) as client:
        moved = await gql(client, CHANGE, id=theirs, status="VALIDATED")
        rest = await client.put(f"/api/sequencing/jobs/{theirs}/status", json={"status": "Queued"})
    assert moved["data"]["changeSequencingJobStatus"]["sequencingJob"] == {"status": "VALIDATED"}
    assert rest.status_code == 200
    assert jobs.status(theirs) == "Queued"


async def test_a_creator_whose_role_is_not_at_the_bench_may_not_cancel(
    sandbox: SandboxProcess, jobs: Jobs
) -> None:
    mine = jobs.new("Submitted")
    guest = mint_token("guest", user_id=jobs.creator)
    analyst = mint_token("data_analyst", user_id=jobs.creator)
    async with gateway_client(sandbox_settings(sandbox), token=guest) as client:
        by_guest = await gql(client, CANCEL, id=mine)
        client.headers.update(_bearer(analyst))
        by_analyst = await gql(client, CANCEL, id=mine)
    assert codes(by_guest) == codes(by_analyst) == ["FORBIDDEN"]
    assert jobs.status(mine) == "Submitted"


async def test_a_technician_is_refused_cancelling_a_job_that_does_not_exist(
    sandbox: SandboxProcess,
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role="lab_technician") as client:
        body = await gql(client, CANCEL, id=MISSING)
    assert codes(body) == ["FORBIDDEN"]
    assert _rule_of(body) == [rbac.MANAGE_SEQUENCING_JOB]


# ---------------------------------------------------------------- cancelling, by REST


@pytest.mark.parametrize(
    "body",
    [
        b'{"status": "Cancelled"}',
        b'{"status": "cancelled", "notes": "x"}',
        b'{"status": "CANCELED"}',
        b'{"status": "Queued", "status": "Cancelled"}',
        b'{"status": {"Cancelled": null}}',
        b'{"status": "Cancell\\u0065d"}',
    ],
    ids=["exact", "lower", "one-l", "repeated-key", "unit-variant-map", "escaped"],
)
async def test_rest_status_change_to_cancelled_is_for_the_creator_or_a_lead(
    sandbox: SandboxProcess, jobs: Jobs, body: bytes
) -> None:
    mine = jobs.new("Submitted")
    other = mint_token("research_scientist", user_id=OTHER)
    creator = mint_token("research_scientist", user_id=jobs.creator)
    path = f"/api/sequencing/jobs/{mine}/status"
    headers = {"content-type": "application/json"}
    async with gateway_client(sandbox_settings(sandbox), token=other) as client:
        refused = await client.put(path, content=body, headers=headers)
        status_after_refusal = jobs.status(mine)
        by_creator = await client.put(path, json={"status": "Cancelled"}, headers=_bearer(creator))
    assert _gateway_refused(refused), refused.text
    assert status_after_refusal == "Submitted"
    assert by_creator.status_code == 200
    assert by_creator.json()["status"] == "Cancelled"


async def test_rest_cancel_route_is_for_the_creator_or_a_lead(
    sandbox: SandboxProcess, jobs: Jobs
) -> None:
    mine, theirs = jobs.new("Submitted"), jobs.new("Submitted")
    other = mint_token("lab_technician", user_id=OTHER)
    creator = mint_token("lab_technician", user_id=jobs.creator)
    lead = mint_token("lab_administrator", user_id=OTHER)
    async with gateway_client(sandbox_settings(sandbox), token=other) as client:
        refused = await client.post(f"/api/sequencing/jobs/{mine}/cancel/")
        by_creator = await client.post(
            f"/api/sequencing/jobs/{mine}/cancel", headers=_bearer(creator)
        )
        by_lead = await client.post(f"/api/sequencing/jobs/{theirs}/cancel", headers=_bearer(lead))
    assert _gateway_refused(refused)
    assert by_creator.status_code == by_lead.status_code == 200
    assert jobs.status(mine) == jobs.status(theirs) == "Cancelled"


# ---------------------------------------------------------------- editing and deleting a job


async def test_editing_or_deleting_a_job_is_for_its_creator_or_a_lead(
    sandbox: SandboxProcess, jobs: Jobs
) -> None:
    mine, theirs = jobs.new(), jobs.new()
    name = jobs.name(mine)
    other = mint_token("lab_technician", user_id=OTHER)
    creator = mint_token("lab_technician", user_id=jobs.creator)
    lead = mint_token("principal_investigator", user_id=OTHER)
    async with gateway_client(sandbox_settings(sandbox), token=other) as client:
        edit_refused = await client.put(f"/api/sequencing/jobs/{mine}", json={"name": "taken"})
        delete_refused = await client.delete(f"/api/sequencing/jobs/{mine}")
        after_refusals = (jobs.status(mine), jobs.name(mine))
        edited = await client.put(
            f"/api/sequencing/jobs/{mine}", json={"name": "renamed"}, headers=_bearer(creator)
        )
        deleted = await client.delete(f"/api/sequencing/jobs/{mine}", headers=_bearer(creator))
        by_lead = await client.delete(f"/api/sequencing/jobs/{theirs}", headers=_bearer(lead))
    assert _gateway_refused(edit_refused)
    assert _gateway_refused(delete_refused)
    assert after_refusals == ("Draft", name)
    assert edited.status_code == 200
    assert edited.json()["name"] == "renamed"
    assert deleted.status_code == by_lead.status_code == 204
    assert jobs.status(mine) is None
    assert jobs.status(theirs) is None


# ---------------------------------------------------------------- storage deletes


@pytest.mark.parametrize("role", ["lab_technician", "research_scientist"])
async def test_storage_deletes_and_removals_are_for_leads(
    sandbox: SandboxProcess, role: str
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role=role) as client:
        rest = await client.delete(f"/api/storage/locations/{MISSING}")
        removal = await gql(client, REMOVE, id=MISSING)
    async with gateway_client(sandbox_settings(sandbox), role="principal_investigator") as lead:
        lead_rest = await lead.delete(f"/api/storage/locations/{MISSING}")
        lead_removal = await gql(lead, REMOVE, id=MISSING)
    assert _gateway_refused(rest)
    assert codes(removal) == ["FORBIDDEN"]
    assert _rule_of(removal) == [rbac.DELETE_STORAGE]
    assert lead_rest.status_code == 404  # the service's own answer: no such location
    assert lead_removal["data"]["removeSampleFromStorage"]["userErrors"] == [
        {"field": ["input", "sampleId"], "code": "NOT_FOUND"}
    ]


# ---------------------------------------------------------------- the rules themselves


@pytest.mark.parametrize(
    ("path", "method", "rule"),
    [
        ("/api/sequencing/jobs/x/cancel", "POST", rbac.MANAGE_SEQUENCING_JOB),
        ("/api/sequencing/jobs/x/cancel/", "POST", rbac.MANAGE_SEQUENCING_JOB),
        ("/api/sequencing//jobs/x/cancel", "POST", rbac.MANAGE_SEQUENCING_JOB),
        ("/api/sequencing/jobs/x", "PUT", rbac.MANAGE_SEQUENCING_JOB),
        ("/api/sequencing/jobs/x", "DELETE", rbac.MANAGE_SEQUENCING_JOB),
        ("/api/sequencing/jobs/x/status", "PUT", rbac.SUBMIT_SEQUENCING),
        ("/api/sequencing/jobs/x/clone", "POST", rbac.SUBMIT_SEQUENCING),
        ("/api/sequencing/jobs", "POST", rbac.SUBMIT_SEQUENCING),
        ("/api/sequencing/sample-sheets/x", "DELETE", rbac.SUBMIT_SEQUENCING),
        ("/api/storage/samples/x/position", "DELETE", rbac.DELETE_STORAGE),
        ("/api/storage/samples/assign", "POST", rbac.WRITE_SAMPLES),
        ("/api/users/me", "PUT", rbac.ADMINISTER),
        ("/api/users", "GET", None),
    ],
)
def test_route_rules_match_whole_segments_with_parameters(
    path: str, method: str, rule: str | None
) -> None:
    assert rbac.route_rule(path, method) == rule


@pytest.mark.parametrize(
    ("status", "cancels"),
    [
        ("Cancelled", True),
        ("cancelled", True),
        ("CANCELED", True),
        ("can_celled", True),
        ({"Cancelled": None}, True),
        (["Queued", "Cancelled"], True),
        ("Queued", False),
        ("OnHold", False),
        (None, False),
        (12, False),
    ],
)
def test_the_cancelling_transition_has_its_own_rule(status: object, cancels: bool) -> None:
    expected = rbac.MANAGE_SEQUENCING_JOB if cancels else rbac.SUBMIT_SEQUENCING
    assert rbac.job_status_rule(status) == expected


def test_readme_prints_the_mutation_rules_of_the_schema() -> None:
    readme = Path(__file__).resolve().parent.parent / "README.md"
    assert mutation_table(create_schema()) in readme.read_text(encoding="utf-8")


def test_mutation_rules_are_read_off_the_permission_classes() -> None:
    rules = mutation_rules(create_schema())
    assert set(rules.values()) <= set(rbac.RULES)
    assert rules["cancelSequencingJob"] == rbac.MANAGE_SEQUENCING_JOB
    assert rules["removeSampleFromStorage"] == rbac.DELETE_STORAGE
    assert rules["login"] == rbac.PUBLIC  # no permission class

"""Sequencing values the graph cannot represent (issue 12, items 1 and 8): an unknown job
status, sheet status or platform is that field's UPSTREAM_BAD_RESPONSE, never a null or a
passed-through string; fields the release always sends are non-null. The upstream here is
a tiny sequencing service on loopback that breaks the contract on purpose (the sandbox,
like the release, never sends such values)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from graphql import GraphQLNonNull, GraphQLObjectType
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from graph.schema import create_schema
from sandbox.runner import SandboxProcess
from tests.conftest import gateway_client, gql, sandbox_settings
from tests.loopback import serve

JOB_ID = "6e2d9f2a-1111-4222-8333-444455556666"
SHEET_ID = "6e2d9f2a-2222-4222-8333-444455556666"
CREATOR = "6e2d9f2a-3333-4222-8333-444455556666"
NOW = "2024-03-01T10:00:00.123456Z"


def _job(**changes: Any) -> dict[str, Any]:
    return {
        "id": JOB_ID,
        "name": "Contract breaker",
        "description": None,
        "status": "Running",
        "priority": "High",
        "platform_id": "nanopore",
        "workflow_id": "standard_wgs",
        "sample_sheet_id": SHEET_ID,
        "run_id": None,
        "created_by": CREATOR,
        "assigned_to": None,
        "estimated_start": None,
        "estimated_completion": None,
        "actual_start": None,
        "actual_completion": None,
        "metadata": {},
        "created_at": NOW,
        "updated_at": NOW,
    } | changes


def _sheet(**changes: Any) -> dict[str, Any]:
    return {
        "created_at": NOW,
        "created_by": CREATOR,
        "id": SHEET_ID,
        "metadata": {},
        "name": "SS-1",
        "platform_id": "nanopore",
        "sample_count": 0,
        "status": "Draft",
        "updated_at": NOW,
        "version": "1.0",
    } | changes


@contextlib.asynccontextmanager
async def _sequencing(job: dict[str, Any], sheet: dict[str, Any]) -> AsyncIterator[str]:
    async def one_job(request: Request) -> JSONResponse:
        return JSONResponse(job)

    async def one_sheet(request: Request) -> JSONResponse:
        data = {"entries": [], "entry_count": 0, "sample_sheet": sheet, "validation": None}
        return JSONResponse({"data": data, "success": True})

    app = Starlette(
        routes=[Route("/jobs/{job_id}", one_job), Route("/sample-sheets/{sheet_id}", one_sheet)]
    )
    async with serve(app) as url:
        yield url


QUERY = """query($id: ID!) { sequencingJob(id: $id) {
  id name status priority platform
  sampleSheet { id name status platform }
} }"""


async def _ask(sandbox: SandboxProcess, job: dict[str, Any], sheet: dict[str, Any]) -> Any:
    async with _sequencing(job, sheet) as url:
        settings = sandbox_settings(sandbox)
        settings = dataclasses.replace(
            settings, upstream_urls={**settings.upstream_urls, "sequencing": url}
        )
        async with gateway_client(settings) as client:
            return await gql(client, QUERY, id=JOB_ID)


def _problems(body: dict[str, Any]) -> list[tuple[list[Any], str, str]]:
    return [
        (e["path"], e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]
    ]


async def test_an_unknown_job_status_is_upstream_bad_response_not_a_null(
    sandbox: SandboxProcess,
) -> None:
    body = await _ask(sandbox, _job(status="Paused"), _sheet())
    # status is non-null (the release always sends it): the job is null, with the error.
    assert body["data"] == {"sequencingJob": None}
    assert _problems(body) == [(["sequencingJob", "status"], "UPSTREAM_BAD_RESPONSE", "sequencing")]
    assert "'paused'" in body["errors"][0]["message"]


async def test_a_missing_priority_is_upstream_bad_response_not_a_null(
    sandbox: SandboxProcess,
) -> None:
    body = await _ask(sandbox, _job(priority=None), _sheet())
    assert body["data"] == {"sequencingJob": None}
    assert _problems(body) == [
        (["sequencingJob", "priority"], "UPSTREAM_BAD_RESPONSE", "sequencing")
    ]


async def test_an_unknown_sheet_status_or_platform_fails_only_the_sheet(
    sandbox: SandboxProcess,
) -> None:
    body = await _ask(sandbox, _job(), _sheet(status="Exploded"))
    other = await _ask(sandbox, _job(), _sheet(platform_id="illumina_miseq"))
    for answer, field in ((body, "status"), (other, "platform")):
        assert answer["data"]["sequencingJob"]["name"] == "Contract breaker"
        assert answer["data"]["sequencingJob"]["status"] == "RUNNING"
        assert answer["data"]["sequencingJob"]["sampleSheet"] is None
        assert _problems(answer) == [
            (["sequencingJob", "sampleSheet", field], "UPSTREAM_BAD_RESPONSE", "sequencing")
        ]


def test_fields_the_release_always_sends_are_non_null_and_relations_nullable() -> None:
    schema = create_schema()._schema

    def nullability(type_name: str) -> dict[str, bool]:
        kind = schema.type_map[type_name]
        assert isinstance(kind, GraphQLObjectType)
        return {name: isinstance(f.type, GraphQLNonNull) for name, f in kind.fields.items()}

    job = nullability("SequencingJob")
    assert {k for k, v in job.items() if v} == {
        "id",
        "name",
        "status",
        "priority",
        "platform",
        "workflowName",
        "createdAt",
    }
    sheet = nullability("SampleSheet")
    assert {k for k, v in sheet.items() if not v} == {"entries", "createdBy"}
    query = nullability("Query")
    mutation = nullability("Mutation")
    for root in ("sequencingJobs", "sequencingJob", "sampleSheets", "platforms", "workflows"):
        assert query[root] is False
    for name in (
        "createSequencingJob",
        "submitSequencingJob",
        "changeSequencingJobStatus",
        "cancelSequencingJob",
        "createSampleSheet",
    ):
        assert mutation[name] is False

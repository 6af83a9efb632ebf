"""An upstream value the graph cannot represent is a field error naming the service.

The upstream here is a tiny samples service on loopback that breaks the contract on
purpose (the sandbox, like the release, never sends such values).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from collections.abc import AsyncIterator
from enum import Enum
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from graph.values import member
from sandbox.runner import SandboxProcess
from tests.conftest import gateway_client, gql, log_lines, sandbox_settings
from tests.loopback import serve
from upstreams.errors import UpstreamBadResponse
from upstreams.normalize import normalize

SAMPLE_ID = "5d1c8f1e-1111-4222-8333-444455556666"


def _sample(**changes: Any) -> dict[str, Any]:
    record = {
        "barcode": "BAD-0001",
        "collection_date": "2024-03-01T10:00:00Z",
        "created_at": "2024-03-01T10:00:00.123456Z",
        "created_by": None,
        "id": SAMPLE_ID,
        "metadata": None,
        "name": "Contract breaker",
        "sample_type": "DNA",
        "status": "Pending",
        "template_id": None,
        "updated_at": "2024-03-01T10:00:00.123456Z",
        "updated_by": None,
    }
    return record | changes


@contextlib.asynccontextmanager
async def _samples_service(record: dict[str, Any]) -> AsyncIterator[str]:
    """A samples service on a free loopback port that answers ``record`` for any id."""

    async def one(request: Request) -> JSONResponse:
        return JSONResponse({"data": record, "success": True})

    app = Starlette(routes=[Route("/samples/{sample_id}", one)])
    async with serve(app) as url:
        yield url


QUERY = """query One($id: ID!) { sample(id: $id) { id name collectionDate createdAt } }"""


async def test_a_malformed_timestamp_nulls_that_field_with_upstream_bad_response(
    sandbox: SandboxProcess, json_log: io.StringIO
) -> None:
    async with _samples_service(_sample(collection_date="999-01-02T00:00:00Z")) as url:
        settings = sandbox_settings(sandbox)
        settings = dataclasses.replace(
            settings, upstream_urls={**settings.upstream_urls, "samples": url}
        )
        async with gateway_client(settings) as client:
            response = await client.post(
                "/graphql",
                json={"query": QUERY, "variables": {"id": SAMPLE_ID}},
                headers={"x-request-id": "bad-response-1"},
            )
    body = response.json()
    # The rest of the sample is served; only the unreadable field is null.
    assert body["data"]["sample"]["name"] == "Contract breaker"
    assert body["data"]["sample"]["collectionDate"] is None
    (error,) = body["errors"]
    assert error["path"] == ["sample", "collectionDate"]
    assert error["extensions"] == {
        "code": "UPSTREAM_BAD_RESPONSE",
        "service": "samples",
        "field": "collection_date",
    }
    assert "999-01-02T00:00:00Z" in error["message"]
    logged = [line for line in log_lines(json_log) if line["event"] == "upstream.bad_response"]
    assert [(line["service"], line["request_id"]) for line in logged] == [
        ("samples", "bad-response-1")
    ]


async def test_a_malformed_timestamp_on_a_non_null_field_nulls_its_parent_with_the_same_code(
    sandbox: SandboxProcess,
) -> None:
    async with _samples_service(_sample(created_at="yesterday")) as url:
        settings = sandbox_settings(sandbox)
        settings = dataclasses.replace(
            settings, upstream_urls={**settings.upstream_urls, "samples": url}
        )
        async with gateway_client(settings) as client:
            body = await gql(client, QUERY, id=SAMPLE_ID)
    assert body["data"] == {"sample": None}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["sample", "createdAt"], "UPSTREAM_BAD_RESPONSE")
    ]


def test_four_digit_years_below_1000_parse_and_anything_else_is_a_bad_value() -> None:
    record = normalize(
        {"collection_date": "0999-01-02T00:00:00Z", "created_at": "not a time"}, "samples"
    )
    assert record["collection_date"].year == 999
    assert isinstance(record["created_at"], UpstreamBadResponse)
    assert record["created_at"].service == "samples"


class _Colour(Enum):
    RED = "red"


def test_an_unknown_enum_member_is_a_bad_value_not_a_silent_null() -> None:
    assert member(_Colour, "red", service="paint", field="colour") is _Colour.RED
    assert member(_Colour, None, service="paint", field="colour") is None
    bad = member(_Colour, "octarine", service="paint", field="colour")
    assert isinstance(bad, UpstreamBadResponse)
    assert (bad.service, bad.field) == ("paint", "colour")
    assert "octarine" in bad.message


async def test_an_unknown_sample_type_or_status_is_upstream_bad_response_not_a_silent_value(
    sandbox: SandboxProcess,
) -> None:
    """`sampleType` is the release's closed list (an enum): a type outside it cannot be
    represented; neither can a status outside the workflow."""
    async with _samples_service(_sample(sample_type="Goo", status="Frozen")) as url:
        settings = sandbox_settings(sandbox)
        settings = dataclasses.replace(
            settings, upstream_urls={**settings.upstream_urls, "samples": url}
        )
        async with gateway_client(settings) as client:
            kind = await gql(
                client, "query($id: ID!) { sample(id: $id) { sampleType } }", id=SAMPLE_ID
            )
            status = await gql(
                client, "query($id: ID!) { sample(id: $id) { status } }", id=SAMPLE_ID
            )
    for body, field, wire in ((kind, "sampleType", "sample_type"), (status, "status", "status")):
        assert body["data"] == {"sample": None}
        (error,) = body["errors"]
        assert error["path"] == ["sample", field]
        assert error["extensions"] == {
            "code": "UPSTREAM_BAD_RESPONSE",
            "service": "samples",
            "field": wire,
        }
    assert "Goo" in kind["errors"][0]["message"]


async def test_a_missing_name_is_upstream_bad_response_not_an_empty_string(
    sandbox: SandboxProcess,
) -> None:
    record = _sample()
    del record["name"]
    async with _samples_service(record) as url:
        settings = sandbox_settings(sandbox)
        settings = dataclasses.replace(
            settings, upstream_urls={**settings.upstream_urls, "samples": url}
        )
        async with gateway_client(settings) as client:
            body = await gql(client, QUERY, id=SAMPLE_ID)
    assert body["data"] == {"sample": None}
    assert [
        (e["path"], e["extensions"]["code"], e["extensions"]["field"]) for e in body["errors"]
    ] == [(["sample", "name"], "UPSTREAM_BAD_RESPONSE", "name")]

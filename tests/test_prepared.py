"""Prepared operations: a document is parsed, validated and measured once per operation
name, kept in a bounded LRU, and what depends on the variables is still worked out per
request."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from gateway.app import create_app
from gateway.prepared import Preparer
from sandbox.runner import SandboxProcess
from sandbox.tokens import mint_token
from security.persisted import sha256_hex
from tests.conftest import codes, sandbox_settings, started

COUNT = "query Count { samples(first: 1) { totalCount } }"


@asynccontextmanager
async def serving(settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Preparer]]:
    app = create_app(settings)
    headers = {"authorization": f"Bearer {mint_token('lab_administrator')}"}
    async with started(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway.test", headers=headers
        ) as client:
            yield client, app.state.prepared


async def post(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_document_is_prepared_once_per_operation_name(sandbox: SandboxProcess) -> None:
    async with serving(sandbox_settings(sandbox)) as (client, preparer):
        first = await post(client, query=COUNT)
        assert "errors" not in first
        prepared = preparer.prepare(sha256_hex(COUNT), COUNT, None)
        assert await post(client, query=COUNT) == first
        assert preparer.prepare(sha256_hex(COUNT), COUNT, None) is prepared
        assert len(preparer) == 1
        assert (await post(client, query=COUNT, operationName="Count")) == first
        assert len(preparer) == 2  # one more name, one more entry


async def test_the_cache_keeps_the_most_recently_used_up_to_its_size(
    sandbox: SandboxProcess,
) -> None:
    async with serving(sandbox_settings(sandbox, cache_size=2)) as (client, preparer):
        documents = [f"query Q{i} {{ samples(first: 1) {{ totalCount }} }}" for i in range(3)]
        for document in documents:
            assert "errors" not in await post(client, query=document)
        assert len(preparer) == 2
        kept = preparer.prepare(sha256_hex(documents[2]), documents[2], None)
        assert preparer.prepare(sha256_hex(documents[2]), documents[2], None) is kept


async def test_a_failing_document_is_kept_and_answered_alike(sandbox: SandboxProcess) -> None:
    async with serving(sandbox_settings(sandbox)) as (client, preparer):
        for document in ("{ samples(first: 1) { nope } }", "{ samples("):
            answers = [await post(client, query=document) for _ in range(2)]
            assert answers[0] == answers[1]
            assert codes(answers[0]) == ["BAD_USER_INPUT"]
            assert answers[0]["data"] is None
        assert len(preparer) == 2


async def test_a_cost_that_takes_a_variable_is_measured_per_request(
    sandbox: SandboxProcess,
) -> None:
    base = sandbox_settings(sandbox)
    limits = dataclasses.replace(base.security.limits, max_cost=20)
    settings = dataclasses.replace(base, security=dataclasses.replace(base.security, limits=limits))
    document = "query Page($n: Int) { samples(first: $n) { edges { node { id } } } }"
    async with serving(settings) as (client, _):
        small = await post(client, query=document, variables={"n": 2})
        assert "errors" not in small
        assert len(small["data"]["samples"]["edges"]) == 2
        large = await post(client, query=document, variables={"n": 10})
        assert codes(large) == ["OPERATION_LIMIT_EXCEEDED"]
        assert large["errors"][0]["extensions"]["cost"] == 30
        assert "errors" not in await post(client, query=document, variables={"n": 2})

"""Browser-tier HTTP caching of persisted-query GETs: ETag, Cache-Control, Vary and 304s
(``gateway.http_cache``), through the running gateway over the sandbox."""

from __future__ import annotations

import hashlib
import json
import uuid
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from gateway import http_cache
from gateway.graphql_request import GraphQLRequest
from sandbox.runner import SandboxProcess
from tests.conftest import codes, gateway_client, gql, sandbox_settings

PREFLIGHT = {"apollo-require-preflight": "true"}
TEMPLATES = "query HttpCacheTemplates { templates(first: 1) { totalCount } }"
TEMPLATE = "query HttpCacheTemplate($id: ID!) { template(id: $id) { id description } }"
UPDATE = """
mutation($input: UpdateTemplateInput!) {
  updateTemplate(input: $input) { template { id description } userErrors { message } }
}
"""


def _ext(document: str) -> dict[str, Any]:
    digest = hashlib.sha256(document.encode()).hexdigest()
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def _register(client: httpx.AsyncClient, document: str, **variables: Any) -> None:
    body = {"query": document, "variables": variables, "extensions": _ext(document)}
    response = await client.post("/graphql", json=body)
    assert response.status_code == 200, response.text


async def _get(
    client: httpx.AsyncClient,
    document: str,
    headers: dict[str, str] | None = None,
    **variables: Any,
) -> httpx.Response:
    params = {"extensions": json.dumps(_ext(document))}
    if variables:
        params["variables"] = json.dumps(variables)
    return await client.get("/graphql", params=params, headers={**PREFLIGHT, **(headers or {})})


async def test_a_persisted_get_carries_a_strong_etag_of_its_body_and_private_cache_control(
    sandbox: Any,
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        await _register(client, TEMPLATES)
        response = await _get(client, TEMPLATES)
    assert response.status_code == 200
    assert "errors" not in response.json()
    tag = response.headers["etag"]
    assert tag == f'"{hashlib.sha256(response.content).hexdigest()}"'
    assert not tag.startswith("W/")
    # The response cache is off in the test settings: every read went to the upstream, so
    # the browser must revalidate every time (tests/test_cache.py has the warm cache's).
    assert response.headers["cache-control"] == "private, max-age=0"
    vary = {v.strip().lower() for v in response.headers["vary"].split(",")}
    assert {"authorization", "accept"} <= vary


async def test_a_repeated_get_with_a_matching_if_none_match_is_a_304_without_a_body(
    sandbox: Any,
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        await _register(client, TEMPLATES)
        first = await _get(client, TEMPLATES)
        tag = first.headers["etag"]
        same = await _get(client, TEMPLATES, {"if-none-match": tag})
        in_list = await _get(client, TEMPLATES, {"if-none-match": f'"other", W/{tag}'})
        star = await _get(client, TEMPLATES, {"if-none-match": "*"})
        other = await _get(client, TEMPLATES, {"if-none-match": '"not-this-one"'})
    for response in (same, in_list, star):
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == tag
        assert response.headers["cache-control"] == first.headers["cache-control"]
        assert response.headers["vary"] == first.headers["vary"]
        assert "content-type" not in response.headers
    assert other.status_code == 200
    assert other.content == first.content


async def test_a_changed_answer_gets_a_new_etag_and_a_200(
    sandbox: SandboxProcess,
) -> None:
    with httpx.Client(base_url=sandbox.urls["templates"], timeout=10) as raw:
        created = raw.post(
            "/templates",
            json={"name": f"HTTP cache {uuid.uuid4().hex[:8]}", "template_type": "collection"},
        )
        assert created.status_code == 200, created.text
        template_id = created.json()["template"]["id"]
        try:
            async with gateway_client(sandbox_settings(sandbox)) as client:
                await _register(client, TEMPLATE, id=template_id)
                before = await _get(client, TEMPLATE, id=template_id)
                tag = before.headers["etag"]
                changed = await gql(
                    client, UPDATE, input={"id": template_id, "description": "changed"}
                )
                assert changed["data"]["updateTemplate"]["userErrors"] == []
                after = await _get(client, TEMPLATE, {"if-none-match": tag}, id=template_id)
        finally:
            raw.delete(f"/templates/{template_id}")
    assert before.json()["data"]["template"]["id"] == template_id
    assert after.status_code == 200
    assert after.json()["data"]["template"]["description"] == "changed"
    assert after.headers["etag"] != tag
    assert after.headers["etag"] == f'"{hashlib.sha256(after.content).hexdigest()}"'


async def test_post_answers_carry_no_etag_even_for_a_persisted_query(sandbox: Any) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        await _register(client, TEMPLATES)
        by_hash = await client.post("/graphql", json={"extensions": _ext(TEMPLATES)})
        plain = await client.post("/graphql", json={"query": TEMPLATES})
    for response in (by_hash, plain):
        assert response.status_code == 200
        assert "errors" not in response.json()
        assert "etag" not in response.headers
        assert "cache-control" not in response.headers


async def test_error_answers_and_non_persisted_gets_carry_no_etag(sandbox: Any) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        unknown = await _get(client, "query NeverRegistered { templates(first: 1) { totalCount } }")
        missing = 'query HttpCacheMissing { template(id: "no-such-template") { id } }'
        await _register(client, missing)  # a field error: data with errors
        field_error = await _get(client, missing, {"if-none-match": "*"})
        plain = await client.get("/graphql", params={"query": TEMPLATES}, headers=PREFLIGHT)
    assert codes(unknown.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert field_error.status_code == 200
    assert field_error.json().get("errors")
    assert plain.status_code == 200
    assert "errors" not in plain.json()
    for response in (unknown, field_error, plain):
        assert "etag" not in response.headers
        assert "cache-control" not in response.headers


class _Report:
    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds

    def freshness(self) -> float | None:
        return self.seconds


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(299.9, 299), (0.4, 0), (0.0, 0), (None, 0), (-3.0, 0), (float("inf"), 0)],
)
def test_max_age_is_the_reports_freshness_floored_and_zero_when_it_cannot_tell(
    seconds: float | None, expected: int
) -> None:
    assert http_cache.max_age(SimpleNamespace(cache=_Report(seconds))) == expected


def test_max_age_is_zero_without_a_cache_report() -> None:
    assert http_cache.max_age(SimpleNamespace()) == 0
    assert http_cache.max_age(SimpleNamespace(cache=None)) == 0


def test_the_max_age_of_a_cacheable_answer_comes_from_the_reports_freshness() -> None:
    request = GraphQLRequest(None, None, None, _ext(TEMPLATES))
    scope = {"method": "GET", "headers": [(b"if-none-match", b'"x"')]}
    call = SimpleNamespace(cache=_Report(42.7))
    validation = http_cache.validate(scope, request, {"data": {}}, 200, b"{}", call)
    assert validation is not None
    assert not validation.not_modified
    assert (b"cache-control", b"private, max-age=42") in validation.headers
    assert http_cache.validate(scope, [request], [{"data": {}}], 200, b"[]", call) is None
    assert http_cache.validate(scope, request, {"data": {}}, 400, b"{}", call) is None
    post = {**scope, "method": "POST"}
    assert http_cache.validate(post, request, {"data": {}}, 200, b"{}", call) is None


@pytest.mark.parametrize(
    ("if_none_match", "matches"),
    [
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ('"x" , W/"abc" ', True),
        ("*", True),
        ('"abcd"', False),
        ('"a,bc"', False),
        ('"x", "y"', False),
        ("", False),
        (None, False),
    ],
)
def test_if_none_match_uses_the_weak_comparison_over_a_list(
    if_none_match: str | None, matches: bool
) -> None:
    assert http_cache.none_match(if_none_match, '"abc"') is matches

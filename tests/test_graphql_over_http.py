"""GraphQL over HTTP: the media type negotiated from Accept, the status codes that go with
it, malformed requests refused with 400 and a clear message, and the graphql-http audit
suite run against a gateway process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from security.config import RateLimitConfig
from security.responses import graphql_media_type
from tests.conftest import SandboxControl, codes, gateway_client, sandbox_settings
from tests.processes import gateway_process

GRAPHQL = "application/graphql-response+json"
LEGACY = "application/json"
AUDIT_DIR = Path(__file__).parent / "http_audit"

TYPENAME = "{ __typename }"
PARSE_ERROR = "{"
VALIDATION_ERROR = "{ noSuchField }"
COERCION_ERROR = "query Q($id: ID!) { sample(id: $id) { id } }"
FIELD_ERROR = '{ sample(id: "not-a-uuid") { id } }'


def _media(accept: str | None) -> str | None:
    headers = [] if accept is None else [(b"accept", accept.encode())]
    return graphql_media_type({"type": "http", "headers": headers})


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, LEGACY),
        ("", LEGACY),
        ("*/*", LEGACY),
        ("application/*", LEGACY),
        ("application/json", LEGACY),
        ("application/json; charset=utf-8", LEGACY),
        (GRAPHQL, GRAPHQL),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", GRAPHQL),
        (f"{GRAPHQL}, application/json;q=0.9", GRAPHQL),
        (f"application/json, {GRAPHQL}", GRAPHQL),
        (f"application/json, {GRAPHQL};q=0.5", LEGACY),
        (f"{GRAPHQL}, */*", GRAPHQL),
        (f"{GRAPHQL};q=0, */*", LEGACY),
        (f"*/*;q=0.1, {GRAPHQL};q=0.2", GRAPHQL),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", LEGACY),
        ("text/html", None),
        ("application/json;q=0", None),
        ("application/xml, text/*", None),
        ("not a media range", None),
        (f"{GRAPHQL};q=abc", None),
    ],
)
def test_the_answer_media_type_is_negotiated_from_accept(
    accept: str | None, expected: str | None
) -> None:
    assert _media(accept) == expected


async def _post(client: httpx.AsyncClient, accept: str, query: str, **variables: Any) -> Any:
    return await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"accept": accept}
    )


async def test_request_errors_are_400_without_data_in_graphql_response_json(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        parse = await _post(client, GRAPHQL, PARSE_ERROR)
        validation = await _post(client, GRAPHQL, VALIDATION_ERROR)
        coercion = await _post(client, GRAPHQL, COERCION_ERROR, id=None)
        control.reset_stats()
        field = await _post(client, GRAPHQL, FIELD_ERROR)
        ok = await _post(client, GRAPHQL, TYPENAME)
    for answer in (parse, validation, coercion):
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"] == f"{GRAPHQL}; charset=utf-8"
        assert "data" not in answer.json()
        assert codes(answer.json()) == ["BAD_USER_INPUT"]
    # A field error is an executed operation: 200, with its data.
    assert field.status_code == 200
    assert field.headers["content-type"] == f"{GRAPHQL}; charset=utf-8"
    assert field.json()["data"] == {"sample": None}
    assert codes(field.json()) == ["BAD_USER_INPUT"]
    assert ok.status_code == 200
    assert ok.json() == {"data": {"__typename": "Query"}}


async def test_request_errors_stay_200_with_null_data_in_legacy_json(sandbox: Any) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        answers = [
            await _post(client, accept, PARSE_ERROR)
            for accept in ("application/json", "*/*", "application/*")
        ]
        answers.append(await client.post("/graphql", json={"query": VALIDATION_ERROR}))
        answers.append(await _post(client, LEGACY, COERCION_ERROR, id=None))
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == f"{LEGACY}; charset=utf-8"
        assert answer.json()["data"] is None
        assert codes(answer.json()) == ["BAD_USER_INPUT"]


async def test_a_batch_is_200_and_each_request_error_in_it_has_no_data(sandbox: Any) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        batch = await client.post(
            "/graphql",
            json=[{"query": TYPENAME}, {"query": PARSE_ERROR}],
            headers={"accept": GRAPHQL},
        )
    assert batch.status_code == 200
    assert batch.headers["content-type"] == f"{GRAPHQL}; charset=utf-8"
    ok, failed = batch.json()
    assert ok == {"data": {"__typename": "Query"}}
    assert "data" not in failed
    assert codes(failed) == ["BAD_USER_INPUT"]


async def test_an_operation_refused_by_its_cost_is_429_with_retry_after(sandbox: Any) -> None:
    budget = RateLimitConfig(anonymous_rate=0.001, anonymous_burst=20)
    costly = "{ templates(first: 5) { edges { node { id } } } }"  # costs 15 of the 20
    async with gateway_client(sandbox_settings(sandbox, rate_limit=budget), role=None) as client:
        paid = await _post(client, GRAPHQL, costly)
        graphql = await _post(client, GRAPHQL, costly)
        legacy = await _post(client, LEGACY, costly)
    assert paid.status_code == 200, paid.text
    assert graphql.status_code == 429
    assert int(graphql.headers["retry-after"]) >= 1
    assert "data" not in graphql.json()
    assert codes(graphql.json()) == ["RATE_LIMITED"]
    assert legacy.status_code == 200
    assert legacy.json()["data"] is None
    assert codes(legacy.json()) == ["RATE_LIMITED"]


async def test_an_accept_that_admits_no_graphql_media_type_is_406(sandbox: Any) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        refused = await _post(client, "text/html", TYPENAME)
        zero = await _post(client, "application/json;q=0", TYPENAME)
        page = await client.get("/graphql", headers={"accept": "text/html"})
    for answer in (refused, zero):
        assert answer.status_code == 406
        assert answer.headers["content-type"] == f"{LEGACY}; charset=utf-8"
        assert codes(answer.json()) == ["NOT_ACCEPTABLE"]
        assert GRAPHQL in answer.json()["errors"][0]["message"]
    # The GraphiQL page is not a GraphQL answer: a browser still gets it.
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"12345", "must be a JSON object (one GraphQL request) or a list of them"),
        (b'"str"', "not a string"),
        (b"null", "not null"),
        (b"true", "not a boolean"),
        (b"[1]", "Operation 0 of the batch must be a JSON object, not a number"),
        (b'[{"query": "{ __typename }"}, "x"]', "Operation 1 of the batch must be a JSON"),
        (b"[]", "A batch must hold at least one operation"),
        (b'{"query": 1}', "`query` must be a string, not a number"),
        (b'{"query": ["{ __typename }"]}', "`query` must be a string, not a list"),
        (b'{"query": "{ __typename }", "operationName": 5}', "`operationName` must be a string"),
        (b'{"query": "{ __typename }", "operationName": {}}', "`operationName` must be a string"),
        (b'{"query": "{ __typename }", "variables": "{}"}', "`variables` must be an object"),
        (b'{"query": "{ __typename }", "variables": [7]}', "`variables` must be an object"),
        (b'{"query": "{ __typename }", "extensions": 0}', "`extensions` must be an object"),
        (b'[{"query": "{ __typename }", "variables": 1}]', "Operation 0 of the batch: `vari"),
        (b'{"query": ', "Unable to parse request body as JSON"),
        (b"", "Unable to parse request body as JSON"),
        (b'{"query": "\\ud800"}', "Unable to parse request body as JSON"),
    ],
)
async def test_a_post_body_that_is_not_a_graphql_request_is_a_400_with_its_reason(
    sandbox: Any, body: bytes, message: str
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        for accept in (GRAPHQL, LEGACY):
            answer = await client.post(
                "/graphql",
                content=body,
                headers={"content-type": "application/json", "accept": accept},
            )
            assert answer.status_code == 400, answer.text
            assert answer.headers["content-type"] == f"{accept}; charset=utf-8"
            assert codes(answer.json()) == ["BAD_REQUEST"]
            assert message in answer.json()["errors"][0]["message"]
            assert ("data" in answer.json()) is (accept == LEGACY)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"query": TYPENAME, "variables": "{not json"}, "`variables` parameter must be a JSON"),
        ({"query": TYPENAME, "variables": "[1]"}, "`variables` must be an object, not a list"),
        ({"query": TYPENAME, "variables": '"{}"'}, "`variables` must be an object, not a string"),
        ({"query": TYPENAME, "extensions": "5"}, "`extensions` must be an object, not a number"),
        ({"query": TYPENAME, "extensions": "null"}, None),
        ({"variables": "{}"}, "No GraphQL query found in the request"),
    ],
)
async def test_a_get_with_malformed_parameters_is_a_400_with_its_reason(
    sandbox: Any, params: dict[str, str], message: str | None
) -> None:
    preflight = {"apollo-require-preflight": "true", "accept": GRAPHQL}
    async with gateway_client(sandbox_settings(sandbox)) as client:
        answer = await client.get("/graphql", params=params, headers=preflight)
    if message is None:  # a JSON null is no extensions at all
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"data": {"__typename": "Query"}}
        return
    assert answer.status_code == 400, answer.text
    assert codes(answer.json()) == ["BAD_REQUEST"]
    assert message in answer.json()["errors"][0]["message"]


async def test_empty_get_parameters_count_as_absent(sandbox: Any) -> None:
    preflight = {"apollo-require-preflight": "true"}
    params = {"query": TYPENAME, "variables": "", "extensions": "", "operationName": ""}
    async with gateway_client(sandbox_settings(sandbox)) as client:
        answer = await client.get("/graphql", params=params, headers=preflight)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"data": {"__typename": "Query"}}


async def test_a_mutation_over_get_is_405_naming_post(sandbox: Any) -> None:
    headers = {"apollo-require-preflight": "true", "accept": GRAPHQL}
    mutation = 'mutation { deleteSample(input: {id: "x"}) { deletedSampleId } }'
    async with gateway_client(sandbox_settings(sandbox)) as client:
        answer = await client.get("/graphql", params={"query": mutation}, headers=headers)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert codes(answer.json()) == ["BAD_REQUEST"]
    assert "data" not in answer.json()


async def test_a_post_of_an_unsupported_content_type_is_415(sandbox: Any) -> None:
    headers = {"apollo-require-preflight": "true", "content-type": "text/plain"}
    async with gateway_client(sandbox_settings(sandbox)) as client:
        plain = await client.post("/graphql", content=TYPENAME, headers=headers)
        headers.pop("content-type")
        bare = await client.post(
            "/graphql", content=b'{"query": "{ __typename }"}', headers=headers
        )
    for answer in (plain, bare):
        assert answer.status_code == 415, answer.text
        assert codes(answer.json()) == ["UNSUPPORTED_MEDIA_TYPE"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"operations": "7", "map": "{}"}, "must be a JSON object (one GraphQL request)"),
        ({"operations": "{not json", "map": "{}"}, "`operations` field is not valid JSON"),
        ({"map": "{}"}, "needs the `operations` field, as JSON"),
        ({"operations": '{"query": "{ __typename }"}', "map": "[1]"}, "must map each file"),
        ({"operations": '{"query": "{ __typename }"}', "map": '{"0": "x"}'}, "must map each"),
        (
            {"operations": '{"query": "{ __typename }"}', "map": '{"0": ["variables.file"]}'},
            "names a file or a path that the request does not hold",
        ),
    ],
)
async def test_a_malformed_multipart_request_is_a_400_with_its_reason(
    sandbox: Any, fields: dict[str, str], message: str
) -> None:
    headers = {"apollo-require-preflight": "true"}
    async with gateway_client(sandbox_settings(sandbox)) as client:
        answer = await client.post(
            "/graphql", data=fields, files={"unused": ("a.txt", b"x")}, headers=headers
        )
    assert answer.status_code == 400, answer.text
    assert codes(answer.json()) == ["BAD_REQUEST"]
    assert message in answer.json()["errors"][0]["message"]


async def test_middleware_refusals_are_written_in_the_negotiated_media_type(
    sandbox: Any,
) -> None:
    # Every refusal spends the minimum (1) from the one anonymous bucket; the first
    # operation 1 more for its cost: 1 + 1 + 1 + 2 leaves nothing for the last two.
    budget = RateLimitConfig(anonymous_rate=0.001, anonymous_burst=5)
    settings = sandbox_settings(sandbox, rate_limit=budget)
    async with gateway_client(settings, token="not-a-token") as client:
        unauthenticated = await _post(client, GRAPHQL, TYPENAME)
    async with gateway_client(settings, role=None) as client:
        csrf = await client.get("/graphql", params={"query": TYPENAME}, headers={"accept": GRAPHQL})
        too_large = await client.post(
            "/graphql",
            content=b" " * (settings.security.limits.max_body_bytes + 1),
            headers={"content-type": "application/json", "accept": GRAPHQL},
        )
        await _post(client, LEGACY, TYPENAME)
        limited = await _post(client, GRAPHQL, TYPENAME)
        limited_legacy = await _post(client, LEGACY, TYPENAME)
    for answer, status in ((unauthenticated, 401), (csrf, 400), (too_large, 413), (limited, 429)):
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == f"{GRAPHQL}; charset=utf-8"
        assert "data" not in answer.json()
        assert answer.json()["errors"][0]["extensions"]["code"]
    assert limited_legacy.status_code == 429
    assert limited_legacy.headers["content-type"] == f"{LEGACY}; charset=utf-8"
    assert limited_legacy.json()["data"] is None


# ---------------------------------------------------------------- the graphql-http audit


def _audit_runner() -> str:
    """The node binary, with the audit installed (`make` runs `npm ci` in tests/http_audit);
    without them the audit skips, or fails under REQUIRE_NODE=1."""
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "node is not installed"
    elif not (AUDIT_DIR / "node_modules" / "graphql-http").is_dir():
        problem = f"graphql-http is not installed: run `npm ci` in {AUDIT_DIR}"
    if problem is not None:
        if os.environ.get("REQUIRE_NODE") == "1":
            pytest.fail(f"REQUIRE_NODE=1 but {problem}")
        pytest.skip(f"the GraphQL-over-HTTP audit needs Node.js: {problem}")
    assert node is not None
    return node


def test_the_graphql_http_audit_passes_every_must_and_should(sandbox: Any) -> None:
    node = _audit_runner()
    with gateway_process(sandbox, TRACSEQ_RATE_LIMIT_ENABLED="false") as gateway:
        run = subprocess.run(
            [node, str(AUDIT_DIR / "audit.mjs"), f"{gateway.url}/graphql"],
            capture_output=True,
            timeout=120,
            check=False,
            cwd=AUDIT_DIR,
        )
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    results = [json.loads(line) for line in run.stdout.decode().splitlines()]
    assert len(results) > 50
    failed = [
        f"{r['id']} {r['name']}: {r['reason']}"
        for r in results
        if r["name"].startswith(("MUST", "SHOULD")) and r["status"] != "ok"
    ]
    assert failed == []
    optional = [f"{r['id']} {r['name']}" for r in results if r["status"] != "ok"]
    assert optional == []


async def test_a_document_of_several_operations_without_an_operation_name_runs_none(
    sandbox: Any,
) -> None:
    document = "query A { __typename } mutation B { logout { sessionId } }"
    async with gateway_client(sandbox_settings(sandbox)) as client:
        spec = await _post(client, GRAPHQL, document)
        legacy = await _post(client, LEGACY, document)
        named = await client.post("/graphql", json={"query": document, "operationName": "A"})
    assert spec.status_code == 400
    assert spec.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "operation name" in spec.json()["errors"][0]["message"]
    assert "data" not in spec.json()
    assert legacy.status_code == 200
    assert legacy.json()["data"] is None
    assert named.json() == {"data": {"__typename": "Query"}}

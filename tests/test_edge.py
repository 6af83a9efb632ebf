"""The edge layer: request ids, the access line and the refusals of its steps, over HTTP to
the gateway in-process."""

from __future__ import annotations

import io
import os
import re
from typing import Any

import httpx

from gateway.app import create_app
from gateway.request_id import accept_request_id, new_request_id
from tests.conftest import gateway_client, log_lines, sandbox_settings, started

HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def test_generated_ids_are_32_hex_digits_and_never_repeat_in_a_process_or_its_child() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(HEX_ID.match(i) for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own prefix, so its ids cannot meet the parent's
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert HEX_ID.match(child)
    assert child[:16] != new_request_id()[:16]
    assert accept_request_id("trace-42.abc:1") == "trace-42.abc:1"
    assert HEX_ID.match(accept_request_id("x" * 129))


async def test_every_response_has_one_request_id_and_the_security_headers(
    sandbox: Any,
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        answers = [
            await client.get("/health"),
            await client.get("/nowhere"),
            await client.post(
                "/graphql", content=b"x" * 10, headers={"content-type": "text/plain"}
            ),
            await client.get("/health", headers={"x-request-id": "mine-1"}),
        ]
    ids = [answer.headers.get_list("x-request-id") for answer in answers]
    assert [len(i) for i in ids] == [1, 1, 1, 1]
    assert ids[3] == ["mine-1"]
    assert len({i[0] for i in ids}) == 4
    assert [a.status_code for a in answers] == [200, 404, 400, 200]
    assert all(a.headers["x-frame-options"] == "DENY" for a in answers)
    assert answers[2].json()["errors"][0]["extensions"]["code"] == "CSRF_PREVENTION"


async def test_a_body_that_streams_past_the_limit_is_refused_once_with_413(
    sandbox: Any, json_log: io.StringIO
) -> None:
    settings = sandbox_settings(sandbox)
    limit = settings.security.limits.max_body_bytes

    async def chunks() -> Any:  # no Content-Length: the limit counts as the body arrives
        for _ in range(limit // 1000 + 2):
            yield b" " * 1000

    async with gateway_client(settings) as client:
        response = await client.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert response.headers["x-request-id"]
    (line,) = [line for line in log_lines(json_log) if line["event"] == "request"]
    assert (line["status"], line["route"]) == (413, "/graphql")


async def test_a_request_with_a_bad_token_is_logged_under_its_route(
    sandbox: Any, json_log: io.StringIO
) -> None:
    app = create_app(sandbox_settings(sandbox))
    async with started(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
            response = await c.post(
                "/graphql",
                json={"query": "{ samples(first: 1) { totalCount } }"},
                headers={"authorization": "Bearer not-a-token"},
            )
    assert response.status_code == 401
    (line,) = [line for line in log_lines(json_log) if line["event"] == "request"]
    assert (line["status"], line["route"], line["principal"]) == (401, "/graphql", None)


async def test_with_tracing_the_access_line_carries_the_server_spans_trace_id(
    sandbox: Any, json_log: io.StringIO
) -> None:
    from tests.test_observability import in_memory_tracing

    tracing, exporter = in_memory_tracing()
    app = create_app(sandbox_settings(sandbox), tracing=tracing)
    async with started(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
            response = await c.get("/health")
    assert response.status_code == 200
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "GET /health"]
    (line,) = [line for line in log_lines(json_log) if line["event"] == "request"]
    assert line["trace_id"] == format(span.context.trace_id, "032x")
    assert line["request_id"] == response.headers["x-request-id"]

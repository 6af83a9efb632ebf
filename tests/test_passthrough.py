"""The REST passthrough over real HTTP against the sandbox.

Most tests run the gateway in-process (``gateway_client``); those that need a real socket
(literal ``..`` in a request line, client disconnects, memory of a large transfer) use one
gateway process for the module. The sandbox's ``/_sandbox/echo`` and ``/_sandbox/bytes``
endpoints (reached through ``/api/sequencing/...``, whose upstream prefix is ``/``) show
what the upstream received and produce large bodies.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import http.client
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

from gateway.passthrough import Passthrough, PassthroughConfig, legacy_error
from gateway.rest_routes import ROUTES, LegacyRoute, RouteMap, markdown_table
from gateway.runtime import Runtime
from sandbox.runner import SandboxProcess
from sandbox.seed import DEMO_USERS
from security.proxies import TrustedProxies
from tests.conftest import (
    auth_header,
    gateway_client,
    log_lines,
    mint_token,
    sandbox_settings,
)
from tests.processes import gateway_process as start_gateway
from upstreams.config import BreakerPolicy, BulkheadPolicy, RetryPolicy, Timeouts
from upstreams.pool import create_http_pool
from upstreams.registry import Upstreams

if TYPE_CHECKING:
    from tests.conftest import SandboxControl

ECHO = "/api/sequencing/_sandbox/echo"
BYTES = "/api/sequencing/_sandbox/bytes"
PATTERN = bytes(range(256)) * 1024
MB = 1024 * 1024
# The bound: 200 MB each way through a running gateway grows its RSS by < 50 MB.
STREAM_BYTES = 200 * MB
RSS_GROWTH_LIMIT = 50 * MB


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    return dict(body["error"])


async def _login(client: httpx.AsyncClient) -> dict[str, Any]:
    """A remember-me login (the release issues a refresh token only then)."""
    email, password, _role = DEMO_USERS[0]
    body = {"email": email, "password": password, "remember_me": True}
    response = await client.post("/api/auth/login", json=body)
    assert response.status_code == 200
    return dict(response.json()["data"])


# ---------------------------------------------------------------- the route map


def test_longest_prefix_wins_on_whole_segments() -> None:
    routes = RouteMap()
    matched = routes.match("/api/samples/rag/query")
    assert matched is not None
    assert matched.service == "rag"
    assert matched.upstream_path("/api/samples/rag/query") == "/api/samples/rag/query"
    samples = routes.match("/api/samples/123")
    assert samples is not None
    assert samples.upstream_path("/api/samples/123") == "/samples/123"
    sequencing = routes.match("/api/sequencing/jobs")
    assert sequencing is not None
    assert sequencing.upstream_path("/api/sequencing/jobs") == "/jobs"
    assert sequencing.upstream_path("/api/sequencing") == "/"
    assert routes.match("/api/samplesx") is None
    assert routes.match("/api/users") is None
    with pytest.raises(ValueError, match="duplicate"):
        RouteMap((LegacyRoute("/api/a", "auth", "/a"), LegacyRoute("/api/a", "samples", "/b")))


def test_readme_prints_the_route_map() -> None:
    readme = Path(__file__).resolve().parent.parent / "README.md"
    assert markdown_table() in readme.read_text(encoding="utf-8")


# ---------------------------------------------------------------- every mapped prefix


async def test_every_mapped_prefix_reaches_its_service(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        login = await _login(client)
        bearer = {"Authorization": f"Bearer {login['access_token']}"}
        listing = await client.get("/api/samples", params={"page_size": 1})
        sample_id = listing.json()["data"]["samples"][0]["id"]
        calls: list[tuple[str, str, dict[str, Any], str, str]] = [
            ("GET", "/api/users/me", {"headers": bearer}, "auth", "GET /auth/me"),
            ("GET", f"/api/samples/{sample_id}", {}, "samples", "GET /samples/{id}"),
            ("GET", "/api/storage/locations", {}, "storage", "GET /storage/locations"),
            ("GET", "/api/templates", {}, "templates", "GET /templates"),
            ("GET", "/api/sequencing/jobs", {"params": {"limit": 2}}, "sequencing", "GET /jobs"),
            (
                "POST",
                "/api/samples/rag/query",
                {"json": {"query": "How should plasma be stored?"}},
                "rag",
                "POST /api/samples/rag/query",
            ),
            (
                "POST",
                "/api/rag/process",
                {"files": {"file": ("sub.txt", b"Sample name: S-1\nType: blood\n", "text/plain")}},
                "rag",
                "POST /api/rag/process",
            ),
            (
                "GET",
                "/api/notifications",
                {"params": {"limit": 3}},
                "notifications",
                "GET /notifications",
            ),
        ]
        routes = RouteMap()
        exercised = {"/api/auth"} | {routes.match(c[1]).prefix for c in calls}  # type: ignore[union-attr]
        assert exercised == {route.prefix for route in ROUTES}
        for method, path, kwargs, service, route in calls:
            control.reset_stats()
            response = await client.request(method, path, **kwargs)
            assert response.status_code == 200, (path, response.text)
            assert control.by_route(service) == {route: 1}, path
            assert control.requests() == 1, path  # and no other service was called
        assert control.by_route("auth") == {}  # the reset above; login was counted before
        direct = httpx.get(f"{sandbox.urls['samples']}/samples/{sample_id}")
        relayed = await client.get(f"/api/samples/{sample_id}")
        assert relayed.content == direct.content
        assert relayed.headers["content-type"] == direct.headers["content-type"]


async def test_auth_login_refresh_and_upstream_errors_pass_through(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        login = await _login(client)
        refreshed = await client.post(
            "/api/auth/refresh", json={"refresh_token": login["refresh_token"]}
        )
        assert refreshed.status_code == 200
        assert control.by_route("auth") == {"POST /auth/login": 1, "POST /auth/refresh": 1}
        wrong = await client.post(
            "/api/auth/login", json={"email": "admin@tracseq.lab", "password": "nope"}
        )
        direct = httpx.post(
            f"{sandbox.urls['auth']}/auth/login",
            json={"email": "admin@tracseq.lab", "password": "nope"},
        )
        assert wrong.status_code == direct.status_code == 401
        assert wrong.json()["error"]["code"] == "INVALID_CREDENTIALS"
        # templates answer a bare 404 with an empty body: relayed as it is
        missing = await client.get("/api/templates/00000000-0000-4000-8000-000000000000")
        assert missing.status_code == 404
        assert missing.content == b""


# ---------------------------------------------------------------- the gateway's own errors


async def test_unknown_prefix_is_a_legacy_404(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        for path in ("/api/unknown", "/api/samplesx/1", "/api/users", "/api/"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert _error(response)["code"] == "NOT_FOUND"
    assert control.requests() == 0


ENCODED_TRAVERSALS = [
    "/api/samples/%2e%2e/auth/me",
    "/api/samples/%2E%2E/auth/me",
    "/api/samples/.%2e/auth/me",
    "/api/samples/%2e./x",
    "/api/samples/%2e/x",
    "/api/samples/a%2fb",
    "/api/samples/a%2Fb",
    "/api/samples/a%5cb",
    "/api/samples/a%5Cb",
    "/api/samples/a%00b",
    "/api/samples/%252e%252e/x",
    "/api/samples/%ff%fe",
    "/api/sequencing/%2e%2e/%2e%2e/etc/passwd",
]


async def test_encoded_traversal_is_400_and_nothing_is_forwarded(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        for path in ENCODED_TRAVERSALS:
            response = await client.get(path)
            assert response.status_code == 400, path
            assert _error(response)["code"] == "INVALID_PATH"
    assert control.requests() == 0


def test_literal_traversal_is_400_and_nothing_is_forwarded(
    gateway_process: str, control: SandboxControl
) -> None:
    # http.client sends the request line as written (httpx would normalise the dots).
    host, port = gateway_process.removeprefix("http://").split(":")
    for path in (
        "/api/samples/../auth/me",
        "/api/samples/./x",
        "/api/sequencing/../../etc/passwd",
        "/api/samples/a\\..\\b",
        "/api/samples/..",
    ):
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        assert response.status == 400, (path, body)
        assert b"INVALID_PATH" in body
    assert control.requests() == 0


async def test_open_breaker_is_503_with_retry_after(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    settings = sandbox_settings(
        sandbox,
        breaker=BreakerPolicy(failure_threshold=2, recovery_timeout=30),
        retry=RetryPolicy(attempts=1),
    )
    control.fault("samples", status=503, times=2, path_prefix="/samples")
    async with gateway_client(settings) as client:
        for _ in range(2):  # the upstream's own 503 answers, relayed as they are
            relayed = await client.get("/api/samples")
            assert relayed.status_code == 503
            assert relayed.json()["error"] == "service_unavailable"
        assert control.requests("samples") == 2
        refused = await client.get("/api/samples")
        assert refused.status_code == 503
        assert _error(refused)["code"] == "SERVICE_UNAVAILABLE"
        assert 1 <= int(refused.headers["retry-after"]) <= 30
        assert control.requests("samples") == 2  # the open breaker sent nothing
        # one breaker per route, shared with GraphQL
        graph = await client.post(
            "/graphql", json={"query": "{ samples(first: 1) { totalCount } }"}
        )
        assert graph.json()["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        assert control.requests("samples") == 2
        # ... and only that route's: another samples route is still relayed.
        assert (await client.get("/api/samples/barcode/NO-SUCH-BARCODE")).status_code == 404
        assert control.requests("samples") == 3


async def test_slow_upstream_is_504(sandbox: SandboxProcess, control: SandboxControl) -> None:
    settings = sandbox_settings(sandbox, timeouts=Timeouts(connect=1, read=0.3, total=1))
    control.fault("samples", delay_ms=1500, times=1, path_prefix="/samples")
    async with gateway_client(settings) as client:
        started = time.monotonic()
        response = await client.get("/api/samples")
        elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert _error(response)["code"] == "GATEWAY_TIMEOUT"
    assert elapsed < 1.2
    assert control.requests("samples") == 1  # a timeout is not retried


async def test_refused_connection_is_502_without_the_address(
    sandbox: SandboxProcess, closed_port: int
) -> None:
    port = closed_port
    urls = {**sandbox.urls, "storage": f"http://127.0.0.1:{port}"}
    settings = dataclasses.replace(sandbox_settings(sandbox), upstream_urls=urls)
    async with gateway_client(settings) as client:
        response = await client.get("/api/storage/locations")
        posted = await client.post("/api/storage/samples/assign", json={})
    for answer in (response, posted):
        assert answer.status_code == 502
        error = _error(answer)
        assert error["code"] == "BAD_GATEWAY"
        assert str(port) not in answer.text
        assert "127.0.0.1" not in answer.text


async def test_get_is_retried_on_503_and_post_never(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.fault("notifications", status=503, times=2, methods=["GET"])
        retried = await client.get("/api/notifications", params={"limit": 1})
        assert retried.status_code == 200
        assert control.by_route("notifications") == {"GET /notifications": 3}

        control.reset_stats()
        control.fault("notifications", status=503, times=1, methods=["POST"])
        posted = await client.post("/api/notifications", json={"title": "t"})
        assert posted.status_code == 503  # the upstream's answer, relayed
        assert control.by_route("notifications") == {"POST /notifications": 1}

        control.reset_stats()
        control.fault("notifications", status=0, times=1, methods=["POST"])
        dropped = await client.post("/api/notifications", json={"title": "t"})
        assert dropped.status_code == 502
        assert control.by_route("notifications") == {"POST /notifications": 1}


async def test_delete_is_sent_once_as_on_graphql(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    # One retry rule for every call (upstreams.resilience.may_retry): a second DELETE of a
    # resource the first one removed would answer 404 for a delete that was done.
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        control.fault("templates", status=503, times=1, methods=["DELETE"])
        deleted = await client.delete("/api/templates/00000000-0000-4000-8000-000000000000")
        assert deleted.status_code == 503  # the upstream's answer, relayed
        assert control.by_route("templates") == {"DELETE /templates/{id}": 1}


async def test_guard_answers_instead_of_the_upstream(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    seen: list[tuple[str, str]] = []

    async def guard(request: Request, route: LegacyRoute) -> Response | None:
        seen.append((request.method, route.prefix))
        if "authorization" not in request.headers:
            return legacy_error(401, "UNAUTHENTICATED", "a token is required")
        return None

    async with _tiny_gateway(sandbox, guard=guard) as client:
        denied = await client.post("/api/samples", json={"name": "x"})
        assert denied.status_code == 401
        assert _error(denied)["code"] == "UNAUTHENTICATED"
        assert control.requests() == 0
        allowed = await client.get("/api/templates", headers={"Authorization": "Bearer x"})
        assert allowed.status_code == 200
    assert seen == [("POST", "/api/samples"), ("GET", "/api/templates")]


# ---------------------------------------------------------------- header hygiene


async def test_request_headers_hop_by_hop_dropped_forwarding_set(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    token = mint_token("lab_technician")
    async with gateway_client(sandbox_settings(sandbox)) as client:
        response = await client.post(
            ECHO,
            params={"ids": "a,b", "search": "foo bar", "plus": "+"},  # ids=a%2Cb
            content=b"payload",
            headers={
                "Authorization": f"Bearer {token}",
                "X-Request-ID": "legacy-client-42",
                "Connection": "keep-alive, X-Named-Hop",
                "X-Named-Hop": "drop me",
                "Keep-Alive": "timeout=5",
                "TE": "trailers",
                "Trailer": "X-Checksum",
                "Upgrade": "h2c",
                "Proxy-Authorization": "Basic c2VjcmV0",
                "Proxy-Connection": "keep-alive",
                "X-Forwarded-For": "6.6.6.6",
                "X-Forwarded-Host": "evil.example",
                "X-Forwarded-Proto": "https",
                "Forwarded": "for=6.6.6.6",
                "X-Custom": "kept",
                "Accept-Encoding": "br",
            },
        )
    assert response.status_code == 200
    echo = response.json()
    received: dict[str, list[str]] = {}
    for name, value in echo["headers"]:
        received.setdefault(name, []).append(value)
    for hop in (
        "connection",
        "x-named-hop",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
        "forwarded",
    ):
        assert hop not in received, hop
    assert received["authorization"] == [f"Bearer {token}"]
    assert received["x-custom"] == ["kept"]
    assert received["accept-encoding"] == ["br"]
    assert received["x-request-id"] == ["legacy-client-42"]
    assert response.headers["x-request-id"] == "legacy-client-42"
    assert received["x-forwarded-for"] == ["127.0.0.1"]  # the spoofed chain is not trusted
    assert received["x-forwarded-host"] == ["gateway.test"]
    assert received["x-forwarded-proto"] == ["http"]
    assert received["host"] != ["gateway.test"]  # the upstream's own host
    assert echo["method"] == "POST"
    assert echo["path"] == "/_sandbox/echo"
    # The HTTP client (yarl) may unescape characters that need no escape (%2C → ","); every
    # decoded value is the same, and reserved escapes (%2B, %26) stay.
    assert parse_qsl(echo["query"]) == [("ids", "a,b"), ("search", "foo bar"), ("plus", "+")]
    assert echo["body_bytes"] == 7


async def test_request_id_reaches_the_upstream(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        response = await client.get("/api/templates", headers={"X-Request-ID": "rest-7"})
        generated = await client.get("/api/templates", headers={"X-Request-ID": "bad id!"})
    assert response.headers["x-request-id"] == "rest-7"
    recent = control.recent("templates")
    assert recent[0]["request_id"] == "rest-7"
    assert recent[1]["request_id"] == generated.headers["x-request-id"] != "bad id!"


async def test_response_hop_by_hop_dropped_end_to_end_kept(sandbox: SandboxProcess) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        response = await client.get(ECHO, params={"hop": "1"})
    assert response.status_code == 200
    for hop in (
        "connection",
        "x-hop-named",
        "keep-alive",
        "proxy-authenticate",
        "trailer",
        "upgrade",
    ):
        assert hop not in response.headers, hop
    assert response.headers["x-end-to-end"] == "kept"
    assert int(response.headers["content-length"]) == len(response.content)


async def test_trusted_proxy_chain_is_extended(sandbox: SandboxProcess) -> None:
    config = PassthroughConfig(trusted_proxies=TrustedProxies.parse(["127.0.0.0/8"]))
    async with _tiny_gateway(sandbox, config=config) as client:
        response = await client.get(
            ECHO,
            headers={
                "X-Forwarded-For": "203.0.113.9",
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "lims.example",
            },
        )
    received = dict((k, v) for k, v in response.json()["headers"])
    assert received["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert received["x-forwarded-proto"] == "https"
    assert received["x-forwarded-host"] == "lims.example"


async def test_cookies_reach_the_client_and_stay_out_of_the_shared_pool(
    sandbox: SandboxProcess,
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        first = await client.get(ECHO, params={"cookie": "1"})
        assert first.headers.get_list("set-cookie") == ["session=one; Path=/", "theme=dark; Path=/"]
        client.cookies.clear()  # the legacy client keeps its cookies; the gateway must not
        second = await client.get(ECHO)
    assert "cookie" not in dict(second.json()["headers"])


async def test_chunked_upload_without_length_streams_through(sandbox: SandboxProcess) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield PATTERN

    async with gateway_client(sandbox_settings(sandbox)) as client:
        response = await client.put(ECHO, content=chunks())
    assert response.status_code == 200
    assert response.json()["body_bytes"] == 8 * len(PATTERN)
    assert response.json()["sha256"] == hashlib.sha256(PATTERN * 8).hexdigest()


async def test_stalled_upload_is_408(sandbox: SandboxProcess, control: SandboxControl) -> None:
    async def stalls() -> AsyncIterator[bytes]:
        yield b"start"
        await asyncio.sleep(1.0)
        yield b"never relayed"

    config = PassthroughConfig(body_idle_timeout=0.2)
    async with _tiny_gateway(sandbox, config=config) as client:
        response = await client.post(ECHO, content=stalls())
    assert response.status_code == 408
    assert _error(response)["code"] == "REQUEST_TIMEOUT"
    assert _streams(control)["completed"] == 0


async def test_full_bulkhead_is_503_with_retry_after(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    settings = sandbox_settings(
        sandbox, bulkhead=BulkheadPolicy(max_concurrency=1, queue_timeout=0)
    )
    async with gateway_client(settings) as client:
        slow = asyncio.create_task(
            client.get(BYTES, params={"n": 4 * 65536, "chunk": 65536, "delay_ms": 150})
        )
        await asyncio.sleep(0.15)
        refused = await client.get("/api/sequencing/jobs")
        assert (await slow).status_code == 200
    assert refused.status_code == 503
    assert _error(refused)["code"] == "SERVICE_UNAVAILABLE"
    assert refused.headers["retry-after"] == "1"
    assert control.by_route("sequencing") == {}


# ---------------------------------------------------------------- a real gateway process


@pytest.fixture(scope="module")
def gateway_process(sandbox: SandboxProcess) -> Iterator[str]:
    with start_gateway(sandbox, TRACSEQ_LOG_LEVEL="warning") as gateway:
        _PIDS[gateway.url] = gateway.proc.pid
        yield gateway.url


_PIDS: dict[str, int] = {}


def _status_kb(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    assert match is not None
    return int(match.group(1)) * 1024


class _RssSampler:
    """Samples a process's VmRSS every few ms in a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _status_kb(self.pid, "VmRSS"))
            time.sleep(0.005)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _stream_upload(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        size = min(len(PATTERN), total - sent)
        yield PATTERN[:size]
        sent += size


def test_large_bodies_stream_through_a_running_gateway(
    gateway_process: str, control: SandboxControl
) -> None:
    pid = _PIDS[gateway_process]
    with httpx.Client(base_url=gateway_process, timeout=30, headers=auth_header()) as client:
        client.get(f"{BYTES}?n={MB}").raise_for_status()  # warm up the pool and the code
        client.post(ECHO, content=b"x" * MB).raise_for_status()
        baseline = _status_kb(pid, "VmRSS")
        with _RssSampler(pid) as sampler:
            expected = hashlib.sha256()
            for chunk in _stream_upload(STREAM_BYTES):
                expected.update(chunk)
            upload = client.post(
                ECHO,
                content=_stream_upload(STREAM_BYTES),
                headers={"Content-Length": str(STREAM_BYTES)},
            )
            assert upload.status_code == 200
            assert upload.json()["body_bytes"] == STREAM_BYTES
            assert upload.json()["sha256"] == expected.hexdigest()
            received = 0
            digest = hashlib.sha256()
            with client.stream("GET", BYTES, params={"n": STREAM_BYTES}) as download:
                assert download.status_code == 200
                assert download.headers["content-length"] == str(STREAM_BYTES)
                for chunk in download.iter_raw():
                    received += len(chunk)
                    digest.update(chunk)
            assert received == STREAM_BYTES
            assert digest.hexdigest() == expected.hexdigest()
    growth = max(sampler.peak, _status_kb(pid, "VmRSS")) - baseline
    print(f"RSS growth while relaying {STREAM_BYTES // MB} MB each way: {growth / MB:.1f} MB")
    assert growth < RSS_GROWTH_LIMIT, f"RSS grew by {growth / MB:.1f} MB"


def _wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _streams(control: SandboxControl) -> dict[str, int]:
    return dict(control._http.get(f"{control.urls['sequencing']}/_sandbox/stats").json()["streams"])


def test_client_leaving_mid_download_cancels_the_upstream(
    gateway_process: str, control: SandboxControl
) -> None:
    with httpx.Client(base_url=gateway_process, timeout=10, headers=auth_header()) as client:
        params = {"n": 512 * MB, "chunk": 65536, "delay_ms": 5}
        with client.stream("GET", BYTES, params=params) as download:
            assert download.status_code == 200
            for _ in download.iter_raw():
                break  # then close the connection mid-body
    assert _wait_for(lambda: _streams(control)["aborted"] == 1), _streams(control)
    assert _streams(control)["completed"] == 0


def test_client_leaving_mid_upload_cancels_the_upstream(
    gateway_process: str, control: SandboxControl
) -> None:
    host, port = gateway_process.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        head = (
            f"POST {ECHO} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {64 * MB}\r\n"
            f"Authorization: {auth_header()['authorization']}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        sock.sendall(head.encode() + PATTERN * 4)
        assert _wait_for(lambda: _streams(control)["started"] == 1)
    assert _wait_for(lambda: _streams(control)["aborted"] == 1), _streams(control)
    assert _streams(control)["completed"] == 0


# ---------------------------------------------------------------- helpers


@asynccontextmanager
async def _tiny_gateway(
    sandbox: SandboxProcess, **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A tiny app of just the passthrough (a custom guard or config) over the sandbox."""
    runtime = Runtime()
    pool = create_http_pool()
    runtime.start(pool, Upstreams(sandbox_settings(sandbox).upstream_configs(), pool))
    app = Starlette(routes=[Mount("/api", app=Passthrough(runtime, **options))])
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
            yield c
    finally:
        await runtime.stop()


async def test_access_log_names_the_legacy_route_not_the_raw_path(
    sandbox: SandboxProcess, json_log: Any
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        await client.get("/api/templates/00000000-0000-4000-8000-000000000000")
        metrics = (await client.get("/metrics")).text
    (line,) = [x for x in log_lines(json_log) if x["event"] == "request" and x["status"] == 404]
    assert line["route"] == "/api/templates/{path}"
    assert 'route="/api/templates/{path}"' in metrics
    assert "00000000-0000-4000-8000-000000000000" not in metrics

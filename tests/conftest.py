"""Shared fixtures: one sandbox process for the session, gateways built per test over it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
import structlog

from gateway.app import create_app
from gateway.logging import configure_logging
from gateway.settings import Settings
from sandbox.options import EXTENSIONS, Options
from sandbox.runner import SandboxProcess
from sandbox.tokens import mint_token
from security.config import RateLimitConfig
from upstreams.cache import CacheConfig

# Each pytest-xdist worker (gw0, gw1) has a database of its own: 15, 14 (the bench uses 13).
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_URL = os.environ.get("TRACSEQ_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 - _WORKER}")


@pytest.fixture
async def redis_client() -> AsyncIterator[Any]:
    """A real Redis (database 15 by default). Without one the test skips with the reason;
    with REQUIRE_REDIS=1 (as in CI) it fails instead."""
    import redis.asyncio

    client = redis.asyncio.from_url(REDIS_URL)
    try:
        await client.ping()
    except (redis.asyncio.ConnectionError, OSError) as exc:
        await client.aclose()
        message = f"no Redis at {REDIS_URL} ({exc}); set TRACSEQ_TEST_REDIS_URL"
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(f"REQUIRE_REDIS=1 but {message}")
        pytest.skip(message)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxProcess]:
    """All seven services on free ports, in memory, in a child process, answering as the
    real release does (no extensions, no fixed defects)."""
    with SandboxProcess() as sb:
        yield sb


@pytest.fixture(scope="session")
def sandbox_ext() -> Iterator[SandboxProcess]:
    """A second sandbox with every [extension] batch filter on (defects still in)."""
    with SandboxProcess(options=Options(extensions=frozenset(EXTENSIONS))) as sb:
        yield sb


def extension_settings(sb: SandboxProcess, **overrides: Any) -> Settings:
    """``sandbox_settings`` with the gateway using every batch extension (for ``sandbox_ext``)."""
    return sandbox_settings(sb, batch_services=frozenset(EXTENSIONS), **overrides)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections for the whole test: bound, never listening.
    Held, not just picked, so that no other process (another pytest worker's server) takes
    it in the meantime."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


@pytest.fixture
def closed_port_2() -> Iterator[int]:
    """A second port like ``closed_port``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def sandbox_settings(
    sb: SandboxProcess, *, rate_limit: RateLimitConfig | None = None, **overrides: Any
) -> Settings:
    """Gateway settings pointing at the test sandbox. Rate limiting is off unless a test
    passes its own ``rate_limit``: most tests run many costly queries as one principal.
    The response cache is off unless a test passes its own ``cache``: many tests count the
    upstream calls a query makes."""
    base = Settings(upstream_urls=dict(sb.urls), env="test", cache=CacheConfig(enabled=False))
    security = dataclasses.replace(
        base.security, rate_limit=rate_limit or RateLimitConfig(enabled=False)
    )
    return dataclasses.replace(base, security=security, **overrides)


def auth_header(role: str = "lab_administrator", **options: Any) -> dict[str, str]:
    """An Authorization header with a ``mint_token`` for ``role``."""
    return {"authorization": f"Bearer {mint_token(role, **options)}"}


@asynccontextmanager
async def started(app: Any, timeout: float = 30.0) -> AsyncIterator[None]:
    """``app``'s lifespan running, past the health monitor's first round of probes (it
    starts with the app), whose requests are then taken out of the sandbox's counters: a
    test counts the upstream calls of what it does, not those of the gateway's startup."""
    async with app.router.lifespan_context(app):
        deadline = time.monotonic() + timeout
        while app.state.health.checked_at is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no round of health probes within {timeout} s")
            await asyncio.sleep(0.005)
        async with httpx.AsyncClient(timeout=10) as http:
            listed = app.state.settings.upstream_urls.values()
            for url in {url for urls in listed for url in urls.split(",")}:  # URL lists too
                with contextlib.suppress(httpx.TransportError):  # an upstream that is down
                    await http.post(f"{url}/_sandbox/stats/reset")  # (a 404 off the sandbox)
        yield


@asynccontextmanager
async def gateway_client(
    settings: Settings, *, role: str | None = "lab_administrator", token: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app with its lifespan running, reached in-process; its upstream calls are
    real HTTP to the sandbox. Requests carry a bearer token for ``role`` (or ``token``);
    ``role=None`` without a token is an anonymous caller."""
    async with app_client(create_app(settings), role=role, token=token) as c:
        yield c


@asynccontextmanager
async def app_client(
    app: Any, *, role: str | None = "lab_administrator", token: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """``gateway_client`` for an app a test built itself (and reads the state of)."""
    headers = {}
    if token is None and role is not None:
        token = mint_token(role)
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    async with started(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway.test", headers=headers
        ) as c:
            yield c


async def gql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    """POST one GraphQL operation; the answer's JSON (it must be HTTP 200)."""
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    """The ``extensions.code`` of each error of a GraphQL answer."""
    return [e["extensions"]["code"] for e in body.get("errors") or []]


class SandboxControl:
    """The sandbox's /_sandbox endpoints: request counts and fault injection."""

    def __init__(self, sb: SandboxProcess) -> None:
        self.urls = sb.urls
        self._http = httpx.Client(timeout=10)

    def reset_stats(self) -> None:
        for url in self.urls.values():
            self._http.post(f"{url}/_sandbox/stats/reset").raise_for_status()

    def requests(self, service: str | None = None) -> int:
        services = [service] if service else list(self.urls)
        return sum(
            self._http.get(f"{self.urls[s]}/_sandbox/stats").json()["requests"] for s in services
        )

    def by_route(self, service: str) -> dict[str, int]:
        return dict(self._http.get(f"{self.urls[service]}/_sandbox/stats").json()["by_route"])

    def recent(self, service: str) -> list[dict[str, Any]]:
        """The service's last requests: route, X-Request-ID and Authorization received."""
        return list(self._http.get(f"{self.urls[service]}/_sandbox/stats").json()["recent"])

    def wait_idle(self, service: str, timeout: float = 5.0) -> None:
        """Wait until the service serves no request (an earlier test's slow one, say)."""
        deadline = time.monotonic() + timeout
        url = f"{self.urls[service]}/_sandbox/stats"
        while self._http.get(url).json()["in_flight"] > 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service} still busy after {timeout} s")
            time.sleep(0.02)

    def max_in_flight(self, service: str) -> int:
        """The most requests the service was serving at once since the last reset."""
        return int(self._http.get(f"{self.urls[service]}/_sandbox/stats").json()["max_in_flight"])

    def fault(self, service: str, **spec: Any) -> None:
        self._http.post(f"{self.urls[service]}/_sandbox/faults", json=spec).raise_for_status()

    def clear_faults(self) -> None:
        for url in self.urls.values():
            self._http.delete(f"{url}/_sandbox/faults").raise_for_status()

    def close(self) -> None:
        self._http.close()


def _control(sb: SandboxProcess) -> Iterator[SandboxControl]:
    ctl = SandboxControl(sb)
    ctl.clear_faults()
    ctl.reset_stats()
    yield ctl
    ctl.clear_faults()
    ctl.close()


@pytest.fixture
def control(sandbox: SandboxProcess) -> Iterator[SandboxControl]:
    yield from _control(sandbox)


@pytest.fixture
def control_ext(sandbox_ext: SandboxProcess) -> Iterator[SandboxControl]:
    yield from _control(sandbox_ext)


class WriteCalls(io.StringIO):
    """A text buffer that also keeps each ``write`` call as it was made."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def write(self, text: str) -> int:
        self.calls.append(text)
        return super().write(text)


@pytest.fixture
def json_log() -> Iterator[WriteCalls]:
    """JSON log lines of this test, at debug level, in a buffer."""
    stream = WriteCalls()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(Settings(log_format="json", log_level="debug"), stream=stream, cache=False)
    try:
        yield stream
    finally:
        structlog.reset_defaults()
        root.handlers[:] = handlers
        root.setLevel(level)


def log_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def audit_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The audit trail's lines (``security.audit``) written to stdout since the last call."""
    out = capsys.readouterr().out
    return [orjson.loads(line) for line in out.splitlines() if line.startswith('{"event":')]

"""gatewayStatus is served from the health monitor's last round of probes: reading it calls
no upstream. The first round runs at startup without holding it up; before it ends every
upstream is unchecked. A health route answering 5xx is a failure its breaker hears; a
samples health answer of 200 that says it is unhealthy is unhealthy, but reachable.

A few upstreams here are a tiny samples service on loopback whose health route answers as
a test needs (the sandbox's always says healthy).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.app import create_app
from gateway.health import HealthMonitor
from gateway.settings import Settings
from sandbox.runner import SandboxProcess
from tests.conftest import (
    SandboxControl,
    auth_header,
    gateway_client,
    gql,
    sandbox_settings,
    started,
)
from tests.loopback import serve
from upstreams.config import BreakerPolicy

STATUS = """{ gatewayStatus {
  healthy checkedAt
  upstreams { service healthy healthDetail latencyMs breaker }
} }"""
SERVICES = ["AUTH", "SAMPLES", "STORAGE", "TEMPLATES", "SEQUENCING", "RAG", "NOTIFICATIONS"]
# Two failures in a row open a breaker, which stays open for the whole test.
TWO_STRIKES = BreakerPolicy(failure_threshold=2, recovery_timeout=600)


@contextlib.asynccontextmanager
async def _samples_health(
    answer: Callable[[], Awaitable[Response]] | None,
) -> AsyncIterator[str]:
    """A samples service on a free loopback port whose ``/health`` is ``answer()`` (None:
    no health route, so it answers 404)."""

    async def health(request: Request) -> Response:
        assert answer is not None
        return await answer()

    routes = [] if answer is None else [Route("/health", health)]
    async with serve(Starlette(routes=routes)) as url:
        yield url


def _with_samples(settings: Settings, url: str) -> Settings:
    return dataclasses.replace(settings, upstream_urls={**settings.upstream_urls, "samples": url})


@contextlib.asynccontextmanager
async def _gateway(
    settings: Settings, *, first_round: bool = True
) -> AsyncIterator[tuple[HealthMonitor, httpx.AsyncClient]]:
    """The gateway's health monitor and a client of an administrator; with ``first_round``,
    once the monitor's first round has ended."""
    app = create_app(settings)
    lifespan = started(app) if first_round else app.router.lifespan_context(app)
    async with (
        lifespan,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gateway.test",
            headers=auth_header(),
        ) as client,
    ):
        yield app.state.health, client


def _by_service(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["service"]: u for u in body["data"]["gatewayStatus"]["upstreams"]}


async def test_twenty_aliases_of_gateway_status_make_no_upstream_call(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    aliases = " ".join(
        f"s{i}: gatewayStatus {{ healthy checkedAt upstreams {{ service healthy latencyMs }} }}"
        for i in range(20)
    )
    async with gateway_client(sandbox_settings(sandbox, ready_interval=600)) as client:
        control.reset_stats()
        body = await gql(client, f"{{ {aliases} }}")
    assert control.requests() == 0
    assert "errors" not in body, body["errors"]
    answers = list(body["data"].values())
    assert len(answers) == 20
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["healthy"] is True
    assert answers[0]["checkedAt"] is not None
    assert [u["service"] for u in answers[0]["upstreams"]] == SERVICES


async def test_the_first_round_runs_at_startup_and_until_it_ends_every_upstream_is_unchecked(
    sandbox: SandboxProcess,
) -> None:
    release = asyncio.Event()

    async def held() -> Response:
        await release.wait()
        return JSONResponse({"service": "sample_service", "status": "healthy"})

    async with _samples_health(held) as url:
        settings = _with_samples(sandbox_settings(sandbox, ready_interval=600), url)
        try:
            async with _gateway(settings, first_round=False) as (monitor, client):
                # Startup is over while the first round still waits for samples.
                before = await gql(client, STATUS)
                release.set()
                deadline = time.monotonic() + 30
                while monitor.checked_at is None:
                    assert time.monotonic() < deadline, "the first round never ended"
                    await asyncio.sleep(0.01)
                after = await gql(client, STATUS)
        finally:
            release.set()
    status = before["data"]["gatewayStatus"]
    assert status["healthy"] is None
    assert status["checkedAt"] is None
    assert [u["service"] for u in status["upstreams"]] == SERVICES
    assert all(
        (u["healthy"], u["healthDetail"], u["latencyMs"], u["breaker"])
        == (None, "unchecked", None, "CLOSED")
        for u in status["upstreams"]
    )
    status = after["data"]["gatewayStatus"]
    assert status["healthy"] is True
    assert status["checkedAt"] is not None
    assert all(u["healthDetail"] == "healthy" for u in status["upstreams"])
    assert all(u["latencyMs"] >= 0 for u in status["upstreams"])


async def test_gateway_status_reports_what_the_last_round_found_for_each_upstream(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with _gateway(sandbox_settings(sandbox, ready_interval=600)) as (monitor, client):
        healthy = await gql(client, STATUS)
        control.fault("storage", status=0, times=None)
        unchanged = await gql(client, STATUS)
        await monitor.refresh()
        degraded = await gql(client, STATUS)
    assert healthy["data"]["gatewayStatus"]["healthy"] is True
    assert all(u["breaker"] == "CLOSED" for u in _by_service(healthy).values())
    assert unchanged == healthy  # no round since: nothing was probed for the query
    assert degraded["data"]["gatewayStatus"]["healthy"] is False
    assert (
        degraded["data"]["gatewayStatus"]["checkedAt"]
        > healthy["data"]["gatewayStatus"]["checkedAt"]
    )
    down = _by_service(degraded)
    assert (down["STORAGE"]["healthy"], down["STORAGE"]["healthDetail"]) == (
        False,
        "unavailable",
    )
    assert (down["SAMPLES"]["healthy"], down["SAMPLES"]["healthDetail"]) == (True, "healthy")


async def test_a_health_route_answering_5xx_is_a_failure_that_opens_the_service_breaker(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    settings = sandbox_settings(sandbox, ready_interval=600, breaker=TWO_STRIKES)
    async with _gateway(settings) as (monitor, client):
        control.fault("samples", status=503, times=None, path_prefix="/health")
        await monitor.refresh()
        once = _by_service(await gql(client, STATUS))["SAMPLES"]
        await monitor.refresh()
        twice = await gql(client, STATUS)
        ready = await client.get("/ready")
        health = await client.get("/health")
        control.reset_stats()
        await monitor.refresh()
        not_probed = _by_service(await gql(client, STATUS))["SAMPLES"]
    assert (once["healthy"], once["healthDetail"], once["breaker"]) == (False, "http_503", "CLOSED")
    assert twice["data"]["gatewayStatus"]["healthy"] is False
    samples = _by_service(twice)["SAMPLES"]
    assert (samples["healthy"], samples["healthDetail"], samples["breaker"]) == (
        False,
        "http_503",
        "OPEN",
    )
    # samples is critical: its open breaker makes the gateway degraded, but every replica
    # sees the same samples service, so it stays ready (partial results are still served).
    assert ready.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["upstreams"]["samples"]["status"] == "http_503"
    # An open breaker is not probed: the next round sends samples nothing.
    assert control.requests("samples") == 0
    assert (not_probed["healthDetail"], not_probed["latencyMs"]) == ("not_probed", None)


async def test_a_samples_health_answer_of_200_saying_unhealthy_is_unhealthy_but_reachable(
    sandbox: SandboxProcess,
) -> None:
    async def unhealthy() -> Response:
        return JSONResponse(
            {
                "checks": {"database": {"status": "healthy", "response_time_ms": 1}},
                "service": "sample_service",
                "status": "unhealthy",
                "timestamp": "2026-03-01T09:30:00Z",
                "version": "1.0.0",
            }
        )

    async with _samples_health(unhealthy) as url:
        settings = _with_samples(sandbox_settings(sandbox, ready_interval=600), url)
        settings = dataclasses.replace(settings, breaker=TWO_STRIKES)
        async with _gateway(settings) as (monitor, client):
            await monitor.refresh()
            await monitor.refresh()
            body = await gql(client, STATUS)
            ready = await client.get("/ready")
    assert body["data"]["gatewayStatus"]["healthy"] is False
    samples = _by_service(body)["SAMPLES"]
    assert (samples["healthy"], samples["healthDetail"], samples["breaker"]) == (
        False,
        "unhealthy",
        "CLOSED",
    )
    assert samples["latencyMs"] >= 0
    assert ready.status_code == 200


async def test_a_health_route_answering_4xx_is_unhealthy_but_reachable(
    sandbox: SandboxProcess,
) -> None:
    async with _samples_health(None) as url:
        settings = _with_samples(sandbox_settings(sandbox, ready_interval=600), url)
        settings = dataclasses.replace(settings, breaker=TWO_STRIKES)
        async with _gateway(settings) as (monitor, client):
            await monitor.refresh()
            await monitor.refresh()
            samples = _by_service(await gql(client, STATUS))["SAMPLES"]
    assert (samples["healthy"], samples["healthDetail"], samples["breaker"]) == (
        False,
        "http_404",
        "CLOSED",
    )

"""/health is liveness; /ready follows the critical upstreams' breakers, which the
background health probes keep up to date even without traffic."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from sandbox.runner import SandboxProcess
from tests.conftest import SandboxControl, free_port, gateway_client, sandbox_settings
from upstreams.config import BreakerPolicy, RetryPolicy, Timeouts

FAST_BREAKER = BreakerPolicy(failure_threshold=2, recovery_timeout=0.3)


async def wait_for(
    client: httpx.AsyncClient, status: int, breaker: str | None = None, timeout: float = 10.0
) -> dict[str, Any]:
    """The /ready body once it answers ``status`` (and samples' breaker is ``breaker``)."""
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get("/ready")
        body: dict[str, Any] = response.json()
        if response.status_code == status and (
            breaker is None or body["upstreams"]["samples"]["breaker"] == breaker
        ):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"/ready still {response.status_code}: {response.text}")
        await asyncio.sleep(0.05)


async def test_ready_turns_not_ready_when_a_critical_service_stops_and_back_when_it_returns(
    sandbox: Any,
) -> None:
    port = free_port()
    samples_alone = SandboxProcess(["samples"], extra_args=[f"--samples-port={port}"])
    with samples_alone:
        urls = {**sandbox.urls, "samples": samples_alone.urls["samples"]}
        settings = sandbox_settings(
            sandbox,
            upstream_urls=urls,
            breaker=FAST_BREAKER,
            retry=RetryPolicy(attempts=1),
            timeouts=Timeouts(connect=0.5, read=1.0, total=1.0),
            ready_interval=0.05,
        )
        async with gateway_client(settings) as client:
            body = await wait_for(client, 200)
            assert body["status"] == "ready"
            assert body["upstreams"]["samples"]["critical"] is True
            assert body["upstreams"]["storage"]["critical"] is False

            samples_alone.stop()  # connections to it are now refused
            body = await wait_for(client, 503, breaker="open")
            assert body["status"] == "not_ready"
            samples = body["upstreams"]["samples"]
            assert samples["breaker"] == "open"
            assert samples["healthy"] is False
            assert "127.0.0.1" not in str(body)  # no upstream address in the answer
            assert (await client.get("/health")).status_code == 200  # still alive

            with SandboxProcess(["samples"], extra_args=[f"--samples-port={port}"]):
                # Half-open is ready already; the next good probe closes the breaker.
                body = await wait_for(client, 200, breaker="closed")
                assert body["upstreams"]["samples"]["healthy"] is True


async def test_a_non_critical_service_down_leaves_the_gateway_ready(
    sandbox: Any, control: SandboxControl
) -> None:
    control.fault("storage", status=0, times=None)  # connections dropped unanswered
    settings = sandbox_settings(sandbox, breaker=FAST_BREAKER, ready_interval=0.05)
    async with gateway_client(settings) as client:
        deadline = time.monotonic() + 10
        while True:
            response = await client.get("/ready")
            if response.json()["upstreams"]["storage"]["breaker"] != "closed":
                break
            assert time.monotonic() < deadline, "the storage breaker never opened"
            await asyncio.sleep(0.05)
        assert response.status_code == 200
        assert response.json()["upstreams"]["storage"]["healthy"] is False


async def test_ready_requests_never_call_upstreams(sandbox: Any, control: SandboxControl) -> None:
    async with gateway_client(sandbox_settings(sandbox, ready_interval=60)) as client:
        control.reset_stats()
        first = await client.get("/ready")
        for _ in range(20):
            response = await client.get("/ready")
            assert response.status_code == 200
    assert control.requests() == 0
    # What the round at startup found, unchanged by the requests.
    assert response.json() == first.json()
    assert response.json()["upstreams"]["auth"]["status"] == "healthy"

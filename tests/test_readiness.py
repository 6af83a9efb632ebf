"""/ready says whether this process can serve: started and not shutting down. The state of
the upstreams and of Redis, which every replica sees alike, is /health's detail: /health
answers 200 while they are down (a liveness failure would restart the pod for nothing) and
says ``degraded``. Neither calls an upstream: both read the background probes' last round,
which keeps the breakers up to date even without traffic. Every answer names the worker
process that gave it."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from typing import Any

import httpx

from gateway.app import create_app
from gateway.settings import DEFAULT_CRITICAL_UPSTREAMS
from sandbox.runner import SandboxProcess
from tests.conftest import (
    REDIS_URL,
    SandboxControl,
    app_client,
    free_port,
    gateway_client,
    gql,
    sandbox_settings,
)
from upstreams.config import BreakerPolicy, RetryPolicy, Timeouts

FAST_BREAKER = BreakerPolicy(failure_threshold=2, recovery_timeout=0.3)
THIS_WORKER = {"pid": os.getpid(), "workers": 1}
# /ready's count of the critical services' instances, every one up.
ALL_UP = {
    name: {"healthy_instances": 1, "total_instances": 1} for name in DEFAULT_CRITICAL_UPSTREAMS
}


async def wait_for_health(
    client: httpx.AsyncClient, service: str, breaker: str, timeout: float = 10.0
) -> dict[str, Any]:
    """The /health body once ``service``'s breaker is ``breaker`` (it must answer 200)."""
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get("/health")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["upstreams"][service]["breaker"] == breaker:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{service} breaker never {breaker}: {response.text}")
        await asyncio.sleep(0.05)


async def test_ready_stays_200_while_a_critical_upstream_is_down_and_health_says_degraded(
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
            body = await wait_for_health(client, "samples", "closed")
            assert body["status"] == "ok"
            assert body["upstreams"]["samples"]["critical"] is True
            assert body["upstreams"]["storage"]["critical"] is False

            samples_alone.stop()  # connections to it are now refused
            body = await wait_for_health(client, "samples", "open")
            ready = await client.get("/ready")
            assert body["status"] == "degraded"
            assert body["upstreams"]["samples"]["healthy"] is False
            assert "127.0.0.1" not in str(body)  # no upstream address in the answer
            assert ready.status_code == 200
            down = {"healthy_instances": 0, "total_instances": 1}
            assert ready.json() == {
                "status": "ready",
                "worker": THIS_WORKER,
                "instances": {**ALL_UP, "samples": down},
            }
            # What the replica still serves: everything that does not need samples.
            storage = await gql(client, "{ storageLocations(first: 1) { totalCount } }")
            assert storage["data"]["storageLocations"]["totalCount"] > 0

            with SandboxProcess(["samples"], extra_args=[f"--samples-port={port}"]):
                # The probe is the call that closes the half-open breaker again.
                body = await wait_for_health(client, "samples", "closed")
                assert body["upstreams"]["samples"]["healthy"] is True
                assert body["status"] == "ok"


async def test_a_non_critical_service_down_is_detailed_without_degrading_the_gateway(
    sandbox: Any, control: SandboxControl
) -> None:
    control.fault("storage", status=0, times=None)  # connections dropped unanswered
    settings = sandbox_settings(sandbox, breaker=FAST_BREAKER, ready_interval=0.05)
    async with gateway_client(settings) as client:
        body = await wait_for_health(client, "storage", "open")
        ready = await client.get("/ready")
    assert body["status"] == "ok"
    assert body["upstreams"]["storage"]["healthy"] is False
    assert ready.status_code == 200


async def test_ready_stays_200_while_redis_is_unreachable_and_health_says_so(
    sandbox: Any, closed_port: int
) -> None:
    port = closed_port
    closed = f"redis://127.0.0.1:{port}/0"  # nothing listens there
    base = sandbox_settings(sandbox, ready_interval=600)
    settings = dataclasses.replace(
        base, security=dataclasses.replace(base.security, redis_url=closed)
    )
    async with gateway_client(settings) as client:
        ready = await client.get("/ready")
        health = await client.get("/health")
        # Revocations and rate limits fall back to this process: requests are served.
        answer = await gql(client, "{ storageLocations(first: 1) { totalCount } }")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["redis"] == {"configured": True, "reachable": False}
    assert f":{port}" not in health.text  # no address in the answer
    assert answer["data"]["storageLocations"]["totalCount"] > 0


async def test_health_reports_a_reachable_redis_from_the_round_at_startup(
    sandbox: Any, redis_client: Any
) -> None:
    base = sandbox_settings(sandbox, ready_interval=600)
    settings = dataclasses.replace(
        base, security=dataclasses.replace(base.security, redis_url=REDIS_URL)
    )
    async with gateway_client(settings) as client:
        health = (await client.get("/health")).json()
    assert health["status"] == "ok"
    assert health["redis"] == {"configured": True, "reachable": True}


async def test_without_redis_configured_health_says_so_and_is_ok(sandbox: Any) -> None:
    async with gateway_client(sandbox_settings(sandbox, ready_interval=600)) as client:
        health = (await client.get("/health")).json()
    assert health["redis"] == {"configured": False}
    assert health["status"] == "ok"


async def test_ready_and_health_requests_never_call_upstreams(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox, ready_interval=60)) as client:
        control.reset_stats()
        first = await client.get("/health")
        for _ in range(10):
            assert (await client.get("/ready")).status_code == 200
            response = await client.get("/health")
            assert response.status_code == 200
    assert control.requests() == 0
    # What the round at startup found, unchanged by the requests.
    assert response.json() == first.json()
    assert response.json()["upstreams"]["auth"]["status"] == "healthy"


async def test_a_draining_gateway_is_not_ready_but_alive_and_serving(sandbox: Any) -> None:
    app = create_app(sandbox_settings(sandbox, ready_interval=600))
    async with app_client(app) as client:
        before = await client.get("/ready")
        app.state.health.start_draining()  # what SIGTERM does (see test_drain.py)
        after = await client.get("/ready")
        health = await client.get("/health")
        answer = await gql(client, "{ storageLocations(first: 1) { totalCount } }")
    assert before.status_code == 200
    assert after.status_code == 503
    assert after.json() == {"status": "draining", "worker": THIS_WORKER, "instances": ALL_UP}
    assert health.status_code == 200
    assert answer["data"]["storageLocations"]["totalCount"] > 0


async def test_ready_health_and_gateway_status_name_the_worker_that_answered(
    sandbox: Any,
) -> None:
    settings = dataclasses.replace(sandbox_settings(sandbox, ready_interval=600), workers=3)
    async with gateway_client(settings) as client:
        ready = (await client.get("/ready")).json()
        health = (await client.get("/health")).json()
        status = await gql(client, "{ gatewayStatus { worker { pid workers } } }")
    worker = {"pid": os.getpid(), "workers": 3}
    assert ready["worker"] == worker
    assert health["worker"] == worker
    assert status["data"]["gatewayStatus"]["worker"] == worker

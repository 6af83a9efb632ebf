"""Graceful shutdown: on SIGTERM the gateway stops accepting, lets the requests in flight
finish (up to TRACSEQ_SHUTDOWN_TIMEOUT), then closes its pools and exits 0."""

from __future__ import annotations

import signal
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import SandboxControl, auth_header
from tests.processes import PROCESS_SECRET, PRODUCTION, GatewayProcess, gateway_process

# uvicorn shuts down gracefully, then re-raises the signal it caught, as a process that
# honours SIGTERM should: the exit status says "terminated by SIGTERM".
EXITED_ON_SIGTERM = (0, -signal.SIGTERM)
QUERY = "{ samples(first: 2) { totalCount edges { node { id } } } }"


def start_slow_request(
    pool: ThreadPoolExecutor,
    gateway: GatewayProcess,
    sandbox: Any,
    headers: dict[str, str] | None = None,
) -> Future[httpx.Response]:
    """A GraphQL request whose samples call the sandbox holds; returns once it is there."""
    future = pool.submit(
        httpx.post,
        f"{gateway.url}/graphql",
        json={"query": QUERY},
        headers=headers or auth_header(secret=PROCESS_SECRET),
        timeout=30,
    )
    stats = f"{sandbox.urls['samples']}/_sandbox/stats"
    deadline = time.monotonic() + 10
    while httpx.get(stats).json()["in_flight"] < 1:
        assert time.monotonic() < deadline, "the request never reached the upstream"
        time.sleep(0.01)
    return future


def test_in_flight_request_completes_during_shutdown(sandbox: Any, control: SandboxControl) -> None:
    control.fault("samples", delay_ms=1500, times=1, path_prefix="/samples")
    with (
        gateway_process(sandbox, **PRODUCTION, TRACSEQ_SHUTDOWN_TIMEOUT="10") as gateway,
        ThreadPoolExecutor(1) as pool,
    ):
        in_flight = start_slow_request(pool, gateway, sandbox)
        signalled = time.monotonic()
        gateway.proc.send_signal(signal.SIGTERM)

        # New connections are refused at once (one that reached the listen queue just as
        # the listener closed is reset instead: not served either) ...
        deadline = time.monotonic() + 2
        while True:
            try:
                httpx.get(f"{gateway.url}/health", timeout=0.5)
            except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
                break
            assert time.monotonic() < deadline, "still accepting after SIGTERM"
            time.sleep(0.05)
        assert not in_flight.done()

        # ... while the one in flight is answered in full.
        response = in_flight.result(timeout=10)
        assert response.status_code == 200
        assert len(response.json()["data"]["samples"]["edges"]) == 2
        assert gateway.proc.wait(10) in EXITED_ON_SIGTERM
        took = time.monotonic() - signalled
        events = [line.get("event") for line in gateway.log_lines()]
    assert 1.0 < took < 5.0
    # The request's access line comes before the lifespan's shutdown closed the pools.
    assert events.index("request") < events.index("Application shutdown complete.")


@pytest.mark.timeout(30)
def test_shutdown_timeout_bounds_how_long_in_flight_requests_may_take(
    sandbox: Any, control: SandboxControl
) -> None:
    control.fault("samples", delay_ms=3500, times=1, path_prefix="/samples")
    with (
        gateway_process(sandbox, **PRODUCTION, TRACSEQ_SHUTDOWN_TIMEOUT="1") as gateway,
        ThreadPoolExecutor(1) as pool,
    ):
        in_flight = start_slow_request(pool, gateway, sandbox)
        signalled = time.monotonic()
        assert gateway.terminate() in EXITED_ON_SIGTERM
        took = time.monotonic() - signalled
        with pytest.raises(httpx.HTTPError):
            in_flight.result(timeout=10).raise_for_status()
        events = [line.get("event") for line in gateway.log_lines()]
    assert took < 3.0  # cut short: the upstream would have answered at 3.5 s
    assert "Application shutdown complete." in events
    control.wait_idle("samples")  # leave the shared sandbox with nothing in flight

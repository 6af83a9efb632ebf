"""Shutting down, a real gateway process: from SIGTERM on, /ready answers 503 while the
requests in flight finish and, for TRACSEQ_DRAIN_DELAY, new ones are still served. Two
workers, as deployed: the supervisor passes the signal on and each worker drains, naming
itself in its answer. SIGINT ends the drain at once (the test's way out of a long delay)."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import SandboxControl, auth_header
from tests.processes import gateway_process
from tests.test_shutdown import start_slow_request


def test_sigterm_turns_ready_503_at_once_while_requests_in_flight_and_new_ones_are_served(
    sandbox: Any, control: SandboxControl
) -> None:
    control.fault("samples", delay_ms=1500, times=1, path_prefix="/samples")
    env = {"TRACSEQ_WORKERS": "2", "TRACSEQ_LOG_FORMAT": "json", "TRACSEQ_DRAIN_DELAY": "300"}
    with (
        gateway_process(sandbox, TRACSEQ_ENV="test", **env) as gateway,
        ThreadPoolExecutor(1) as pool,
        httpx.Client(base_url=gateway.url, headers=auth_header(), timeout=10) as kept,
    ):
        gateway.wait_for_event("Application startup complete.", count=2)  # both workers
        assert kept.get("/ready").status_code == 200  # the connection is open from here on
        in_flight = start_slow_request(pool, gateway, sandbox, auth_header())

        gateway.proc.send_signal(signal.SIGTERM)  # to the supervisor, as Kubernetes does
        deadline = time.monotonic() + 10
        while (ready := kept.get("/ready")).status_code == 200:
            assert time.monotonic() < deadline, "still ready after SIGTERM"
            time.sleep(0.02)
        # Alive and serving while draining, on the same connection and on new ones.
        health = kept.get("/health")
        served = kept.post("/graphql", json={"query": "{ storageLocations { totalCount } }"})
        fresh = httpx.get(f"{gateway.url}/ready", timeout=10)
        finished = in_flight.result(timeout=20)

        os.killpg(gateway.proc.pid, signal.SIGINT)  # every process: end the drain now
        exit_code = gateway.proc.wait(20)
        workers = gateway.pids("Application startup complete.")

    assert ready.status_code == 503
    assert ready.json()["status"] == "draining"
    assert ready.json()["worker"]["workers"] == 2
    assert ready.json()["worker"]["pid"] in workers
    assert gateway.proc.pid not in workers  # the answer is a worker's, not the supervisor's
    assert health.status_code == 200
    assert served.status_code == 200
    assert served.json()["data"]["storageLocations"]["totalCount"] > 0
    assert fresh.status_code == 503
    assert finished.status_code == 200
    assert len(finished.json()["data"]["samples"]["edges"]) == 2
    assert exit_code == 0

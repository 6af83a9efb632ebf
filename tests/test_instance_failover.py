"""Acceptance: two sandbox instances of samples over one SQLite file behind one
``TRACSEQ_SAMPLES_URL``. One is killed in the middle of a load of GraphQL reads and none of
them fails (reads fail over); restarted on the same port, it gets traffic again within two
rounds of health probes (its probe readmits it: its ejection alone would last a minute)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from sandbox.runner import SandboxProcess
from tests.conftest import app_client, free_port, sandbox_settings
from upstreams.breaker import BreakerState
from upstreams.config import InstancePolicy, RetryPolicy, Timeouts
from upstreams.instances import EJECTED, HEALTHY

READ = "{ samples(first: 3) { totalCount nodes { id name } } }"
WORKERS = 6


def _copy(db: Path, port: int) -> SandboxProcess:
    return SandboxProcess(
        ["samples"], memory=False, db_path=str(db), extra_args=[f"--samples-port={port}"]
    )


@pytest.fixture
def two_samples(tmp_path: Path) -> Iterator[tuple[SandboxProcess, SandboxProcess, int]]:
    """Instances A and B of samples on one SQLite file (A seeds it), and B's port."""
    db = tmp_path / "samples.db"
    port = free_port()
    with _copy(db, free_port()) as a, _copy(db, port) as b:
        yield a, b, port


def _reads_served(url: str) -> int:
    """How many sample lists the instance at ``url`` has served (its probes aside)."""
    stats = httpx.get(f"{url}/_sandbox/stats", timeout=10).json()
    return int(stats["by_route"].get("GET /samples", 0))


async def _read(client: httpx.AsyncClient) -> bool:
    """One GraphQL read of samples; True when it answered data without an error."""
    response = await client.post("/graphql", json={"query": READ})
    body = response.json()
    return response.status_code == 200 and not body.get("errors") and bool(body.get("data"))


async def test_a_killed_instance_fails_no_read_and_its_probe_brings_it_back(
    sandbox: SandboxProcess, two_samples: tuple[SandboxProcess, SandboxProcess, int]
) -> None:
    a, b, port = two_samples
    urls = {**sandbox.urls, "samples": f"{a.urls['samples']},{b.urls['samples']}"}
    settings = sandbox_settings(
        sandbox,
        upstream_urls=urls,
        ready_interval=0.3,
        timeouts=Timeouts(connect=0.5, read=5, total=10),
        retry=RetryPolicy(attempts=3, backoff_base=0.01, backoff_max=0.05),
        # Ejected for a minute: only a probe can bring it back within the test.
        instances=InstancePolicy(eject_after=2, eject_base=60, eject_max=60),
    )
    app = create_app(settings)
    async with app_client(app) as client:
        monitor = app.state.health
        samples = app.state.runtime.upstreams["samples"]
        reads = failures = 0
        stop = asyncio.Event()

        async def reader() -> None:
            nonlocal reads, failures
            while not stop.is_set():
                failures += not await _read(client)
                reads += 1

        workers = [asyncio.create_task(reader()) for _ in range(WORKERS)]
        try:
            while reads < 60:
                await asyncio.sleep(0.01)
            assert _reads_served(b.urls["samples"]) > 0  # B had its share before
            os.killpg(b.pid, signal.SIGKILL)  # its whole process group, mid-load
            killed_at = reads
            while reads < killed_at + 150:
                await asyncio.sleep(0.01)
        finally:
            stop.set()
            await asyncio.gather(*workers)
        b.stop()
        assert failures == 0, f"{failures} of {reads} reads failed"
        assert [i.state for i in samples.instance_status()] == [HEALTHY, EJECTED]
        assert samples.breaker.state is BreakerState.CLOSED

        with _copy(Path(str(a.db_path)), port) as back:
            assert back.urls["samples"] == b.urls["samples"]  # the same port
            up_at = monitor.rounds
            deadline = time.monotonic() + 20
            while _reads_served(back.urls["samples"]) == 0:
                assert time.monotonic() < deadline, "the restarted instance got no traffic"
                assert await _read(client)
            served_at = monitor.rounds
    assert served_at <= up_at + 2, f"back up at round {up_at}, served reads at {served_at}"

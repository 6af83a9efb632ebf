"""The gateway as it runs in production: a served process with several workers, JSON logs on
stderr and metrics merged across workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import httpx
import orjson

from tests.conftest import SandboxControl, auth_header, free_port
from tests.test_observability import SAMPLES, find, scrape, seeded_sample


@dataclass
class GatewayProcess:
    proc: subprocess.Popen[bytes]
    url: str
    stderr: IO[bytes]

    def log_lines(self) -> list[dict[str, Any]]:
        self.stderr.seek(0)
        lines = []
        for raw in self.stderr.read().splitlines():
            if raw.startswith(b"{"):
                lines.append(orjson.loads(raw))
        return lines

    def pids(self, event: str) -> set[int]:
        """The processes that logged ``event``."""
        return {line["pid"] for line in self.log_lines() if line.get("event") == event}

    def wait_for_event(self, event: str, count: int = 1, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while sum(1 for line in self.log_lines() if line.get("event") == event) < count:
            assert time.monotonic() < deadline, f"no {event!r} x{count} in the log"
            time.sleep(0.05)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, as an orchestrator sends it; the exit code."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        return self.proc.wait(timeout)


# Production refuses the development secret: these gateways verify tokens with this one.
PROCESS_SECRET = "process-test-secret-0123456789-abcdefghij"


@contextmanager
def gateway_process(sandbox: Any, **env: str) -> Iterator[GatewayProcess]:
    """``tracseq-gateway serve`` on a free port in front of the sandbox, until the block
    ends (then SIGTERM, SIGKILL if it hangs; nothing is left behind)."""
    port = free_port()
    environ = {
        **os.environ,
        "TRACSEQ_PORT": str(port),
        "TRACSEQ_ENV": "production",
        "TRACSEQ_JWT_SECRET": PROCESS_SECRET,
        "TRACSEQ_READY_INTERVAL": "60",
        **{f"TRACSEQ_{name.upper()}_URL": url for name, url in sandbox.urls.items()},
        **env,
    }
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve"],
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        gateway = GatewayProcess(proc, f"http://127.0.0.1:{port}", stderr)
        try:
            _wait_healthy(gateway)
            yield gateway
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def _wait_healthy(gateway: GatewayProcess, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if gateway.proc.poll() is not None:
            gateway.stderr.seek(0)
            raise RuntimeError(gateway.stderr.read().decode(errors="replace"))
        try:
            if httpx.get(f"{gateway.url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("gateway did not start")
        time.sleep(0.05)


def test_two_workers_merge_their_metrics_and_log_json_with_the_forwarded_request_id(
    sandbox: Any, control: SandboxControl
) -> None:
    one = seeded_sample(sandbox)
    with gateway_process(sandbox, TRACSEQ_WORKERS="2", TRACSEQ_LOG_LEVEL="debug") as gateway:
        gateway.wait_for_event("Application startup complete.", count=2)  # both workers
        # A new connection per request lets the kernel spread them over both workers;
        # go on until each has served some, so the scrape below has two to merge.
        sent = 0
        while sent < 12 or len(gateway.pids("request")) < 2:
            assert sent < 40, "one worker served everything"
            response = httpx.post(
                f"{gateway.url}/graphql",
                json={"query": SAMPLES, "variables": one},
                headers={"X-Request-ID": f"mp-{sent}", **auth_header(secret=PROCESS_SECRET)},
                timeout=10,
            )
            assert response.status_code == 200
            assert response.headers["x-request-id"] == f"mp-{sent}"
            sent += 1
        metrics = scrape(httpx.get(f"{gateway.url}/metrics", timeout=10).text)
        assert gateway.terminate() in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM
        lines = gateway.log_lines()

    graphql = {"route": "/graphql", "status": "200"}
    assert find(metrics, "tracseq_http_requests_total", **graphql) == sent
    assert find(metrics, "tracseq_upstream_requests_total", service="samples") == sent
    ops = {"operation_name": "Samples", "operation_type": "query", "outcome": "success"}
    assert find(metrics, "tracseq_graphql_operations_total", **ops) == sent
    assert find(metrics, "tracseq_upstream_breaker_state", service="samples") == 0

    access = {line["request_id"]: line for line in lines if line.get("event") == "request"}
    received = {r["request_id"] for r in control.recent("samples")}
    for i in range(sent):
        rid = f"mp-{i}"
        assert rid in received  # what the upstream got ...
        assert access[rid]["route"] == "/graphql"  # ... is on the access line ...
        upstream = [
            line
            for line in lines
            if line.get("event") == "upstream.request" and line.get("request_id") == rid
        ]
        assert {u["service"] for u in upstream} == {"samples", "templates"}  # ... and these
    # uvicorn's own lines are JSON too: every line on stderr parsed.
    assert any(line.get("logger", "").startswith("uvicorn") for line in lines)

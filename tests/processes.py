"""A gateway as a real process in front of the test sandbox: started on a free port, waited
for, and stopped (SIGTERM, then SIGKILL if it hangs) so that nothing is left behind."""

from __future__ import annotations

import os
import secrets
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

from tests.conftest import free_port


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


# Production refuses the repository's example secrets and any that does not look random:
# production gateways here verify with this one, new for every run.
# A test gateway is one process alone, with /metrics on its public port (production's own
# metrics port, 9090, would be shared by every test gateway).
PROCESS_SECRET = secrets.token_urlsafe(32)
PRODUCTION = {
    "TRACSEQ_ENV": "production",
    "TRACSEQ_JWT_SECRET": PROCESS_SECRET,
    "TRACSEQ_SINGLE_INSTANCE": "true",
    "TRACSEQ_METRICS_PORT": "public",
}


@contextmanager
def gateway_process(sandbox: Any, **env: str) -> Iterator[GatewayProcess]:
    """``tracseq-gateway serve`` on a free port in front of the sandbox, until the block
    ends (then SIGTERM, SIGKILL if it hangs; nothing is left behind). The response cache
    is off unless ``env`` turns it on, as in ``sandbox_settings``: tests count upstream
    calls."""
    port = free_port()
    environ = {
        **os.environ,
        "TRACSEQ_PORT": str(port),
        "TRACSEQ_READY_INTERVAL": "60",
        "TRACSEQ_CACHE_ENABLED": "false",
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

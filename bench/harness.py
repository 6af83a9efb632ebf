"""What every benchmark here shares: CPU placement, the gateway as a child process, wrk as
the load driver (with Lua scripts for POST bodies and pacing), and /proc readings of a
process's memory and CPU time.

wrk is the driver because it is compiled and uses one thread per core it is given: a Python
client would compete with the gateway for the same CPUs. ``ensure_wrk`` installs it from
the distribution's packages when missing and we are root, or says how.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

RESULTS = Path(__file__).resolve().parent / "results"
MB = 1024 * 1024

# Lua for wrk: the request (method, body, headers from WRK_* variables, so one script
# serves every scenario), optional pacing, and one JSON line of wrk's own statistics.
WRK_SCRIPT = r"""
local body_file = os.getenv("WRK_BODY_FILE") or ""
if body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
end
local method = os.getenv("WRK_METHOD") or ""
if method ~= "" then wrk.method = method end
local headers = os.getenv("WRK_HEADERS") or ""
for line in string.gmatch(headers, "[^\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  if name then wrk.headers[name] = value end
end
local interval = tonumber(os.getenv("WRK_INTERVAL_MS") or "0")
if interval > 0 then
  local low = math.max(1, math.floor(interval * 0.5))
  local high = math.max(low, math.ceil(interval * 1.5))
  function delay()
    return math.random(low, high)
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p95_us": %d, "p99_us": %d, "p999_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
"""


def ensure_wrk() -> str:
    """The path of wrk; installed with apt-get when missing and we are root."""
    path = shutil.which("wrk")
    if path is not None:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: apt-get install -y wrk", flush=True)
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], check=True)
            subprocess.run(install, check=True)
        path = shutil.which("wrk")
        if path is not None:
            return path
    raise SystemExit(
        "wrk (the load driver) is not installed: run `sudo apt-get install -y wrk` "
        "(Debian/Ubuntu) or `brew install wrk` (macOS), then try again"
    )


def wrk_version() -> str | None:
    if shutil.which("wrk") is None:
        return None
    lines = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()
    return lines[0] if lines else None


@dataclass(frozen=True)
class Placement:
    """Which CPUs the driver, the sandbox and the gateway run on (taskset lists)."""

    name: str
    driver: str | None
    sandbox: str | None
    gateway: str | None

    def describe(self) -> str:
        if self.driver is None:
            return "one CPU: no pinning"
        return (
            f"driver (wrk, the bench script) on CPU {self.driver}; "
            f"sandbox on CPU {self.sandbox}; gateway on CPU {self.gateway}"
        )


def placement(name: str) -> Placement:
    """``split``: driver on the first CPU, both servers on the rest. ``gateway-alone``: the
    gateway on the rest, the sandbox beside the driver. ``separate``: one CPU each when
    there are three or more (else ``gateway-alone``)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return Placement(name, None, None, None)
    first, rest = str(cpus[0]), ",".join(str(c) for c in cpus[1:])
    if name == "separate":
        if len(cpus) >= 3:
            return Placement(name, first, str(cpus[1]), ",".join(str(c) for c in cpus[2:]))
        return Placement(name, first, first, rest)
    if name == "gateway-alone":
        return Placement(name, first, first, rest)
    return Placement(name, first, rest, rest)


def pin(pid: int, cpus: str | None) -> None:
    """Pin every thread of ``pid`` to ``cpus`` (no-op when None)."""
    if cpus is not None:
        subprocess.run(
            ["taskset", "-a", "-p", "-c", cpus, str(pid)], check=True, capture_output=True
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Gateway:
    """``tracseq-gateway serve`` as a child process in front of the sandbox.

    ``env`` adds ``TRACSEQ_*`` settings (e.g. ``TRACSEQ_RATE_LIMIT_ENABLED=false``)."""

    urls: Mapping[str, str]
    cpus: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.port = free_port()
        env = {**os.environ, "TRACSEQ_PORT": str(self.port), "TRACSEQ_LOG_LEVEL": "warning"}
        env.update({f"TRACSEQ_{name.upper()}_URL": url for name, url in self.urls.items()})
        env.update(self.env)
        command = [sys.executable, "-m", "gateway.cli", "serve"]
        if self.cpus is not None:
            command = ["taskset", "-c", self.cpus, *command]
        self.proc = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_until_serving(self.proc, f"{self.url}/health", "the gateway")
        except (RuntimeError, TimeoutError):
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("the gateway is not running")
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until_serving(
    proc: subprocess.Popen[bytes], url: str, what: str, *, timeout: float = 30
) -> None:
    """Poll ``url`` until it answers 2xx; RuntimeError if ``proc`` exits first,
    TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited during startup")
        try:
            if httpx.get(url, timeout=1).is_success:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not start within {timeout:.0f} s")
        time.sleep(0.1)


def wrk(
    url: str,
    *,
    duration: float,
    connections: int,
    cpus: str | None,
    interval_ms: float = 0,
    method: str = "GET",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """One wrk run; wrk's statistics as a dict, with ``rps`` added."""
    files: list[str] = []
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    files.append(script.name)
    env = {
        **os.environ,
        "WRK_INTERVAL_MS": f"{interval_ms:.3f}",
        "WRK_METHOD": method,
        "WRK_HEADERS": "\n".join(f"{k}: {v}" for k, v in (headers or {}).items()),
        "WRK_BODY_FILE": "",
    }
    if body is not None:
        with tempfile.NamedTemporaryFile("wb", suffix=".body", delete=False) as payload:
            payload.write(body)
        files.append(payload.name)
        env["WRK_BODY_FILE"] = payload.name
    try:
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "-s",
            script.name,
            url,
        ]
        if cpus is not None:
            command = ["taskset", "-c", cpus, *command]
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    finally:
        for name in files:
            os.unlink(name)
    match = re.search(r"^WRK_JSON (.*)$", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no report:\n{out}")
    result: dict[str, Any] = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def status_bytes(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM), in bytes; 0 when absent."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else 0


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS where the kernel lets us; True when it did."""
    try:  # "5" resets the peak RSS (VmHWM) to the current RSS
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """VmRSS of a process every ``every`` seconds, in a thread: the peak and the series."""

    def __init__(self, pid: int, every: float = 0.005) -> None:
        self.pid = pid
        self.every = every
        self.peak = 0
        self.samples = 0
        self.series: list[tuple[float, int]] = []  # (seconds since start, bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            rss = status_bytes(self.pid, "VmRSS")
            self.peak = max(self.peak, rss)
            self.samples += 1
            self.series.append((time.monotonic() - started, rss))
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

"""The metrics exposition as Prometheus reads it, from served processes in both modes: one
process (``TRACSEQ_WORKERS=1``, /metrics on the public port) and two workers merged
through ``PROMETHEUS_MULTIPROC_DIR`` on a metrics port of their own, as deployed.

Each gateway is scraped twice: first right after startup (only the readiness polls of the
test harness served), then after a request that matched no route. The checks use
prometheus-client's own text parser; ``promtool check metrics`` runs on both scrapes when
it is found (``PROMTOOL``, else ``promtool`` on the PATH), and its absence fails the test
instead of skipping it when ``REQUIRE_PROMTOOL=1``."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import Metrics, latency_buckets
from gateway.settings import DEFAULT_REQUEST_TIMEOUT
from tests.conftest import free_port
from tests.processes import gateway_process

# Families that get their first series from traffic: DataLoader batch methods and upstream
# routes are named by the code that uses them, and a route breaker is shown once it has
# left the closed state.
LAZY_FAMILIES = frozenset({"tracseq_dataloader_batch_size", "tracseq_upstream_route_breaker_state"})
WORKERS_TIMEOUT = 12.0  # the two-worker gateway's TRACSEQ_REQUEST_TIMEOUT
STATUS_CLASS = re.compile(r"^(?:[1-5]xx|499)$")


@dataclass
class Scrapes:
    first: str
    after: str
    deadline: float
    worker_pids: set[int]


def _scrape(url: str) -> str:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    return response.text


@pytest.fixture(scope="module")
def modes(sandbox: Any) -> dict[str, Scrapes]:
    found: dict[str, Scrapes] = {}
    with gateway_process(sandbox, TRACSEQ_METRICS_PORT="public") as gateway:
        url = f"{gateway.url}/metrics"
        first = _scrape(url)
        assert httpx.get(f"{gateway.url}/no/such/route").status_code == 404
        found["single"] = Scrapes(first, _scrape(url), DEFAULT_REQUEST_TIMEOUT, set())
    port = free_port()
    with gateway_process(
        sandbox,
        TRACSEQ_WORKERS="2",
        TRACSEQ_METRICS_PORT=str(port),
        TRACSEQ_REQUEST_TIMEOUT=str(WORKERS_TIMEOUT),
        TRACSEQ_LOG_FORMAT="json",
    ) as gateway:
        gateway.wait_for_event("Application startup complete.", count=2)
        url = f"http://127.0.0.1:{port}/metrics"
        first = _scrape(url)
        assert httpx.get(f"{gateway.url}/no/such/route").status_code == 404
        pids = gateway.pids("Application startup complete.")
        found["workers"] = Scrapes(first, _scrape(url), WORKERS_TIMEOUT, pids)
        # A worker killed outright (as the OOM killer does): uvicorn starts another.
        killed = min(pids)
        os.kill(killed, signal.SIGKILL)
        gateway.wait_for_event("Application startup complete.", count=3)
        live = gateway.pids("Application startup complete.") - {killed}
        found["restarted"] = Scrapes(_scrape(url), "", WORKERS_TIMEOUT, live)
    return found


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _gateway_families() -> set[str]:
    registry = Metrics().registry
    return {f.name for f in registry.collect() if f.name.startswith("tracseq_")}


@pytest.mark.parametrize("mode", ["single", "workers"])
def test_first_scrape_has_every_family_with_series_and_no_created_series(
    modes: dict[str, Scrapes], mode: str
) -> None:
    families = _families(modes[mode].first)
    expected = _gateway_families() - LAZY_FAMILIES
    assert len(expected) >= 10
    for name in sorted(expected):
        assert name in families, f"{name} is not in the first scrape"
        assert families[name].samples, f"{name} has no series in the first scrape"
    samples = [s.name for family in families.values() for s in family.samples]
    assert not [name for name in samples if name.endswith("_created")]
    for name in ("process_resident_memory_bytes", "process_cpu_seconds", "process_open_fds"):
        assert families[name].samples, f"no {name}"


@pytest.mark.parametrize("mode", ["single", "workers"])
def test_status_labels_are_classes_and_latency_buckets_have_edges_around_the_deadline(
    modes: dict[str, Scrapes], mode: str
) -> None:
    scrapes = modes[mode]
    families = _families(scrapes.after)
    requests = families["tracseq_http_requests"].samples
    statuses = {s.labels["status"] for s in requests}
    assert all(STATUS_CLASS.match(status) for status in statuses), statuses
    unmatched = [
        (s.labels["status"], s.value) for s in requests if s.labels["route"] == "unmatched"
    ]
    assert unmatched == [("4xx", 1.0)]

    deadline = scrapes.deadline
    for name in (
        "tracseq_http_request_duration_seconds",
        "tracseq_upstream_request_duration_seconds",
    ):
        edges = {float(s.labels["le"]) for s in families[name].samples if "le" in s.labels}
        assert {round(deadline * f, 6) for f in (0.9, 1.0, 1.1)} <= edges, (name, sorted(edges))
        assert edges == {*latency_buckets(deadline), float("inf")}
    overhead = families["tracseq_gateway_overhead_seconds"].samples
    finite = {float(s.labels["le"]) for s in overhead if "le" in s.labels} - {float("inf")}
    assert max(finite) >= 10.0  # heavy operations' overhead stays out of +Inf


def test_two_workers_export_process_metrics_and_breaker_states_per_live_worker(
    modes: dict[str, Scrapes],
) -> None:
    scrapes = modes["workers"]
    assert len(scrapes.worker_pids) == 2
    families = _families(scrapes.first)
    workers = {str(pid) for pid in scrapes.worker_pids}
    resident = families["process_resident_memory_bytes"].samples
    assert {s.labels["pid"] for s in resident} == workers
    assert all(s.value > 0 for s in resident)
    states = families["tracseq_upstream_breaker_state"].samples
    samples_breakers = [s for s in states if s.labels["service"] == "samples"]
    assert {s.labels["pid"] for s in samples_breakers} == workers
    assert [s.value for s in samples_breakers] == [0.0, 0.0]


def test_a_killed_workers_process_and_breaker_series_leave_with_it(
    modes: dict[str, Scrapes],
) -> None:
    before, after = modes["workers"], modes["restarted"]
    assert len(after.worker_pids) == 2
    assert after.worker_pids != before.worker_pids
    families = _families(after.first)
    live = {str(pid) for pid in after.worker_pids}
    assert {s.labels["pid"] for s in families["process_resident_memory_bytes"].samples} == live
    states = families["tracseq_upstream_breaker_state"].samples
    assert {s.labels["pid"] for s in states} == live


def _promtool() -> str:
    found = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if found and os.access(found, os.X_OK):
        return found
    reason = "promtool not found (set PROMTOOL or put it on the PATH)"
    if os.environ.get("REQUIRE_PROMTOOL") == "1":
        pytest.fail(f"REQUIRE_PROMTOOL=1 but {reason}")
    pytest.skip(reason)


@pytest.mark.parametrize("mode", ["single", "workers"])
def test_promtool_accepts_the_scrapes(modes: dict[str, Scrapes], mode: str) -> None:
    promtool = _promtool()
    for text in (modes[mode].first, modes[mode].after):
        checked = subprocess.run(
            [promtool, "check", "metrics"],
            input=text.encode(),
            capture_output=True,
            timeout=60,
            check=False,
        )
        problems = (checked.stdout + checked.stderr).decode(errors="replace")
        assert checked.returncode == 0, problems
        assert not problems.strip(), problems

"""The benchmark's report writing, without load: the chart, the tables, the targets; and
the floor programs, which must answer like the scenarios they bound."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench import floors, graph_execution, suite, threats
from bench.report import chart_available, histogram_quantile, latency_chart, markdown_table
from sandbox.runner import SandboxProcess


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_latency_chart_is_a_png_of_the_asked_size() -> None:
    pytest.importorskip("matplotlib")
    chart = latency_chart([("S1", [1.0, 2.0, 5.0]), ("S2", [0.0, 0.0, 0.0])], width=400)
    assert _png_size(chart) == (400, 480)


def test_markdown_table_escapes_pipes() -> None:
    assert markdown_table(("a", "b"), [(1, "x|y")]) == "| a | b |\n|---|---|\n| 1 | x\\|y |\n"


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    buckets = [(0.001, 50.0), (0.002, 90.0), (0.005, 100.0), (float("inf"), 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.001)
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.0015)
    assert histogram_quantile(0.99, buckets) == pytest.approx(0.0047)
    assert histogram_quantile(0.5, [(float("inf"), 0.0)]) is None


def test_parse_metrics_and_overhead_difference() -> None:
    def exposition(counts: tuple[int, int, int], total: float, fives: int) -> str:
        b1, b2, inf = counts
        name = "tracseq_gateway_overhead_seconds"
        return "\n".join(
            [
                "# HELP ignored",
                f'{name}_bucket{{route="/graphql",le="0.001"}} {b1}',
                f'{name}_bucket{{route="/graphql",le="0.0025"}} {b2}',
                f'{name}_bucket{{route="/graphql",le="+Inf"}} {inf}',
                f'{name}_count{{route="/graphql"}} {inf}',
                f'{name}_sum{{route="/graphql"}} {total}',
                f'{name}_count{{route="/metrics"}} 7',
                f'tracseq_http_requests_total{{route="/graphql",status="5xx"}} {fives}',
                'tracseq_http_requests_total{route="/graphql",status="2xx"} 9',
            ]
        )

    before = suite.Snapshot(suite.parse_metrics(exposition((10, 10, 10), 0.005, 2)), 0, 0.0, 0.0)
    after = suite.Snapshot(suite.parse_metrics(exposition((60, 110, 110), 0.105, 5)), 0, 0.0, 1.0)
    reading = suite.overhead(before, after)
    assert reading["count"] == 100
    assert reading["mean_ms"] == pytest.approx(1.0)
    assert reading["p50_ms"] == pytest.approx(1.0)
    assert reading["p99_ms"] == pytest.approx(2.47)
    assert suite.http_5xx(before, after) == 3


def _scenario(title: str, rps: float, gateway: bool = True) -> dict[str, Any]:
    overhead = {"count": 10, "mean_ms": 0.8, "p50_ms": 0.7, "p99_ms": 1.9} if gateway else None
    return {
        "title": title,
        "rps": rps,
        "p50_ms": 1.5,
        "p95_ms": 3.0,
        "p99_ms": 4.5,
        "non_2xx": 0,
        "socket_errors": 0,
        "overhead": overhead,
        "upstream_per_op": 1 if gateway else None,
        "gateway_cpu_pct": 99.0,
        "gateway_cpu_us_per_req": 900 if gateway else None,
        "gateway_peak_rss_mb": 80.0,
    }


def test_write_produces_markdown_json_and_chart(tmp_path: Path) -> None:
    scenarios = {key: _scenario(f"scenario {key}", 1000.0) for key in suite.SCENARIO_ORDER}
    scenarios["S6"] = _scenario("baseline", 2000.0, gateway=False)
    scenarios["S1-prod"]["gateway_cpu_us_per_req"] = 990
    scenarios["S2-release"]["upstream_per_op"] = 10
    soak = {
        "duration_s": 15.0, "warmup_s": 3.0, "target_rps": 100.0, "achieved_rps": 98.0,
        "connections": 16, "requests": 1470, "p50_ms": 2.0, "p99_ms": 9.0,
        "rss_start_mb": 80.0, "rss_after_warmup_mb": 81.0, "rss_peak_after_warmup_mb": 82.0,
        "rss_end_mb": 81.5, "rss_growth_pct": 1.23, "http_5xx": 0, "non_2xx": 0,
        "socket_errors": 0,
    }  # fmt: skip
    counts = {"samples": 1, "templates": 1, "storage": 1, "sequencing": 1}
    keys = {"samples": 0, "templates": 12, "storage": 100, "sequencing": 100}
    batching = {
        mode: {"requests": counts, "others": 0, "total": 4, "distinct_keys": keys, "met": True}
        for mode in ("all", "none")
    }
    execution = {
        "scenario": "1000 samples x 10 scalar fields", "rounds": 5,
        "graphql_core_ms": 50.0, "gateway_ms": 60.0, "ratio": 0.2, "target_ratio": 0.25,
    }  # fmt: skip
    floor = {
        "relay": {"rps": 1300.0, "p50_ms": 1.0, "p99_ms": 2.0, "errors": 0},
        "strawberry": {"rps": 1900.0, "p50_ms": 2.0, "p99_ms": 4.0, "errors": 0},
        "s2_execution": {"rounds": 200, "ms_per_operation": 4.0, "max_rps_one_core": 250},
    }
    memory = {
        "requests": 1000, "concurrency": 16, "settle_s": 30.0, "elapsed_s": 50.0, "rps": 20.0,
        "ok": 1000, "non_2xx": 0, "errors": 0, "rss_before_mb": 80.0, "rss_peak_mb": 150.0,
        "rss_after_mb": 90.0, "settled_growth_pct": 12.5, "max_peak_mb": 200.0,
        "max_settled_growth_pct": 20.0,
    }  # fmt: skip
    subs = {
        "subscribers": 1000, "events": 20, "poll_interval_s": 1.0, "open_s": 0.5,
        "rss_before_mb": 75.0, "rss_subscribed_mb": 114.0, "rss_after_mb": 115.0,
        "rss_growth_mb": 40.0, "lag_p50_ms": 11.0, "lag_p99_ms": 49.0, "lag_max_ms": 50.0,
        "server_lag_p50_ms": 8.0, "server_lag_p99_ms": 25.0, "event_errors": 0,
        "gateway_cpu_ms_per_event": 17.5, "gateway_cpu_us_per_delivery": 17.5,
        "poller_calls": 6, "quiet_intervals": 5, "poller_calls_per_interval": 1.2,
        "max_growth_mb": 50.0, "max_p99_lag_ms": 100.0, "max_polls_per_interval": 1.0,
    }  # fmt: skip
    threat = {
        "rounds": 5, "requests": 100, "rest_body_bytes": 854, "max_us": 20.0,
        "us_per_request": {"graphql-query": 3.1, "rest-post": 19.2, "document": 54.0},
        "median_us_per_request": {"graphql-query": 3.4, "rest-post": 21.0, "document": 60.0},
        "worst_us": 19.2, "met": True,
    }  # fmt: skip
    report = {
        "quick": True,
        "when": "2026-01-01T00:00:00+00:00",
        "elapsed_s": 60,
        "machine": {"cpus": 2, "loadavg_at_end": (1.0, 1.0, 1.0), "python": "3.11", "wrk": "wrk"},
        "placement": {"description": "driver on CPU 0; gateway on CPU 1"},
        "settings": {"duration_s": 2.0, "warmup_s": 1.0, "gateway_env": {"TRACSEQ_X": "1"}},
        "scenarios": scenarios,
        "soak": soak,
        "batching": batching,
        "graph_execution": execution,
        "floors": floor,
        "memory": memory,
        "subscriptions": subs,
        "threats": threat,
        "targets": suite.targets(scenarios, soak, batching, execution, floor, memory, subs, threat),
    }
    path = suite.write(report, tmp_path / "bench")
    text = path.read_text()
    assert "| S1 | scenario S1 | 1000 |" in text
    assert (
        "| S5 / S6 throughput | >= 0.6 | 0.500 (1000 / 2000) | **missed** "
        "| 0.650 (1300 / 2000, bare relay) |"
    ) in text
    assert (
        "| S1 CPU | <= 300 µs/op | 900 µs/op | **missed** "
        "| 526 µs/req at 1900 req/s (bare Strawberry view) |"
    ) in text
    # 1.5 ms plus 60 µs for each of its 10 upstream calls.
    assert "| S2 CPU on the release (10 upstream calls) | <= 2100 µs/op | 900 µs/op | met |" in text
    assert "| S3 p50 latency | <= 12 ms | 1.5 ms | met | - |" in text
    assert (
        "| S1 CPU, production configuration | <= 345 µs/op | 990 µs/op (1.10 x plain) "
        "| **missed** |"
    ) in text
    assert "| S1 | 900 | 990 | 1.10 | 1000 | 0 |" in text  # the production table
    assert "| peak RSS (scenarios) | <= 120 MB | 80.0 MB | met |" in text
    assert "| memory: RSS 30 s after vs before | <= +20% | +12.5% (80.0 -> 90.0 MB) | met |" in text
    assert "at most 250 req/s on one core" in text
    assert (
        "| subscriptions: RSS growth with 1000 open | <= 50 MB | 40.0 MB (75.0 -> 114.0 -> "
        "115.0 MB) | met |"
    ) in text
    assert "| subscriptions: p99 delivery lag to 1000 subscribers | <= 100 ms | 49.0 ms" in text
    assert (
        "| threat detection CPU per typical request | <= 20 µs "
        "| 19.2 µs (worst of graphql-query 3.1, rest-post 19.2) | met |"
    ) in text
    assert "| rest-post | 19.2 | 21.0 |" in text  # the threat detection table
    assert (
        "| subscriptions: poller calls per topic per interval | <= 1 | 1.2 (6 in 5) | **missed**"
    ) in text
    assert "## Subscriptions" in text
    assert "Errors during the floor runs" not in text
    floor["relay"]["errors"] = 3
    text = suite.write(report, tmp_path / "bench").read_text()
    assert "**Errors during the floor runs** (they void it): bare relay: 3." in text
    assert "| S1 gateway overhead p99 (at half load) | <= 2.0 ms |" in text
    assert (tmp_path / "bench.json").read_text().startswith("{")
    if chart_available():
        assert "![latency percentiles](bench.png)" in text
        assert _png_size((tmp_path / "bench.png").read_bytes()) == (1200, 480)
    else:
        assert "![latency percentiles]" not in text


def _first_sample(sandbox: SandboxProcess) -> dict[str, Any]:
    listing = httpx.get(f"{sandbox.urls['samples']}/samples", params={"page_size": 1})
    sample: dict[str, Any] = listing.json()["data"]["samples"][0]
    return sample


def test_relay_floor_answers_what_the_sample_service_answers(sandbox: SandboxProcess) -> None:
    sample = _first_sample(sandbox)
    direct = httpx.get(f"{sandbox.urls['samples']}/samples/{sample['id']}")
    with floors.serving("relay", sandbox.urls["samples"], None) as url:
        relayed = httpx.get(f"{url}/api/samples/{sample['id']}")
    assert relayed.status_code == direct.status_code == 200
    assert relayed.json() == direct.json()


def test_strawberry_floor_answers_s1(sandbox: SandboxProcess) -> None:
    sample = _first_sample(sandbox)
    body = {"query": suite.S1, "variables": {"id": sample["id"]}}
    with floors.serving("strawberry", sandbox.urls["samples"], None) as url:
        answer = httpx.post(url + "/", json=body)
    assert answer.status_code == 200
    assert answer.json() == {
        "data": {"sample": {"id": sample["id"], "name": sample["name"], "status": sample["status"]}}
    }


def test_s2_floor_executes_s2_shape_without_errors() -> None:
    reading = floors.s2_execution(rounds=8)
    assert reading["ms_per_operation"] > 0
    assert abs(reading["max_rps_one_core"] - 1000 / reading["ms_per_operation"]) <= 1


async def test_execution_comparison_runs_the_gateways_schema_to_the_same_result() -> None:
    # run() stops with SystemExit when either execution errs or the two results differ.
    report = await graph_execution.run(20, 1)
    assert report["rounds"] == 1
    assert report["graphql_core_ms"] > 0
    assert report["gateway_ms"] > 0


def test_instance_shares_are_each_instances_part_of_the_calls() -> None:
    assert suite.shares({"samples-1": 30, "samples-2": 10, "samples-3": 0}) == {
        "samples-1": {"calls": 30, "share": 0.75},
        "samples-2": {"calls": 10, "share": 0.25},
        "samples-3": {"calls": 0, "share": 0.0},
    }
    assert suite.shares({"samples-1": 0})["samples-1"]["share"] is None


def test_the_instances_section_says_why_it_is_not_available() -> None:
    text = suite.instances_text({"available": False, "reason": "one URL per service"})
    assert "Not available: one URL per service" in text
    run = {**_scenario("S1 spread", 500.0)}
    shares = suite.shares({"samples-1": 2, "samples-2": 1, "samples-3": 1})
    table = suite.instances_text({"available": True, "run": run, "shares": shares})
    assert "| samples-1 | 2 | 0.500 |" in table
    assert suite.instances_text(None) == ""


def test_the_cache_section_shows_both_runs_and_their_ratio() -> None:
    off = {**_scenario("off", 400.0), "upstream_per_request_under_load": 3.0}
    on = {**_scenario("on", 800.0), "upstream_per_request_under_load": 0.5}
    text = suite.cache_text(
        {"cache-off": off, "cache-on": on, "calls_ratio": 0.167, "rps_ratio": 2.0}
    )
    assert "| cache-off | 1 | 3.000 | 400 | 900 |" in text
    assert "| cache-on | 1 | 0.500 | 800 | 900 |" in text
    assert "calls under load 0.167, throughput 2.000" in text
    assert suite.cache_text(None) == ""


def test_threat_detection_bench_times_each_kind_of_request() -> None:
    result = threats.run(rounds=1, requests=20)
    assert set(result["us_per_request"]) == {
        "graphql-query", "graphql-mutation", "rest-get", "rest-post", "document"
    }  # fmt: skip
    assert all(us > 0 for us in result["us_per_request"].values())
    assert result["worst_us"] == max(
        v for k, v in result["us_per_request"].items() if k != "document"
    )

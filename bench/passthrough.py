"""The REST passthrough against its upstream, on one machine, in one run.

    .venv/bin/python -m bench.passthrough [--duration 10] [--connections 32] [--rounds 3]
                                          [--stream-mb 200] [--placement split|gateway-alone]

Starts the sandbox (``SandboxProcess``) and the gateway (a real ``tracseq-gateway serve``
process, ``TRACSEQ_*_URL`` pointing at the sandbox, log level warning, defaults otherwise)
on free ports, then measures with ``wrk`` (``apt-get install -y wrk``):

1. **Throughput**: ``GET /samples/{id}`` straight at the samples service and
   ``GET /api/samples/{id}`` through the gateway, same id, same duration and connections,
   in alternating rounds so that machine noise hits both alike; the medians and their
   ratio (target: at least 0.6).
2. **Added latency at half load**: both targets again at half the passthrough's median
   throughput, paced by a Lua ``delay()`` in wrk (closed loop: each connection waits a
   random 0.5-1.5x its share of the interval after each answer; with latencies far below
   the interval this approximates an open-loop arrival rate); p99 of each and the
   difference (target: at most 2 ms).
3. **Streaming memory**: a 200 MB upload and a 200 MB download through the gateway
   (the sandbox-only ``/_sandbox/echo`` and ``/_sandbox/bytes``, reached as
   ``/api/sequencing/_sandbox/...``), checked by SHA-256, while a thread samples the
   gateway's VmRSS from /proc every 5 ms; the growth over the pre-transfer RSS (target:
   below 50 MB) and VmHWM.

Placement (``taskset``), when there are at least two CPUs: ``split`` puts the driver (wrk
and this script) on CPU 0 and both servers on the others; ``gateway-alone`` puts the driver
and the sandbox on CPU 0 and the gateway alone on the others. The report records the
placement, the CPU count and the load average, and is written to
``bench/results/passthrough.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    MB,
    RESULTS,
    Gateway,
    RssSampler,
    ensure_wrk,
    pin,
    placement,
    reset_peak_rss,
    status_bytes,
    wrk,
    wrk_version,
)
from sandbox.runner import SandboxProcess
from sandbox.tokens import mint_token

PATTERN = bytes(range(256)) * 1024
THROUGHPUT_TARGET = 0.6
ADDED_P99_TARGET_MS = 2.0
RSS_GROWTH_TARGET_MB = 50.0

# The same header goes to the sandbox directly (which ignores it) and through the gateway,
# which needs a caller that may read samples.
AUTH = {"Authorization": f"Bearer {mint_token('lab_technician', lifetime=6 * 3600)}"}


def pattern_chunks(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        size = min(len(PATTERN), total - sent)
        yield PATTERN[:size]
        sent += size


def streaming_memory(gateway: Gateway, total: int) -> dict[str, Any]:
    pid = gateway.pid
    echo = "/api/sequencing/_sandbox/echo"
    data = "/api/sequencing/_sandbox/bytes"
    expected = hashlib.sha256()
    for chunk in pattern_chunks(total):
        expected.update(chunk)
    with httpx.Client(base_url=gateway.url, timeout=60, headers=AUTH) as client:
        client.post(echo, content=b"x" * MB).raise_for_status()  # warm up
        client.get(data, params={"n": MB}).raise_for_status()
        time.sleep(0.2)
        rss_before = status_bytes(pid, "VmRSS")
        hwm_before = status_bytes(pid, "VmHWM")
        hwm_reset = reset_peak_rss(pid)
        with RssSampler(pid) as sampler:
            started = time.perf_counter()
            upload = client.post(
                echo, content=pattern_chunks(total), headers={"Content-Length": str(total)}
            )
            upload_s = time.perf_counter() - started
            upload.raise_for_status()
            if upload.json()["sha256"] != expected.hexdigest():
                raise RuntimeError("the upload arrived corrupted")
            digest = hashlib.sha256()
            received = 0
            started = time.perf_counter()
            with client.stream("GET", data, params={"n": total}) as download:
                download.raise_for_status()
                for chunk in download.iter_raw():
                    digest.update(chunk)
                    received += len(chunk)
            download_s = time.perf_counter() - started
            if received != total or digest.hexdigest() != expected.hexdigest():
                raise RuntimeError("the download arrived corrupted")
        rss_after = status_bytes(pid, "VmRSS")
        hwm_after = status_bytes(pid, "VmHWM")
    peak = max(sampler.peak, rss_after, hwm_after if hwm_reset else 0)
    return {
        "bytes_each_way": total,
        "upload_mb_s": round(total / MB / upload_s, 1),
        "download_mb_s": round(total / MB / download_s, 1),
        "rss_before_mb": round(rss_before / MB, 1),
        "rss_peak_sampled_mb": round(sampler.peak / MB, 1),
        "rss_after_mb": round(rss_after / MB, 1),
        "vmhwm_before_mb": round(hwm_before / MB, 1),
        "vmhwm_after_mb": round(hwm_after / MB, 1),
        "vmhwm_reset_before_transfer": hwm_reset,
        "rss_samples": sampler.samples,
        "peak_growth_mb": round((peak - rss_before) / MB, 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    where = placement(args.placement)
    if where.driver is not None:
        os.sched_setaffinity(0, {int(where.driver)})
    with SandboxProcess() as sandbox:
        pin(sandbox.pid, where.sandbox)
        gateway = Gateway(sandbox.urls, where.gateway)
        try:
            listing = httpx.get(f"{sandbox.urls['samples']}/samples", params={"page_size": 1})
            sample_id = listing.json()["data"]["samples"][0]["id"]
            targets = {
                "direct": f"{sandbox.urls['samples']}/samples/{sample_id}",
                "passthrough": f"{gateway.url}/api/samples/{sample_id}",
            }
            direct_body = httpx.get(targets["direct"]).content
            relayed_body = httpx.get(targets["passthrough"], headers=AUTH).content
            if direct_body != relayed_body:
                raise RuntimeError("the passthrough's answer differs from the upstream's")
            for url in targets.values():  # warm up both paths and the pool
                wrk(url, duration=2, connections=args.connections, cpus=where.driver, headers=AUTH)
            rounds: dict[str, list[dict[str, Any]]] = {"direct": [], "passthrough": []}
            for _ in range(args.rounds):
                for name, url in targets.items():
                    result = wrk(
                        url,
                        duration=args.duration,
                        connections=args.connections,
                        cpus=where.driver,
                        headers=AUTH,
                    )
                    rounds[name].append(result)
                    print(f"  max {name:<12} {_line(result)}")
            direct_rps = statistics.median(r["rps"] for r in rounds["direct"])
            passthrough_rps = statistics.median(r["rps"] for r in rounds["passthrough"])
            half_rate = passthrough_rps / 2
            paced_connections = args.paced_connections
            interval_ms = paced_connections / half_rate * 1000
            paced: dict[str, dict[str, Any]] = {}
            for name, url in targets.items():
                paced[name] = wrk(
                    url,
                    duration=args.duration,
                    connections=paced_connections,
                    cpus=where.driver,
                    interval_ms=interval_ms,
                    headers=AUTH,
                )
                print(f"  half {name:<11} {_line(paced[name])}")
            memory = streaming_memory(gateway, args.stream_mb * MB)
            print(f"  streaming: RSS growth {memory['peak_growth_mb']} MB")
        finally:
            gateway.stop()
    added_p99_ms = (paced["passthrough"]["p99_us"] - paced["direct"]["p99_us"]) / 1000
    ratio = passthrough_rps / direct_rps
    return {
        "benchmark": "passthrough",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_at_end": os.getloadavg(),
            "python": sys.version.split()[0],
            "wrk": wrk_version(),
        },
        "placement": {"name": where.name, "description": where.describe()},
        "request": "GET /samples/{id} direct vs GET /api/samples/{id} through the gateway",
        "settings": {
            "duration_s": args.duration,
            "connections": args.connections,
            "rounds": args.rounds,
            "paced_connections": paced_connections,
            "pacing": "wrk Lua delay(): random 0.5-1.5x of connections/rate per connection",
        },
        "throughput": {
            "direct_rps": round(direct_rps),
            "passthrough_rps": round(passthrough_rps),
            "ratio": round(ratio, 3),
            "target_ratio": THROUGHPUT_TARGET,
            "met": ratio >= THROUGHPUT_TARGET,
            "rounds": rounds,
        },
        "half_load": {
            "target_rate_rps": round(half_rate),
            "direct": paced["direct"],
            "passthrough": paced["passthrough"],
            "added_p99_ms": round(added_p99_ms, 3),
            "target_added_p99_ms": ADDED_P99_TARGET_MS,
            "met": added_p99_ms <= ADDED_P99_TARGET_MS,
        },
        "streaming": {
            **memory,
            "target_growth_mb": RSS_GROWTH_TARGET_MB,
            "met": memory["peak_growth_mb"] < RSS_GROWTH_TARGET_MB,
        },
    }


def _line(result: dict[str, Any]) -> str:
    return f"{result['rps']:8.0f} req/s  p99 {result['p99_us'] / 1000:6.2f} ms"


def markdown(report: dict[str, Any]) -> str:
    t, h, s = report["throughput"], report["half_load"], report["streaming"]
    d, p = h["direct"], h["passthrough"]
    settings, machine = report["settings"], report["machine"]

    def ms(us: float) -> str:
        return f"{us / 1000:.2f}"

    def verdict(met: bool) -> str:
        return "met" if met else "NOT met"

    load = ", ".join(f"{x:.2f}" for x in machine["loadavg_at_end"])
    rate = h["target_rate_rps"]
    rows = [
        (
            "throughput (req/s)",
            t["direct_rps"],
            t["passthrough_rps"],
            f"ratio {t['ratio']}",
            f">= {t['target_ratio']}: {verdict(t['met'])}",
        ),
        (
            f"p50 / p99 at {rate} req/s (ms)",
            f"{ms(d['p50_us'])} / {ms(d['p99_us'])}",
            f"{ms(p['p50_us'])} / {ms(p['p99_us'])}",
            f"+{h['added_p99_ms']:.2f} ms at p99",
            f"<= {h['target_added_p99_ms']} ms: {verdict(h['met'])}",
        ),
        ("achieved paced rate (req/s)", f"{d['rps']:.0f}", f"{p['rps']:.0f}", "", ""),
        (
            f"{s['bytes_each_way'] // MB} MB up + down (MB/s)",
            "",
            f"{s['upload_mb_s']} / {s['download_mb_s']}",
            f"RSS {s['rss_before_mb']} → {s['rss_peak_sampled_mb']} MB (+{s['peak_growth_mb']})",
            f"< {s['target_growth_mb']} MB: {verdict(s['met'])}",
        ),
    ]
    lines = [
        "# REST passthrough benchmark",
        "",
        f"{report['when']}; {machine['cpus']} CPUs; {report['placement']['description']}; "
        f"load average at the end {load}.",
        f"{report['request']}; wrk, {settings['connections']} connections, "
        f"{settings['duration_s']:.0f} s per run, {settings['rounds']} alternating rounds "
        f"(medians); half load paced with {settings['paced_connections']} connections.",
        "",
        "| measure | direct | passthrough | result | target |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--paced-connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stream-mb", type=int, default=200)
    parser.add_argument("--placement", choices=("split", "gateway-alone"), default="split")
    parser.add_argument("--output", type=Path, default=RESULTS / "passthrough")
    args = parser.parse_args()
    ensure_wrk()
    report = run(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    args.output.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

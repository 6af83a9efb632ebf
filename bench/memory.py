"""The memory scenario: a burst of heavy lists through one fresh gateway worker.

    .venv/bin/python -m bench.memory [--requests 1000] [--concurrency 16] [--settle 30]

``REQUESTS`` ``samples(first: 1000)`` requests (S3's document, each answer ~190 KB of JSON)
at ``CONCURRENCY`` in flight, against a gateway that has served one such request (so that
its lazy imports and prepared operation are part of the baseline). Readings: the RSS
before the load, its peak during it (sampled every 20 ms), and the RSS ``SETTLE`` seconds
after the last answer. Targets (issue 14): peak at most 200 MB; after settling, within 20%
of the RSS before. One user's default rate-limit burst is enough to send such a burst, and
a worker that keeps what it grew to is an OOM kill under the 512 Mi pod limit.

The driver is asyncio with httpx on the driver's CPU: throughput is not what this measures,
and a fixed count of requests (not wrk's fixed duration) keeps runs comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Mapping
from typing import Any

import httpx

from bench.harness import MB, Gateway, Placement, RssSampler, placement, status_bytes

REQUESTS = 1000
CONCURRENCY = 16
SETTLE_S = 30.0
MAX_PEAK_MB = 200.0
MAX_SETTLED_GROWTH = 0.20


async def _burst(url: str, body: bytes, headers: Mapping[str, str], requests: int,
                 concurrency: int) -> dict[str, int]:  # fmt: skip
    """``requests`` POSTs with ``concurrency`` in flight; counts by outcome."""
    counts = {"ok": 0, "non_2xx": 0, "errors": 0}
    remaining = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def worker() -> None:
            for _ in remaining:
                try:
                    response = await client.post(url, content=body, headers=dict(headers))
                except httpx.HTTPError:
                    counts["errors"] += 1
                    continue
                counts["ok" if response.status_code == 200 else "non_2xx"] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return counts


def measure(
    urls: Mapping[str, str],
    where: Placement,
    token: str,
    env: Mapping[str, str],
    *,
    requests: int = REQUESTS,
    concurrency: int = CONCURRENCY,
    settle: float = SETTLE_S,
) -> dict[str, Any]:
    """The scenario against a fresh gateway over the sandbox at ``urls``."""
    from bench.suite import S3, _graphql, check

    body = _graphql(S3)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with Gateway(urls, where.gateway, env) as gateway:
        url = f"{gateway.url}/graphql"
        check(httpx.post(url, content=body, headers=headers, timeout=60), "memory warm-up")
        before = status_bytes(gateway.pid, "VmRSS")
        started = time.monotonic()
        with RssSampler(gateway.pid, every=0.02) as rss:
            counts = asyncio.run(_burst(url, body, headers, requests, concurrency))
        elapsed = time.monotonic() - started
        # The settling period: the gateway is idle; sample it to see when memory returns.
        with RssSampler(gateway.pid, every=1.0) as idle:
            time.sleep(settle)
        after = status_bytes(gateway.pid, "VmRSS")
    peak = max(rss.peak, idle.peak)
    growth = (after - before) / before
    return {
        "requests": requests,
        "concurrency": concurrency,
        "settle_s": settle,
        "elapsed_s": round(elapsed, 1),
        "rps": round(requests / elapsed, 1),
        **counts,
        "rss_before_mb": round(before / MB, 1),
        "rss_peak_mb": round(peak / MB, 1),
        "rss_after_mb": round(after / MB, 1),
        "settled_growth_pct": round(growth * 100, 1),
        "rss_series_mb": [
            (round(t, 1), round(b / MB, 1)) for t, b in rss.series[:: max(1, len(rss.series) // 40)]
        ]
        + [(round(elapsed + t, 1), round(b / MB, 1)) for t, b in idle.series[::5]],
        "max_peak_mb": MAX_PEAK_MB,
        "max_settled_growth_pct": MAX_SETTLED_GROWTH * 100,
        "met": peak / MB <= MAX_PEAK_MB
        and growth <= MAX_SETTLED_GROWTH
        and counts["ok"] == requests,
    }


def main(argv: list[str] | None = None) -> None:
    from bench.suite import GATEWAY_ENV
    from sandbox.options import EXTENSIONS, Options
    from sandbox.runner import SandboxProcess
    from sandbox.tokens import mint_token

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--settle", type=float, default=SETTLE_S)
    args = parser.parse_args(argv)
    where = placement("separate")
    if where.driver is not None:
        os.sched_setaffinity(0, {int(c) for c in where.driver.split(",")})
    with SandboxProcess(options=Options(extensions=frozenset(EXTENSIONS))) as sandbox:
        from bench.harness import pin

        pin(sandbox.pid, where.sandbox)
        result = measure(
            sandbox.urls, where, mint_token(), GATEWAY_ENV,
            requests=args.requests, concurrency=args.concurrency, settle=args.settle,
        )  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

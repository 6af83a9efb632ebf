"""The subscriptions scenario: many WebSocket subscribers on one gateway worker.

    .venv/bin/python -m bench.subscriptions [--subscribers 1000] [--events 20]

``SUBSCRIBERS`` WebSocket connections (one principal each, one subscription each:
``sampleStatusChanged(ids: [X])`` with the sample's fields), all watching one sample, on a
fresh gateway worker. Then ``EVENTS`` status changes of that sample through the gateway's
``changeSampleStatus`` mutation, one at a time: each waits until every subscriber has its
event. Readings:

- RSS before the first connection (after one of each operation, so that lazy imports and
  prepared operations are in the baseline), with every subscription open, and after the
  events; the growth is the highest reading minus the first.
- Delivery lag at each subscriber: from the moment the driver sends the mutation to the
  moment that subscriber's client has read its event (so the client's own reading of
  1,000 messages counts against the gateway); p50, p99 and max over every event and
  subscriber. And the gateway's own histogram (from learning of the change to the event
  sent), ``tracseq_subscription_delivery_lag_seconds``.
- The poller: ``GET /samples`` calls the samples service served during a quiet window of
  ``QUIET_INTERVALS`` poll intervals, per interval.
- The gateway's CPU time per event (all subscribers' executions and sends).

Targets (issue 16): growth at most 50 MB; p99 lag at most 100 ms; at most one poller call
per topic per interval. The driver is asyncio on the driver's CPU, with a minimal
WebSocket client of its own (``_Subscriber``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import time
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from bench.harness import MB, Gateway, Placement, cpu_seconds, placement, status_bytes
from bench.report import histogram_quantile

SUBSCRIBERS = 1000
EVENTS = 20
POLL_INTERVAL_S = 1.0
QUIET_INTERVALS = 5
MAX_GROWTH_MB = 50.0
MAX_P99_LAG_MS = 100.0
MAX_POLLS_PER_INTERVAL = 1.0
PROTOCOL = "graphql-transport-ws"
SUBSCRIPTION = """subscription Watch($ids: [ID!]) {
  sampleStatusChanged(ids: $ids) {
    previousStatus status changedAt
    sample { id name barcode status sampleType updatedAt }
  }
}"""
CREATE = """mutation { createSample(input: {name: "bench live", sampleType: DNA}) {
  sample { id } } }"""
MOVE = """mutation Move($id: ID!, $status: SampleStatus!) {
  changeSampleStatus(input: {id: $id, status: $status}) { sample { status } userErrors { code } }
}"""
# A legal cycle of the samples service's workflow: PENDING -> REJECTED -> PENDING ...
CYCLE = ("REJECTED", "PENDING")
LAG_METRIC = "tracseq_subscription_delivery_lag_seconds_bucket"


class _Subscriber(asyncio.Protocol):
    """One connection with one subscription, read by a minimal WebSocket client of its own
    (the frames a server sends are unmasked; a ping is answered): a message is timed when
    its bytes arrive, not after a general-purpose client library has parsed it, so that
    the driver's own cost for 1,000 sockets weighs as little as it can on the lag."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.messages: asyncio.Queue[bytes] = asyncio.Queue()
        self.arrived: asyncio.Queue[float] = asyncio.Queue()
        self.errors = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buffer += data
        if not self.upgraded.done():
            head, found, rest = self.buffer.partition(b"\r\n\r\n")
            if not found:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(RuntimeError(head.decode(errors="replace")))
                return
            self.buffer = rest
            self.upgraded.set_result(None)
        while len(self.buffer) >= 2:
            opcode, length, start = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
            if length == 126:
                length, start = int.from_bytes(self.buffer[2:4], "big"), 4
            elif length == 127:
                length, start = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < start + length:
                return
            payload = self.buffer[start : start + length]
            self.buffer = self.buffer[start + length :]
            if opcode == 9:  # ping
                self.send(payload, opcode=10)
            elif opcode == 1 and payload.startswith(b'{"type":"next"'):
                if b'"errors"' in payload:
                    self.errors += 1
                self.arrived.put_nowait(now)
            elif opcode == 1:
                self.messages.put_nowait(payload)

    def send(self, payload: bytes, opcode: int = 1) -> None:
        assert self.transport is not None
        mask = os.urandom(4)
        size = len(payload)
        header = bytes([0x80 | opcode])
        if size < 126:
            header += bytes([0x80 | size])
        elif size < 65536:
            header += bytes([0x80 | 126]) + size.to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + size.to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(header + mask + masked)

    def send_json(self, message: Mapping[str, Any]) -> None:
        self.send(orjson.dumps(message))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _open(host: str, port: int, sample_id: str, distinct: bool = False) -> _Subscriber:
    from sandbox.tokens import mint_token

    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(_Subscriber, host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    assert client.transport is not None
    client.transport.write(
        (
            f"GET /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {PROTOCOL}\r\n\r\n"
        ).encode()
    )
    await asyncio.wait_for(client.upgraded, 10)
    token = mint_token("lab_technician", user_id=str(uuid.uuid4()))
    client.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    ack = orjson.loads(await asyncio.wait_for(client.messages.get(), 10))
    if ack["type"] != "connection_ack":
        raise RuntimeError(f"no connection_ack: {ack}")
    # distinct: a second, random id makes each subscriber's variables its own, so that no
    # two share an execution (gateway.streams): what subscribers of personal views cost.
    ids = [sample_id, str(uuid.uuid4())] if distinct else [sample_id]
    payload = {"query": SUBSCRIPTION, "variables": {"ids": ids}}
    client.send_json({"type": "subscribe", "id": "1", "payload": payload})
    return client


def _post(http: httpx.Client, url: str, query: str, headers: Mapping[str, str],
          **variables: Any) -> dict[str, Any]:  # fmt: skip
    response = http.post(url, json={"query": query, "variables": variables}, headers=dict(headers))
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(f"the mutation failed: {body['errors']}")
    return body


async def _drive(
    gateway: Gateway,
    sandbox_urls: Mapping[str, str],
    token: str,
    subscribers: int,
    events: int,
    distinct: bool,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    graphql = f"{gateway.url}/graphql"
    host, port = "127.0.0.1", gateway.port
    with httpx.Client(timeout=30) as http:
        sample_id = _post(http, graphql, CREATE, headers)["data"]["createSample"]["sample"]["id"]
        # One of each operation first: their imports and prepared operations are baseline.
        warm = await _open(host, port, sample_id)
        await asyncio.sleep(0.5)
        _post(http, graphql, MOVE, headers, id=sample_id, status=CYCLE[0])
        await asyncio.wait_for(warm.arrived.get(), 10)
        _post(http, graphql, MOVE, headers, id=sample_id, status=CYCLE[1])
        await asyncio.wait_for(warm.arrived.get(), 10)
        warm.close()
        await asyncio.sleep(1.0)
        before = status_bytes(gateway.pid, "VmRSS")

        opened_at = time.monotonic()
        clients: list[_Subscriber] = []
        for start in range(0, subscribers, 50):  # 50 handshakes at a time
            batch = min(50, subscribers - start)
            clients += await asyncio.gather(
                *(_open(host, port, sample_id, distinct) for _ in range(batch))
            )
        open_s = time.monotonic() - opened_at
        await asyncio.sleep(2 * POLL_INTERVAL_S)  # the poller has learnt the status
        subscribed = status_bytes(gateway.pid, "VmRSS")

        # The quiet window: only the poller calls the samples service.
        stats = f"{sandbox_urls['samples']}/_sandbox/stats"
        http.post(f"{stats}/reset").raise_for_status()
        await asyncio.sleep(QUIET_INTERVALS * POLL_INTERVAL_S)
        by_route = http.get(stats).json()["by_route"]
        polls = sum(n for route, n in by_route.items() if route.startswith("GET /samples"))

        lags: list[float] = []
        cpu_before = cpu_seconds(gateway.pid)
        for n in range(events):
            status = CYCLE[n % 2]
            sent = time.perf_counter()
            _post(http, graphql, MOVE, headers, id=sample_id, status=status)
            arrivals = await asyncio.wait_for(
                asyncio.gather(*(c.arrived.get() for c in clients)), 30
            )
            lags += [(t - sent) * 1000 for t in arrivals]
        cpu_per_event = (cpu_seconds(gateway.pid) - cpu_before) / events
        after = status_bytes(gateway.pid, "VmRSS")
        metrics = http.get(f"{gateway.url}/metrics").text
        for c in clients:
            c.close()
    errors = sum(c.errors for c in clients)
    lags.sort()
    server = _server_lag(metrics)
    growth = (max(subscribed, after) - before) / MB
    return {
        "subscribers": subscribers,
        "distinct": distinct,
        "events": events,
        "poll_interval_s": POLL_INTERVAL_S,
        "open_s": round(open_s, 1),
        "rss_before_mb": round(before / MB, 1),
        "rss_subscribed_mb": round(subscribed / MB, 1),
        "rss_after_mb": round(after / MB, 1),
        "rss_growth_mb": round(growth, 1),
        "lag_p50_ms": round(statistics.median(lags), 1),
        "lag_p99_ms": round(lags[int(len(lags) * 0.99) - 1], 1),
        "lag_max_ms": round(lags[-1], 1),
        "server_lag_p50_ms": server[0],
        "server_lag_p99_ms": server[1],
        "event_errors": errors,
        "gateway_cpu_ms_per_event": round(cpu_per_event * 1000, 1),
        "gateway_cpu_us_per_delivery": round(cpu_per_event * 1e6 / subscribers, 1),
        "poller_calls": polls,
        "quiet_intervals": QUIET_INTERVALS,
        "poller_calls_per_interval": round(polls / QUIET_INTERVALS, 2),
        "max_growth_mb": MAX_GROWTH_MB,
        "max_p99_lag_ms": MAX_P99_LAG_MS,
        "max_polls_per_interval": MAX_POLLS_PER_INTERVAL,
    }


def _server_lag(metrics: str) -> tuple[float | None, float | None]:
    """p50 and p99 of the gateway's lag histogram for samples, in ms."""
    from bench.suite import parse_metrics

    buckets = sorted(
        (float("inf") if labels["le"] == "+Inf" else float(labels["le"]), value)
        for name, labels, value in parse_metrics(metrics)
        if name == LAG_METRIC and labels.get("topic") == "samples"
    )

    def ms(q: float) -> float | None:
        value = histogram_quantile(q, buckets)
        return None if value is None else round(value * 1000, 1)

    return ms(0.5), ms(0.99)


def measure(
    urls: Mapping[str, str],
    where: Placement,
    token: str,
    env: Mapping[str, str],
    *,
    subscribers: int = SUBSCRIBERS,
    events: int = EVENTS,
    distinct: bool = False,
) -> dict[str, Any]:
    """The scenario against a fresh gateway over the sandbox at ``urls``."""
    gateway_env = {
        **env,
        "TRACSEQ_SUBSCRIPTION_POLL_INTERVAL": str(POLL_INTERVAL_S),
        "TRACSEQ_MAX_SUBSCRIPTIONS_PER_USER": str(subscribers + 1),
    }
    with Gateway(urls, where.gateway, gateway_env) as gateway:
        result = asyncio.run(_drive(gateway, urls, token, subscribers, events, distinct))
    result["met"] = bool(
        result["rss_growth_mb"] <= MAX_GROWTH_MB
        and result["lag_p99_ms"] <= MAX_P99_LAG_MS
        and result["poller_calls_per_interval"] <= MAX_POLLS_PER_INTERVAL
        and result["event_errors"] == 0
    )
    return result


def target_rows(s: Mapping[str, Any]) -> list[tuple[str, str, str, bool]]:
    """The report's target rows: (target, bound, measured, met)."""
    n = s["subscribers"]
    return [
        (f"subscriptions: RSS growth with {n} open", f"<= {s['max_growth_mb']:.0f} MB",
         f"{s['rss_growth_mb']} MB ({s['rss_before_mb']} -> {s['rss_subscribed_mb']} -> "
         f"{s['rss_after_mb']} MB)", s["rss_growth_mb"] <= s["max_growth_mb"]),
        (f"subscriptions: p99 delivery lag to {n} subscribers",
         f"<= {s['max_p99_lag_ms']:.0f} ms",
         f"{s['lag_p99_ms']} ms (gateway's own {s['server_lag_p99_ms']} ms; "
         f"{s['event_errors']} errors)",
         s["lag_p99_ms"] <= s["max_p99_lag_ms"] and s["event_errors"] == 0),
        ("subscriptions: poller calls per topic per interval",
         f"<= {s['max_polls_per_interval']:.0f}",
         f"{s['poller_calls_per_interval']} ({s['poller_calls']} in {s['quiet_intervals']})",
         s["poller_calls_per_interval"] <= s["max_polls_per_interval"]),
    ]  # fmt: skip


def text(s: Mapping[str, Any]) -> str:
    """The report's section."""
    return (
        f"## Subscriptions\n\n{s['subscribers']} WebSocket connections (one principal and "
        f"one `sampleStatusChanged(ids: [X])` each, all watching one sample; opened in "
        f"{s['open_s']} s) on one gateway worker, then {s['events']} status changes through "
        f"`changeSampleStatus`, one at a time. RSS {s['rss_before_mb']} MB before the first "
        f"connection, {s['rss_subscribed_mb']} MB with all open, {s['rss_after_mb']} MB after "
        f"the events (growth {s['rss_growth_mb']} MB; target <= {s['max_growth_mb']:.0f}). "
        f"Delivery lag, from the mutation sent to the event read by each client: p50 "
        f"{s['lag_p50_ms']} ms, p99 {s['lag_p99_ms']} ms (target <= "
        f"{s['max_p99_lag_ms']:.0f}), max {s['lag_max_ms']} ms; the gateway's own (learnt to "
        f"sent) p50 {s['server_lag_p50_ms']} ms, p99 {s['server_lag_p99_ms']} ms. "
        f"{s['event_errors']} events carried errors. Gateway CPU {s['gateway_cpu_ms_per_event']}"
        f" ms per event ({s['gateway_cpu_us_per_delivery']} µs per subscriber). Poller: "
        f"{s['poller_calls']} calls to the samples service in {s['quiet_intervals']} intervals "
        f"of {s['poll_interval_s']:.0f} s ({s['poller_calls_per_interval']} per interval; "
        f"target <= {s['max_polls_per_interval']:.0f}). See `bench/subscriptions.py`.\n"
    )


def main(argv: list[str] | None = None) -> None:
    from bench.suite import GATEWAY_ENV
    from sandbox.options import EXTENSIONS, Options
    from sandbox.runner import SandboxProcess
    from sandbox.tokens import mint_token

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=SUBSCRIBERS)
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument(
        "--distinct", action="store_true", help="no two subscribers share an execution"
    )
    args = parser.parse_args(argv)
    where = placement("separate")
    if where.driver is not None:
        os.sched_setaffinity(0, {int(c) for c in where.driver.split(",")})
    with SandboxProcess(options=Options(extensions=frozenset(EXTENSIONS))) as sandbox:
        from bench.harness import pin

        pin(sandbox.pid, where.sandbox)
        result = measure(
            sandbox.urls, where, mint_token(), GATEWAY_ENV,
            subscribers=args.subscribers, events=args.events, distinct=args.distinct,
        )  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

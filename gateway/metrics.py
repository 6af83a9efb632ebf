"""Prometheus metrics: the families, their exposition, and multiprocess mode.

Every label value is bounded. Routes are templates (``/graphql``, ``/api/samples/{path}``),
never raw paths; services, outcomes and methods come from short fixed lists; GraphQL
operation names must look like GraphQL names and each process labels at most
``MAX_OPERATION_NAMES`` distinct ones (later names count as ``other``), so a client
cannot mint series by inventing names.

With several uvicorn workers the CLI points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh
directory before the workers start: prometheus-client then keeps each worker's samples in
files there, and an exposition merges them (``MultiProcessCollector``). Gauges say how
workers combine: requests in flight add up over live workers; a breaker's state is the
worst among live workers.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MAX_OPERATION_NAMES = 200
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)

_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    """The gateway's metric families on one registry (one ``Metrics`` per app)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.multiprocess = multiprocess_dir() is not None
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        if not self.multiprocess:  # per-process collectors make no sense merged
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)
        self.http_requests = Counter(
            "tracseq_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "tracseq_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "tracseq_http_requests_in_flight",
            "HTTP requests being served.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.overhead = Histogram(
            "tracseq_gateway_overhead_seconds",
            "Request time minus the time spent waiting on upstream calls: what the gateway "
            "itself costs (parsing, validation, execution, encoding, middleware).",
            ["route"],
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.graphql_operations = Counter(
            "tracseq_graphql_operations",
            "GraphQL operations, by operation name, type and outcome "
            "(success, partial: data with errors, error: no data).",
            ["operation_name", "operation_type", "outcome"],
            registry=r,
        )
        self.upstream_requests = Counter(
            "tracseq_upstream_requests",
            "HTTP requests sent to upstream services (each attempt counts), by outcome.",
            ["service", "method", "outcome"],
            registry=r,
        )
        self.upstream_duration = Histogram(
            "tracseq_upstream_request_duration_seconds",
            "Duration of one upstream HTTP request (one attempt).",
            ["service"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "tracseq_upstream_errors",
            "Upstream calls that failed or were refused, by kind: unavailable, timeout, "
            "server_error, breaker_open, bulkhead_full.",
            ["service", "kind"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "tracseq_upstream_breaker_state",
            "Circuit breaker state per service: 0 closed, 1 half-open, 2 open.",
            ["service"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.route_breaker_state = Gauge(
            "tracseq_upstream_route_breaker_state",
            "Circuit breaker state per upstream route (method and route template) that has "
            "left the closed state at least once: 0 closed, 1 half-open, 2 open.",
            ["service", "route"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.breaker_transitions = Counter(
            "tracseq_upstream_breaker_transitions",
            "Circuit breaker state changes.",
            ["service", "from_state", "to_state"],
            registry=r,
        )
        self.loader_batch_size = Histogram(
            "tracseq_dataloader_batch_size",
            "Keys per DataLoader batch, by batch method.",
            ["loader"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.rate_limited = Counter(
            "tracseq_rate_limit_rejections",
            "Requests refused by a rate limit, by limit.",
            ["limit"],
            registry=r,
        )
        self._operation_names: set[str] = set()
        self._names_lock = threading.Lock()
        # Label children by label values, so a request pays a dict lookup, not three
        # ``labels()`` calls (~10 us → ~2 us). Bounded, like the label values themselves.
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}
        self._upstream_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    # -- label bounding ------------------------------------------------------------------

    def operation_label(self, name: str | None) -> str:
        """The label for a GraphQL operation name: the name, ``anonymous`` or ``other``."""
        if not name:
            return "anonymous"
        if name in self._operation_names:
            return name
        if not _OPERATION_NAME.match(name):
            return "other"
        with self._names_lock:
            if len(self._operation_names) >= MAX_OPERATION_NAMES:
                return "other"
            self._operation_names.add(name)
        return name

    # -- recording -----------------------------------------------------------------------

    def observe_request(
        self, method: str, route: str, status: int, duration: float, overhead: float
    ) -> None:
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            method = method if method in HTTP_METHODS else "other"
            code = str(status)
            children = (
                self.http_requests.labels(method, route, code),
                self.http_duration.labels(method, route, code),
                self.overhead.labels(route),
            )
            if method != "other":
                self._request_children[key] = children
        requests, durations, overheads = children
        requests.inc()
        durations.observe(duration)
        overheads.observe(max(0.0, overhead))

    def observe_operation(self, name: str | None, operation_type: str, outcome: str) -> None:
        self.graphql_operations.labels(self.operation_label(name), operation_type, outcome).inc()

    def observe_upstream(self, service: str, method: str, outcome: str, duration: float) -> None:
        key = (service, method, outcome)
        children = self._upstream_children.get(key)
        if children is None:
            children = self._upstream_children[key] = (
                self.upstream_requests.labels(service, method, outcome),
                self.upstream_duration.labels(service),
            )
        children[0].inc()
        children[1].observe(duration)
        if outcome not in ("ok", "client_error", "cancelled"):
            self.upstream_errors.labels(service, outcome).inc()

    def observe_rejection(self, service: str, reason: str) -> None:
        self.upstream_errors.labels(service, reason).inc()

    def set_breaker(self, service: str, state: str) -> None:
        self.breaker_state.labels(service).set(BREAKER_VALUES.get(state, 0))

    def observe_transition(self, service: str, old: str, new: str) -> None:
        self.breaker_transitions.labels(service, old, new).inc()
        self.set_breaker(service, new)

    def observe_route_transition(self, service: str, route: str, new: str) -> None:
        self.route_breaker_state.labels(service, route).set(BREAKER_VALUES.get(new, 0))

    def observe_batch(self, loader: str, size: int) -> None:
        self.loader_batch_size.labels(loader).observe(size)

    def rate_limit_rejected(self, limit: str) -> None:
        """For the rate limiter: one request refused by ``limit`` (a fixed policy name)."""
        self.rate_limited.labels(limit).inc()

    # -- exposition ----------------------------------------------------------------------

    def exposition_registry(self) -> CollectorRegistry:
        """What a scrape reads: this registry, or every worker's files in multiprocess mode."""
        if not self.multiprocess:
            return self.registry
        return multiprocess_registry()

    def render(self) -> bytes:
        return generate_latest(self.exposition_registry())

    async def endpoint(self, request: Request) -> Response:
        """``GET /metrics``. Merging worker files reads the disk: do it off the loop."""
        if self.multiprocess:
            body = await run_in_threadpool(self.render)
        else:
            body = self.render()
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    def process_exiting(self) -> None:
        """Drop this worker's live gauges from the merged view."""
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())


def multiprocess_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def serve_metrics(host: str, port: int, registry: CollectorRegistry) -> Callable[[], None]:
    """Serve ``registry`` on its own port (a thread); returns the function that stops it."""
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop

"""Prometheus metrics: the families, their exposition, and multiprocess mode.

Every label value is bounded. Routes are templates (``/graphql``, ``/api/samples/{path}``),
never raw paths; HTTP statuses are classes (``2xx`` ... ``5xx``, and ``499`` on its own: a
client that went away is neither the gateway's error nor the client's mistake); services,
outcomes and methods come from short fixed lists. GraphQL operation names must look like
GraphQL names, and each window of ``OPERATION_NAME_WINDOW_S`` admits at most
``MAX_OPERATION_NAMES`` distinct ones (later names in that window count as ``other``);
the next window starts empty, so the names in use now get their labels whatever came
before. A name keeps its series while it was admitted in the current or the previous
window; older ones are dropped (single process: prometheus-client cannot drop series from
the multiprocess files, so there a worker keeps the names it admitted until it restarts).

Latency buckets have edges at the request deadline (``TRACSEQ_REQUEST_TIMEOUT``) and just
below and above it (``DEADLINE_EDGES``), so a histogram tells requests that finished in
time from those cut at the deadline. Every bounded label set is initialised when the app
starts (the routes, each upstream service with every outcome and breaker transition), so
each family is in the first scrape with zeros and a rate() has a start. ``_created``
series are off: they double the series for a timestamp Prometheus does not use.

With several uvicorn workers the CLI points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh
directory before the workers start: prometheus-client then keeps each worker's samples in
files there, and an exposition merges them (``MultiProcessCollector``). Counters and
histograms add up over workers. Gauges say how workers combine: requests in flight add up
over live workers; breaker states are reported per live worker (a ``pid`` label), since
each worker has breakers of its own and a merged number would hide that one worker refuses
what another lets through (``max by (service)`` gives the worst). ``process_*`` metrics are
read from ``/proc`` at scrape time for each live worker, with a ``pid`` label
(``WorkerProcessCollector``).

Instances (``upstreams.instances``) are labelled by service, the instance's opaque id (the
one status responses show) and its address (host:port; metrics are the one place it
appears). Like the breaker state, their state is set when it changes (ejected, back,
added, removed: ``GatewayObserver`` hears it from the instance set), not read at scrape
time, so it works the same in multiprocess mode: the healthy gauge and the count by state
per live worker (``pid``), calls in flight summed over live workers. Calls in flight are
counted only for services with several instances (one instance: no per-call accounting,
and no ejection either: its healthy gauge stays 1, the breaker gauge says when it is refused).
An instance that discovery drops loses its series (single process; multiprocess files
keep them until the worker restarts).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.settings import DEFAULT_REQUEST_TIMEOUT
from resolvers.live import POLL_OUTCOMES, SOURCES, TOPICS
from security import audit
from security.runtime import RATE_LIMITS
from upstreams.cache import (
    CACHED_SERVICES,
    ERROR,
    MEMORY,
    REDIS,
    REVALIDATE,
    STORE_OPERATIONS,
)
from upstreams.instances import EJECTED, HEALTHY
from upstreams.pipeline import ATTEMPT_OUTCOMES, CANCELLED, CLIENT_ERROR, OK

disable_created_metrics()

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MAX_OPERATION_NAMES = 200
OPERATION_NAME_WINDOW_S = 600.0
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}
# The breaker's state machine (upstreams.breaker): the transitions a breaker can make.
BREAKER_TRANSITIONS = (
    ("closed", "open"),
    ("open", "half_open"),
    ("half_open", "closed"),
    ("half_open", "open"),
)
# The kinds of upstream failure and refusal counted as errors.
UPSTREAM_ERROR_KINDS = ("server_error", "unavailable", "timeout", "breaker_open", "bulkhead_full")
OPERATION_TYPES = ("query", "mutation", "subscription")
OPERATION_OUTCOMES = ("success", "partial", "error")
# nginx's status for a client that went away before its answer: its own class.
CLIENT_CLOSED = 499
# The status classes each route's request counter starts with.
INITIAL_STATUS_CLASSES = ("2xx", "4xx", "5xx")

_BASE_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Edges around the request deadline, as fractions of it: just in time, at it, cut by it.
DEADLINE_EDGES = (0.9, 1.0, 1.1)
OVERHEAD_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)

_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_LIVE_FILE = re.compile(r"^gauge_live\w+?_(\d+)\.db$")


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def latency_buckets(deadline: float) -> tuple[float, ...]:
    """The latency histograms' edges: the base ones, and edges around ``deadline``."""
    around = {round(deadline * f, 6) for f in DEADLINE_EDGES}
    return tuple(sorted(set(_BASE_LATENCY_BUCKETS) | around))


def status_class(status: int) -> str:
    """The ``status`` label: ``2xx``, ``4xx``, ...; ``499`` on its own; ``other`` outside."""
    if status == CLIENT_CLOSED:
        return str(CLIENT_CLOSED)
    if 100 <= status < 600:
        return f"{status // 100}xx"
    return "other"


class OperationNames:
    """The operation names that get a label of their own, window by window.

    Each window of ``window`` seconds admits the first ``limit`` distinct valid names seen
    in it; the others count as ``other``. A window starts empty. ``admit`` returns the
    label and, when a window has just ended, the names that were admitted neither in the
    window that ended nor in the new one so far (their series can go)."""

    def __init__(
        self,
        limit: int = MAX_OPERATION_NAMES,
        window: float = OPERATION_NAME_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._current: set[str] = set()
        self._previous: set[str] = set()
        self._ends = clock() + window

    def admit(self, name: str | None) -> tuple[str, set[str]]:
        if not name:
            return "anonymous", set()
        now = self._clock()
        if now < self._ends and name in self._current:
            return name, set()
        if not _OPERATION_NAME.match(name):
            return "other", set()
        with self._lock:
            expired = self._rotate(now)
            if name not in self._current:
                if len(self._current) >= self.limit:
                    return "other", expired
                self._current.add(name)
        expired.discard(name)
        return name, expired

    def _rotate(self, now: float) -> set[str]:
        if now < self._ends:
            return set()
        expired = self._previous - self._current
        if now >= self._ends + self.window:  # a whole window went by without a name
            expired |= self._current
            self._previous = set()
        else:
            self._previous = self._current
        self._current = set()
        self._ends = now + self.window
        return expired


class WorkerProcessCollector:
    """``process_*`` metrics of every live worker, with a ``pid`` label, read from /proc at
    scrape time. The live workers are those with a live-gauge file in the multiprocess
    directory: each worker writes one from its start (the in-flight gauge) until it exits
    (``Metrics.process_exiting`` removes it). A worker that died without exiting (killed,
    out of memory; uvicorn starts another) left its files behind: the first scrape that
    finds its process gone removes its live gauges, as its exit would have. Register it
    before the ``MultiProcessCollector``, so that scrape already shows the live ones."""

    def __init__(self, path: str) -> None:
        self.path = path

    def live_pids(self) -> list[int]:
        pids = set()
        for file in glob.glob(os.path.join(self.path, "gauge_live*.db")):
            match = _LIVE_FILE.match(os.path.basename(file))
            if match:
                pids.add(int(match.group(1)))
        live = []
        for pid in sorted(pids):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                multiprocess.mark_process_dead(pid, self.path)
                continue
            except PermissionError:  # it exists
                pass
            live.append(pid)
        return live

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for pid in self.live_pids():
            for family in ProcessCollector(pid=_constant(pid), registry=None).collect():
                into = merged.get(family.name)
                if into is None:
                    into = merged[family.name] = Metric(
                        family.name, family.documentation, family.type
                    )
                for sample in family.samples:
                    into.add_sample(sample.name, {**sample.labels, "pid": str(pid)}, sample.value)
        yield from merged.values()


def _constant(pid: int) -> Callable[[], int]:
    return lambda: pid


class Metrics:
    """The gateway's metric families on one registry (one ``Metrics`` per app)."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        operation_names: OperationNames | None = None,
    ) -> None:
        self.multiprocess = multiprocess_dir() is not None
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        if not self.multiprocess:  # in multiprocess mode, WorkerProcessCollector
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)
        latency = latency_buckets(request_timeout)
        self.http_requests = Counter(
            "tracseq_http_requests",
            "HTTP requests answered, by method, route template and status class "
            "(2xx, 4xx, 5xx, ...; 499: the client went away).",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "tracseq_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            ["method", "route", "status"],
            buckets=latency,
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
            buckets=latency,
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
            "Circuit breaker state per service (per worker: pid): 0 closed, 1 half-open, 2 open.",
            ["service"],
            registry=r,
            multiprocess_mode="liveall",
        )
        self.route_breaker_state = Gauge(
            "tracseq_upstream_route_breaker_state",
            "Circuit breaker state per upstream route (method and route template) that has "
            "left the closed state at least once (per worker: pid): 0 closed, 1 half-open, "
            "2 open.",
            ["service", "route"],
            registry=r,
            multiprocess_mode="liveall",
        )
        # -- instances of a service (upstreams.instances) --------------------------------
        instance_labels = ["service", "instance", "address"]
        self.instance_healthy = Gauge(
            "tracseq_upstream_instance_healthy",
            "1 while an upstream instance is healthy, 0 while it is ejected (per worker: pid).",
            instance_labels,
            registry=r,
            multiprocess_mode="liveall",
        )
        self.instance_in_flight = Gauge(
            "tracseq_upstream_instance_inflight",
            "Calls in flight to an upstream instance (services with several instances).",
            instance_labels,
            registry=r,
            multiprocess_mode="livesum",
        )
        self.instance_ejections = Counter(
            "tracseq_upstream_instance_ejections",
            "Times an upstream instance was ejected after consecutive failures.",
            instance_labels,
            registry=r,
        )
        self.instances_by_state = Gauge(
            "tracseq_upstream_instances",
            "Instances of each upstream service by state: healthy, ejected (per worker: pid).",
            ["service", "state"],
            registry=r,
            multiprocess_mode="liveall",
        )
        self._instance_children: dict[tuple[str, str], Any] = {}
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
        self.security_events = Counter(
            "tracseq_security_events",
            "Security events of the audit trail (security.audit), by event and outcome.",
            ["event", "outcome"],
            registry=r,
        )
        for event, (_, outcomes) in audit.EVENTS.items():
            for outcome in outcomes:
                self.security_events.labels(event, outcome)
        self.operation_names = operation_names if operation_names is not None else OperationNames()
        # Label children by label values, so a request pays a dict lookup, not three
        # ``labels()`` calls (~10 us → ~2 us). Bounded, like the label values themselves.
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}
        self._upstream_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._hit_children: dict[tuple[str, str], Any] = {}
        for kind in OPERATION_TYPES:
            for outcome in OPERATION_OUTCOMES:
                self.graphql_operations.labels("anonymous", kind, outcome)
        for limit in RATE_LIMITS:
            self.rate_limited.labels(limit)
        self._declare_cache(r)
        self._declare_subscriptions(r)

    # -- bounded label sets, from the start ----------------------------------------------

    def declare_routes(self, routes: Iterable[BaseRoute]) -> None:
        """Start every route's request series at zero: each method and route template with
        the classes of ``INITIAL_STATUS_CLASSES`` (the latency histogram with 2xx)."""
        for route in routes:
            if not isinstance(route, Route):
                continue
            for method in sorted(route.methods or ()):
                if method == "HEAD":
                    continue
                for code in INITIAL_STATUS_CLASSES:
                    self.http_requests.labels(method, route.path, code)
                self.http_duration.labels(method, route.path, "2xx")
            self.overhead.labels(route.path)

    def declare_services(self, services: Iterable[str]) -> None:
        """Start every upstream service's series at zero: its requests (as GET) with every
        outcome, its errors of every kind, its breaker transitions; the breaker state is
        set by ``set_breaker``."""
        for service in services:
            for outcome in ATTEMPT_OUTCOMES:
                self.upstream_requests.labels(service, "GET", outcome)
            self.upstream_duration.labels(service)
            for kind in UPSTREAM_ERROR_KINDS:
                self.upstream_errors.labels(service, kind)
            for old, new in BREAKER_TRANSITIONS:
                self.breaker_transitions.labels(service, old, new)

    # -- label bounding ------------------------------------------------------------------

    def operation_label(self, name: str | None) -> str:
        """The label for a GraphQL operation name: the name, ``anonymous`` or ``other``."""
        label, expired = self.operation_names.admit(name)
        if expired and not self.multiprocess:
            self._drop_operations(expired)
        return label

    def _drop_operations(self, names: set[str]) -> None:
        for name in names:
            self.graphql_operations.remove_by_labels({"operation_name": name})

    # -- recording -----------------------------------------------------------------------

    def observe_request(
        self, method: str, route: str, status: int, duration: float, overhead: float
    ) -> None:
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            method = method if method in HTTP_METHODS else "other"
            code = status_class(status)
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
        if outcome not in (OK, CLIENT_ERROR, CANCELLED):
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

    def declare_instances(self, service: str) -> None:
        """Start a service's count of instances by state at zero."""
        for state in (HEALTHY, EJECTED):
            self.instances_by_state.labels(service, state).set(0)

    def instance_added(self, service: str, instance: str, address: str) -> None:
        """A healthy instance joined the service (at startup, or found by discovery)."""
        self.instance_healthy.labels(service, instance, address).set(1)
        self.instance_ejections.labels(service, instance, address)
        self.instance_in_flight.labels(service, instance, address)
        self.instances_by_state.labels(service, HEALTHY).inc()

    def instance_removed(self, service: str, instance: str, address: str, healthy: bool) -> None:
        """An instance left the service: its series go (single process only)."""
        self.instances_by_state.labels(service, HEALTHY if healthy else EJECTED).dec()
        self._instance_children.pop((service, instance), None)
        if self.multiprocess:
            return
        for family in (self.instance_healthy, self.instance_in_flight, self.instance_ejections):
            with contextlib.suppress(KeyError):
                family.remove(service, instance, address)

    def instance_state(self, service: str, instance: str, address: str, healthy: bool) -> None:
        """An instance was ejected (counted) or is back."""
        self.instance_healthy.labels(service, instance, address).set(1 if healthy else 0)
        if not healthy:
            self.instance_ejections.labels(service, instance, address).inc()
        self.instances_by_state.labels(service, HEALTHY).inc(1 if healthy else -1)
        self.instances_by_state.labels(service, EJECTED).inc(-1 if healthy else 1)

    def instance_load(self, service: str, instance: str, address: str, delta: int) -> None:
        """One attempt on the instance started (+1) or ended (-1)."""
        key = (service, instance)
        child = self._instance_children.get(key)
        if child is None:
            child = self._instance_children[key] = self.instance_in_flight.labels(
                service, instance, address
            )
        child.inc(delta)

    def observe_batch(self, loader: str, size: int) -> None:
        self.loader_batch_size.labels(loader).observe(size)

    def rate_limit_rejected(self, limit: str) -> None:
        """For the rate limiter: one request refused by ``limit`` (a fixed policy name)."""
        self.rate_limited.labels(limit).inc()

    def security_event(self, event: str, outcome: str) -> None:
        """For the audit trail: one security event (a fixed name) and its outcome."""
        self.security_events.labels(event, outcome).inc()

    # -- subscriptions (gateway.websocket, resolvers.live.LiveObserver) ---------------------

    def _declare_subscriptions(self, r: CollectorRegistry) -> None:
        self.websockets_open = Gauge(
            "tracseq_websockets_open",
            "WebSocket connections open on /graphql.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.subscriptions_active = Gauge(
            "tracseq_subscriptions_active",
            "Subscriptions running, by topic (samples, jobs, notifications).",
            ["topic"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.subscription_streams = Gauge(
            "tracseq_subscription_streams",
            "Subscription executions running, by topic: subscribers of one role, document "
            "and variables share one.",
            ["topic"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.subscription_changes = Counter(
            "tracseq_subscription_changes",
            "Changes the gateway learnt of, by topic and source (mutation: a write through "
            "this replica; replica: one another replica published; poll: the poller), each "
            "counted once however many subscribers it reached.",
            ["topic", "source"],
            registry=r,
        )
        self.subscription_events = Counter(
            "tracseq_subscription_events_delivered",
            "Events sent to subscribers, by topic.",
            ["topic"],
            registry=r,
        )
        self.subscription_polls = Counter(
            "tracseq_subscription_polls",
            "Rounds of the pollers (one upstream call each), by topic and outcome.",
            ["topic", "outcome"],
            registry=r,
        )
        self.subscription_lag = Histogram(
            "tracseq_subscription_delivery_lag_seconds",
            "From the gateway learning of a change to its event sent, by topic.",
            ["topic"],
            buckets=(
                0.001,
                0.0025,
                0.005,
                0.01,
                0.025,
                0.05,
                0.075,
                0.1,
                0.15,
                0.25,
                0.5,
                1.0,
                2.5,
            ),
            registry=r,
        )
        for topic in TOPICS:
            self.subscriptions_active.labels(topic)
            self.subscription_streams.labels(topic)
            self.subscription_events.labels(topic)
            self.subscription_lag.labels(topic)
            for source in SOURCES:
                self.subscription_changes.labels(topic, source)
            for outcome in POLL_OUTCOMES:
                self.subscription_polls.labels(topic, outcome)

    def websocket_opened(self) -> None:
        self.websockets_open.inc()

    def websocket_closed(self) -> None:
        self.websockets_open.dec()

    def live_feeds(self, topic: str, count: int) -> None:
        self.subscription_streams.labels(topic).set(count)

    def subscription_started(self, topic: str) -> None:
        self.subscriptions_active.labels(topic).inc()

    def subscription_ended(self, topic: str) -> None:
        self.subscriptions_active.labels(topic).dec()

    def live_poll(self, topic: str, outcome: str) -> None:
        self.subscription_polls.labels(topic, outcome).inc()

    def live_event(self, topic: str, source: str) -> None:
        self.subscription_changes.labels(topic, source).inc()

    def subscription_delivered(self, topic: str, lag: float) -> None:
        self.subscription_events.labels(topic).inc()
        self.subscription_lag.labels(topic).observe(max(0.0, lag))

    # -- the response cache (upstreams.cache.CacheObserver) ------------------------------

    def _declare_cache(self, r: CollectorRegistry) -> None:
        """The cache's families, every bounded label set started at zero."""
        self.cache_hits = Counter(
            "tracseq_cache_hits",
            "Reads served by the response cache, by service and tier (memory, redis); "
            "an entry found expired counts as a miss.",
            ["service", "tier"],
            registry=r,
        )
        self.cache_misses = Counter(
            "tracseq_cache_misses",
            "Cached reads that found no fresh entry (absent or expired).",
            ["service"],
            registry=r,
        )
        self.cache_stale_served = Counter(
            "tracseq_cache_stale_served",
            "Expired entries served, by reason: revalidate (once, while a refresh runs), "
            "error (the upstream failed).",
            ["service", "reason"],
            registry=r,
        )
        self.cache_evictions = Counter(
            "tracseq_cache_evictions",
            "Entries evicted from the in-process LRU to stay within TRACSEQ_CACHE_MEMORY_BYTES.",
            ["tier"],
            registry=r,
        )
        self.cache_size = Gauge(
            "tracseq_cache_bytes",
            "Bytes held by the response cache's in-process tier (summed over workers).",
            ["tier"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.cache_store_errors = Counter(
            "tracseq_cache_store_errors",
            "Redis operations of the response cache that failed (the read went on without "
            "Redis), by operation.",
            ["operation"],
            registry=r,
        )
        for service in CACHED_SERVICES:
            self.cache_misses.labels(service)
            for tier in (MEMORY, REDIS):
                self.cache_hits.labels(service, tier)
            for reason in (REVALIDATE, ERROR):
                self.cache_stale_served.labels(service, reason)
        self.cache_evictions.labels(MEMORY)
        self.cache_size.labels(MEMORY)
        for operation in STORE_OPERATIONS:
            self.cache_store_errors.labels(operation)

    def cache_hit(self, service: str, tier: str) -> None:
        key = (service, tier)
        child = self._hit_children.get(key)
        if child is None:
            child = self._hit_children[key] = self.cache_hits.labels(service, tier)
        child.inc()

    def cache_miss(self, service: str) -> None:
        self.cache_misses.labels(service).inc()

    def cache_stale(self, service: str, reason: str) -> None:
        self.cache_stale_served.labels(service, reason).inc()

    def cache_evicted(self, tier: str, count: int) -> None:
        self.cache_evictions.labels(tier).inc(count)

    def cache_bytes(self, tier: str, size: int) -> None:
        self.cache_size.labels(tier).set(size)

    def cache_store_error(self, operation: str) -> None:
        self.cache_store_errors.labels(operation).inc()

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
    """Every worker's files merged, and each live worker's process metrics."""
    registry = CollectorRegistry()
    path = multiprocess_dir()
    if path is not None:
        registry.register(WorkerProcessCollector(path))
    multiprocess.MultiProcessCollector(registry, path)
    PlatformCollector(registry=registry)
    return registry


def serve_metrics(host: str, port: int, registry: CollectorRegistry) -> Callable[[], None]:
    """Serve ``registry`` on its own port (a thread); returns the function that stops it."""
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop

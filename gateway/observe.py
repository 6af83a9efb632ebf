"""What one request did, and the observer that upstream calls, breakers and loaders report to.

``RequestStats`` lives in a context variable for the length of one HTTP request (the edge
sets it, ``gateway.edge``), so code deep below (an upstream call inside a DataLoader batch
task) can add to it without being handed it. It counts the upstream requests sent, and
the time during which at least one upstream call of the request was pending: the union
of the calls' intervals, so that concurrent calls are not counted twice. Request time
minus that is the gateway's own overhead.

``GatewayObserver`` is the ``upstreams.client.CallObserver`` of the app: it feeds the
request's stats, the metrics, one debug log line per upstream request (a warning when it
failed) and, when tracing is on, one client span per upstream request whose context is
propagated in the request's headers.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING

import structlog

from gateway.metrics import Metrics
from gateway.tracing import Tracing
from security import audit
from upstreams.breaker import BreakerState
from upstreams.client import AttemptDone
from upstreams.instances import ADDED, BACK, EJECTED_EVENT, HEALTHY, REMOVED, Instance

if TYPE_CHECKING:
    from upstreams.registry import Upstreams

log = structlog.get_logger()

_FAILED = frozenset({"server_error", "unavailable", "timeout"})


class RequestStats:
    """Counters of one request: upstream requests, upstream wait, GraphQL operation, and
    the response's status once it has started (0 before)."""

    __slots__ = (
        "_pending",
        "_since",
        "error_codes",
        "operation_name",
        "operation_outcome",
        "operation_type",
        "status",
        "upstream_calls",
        "upstream_wait",
    )

    def __init__(self) -> None:
        self.status = 0
        self.upstream_calls = 0
        self.upstream_wait = 0.0
        self._pending = 0
        self._since = 0.0
        self.operation_name: str | None = None
        self.operation_type: str | None = None
        self.operation_outcome: str | None = None
        self.error_codes: tuple[str, ...] = ()

    def wait_started(self) -> None:
        if self._pending == 0:
            self._since = time.perf_counter()
        self._pending += 1

    def wait_finished(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self.upstream_wait += time.perf_counter() - self._since

    def close(self) -> None:
        """Count a wait still pending when the response is done (a call left running)."""
        if self._pending > 0:
            self.upstream_wait += time.perf_counter() - self._since
            self._pending = 0


_current: ContextVar[RequestStats | None] = ContextVar("tracseq_request_stats", default=None)


def current_request() -> RequestStats | None:
    """The stats of the request being served in this context, if any."""
    return _current.get()


def begin_request() -> tuple[RequestStats, object]:
    stats = RequestStats()
    return stats, _current.set(stats)


def end_request(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


class GatewayObserver:
    """Upstream calls, breaker transitions and loader batches → stats, metrics, logs, spans."""

    def __init__(self, metrics: Metrics, tracing: Tracing | None = None) -> None:
        self.metrics = metrics
        self.tracing = tracing

    # -- upstreams.client.CallObserver ---------------------------------------------------

    def call_started(self, service: str) -> None:
        stats = _current.get()
        if stats is not None:
            stats.wait_started()

    def call_finished(self, service: str) -> None:
        stats = _current.get()
        if stats is not None:
            stats.wait_finished()

    def attempt_started(
        self, service: str, method: str, path: str, headers: dict[str, str]
    ) -> AttemptDone:
        stats = _current.get()
        if stats is not None:
            stats.upstream_calls += 1
        tracing = self.tracing
        span = tracing.start_upstream_span(service, method, path, headers) if tracing else None
        started = time.perf_counter()
        metrics = self.metrics

        def done(outcome: str, status: int | None) -> None:
            elapsed = time.perf_counter() - started
            metrics.observe_upstream(service, method, outcome, elapsed)
            if span is not None and tracing is not None:
                tracing.end_upstream_span(span, outcome, status)
            if outcome in _FAILED:
                emit = log.warning
            elif log.is_enabled_for(logging.DEBUG):
                emit = log.debug
            else:
                return
            emit(
                "upstream.request",
                service=service,
                method=method,
                path=path,
                outcome=outcome,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )

        return done

    def rejected(self, service: str, reason: str) -> None:
        self.metrics.observe_rejection(service, reason)
        log.debug("upstream.rejected", service=service, reason=reason)

    # -- breakers and loaders ------------------------------------------------------------

    def breaker_transition(self, service: str, old: BreakerState, new: BreakerState) -> None:
        """The breakers' ``on_transition`` hook."""
        self.metrics.observe_transition(service, old.value, new.value)
        emit = log.warning if new is BreakerState.OPEN else log.info
        emit("upstream.breaker", service=service, old=old.value, new=new.value)
        if new is BreakerState.OPEN:
            # In the context of the call whose failure opened it: that caller is named.
            audit.emit(audit.BREAKER_OPENED, audit.OPENED, service=service)

    def route_breaker_transition(
        self, service: str, route: str, old: BreakerState, new: BreakerState
    ) -> None:
        """The route breakers' hook: the route template is bounded (``upstreams.routes``)."""
        self.metrics.observe_route_transition(service, route, new.value)
        emit = log.warning if new is BreakerState.OPEN else log.info
        emit("upstream.route_breaker", service=service, route=route, old=old.value, new=new.value)
        if new is BreakerState.OPEN:
            audit.emit(audit.BREAKER_OPENED, audit.OPENED, service=service, upstream_route=route)

    def breakers_started(self, upstreams: Upstreams) -> None:
        """Publish every breaker's initial state and start every service's series at zero,
        so each family is in the first scrape."""
        self.metrics.declare_services(client.name for client in upstreams)
        for client in upstreams:
            self.metrics.set_breaker(client.name, client.breaker.state.value)

    # -- instances (upstreams.instances.InstanceObserver) ---------------------------------

    def instance_changed(self, service: str, instance: Instance, event: str) -> None:
        """An instance was added, removed, ejected or is back: metrics and a log line (the
        address is for operators: logs and metrics only)."""
        metrics = self.metrics
        if event == ADDED:
            metrics.instance_added(service, instance.id, instance.address)
        elif event == REMOVED:
            healthy = instance.reported == HEALTHY
            metrics.instance_removed(service, instance.id, instance.address, healthy)
        else:
            metrics.instance_state(service, instance.id, instance.address, event == BACK)
        emit = log.warning if event == EJECTED_EVENT else log.info
        emit(
            "upstream.instance",
            service=service,
            instance=instance.id,
            address=instance.address,
            change=event,
            ejections=instance.ejections_total,
        )

    def instance_load(self, service: str, instance: Instance, delta: int) -> None:
        self.metrics.instance_load(service, instance.id, instance.address, delta)

    def instances_started(self, upstreams: Upstreams) -> None:
        """Publish every service's instances as they start (all healthy)."""
        for client in upstreams:
            self.metrics.declare_instances(client.name)
            for instance in client.instances.instances:
                self.metrics.instance_added(client.name, instance.id, instance.address)

    def loader_batch(self, loader: str, size: int) -> None:
        """The DataLoaders' ``on_batch`` hook."""
        self.metrics.observe_batch(loader, size)

"""A circuit breaker per upstream service.

The breaker has three states.

**Closed** is normal operation: every call is let through and its outcome is recorded. The
breaker opens when either ``failure_threshold`` calls in a row have failed, or the failure
rate over the rolling ``window`` (seconds) reaches ``failure_rate``; the rate is only
judged once ``min_calls`` outcomes are in the window, so two failures out of three calls
at start-up do not open it.

**Open** rejects every call at once with ``UpstreamUnavailable`` (carrying ``retry_after``,
the seconds until it will probe) without touching the network. After ``recovery_timeout``
seconds it becomes half-open.

**Half-open** lets at most ``half_open_max_calls`` probe calls through at a time and rejects
the rest. A probe that succeeds closes the breaker (with a clean window); a probe that fails
re-opens it with a fresh recovery timer.

Which outcomes count as failures is the caller's decision (the client records connect
errors, timeouts and 5xx as failures; a 4xx is the caller's fault, not the upstream's, and
counts as a success). Outcomes are tagged with the generation in which the call was
allowed, so a slow call that started before the breaker changed state cannot close or
re-open it afterwards.

The clock is injected: tests advance a fake clock instead of sleeping.

``Breakers`` holds one service's breakers: the service's own, which hears of connection
failures and timeouts (nothing was answered: the service itself is unreachable), and one
per route (method and route template, ``upstreams.routes``), which hears of 5xx answers.
A call must pass both. So one route that fails deterministically (the release's samples
list with a filter answers 500) opens only its own breaker, while a service that stops
answering opens the service's breaker, which readiness follows.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable

from upstreams.config import BreakerPolicy
from upstreams.errors import UpstreamUnavailable


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


TransitionHook = Callable[[str, BreakerState, BreakerState], None]


class CircuitBreaker:
    """Use ``gen = allow()`` before a call, then ``record_success(gen)``,
    ``record_failure(gen)`` or ``release(gen)`` (an outcome that says nothing about the
    upstream, e.g. the caller was cancelled) exactly once."""

    def __init__(
        self,
        policy: BreakerPolicy,
        *,
        name: str = "upstream",
        scope: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_transition: TransitionHook | None = None,
    ) -> None:
        self.policy = policy
        self.name = name
        # What the breaker guards within the service (a route), for its error messages.
        self._for = f" for {scope}" if scope else ""
        self.on_transition = on_transition
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._consecutive_failures = 0
        self._window: deque[tuple[float, bool]] = deque()
        self._window_failures = 0
        self._opened_at = 0.0
        self._probes = 0

    @property
    def state(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and self._clock() >= self._opened_at + self.policy.recovery_timeout
        ):
            self._transition(BreakerState.HALF_OPEN)
        return self._state

    @property
    def retry_after(self) -> float | None:
        """Seconds until an open breaker will let a probe through; None unless open."""
        if self.state is not BreakerState.OPEN:
            return None
        return max(0.0, self._opened_at + self.policy.recovery_timeout - self._clock())

    def allow(self) -> int:
        """Admit one call or raise ``UpstreamUnavailable``. Returns the call's generation."""
        state = self.state
        if state is BreakerState.OPEN:
            raise UpstreamUnavailable(
                self.name, f"circuit breaker is open{self._for}", retry_after=self.retry_after
            )
        if state is BreakerState.HALF_OPEN:
            if self._probes >= self.policy.half_open_max_calls:
                raise UpstreamUnavailable(
                    self.name,
                    f"circuit breaker is half-open{self._for}, probe in progress",
                    retry_after=0.0,
                )
            self._probes += 1
        return self._generation

    def record_success(self, generation: int | None = None) -> None:
        if not self._current(generation):
            return
        if self._state is BreakerState.HALF_OPEN:
            self._transition(BreakerState.CLOSED)
            return
        self._consecutive_failures = 0
        self._observe(failed=False)

    def record_failure(self, generation: int | None = None) -> None:
        if not self._current(generation):
            return
        if self._state is BreakerState.HALF_OPEN:
            self._transition(BreakerState.OPEN)
            return
        if self._state is BreakerState.OPEN:
            return
        self._consecutive_failures += 1
        self._observe(failed=True)
        if self._consecutive_failures >= self.policy.failure_threshold or self._rate_exceeded():
            self._transition(BreakerState.OPEN)

    def release(self, generation: int | None = None) -> None:
        """Give back an admitted call without an outcome (cancelled, or not the upstream's
        doing): frees its half-open probe slot."""
        if self._current(generation) and self._state is BreakerState.HALF_OPEN:
            self._probes = max(0, self._probes - 1)

    def _current(self, generation: int | None) -> bool:
        return generation is None or generation == self._generation

    def _observe(self, *, failed: bool) -> None:
        now = self._clock()
        self._window.append((now, failed))
        self._window_failures += failed
        horizon = now - self.policy.window
        while self._window and self._window[0][0] < horizon:
            _, old_failed = self._window.popleft()
            self._window_failures -= old_failed

    def _rate_exceeded(self) -> bool:
        calls = len(self._window)
        if calls < self.policy.min_calls:
            return False
        return self._window_failures / calls >= self.policy.failure_rate

    def _transition(self, new: BreakerState) -> None:
        old = self._state
        self._state = new
        self._generation += 1
        self._probes = 0
        if new is BreakerState.OPEN:
            self._opened_at = self._clock()
        elif new is BreakerState.CLOSED:
            self._consecutive_failures = 0
            self._window.clear()
            self._window_failures = 0
        if self.on_transition is not None and old is not new:
            self.on_transition(self.name, old, new)


RouteTransitionHook = Callable[[str, str, BreakerState, BreakerState], None]


class Admission:
    """One admitted call: report its outcome exactly once (later reports are ignored)."""

    __slots__ = ("_done", "_route", "_route_generation", "_service", "_service_generation")

    def __init__(
        self,
        service: CircuitBreaker,
        service_generation: int,
        route: CircuitBreaker,
        route_generation: int,
    ) -> None:
        self._service = service
        self._service_generation = service_generation
        self._route = route
        self._route_generation = route_generation
        self._done = False

    def unreachable(self) -> None:
        """Nothing was answered (connect failure, timeout): the service's failure."""
        if not self._done:
            self._done = True
            self._service.record_failure(self._service_generation)
            self._route.release(self._route_generation)

    def answered(self, status: int) -> None:
        """The service answered ``status``: reachable; a 5xx is its route's failure."""
        if not self._done:
            self._done = True
            self._service.record_success(self._service_generation)
            if status >= 500:
                self._route.record_failure(self._route_generation)
            else:  # a 4xx is the caller's fault, not the upstream's
                self._route.record_success(self._route_generation)

    def release(self) -> None:
        """No outcome that says anything about the upstream (the caller was cancelled)."""
        if not self._done:
            self._done = True
            self._service.release(self._service_generation)
            self._route.release(self._route_generation)


class Breakers:
    """One service's breaker and its route breakers (see the module docstring)."""

    def __init__(
        self,
        policy: BreakerPolicy,
        *,
        name: str,
        clock: Callable[[], float] = time.monotonic,
        on_transition: TransitionHook | None = None,
        on_route_transition: RouteTransitionHook | None = None,
    ) -> None:
        self.policy = policy
        self.name = name
        self._clock = clock
        self._on_route_transition = on_route_transition
        self.service = CircuitBreaker(policy, name=name, clock=clock, on_transition=on_transition)
        self.routes: dict[str, CircuitBreaker] = {}

    def route(self, key: str) -> CircuitBreaker:
        """The breaker of route ``key`` (``"GET /samples/{id}"``), created on first use."""
        breaker = self.routes.get(key)
        if breaker is None:
            hook: TransitionHook | None = None
            report = self._on_route_transition
            if report is not None:

                def hook(name: str, old: BreakerState, new: BreakerState) -> None:
                    report(name, key, old, new)

            breaker = self.routes[key] = CircuitBreaker(
                self.policy, name=self.name, scope=key, clock=self._clock, on_transition=hook
            )
        return breaker

    def admit(self, key: str) -> Admission:
        """Admit one call on route ``key`` or raise ``UpstreamUnavailable``."""
        service_generation = self.service.allow()
        route = self.route(key)
        try:
            route_generation = route.allow()
        except UpstreamUnavailable:
            self.service.release(service_generation)
            raise
        return Admission(self.service, service_generation, route, route_generation)

    def open_routes(self) -> list[str]:
        """The routes whose breaker is not closed, sorted."""
        return sorted(k for k, b in self.routes.items() if b.state is not BreakerState.CLOSED)

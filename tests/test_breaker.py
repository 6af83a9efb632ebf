"""The breaker's state machine, the backoff arithmetic and the bulkhead, without a network."""

from __future__ import annotations

import asyncio

import pytest

from upstreams.breaker import BreakerState, CircuitBreaker
from upstreams.config import BreakerPolicy, BulkheadPolicy, RetryPolicy
from upstreams.errors import UpstreamUnavailable
from upstreams.resilience import Bulkhead, backoff_delay, may_retry


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _breaker(clock: FakeClock, **policy: float) -> tuple[CircuitBreaker, list[tuple[str, str]]]:
    transitions: list[tuple[str, str]] = []
    breaker = CircuitBreaker(
        BreakerPolicy(**policy),  # type: ignore[arg-type]
        name="samples",
        clock=clock,
        on_transition=lambda _name, old, new: transitions.append((old.value, new.value)),
    )
    return breaker, transitions


def _fail(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        breaker.record_failure(breaker.allow())


def test_opens_after_consecutive_failures_and_fails_fast() -> None:
    clock = FakeClock()
    breaker, transitions = _breaker(clock, failure_threshold=3, recovery_timeout=10)
    _fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    _fail(breaker)
    assert breaker.state is BreakerState.OPEN
    assert transitions == [("closed", "open")]
    clock.advance(4)
    with pytest.raises(UpstreamUnavailable) as info:
        breaker.allow()
    assert info.value.service == "samples"
    assert info.value.retry_after == pytest.approx(6)


def test_a_success_resets_the_consecutive_count() -> None:
    clock = FakeClock()
    breaker, _ = _breaker(clock, failure_threshold=3)
    _fail(breaker, 2)
    breaker.record_success(breaker.allow())
    _fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED


def test_opens_on_failure_rate_only_with_enough_calls() -> None:
    clock = FakeClock()
    breaker, _ = _breaker(clock, failure_threshold=100, failure_rate=0.5, min_calls=10, window=30)
    for _ in range(4):  # alternate: never two failures in a row, rate 50%
        breaker.record_success(breaker.allow())
        _fail(breaker)
    assert breaker.state is BreakerState.CLOSED  # 8 calls < min_calls
    breaker.record_success(breaker.allow())
    _fail(breaker)
    assert breaker.state is BreakerState.OPEN


def test_old_outcomes_leave_the_window() -> None:
    clock = FakeClock()
    breaker, _ = _breaker(clock, failure_threshold=100, failure_rate=0.5, min_calls=4, window=10)
    _fail(breaker, 3)
    clock.advance(11)
    for _ in range(3):
        breaker.record_success(breaker.allow())
    _fail(breaker)  # 1 failure in 4 calls inside the window
    assert breaker.state is BreakerState.CLOSED


def test_half_open_after_recovery_then_closes_on_success() -> None:
    clock = FakeClock()
    breaker, transitions = _breaker(clock, failure_threshold=1, recovery_timeout=5)
    _fail(breaker)
    clock.advance(5)
    assert breaker.state is BreakerState.HALF_OPEN
    probe = breaker.allow()
    with pytest.raises(UpstreamUnavailable):
        breaker.allow()  # half_open_max_calls=1: a second probe is refused
    breaker.record_success(probe)
    assert breaker.state is BreakerState.CLOSED
    assert transitions == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_probe_failure_reopens_with_a_fresh_timer() -> None:
    clock = FakeClock()
    breaker, _ = _breaker(clock, failure_threshold=1, recovery_timeout=5)
    _fail(breaker)
    clock.advance(6)
    _fail(breaker)
    assert breaker.state is BreakerState.OPEN
    clock.advance(4)
    assert breaker.state is BreakerState.OPEN
    clock.advance(1)
    assert breaker.state is BreakerState.HALF_OPEN


def test_outcome_of_an_older_generation_is_ignored() -> None:
    clock = FakeClock()
    breaker, _ = _breaker(clock, failure_threshold=1, recovery_timeout=5)
    slow = breaker.allow()
    _fail(breaker)
    breaker.record_success(slow)  # started while closed, finished while open
    assert breaker.state is BreakerState.OPEN


def test_released_probe_frees_its_slot() -> None:
    clock = FakeClock()
    breaker, _ = _breaker(clock, failure_threshold=1, recovery_timeout=1)
    _fail(breaker)
    clock.advance(1)
    breaker.release(breaker.allow())
    breaker.record_success(breaker.allow())
    assert breaker.state is BreakerState.CLOSED


def test_backoff_is_full_jitter_capped() -> None:
    policy = RetryPolicy(attempts=5, backoff_base=0.1, backoff_max=0.5)
    assert [backoff_delay(policy, n, lambda: 1.0) for n in range(4)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.5]
    )
    assert backoff_delay(policy, 2, lambda: 0.25) == pytest.approx(0.1)
    assert backoff_delay(policy, 3, lambda: 0.0) == 0.0


def test_only_safe_or_declared_idempotent_methods_retry() -> None:
    assert may_retry("GET", None)
    assert may_retry("head", None)
    assert not may_retry("POST", None)
    assert not may_retry("PUT", None)
    assert may_retry("POST", True)
    assert not may_retry("GET", False)


async def test_bulkhead_caps_in_flight_and_fails_fast_when_full() -> None:
    bulkhead = Bulkhead(BulkheadPolicy(max_concurrency=3, queue_timeout=0.05), name="storage")
    release = asyncio.Event()
    seen: list[int] = []

    async def call() -> None:
        async with bulkhead.slot():
            seen.append(bulkhead.in_flight)
            await release.wait()

    tasks = [asyncio.create_task(call()) for _ in range(3)]
    await asyncio.sleep(0)
    with pytest.raises(UpstreamUnavailable, match="bulkhead full"):
        await call()
    release.set()
    await asyncio.gather(*tasks)
    assert max(seen) == 3
    assert bulkhead.in_flight == 0
    assert bulkhead.max_in_flight == 3

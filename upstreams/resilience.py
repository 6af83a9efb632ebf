"""Retry policy helpers and the bulkhead.

Retries: only idempotent calls are retried (GET, HEAD and OPTIONS, or any method the caller
marks ``idempotent=True``), only after a failure that says nothing was done upstream or the
upstream is briefly overloaded (a connect error, 502, 503, 504), and never past the call's
deadline. The pause before retry ``n`` (0-based) is "full jitter":
``uniform(0, min(backoff_max, backoff_base * 2**n))``, which spreads retries of many
clients instead of synchronising them.

Bulkhead: at most ``max_concurrency`` calls to one upstream are in flight; the excess waits
at most ``queue_timeout`` for a slot and then fails fast with ``UpstreamUnavailable``, so a
slow upstream cannot absorb every task of the gateway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from upstreams.config import BulkheadPolicy, RetryPolicy
from upstreams.errors import UpstreamUnavailable

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({502, 503, 504})


def backoff_delay(policy: RetryPolicy, retry: int, rng: Callable[[], float]) -> float:
    """Seconds to wait before retry number ``retry`` (0 for the first retry).

    ``rng`` returns a float in [0, 1), like ``random.random``.
    """
    cap = min(policy.backoff_max, policy.backoff_base * 2**retry)
    return rng() * cap


def may_retry(method: str, idempotent: bool | None) -> bool:
    """Whether a call may be sent more than once."""
    if idempotent is not None:
        return idempotent
    return method.upper() in SAFE_METHODS


class Bulkhead:
    """A counting semaphore with a bounded wait and an ``in_flight`` gauge."""

    def __init__(self, policy: BulkheadPolicy, *, name: str = "upstream") -> None:
        self.policy = policy
        self.name = name
        self._semaphore = asyncio.Semaphore(policy.max_concurrency)
        self.in_flight = 0
        self.max_in_flight = 0  # high-water mark, for tests and metrics

    def slot(self, wait: float | None = None) -> BulkheadSlot:
        """Hold one slot for the body. ``wait`` caps the queue wait below ``queue_timeout``
        (the caller's remaining deadline)."""
        return BulkheadSlot(self, wait)

    async def acquire(self, wait: float | None = None) -> None:
        """Take one slot (see ``slot``); raises ``UpstreamUnavailable`` when none came free
        in time. A free slot is taken at once, with no timer to arm."""
        semaphore = self._semaphore
        if semaphore.locked():
            timeout = (
                self.policy.queue_timeout if wait is None else min(wait, self.policy.queue_timeout)
            )
            try:
                async with asyncio.timeout(max(0.0, timeout)):
                    await semaphore.acquire()
            except TimeoutError:
                raise UpstreamUnavailable(self.name, "bulkhead full") from None
        else:
            await semaphore.acquire()  # returns without suspending
        self.in_flight += 1
        if self.in_flight > self.max_in_flight:
            self.max_in_flight = self.in_flight

    def release(self) -> None:
        """Give back a slot taken by ``acquire``."""
        self.in_flight -= 1
        self._semaphore.release()


class BulkheadSlot:
    """``Bulkhead.slot``'s context: one slot held for the block."""

    __slots__ = ("_bulkhead", "_wait")

    def __init__(self, bulkhead: Bulkhead, wait: float | None) -> None:
        self._bulkhead = bulkhead
        self._wait = wait

    async def __aenter__(self) -> None:
        await self._bulkhead.acquire(self._wait)

    async def __aexit__(self, *exc_info: object) -> None:
        self._bulkhead.release()

"""Token-bucket rate limiting, per principal (or per client address for anonymous callers).

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens a second. A request
spends tokens equal to its cost: 1 for a REST call, the computed cost for a GraphQL
operation (as GitHub's GraphQL API does), so one huge query cannot hide among cheap ones.
A request that finds too few tokens spends none and learns how long until it would fit.

The ``limits`` library was the first choice, but it offers fixed, moving and sliding
windows, not token buckets with a burst; the bucket is small enough to own. Two stores:
``MemoryBuckets`` for one process, ``RedisBuckets`` (one Lua script: atomic, one budget
shared by every replica; a process leases spare tokens ahead, so that most spends of a
busy caller make no round trip).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

KEY_PREFIX = "tracseq:ratelimit:"
MAX_MEMORY_BUCKETS = 100_000


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: float
    retry_after: float  # seconds until the request would fit; 0 when allowed


class Buckets(Protocol):
    async def spend(self, key: str, cost: float, rate: float, burst: float) -> Decision: ...


def _refill_and_spend(
    tokens: float, last: float, now: float, cost: float, rate: float, burst: float
) -> tuple[float, Decision]:
    tokens = min(burst, tokens + max(0.0, now - last) * rate)
    if cost > burst:
        # Never affordable: waiting cannot help.
        return tokens, Decision(False, tokens, math.inf)
    if tokens >= cost:
        tokens -= cost
        return tokens, Decision(True, tokens, 0.0)
    return tokens, Decision(False, tokens, (cost - tokens) / rate)


class MemoryBuckets:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def spend(self, key: str, cost: float, rate: float, burst: float) -> Decision:
        now = self._clock()
        tokens, last = self._buckets.pop(key, (burst, now))
        tokens, decision = _refill_and_spend(tokens, last, now, cost, rate, burst)
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > MAX_MEMORY_BUCKETS:
            self._buckets.popitem(last=False)  # the least recently used bucket
        return decision


# KEYS[1]: bucket; ARGV: cost, rate, burst, refund, lease fraction. Time comes from the
# Redis server so that every replica agrees. ``refund`` (tokens of an ended lease not spent)
# goes back first; an allowed spend then takes a lease of ``fraction`` of what remains,
# whole tokens only. Returns {allowed, remaining*1000, retry_after_ms, lease}.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cost = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local refund = tonumber(ARGV[4])
local fraction = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate + refund)
local allowed = 0
local retry = 0
local lease = 0
if cost > burst then
  retry = -1
elseif tokens >= cost then
  tokens = tokens - cost
  allowed = 1
  lease = math.floor(tokens * fraction)
  tokens = tokens - lease
else
  retry = math.ceil((cost - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, math.floor(tokens * 1000), retry, lease}
"""
# A lease: this fraction of the tokens an allowed spend leaves, held by the process for
# LEASE_SECONDS at most. Near an empty bucket (fewer than 1 / LEASE_FRACTION tokens left)
# the lease is nothing, so refusals there are as exact as without leases.
LEASE_FRACTION = 0.125
LEASE_SECONDS = 1.0


class _Lease:
    __slots__ = ("tokens", "until")

    def __init__(self, tokens: float, until: float) -> None:
        self.tokens = tokens
        self.until = until


class RedisBuckets:
    """One budget per key for every replica, in Redis. A spend that finds plenty in the
    bucket also takes a lease: ``LEASE_FRACTION`` of what is left, taken out of the bucket
    in the same script, from which this process serves the key's next spends without a
    round trip, for ``LEASE_SECONDS``. Whatever a lease still holds when it ends (or is
    too small for a spend) goes back to the bucket with the key's next call. Every token a
    replica spends has left the bucket first, so the budget is never exceeded; another
    replica may meet a refusal while a lease still holds tokens, at most an eighth of
    what the bucket held. A spend served from a lease reports the lease's tokens as its
    ``remaining``."""

    def __init__(self, redis: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self._script = redis.register_script(_LUA)
        self._clock = clock
        self._leases: OrderedDict[str, _Lease] = OrderedDict()

    async def spend(self, key: str, cost: float, rate: float, burst: float) -> Decision:
        now = self._clock()
        lease = self._leases.get(key)
        refund = 0.0
        if lease is not None:
            if now < lease.until and lease.tokens >= cost:
                lease.tokens -= cost
                return Decision(True, lease.tokens, 0.0)
            # Ended, or too small: handed back with this call (a lease taken meanwhile by
            # a concurrent spend of the key starts afresh).
            del self._leases[key]
            refund = lease.tokens
        allowed, remaining, retry, leased = await self._script(
            keys=[KEY_PREFIX + key], args=[cost, rate, burst, refund, LEASE_FRACTION]
        )
        if int(leased) > 0:
            held = self._leases.pop(key, None)
            tokens = int(leased) + (held.tokens if held is not None else 0.0)
            self._leases[key] = _Lease(tokens, self._clock() + LEASE_SECONDS)
            if len(self._leases) > MAX_MEMORY_BUCKETS:
                self._leases.popitem(last=False)  # its tokens are lost, not overspent
        retry_after = math.inf if int(retry) < 0 else int(retry) / 1000
        return Decision(bool(allowed), int(remaining) / 1000, retry_after)

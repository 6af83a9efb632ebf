"""Token-bucket rate limiting, per principal (or per client address for anonymous callers).

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens a second. A request
spends tokens equal to its cost: 1 for a REST call, the computed cost for a GraphQL
operation (as GitHub's GraphQL API does), so one huge query cannot hide among cheap ones.
A request that finds too few tokens spends none and learns how long until it would fit.

The ``limits`` library was the first choice, but it offers fixed, moving and sliding
windows, not token buckets with a burst; the bucket is small enough to own. Two stores:
``MemoryBuckets`` for one process, ``RedisBuckets`` (one Lua script: atomic, one budget
shared by every replica).
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


# KEYS[1]: bucket; ARGV: cost, rate, burst. Time comes from the Redis server so that every
# replica agrees. Returns {allowed, remaining*1000, retry_after_ms}.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cost = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry = 0
if cost > burst then
  retry = -1
elseif tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, math.floor(tokens * 1000), retry}
"""


class RedisBuckets:
    def __init__(self, redis: Any) -> None:
        self._script = redis.register_script(_LUA)

    async def spend(self, key: str, cost: float, rate: float, burst: float) -> Decision:
        allowed, remaining, retry = await self._script(
            keys=[KEY_PREFIX + key], args=[cost, rate, burst]
        )
        retry_after = math.inf if int(retry) < 0 else int(retry) / 1000
        return Decision(bool(allowed), int(remaining) / 1000, retry_after)

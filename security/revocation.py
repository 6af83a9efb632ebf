"""Revoked sessions: a logout revokes its session until the token would have expired anyway.

Checked on every authenticated request. ``RedisRevocations`` shares the list between
replicas (a key per session with a TTL up to the token's expiry); ``MemoryRevocations``
serves a single process when no Redis is configured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

KEY_PREFIX = "tracseq:revoked:"
MAX_MEMORY_ENTRIES = 100_000


class Revocations(Protocol):
    async def revoke(self, session_id: str, expires_at: float) -> None: ...

    async def is_revoked(self, session_id: str) -> bool: ...


class MemoryRevocations:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}

    async def revoke(self, session_id: str, expires_at: float) -> None:
        now = self._clock()
        if len(self._until) >= MAX_MEMORY_ENTRIES:
            self._until = {k: v for k, v in self._until.items() if v > now}
        self._until[session_id] = max(expires_at, now + 1)

    async def is_revoked(self, session_id: str) -> bool:
        until = self._until.get(session_id)
        if until is None:
            return False
        if until <= self._clock():
            del self._until[session_id]
            return False
        return True


class RedisRevocations:
    def __init__(self, redis: Any, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._clock = clock

    async def revoke(self, session_id: str, expires_at: float) -> None:
        ttl = max(1, int(expires_at - self._clock()) + 1)
        await self._redis.set(KEY_PREFIX + session_id, b"1", ex=ttl)

    async def is_revoked(self, session_id: str) -> bool:
        return bool(await self._redis.exists(KEY_PREFIX + session_id))

"""Revoked sessions, each kept until a given time: the stores of ``SecurityRuntime.revoke``,
which says how long (as long as any token of the session can still be used).

Checked on every authenticated request. ``RedisRevocations`` shares the list between
replicas (a key per session with a TTL up to that time); ``MemoryRevocations`` serves a
single process when no Redis is configured.

The same stores remember which session each refresh token belongs to (auth's refresh
tokens are opaque UUIDs, and its refresh answer does not name the session it ends): a
refresh that passes through the gateway then revokes the old session here too. Only the
SHA-256 of a refresh token is kept, never the token.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any, Protocol

KEY_PREFIX = "tracseq:revoked:"
REFRESH_KEY_PREFIX = "tracseq:refresh:"
MAX_MEMORY_ENTRIES = 100_000

RefreshLink = tuple[str, float]  # (session id, when the session expires)


def refresh_digest(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


class Revocations(Protocol):
    async def revoke(self, session_id: str, until: float) -> None: ...

    async def is_revoked(self, session_id: str) -> bool: ...

    async def link_refresh(self, digest: str, session_id: str, expires_at: float) -> None: ...

    async def refresh_session(self, digest: str) -> RefreshLink | None: ...


class MemoryRevocations:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        self._links: dict[str, RefreshLink] = {}

    async def revoke(self, session_id: str, until: float) -> None:
        now = self._clock()
        if len(self._until) >= MAX_MEMORY_ENTRIES:
            self._until = {k: v for k, v in self._until.items() if v > now}
        self._until[session_id] = max(until, now + 1)

    async def is_revoked(self, session_id: str) -> bool:
        until = self._until.get(session_id)
        if until is None:
            return False
        if until <= self._clock():
            del self._until[session_id]
            return False
        return True

    async def link_refresh(self, digest: str, session_id: str, expires_at: float) -> None:
        now = self._clock()
        if len(self._links) >= MAX_MEMORY_ENTRIES:
            self._links = {k: v for k, v in self._links.items() if v[1] > now}
        self._links[digest] = (session_id, expires_at)

    async def refresh_session(self, digest: str) -> RefreshLink | None:
        link = self._links.get(digest)
        if link is not None and link[1] <= self._clock():
            del self._links[digest]
            return None
        return link


class RedisRevocations:
    def __init__(self, redis: Any, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._clock = clock

    async def revoke(self, session_id: str, until: float) -> None:
        ttl = max(1, int(until - self._clock()) + 1)
        await self._redis.set(KEY_PREFIX + session_id, b"1", ex=ttl)

    async def is_revoked(self, session_id: str) -> bool:
        return bool(await self._redis.exists(KEY_PREFIX + session_id))

    async def link_refresh(self, digest: str, session_id: str, expires_at: float) -> None:
        ttl = max(1, int(expires_at - self._clock()) + 1)
        value = f"{session_id} {expires_at!r}".encode()
        await self._redis.set(REFRESH_KEY_PREFIX + digest, value, ex=ttl)

    async def refresh_session(self, digest: str) -> RefreshLink | None:
        value = await self._redis.get(REFRESH_KEY_PREFIX + digest)
        if value is None:
            return None
        session_id, _, expires_at = value.decode().partition(" ")
        return session_id, float(expires_at)

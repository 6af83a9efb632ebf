"""The security parts that live as long as the app: token verification, revocations and the
session book over them, rate buckets and persisted queries, in Redis when one is configured
and in memory otherwise.

Built with the app (middleware hold a reference from the start); ``start()`` and
``close()`` run in the lifespan, which owns the Redis connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from starlette.types import Scope

from security import audit
from security.config import SecurityConfig
from security.persisted import (
    MemoryQueryStore,
    PersistedQueries,
    QueryStore,
    RedisQueryStore,
    load_manifest,
)
from security.principal import Principal
from security.proxies import TrustedProxies
from security.ratelimit import Buckets, Decision, MemoryBuckets, RedisBuckets
from security.revocation import (
    MemoryRevocations,
    RedisRevocations,
    RefreshLink,
    Revocations,
    refresh_digest,
)
from security.sessions import Sessions
from security.threats import ThreatDetector
from security.tokens import TokenVerifier

# The rate limits a request can be refused by: the caller's own, or its address's.
PRINCIPAL_LIMIT, ANONYMOUS_LIMIT = "principal", "anonymous"
RATE_LIMITS = (PRINCIPAL_LIMIT, ANONYMOUS_LIMIT)

RejectHook = Callable[[str], None]  # told the limit's name on every refusal (metrics)


class SecurityRuntime:
    def __init__(
        self,
        config: SecurityConfig,
        *,
        on_rate_limited: RejectHook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
        self.verifier = TokenVerifier(config.jwt, clock=clock)
        self.trusted_proxies = TrustedProxies.parse(config.rate_limit.trusted_proxies)
        self._manifest = (
            load_manifest(config.trusted_documents_path) if config.trusted_documents_path else None
        )
        self._on_rate_limited = on_rate_limited
        self._redis: Any = None
        self._store_errors: tuple[type[BaseException], ...] = SOCKET_ERRORS
        # The in-memory stores serve alone without Redis, and stand in when Redis fails
        # (a shared store that is down must not turn every request into a 500).
        self._memory_revocations = MemoryRevocations(clock=clock)
        self._memory_buckets = MemoryBuckets()
        self._memory_queries = MemoryQueryStore(config.persisted.memory_bytes)
        self._revocations: Revocations = self._memory_revocations
        self._buckets: Buckets = self._memory_buckets
        self.persisted = self._persisted(self._memory_queries)
        self.sessions = Sessions(self)
        self.threats = ThreatDetector(config.threats)

    def _persisted(self, store: QueryStore) -> PersistedQueries:
        return PersistedQueries(
            store, manifest=self._manifest, trusted_only=self.config.trusted_documents_only
        )

    def _shared_queries(self) -> RedisQueryStore:
        bounds = self.config.persisted
        return RedisQueryStore(self._redis, max_bytes=bounds.redis_bytes, ttl=bounds.redis_ttl)

    async def start(self) -> None:
        if self.config.redis_url is None:
            return
        # Imported only when configured: redis-py pulls in OpenTelemetry when that is
        # installed, and tracing must cost nothing while it is off.
        import redis.asyncio
        from redis.exceptions import RedisError

        self._store_errors = (*SOCKET_ERRORS, RedisError)
        self._redis = redis.asyncio.from_url(self.config.redis_url)
        self._revocations = RedisRevocations(self._redis, clock=self._clock)
        self._buckets = RedisBuckets(self._redis)
        self.persisted = self._persisted(
            _Fallback(self._shared_queries(), self._memory_queries, self._store_errors)
        )

    async def ping(self, within: float) -> bool:
        """Whether Redis answers a PING within ``within`` seconds (the health monitor's
        round asks; no request does)."""
        if self._redis is None:
            return False
        failures: tuple[type[BaseException], ...] = (*self._store_errors, TimeoutError)
        try:
            async with asyncio.timeout(within):
                await self._redis.ping()
        except failures as exc:
            _store_down("redis", exc)
            return False
        return True

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    # -- revocations (the AuthenticationMiddleware's store) ----------------------------------

    async def revoke(self, session_id: str, expires_at: float) -> None:
        """End a session whose access token expires at ``expires_at``. It stays revoked as
        long as that token could still be used: the verifier accepts it up to the leeway
        past its expiry."""
        until = expires_at + self.config.jwt.leeway
        # This process remembers every revocation itself too, so it holds while Redis
        # is away.
        await self._memory_revocations.revoke(session_id, until)
        if self._revocations is not self._memory_revocations:
            try:
                await self._revocations.revoke(session_id, until)
            except self._store_errors as exc:
                _store_down("revocations", exc)
        audit.emit(audit.TOKEN_REVOKED, audit.REVOKED, session=session_id)

    async def is_revoked(self, session_id: str) -> bool:
        if await self._memory_revocations.is_revoked(session_id):
            return True
        if self._revocations is self._memory_revocations:
            return False
        try:
            return await self._revocations.is_revoked(session_id)
        except self._store_errors as exc:
            _store_down("revocations", exc)
            return False

    async def link_refresh(self, refresh_token: str, session_id: str, expires_at: float) -> None:
        """Remember that ``refresh_token`` belongs to ``session_id`` (here and shared)."""
        digest = refresh_digest(refresh_token)
        await self._memory_revocations.link_refresh(digest, session_id, expires_at)
        if self._revocations is not self._memory_revocations:
            try:
                await self._revocations.link_refresh(digest, session_id, expires_at)
            except self._store_errors as exc:
                _store_down("revocations", exc)

    async def refresh_session(self, refresh_token: str) -> RefreshLink | None:
        """The session a refresh token belongs to, when a login or refresh through any
        replica told; None otherwise."""
        digest = refresh_digest(refresh_token)
        if self._revocations is not self._memory_revocations:
            try:
                link = await self._revocations.refresh_session(digest)
            except self._store_errors as exc:
                _store_down("revocations", exc)
            else:
                if link is not None:
                    return link
        return await self._memory_revocations.refresh_session(digest)

    # -- rate limiting --------------------------------------------------------------------

    async def spend(
        self, principal: Principal | None, scope: Scope, cost: float
    ) -> Decision | None:
        """Spend ``cost`` from the caller's bucket; None when rate limiting is off."""
        limits = self.config.rate_limit
        if not limits.enabled:
            return None
        if principal is not None:
            key, rate, burst, limit = principal.key, limits.rate, limits.burst, PRINCIPAL_LIMIT
        else:
            address = self.trusted_proxies.client_address(scope)
            key = f"ip:{address}"
            rate, burst, limit = limits.anonymous_rate, limits.anonymous_burst, ANONYMOUS_LIMIT
        try:
            decision = await self._buckets.spend(key, cost, rate, burst)
        except self._store_errors as exc:
            _store_down("rate limits", exc)  # this process's own buckets stand in
            decision = await self._memory_buckets.spend(key, cost, rate, burst)
        if not decision.allowed:
            audit.emit(
                audit.RATE_LIMITED,
                audit.REFUSED,
                key=key,
                cost=cost,
                retry_after=decision.retry_after,
            )
            if self._on_rate_limited is not None:
                self._on_rate_limited(limit)
        return decision


# What a failing Redis raises: the socket's errors, and redis-py's RedisError (added when
# Redis is configured, see ``start``).
SOCKET_ERRORS: tuple[type[BaseException], ...] = (OSError, TimeoutError)


def _store_down(store: str, exc: BaseException) -> None:
    audit.emit(audit.STORE_UNAVAILABLE, audit.DEGRADED, store=store, error=type(exc).__name__)


class _Fallback:
    """A query store that falls back to this process's memory when the shared one fails."""

    def __init__(
        self,
        primary: QueryStore,
        fallback: QueryStore,
        store_errors: tuple[type[BaseException], ...],
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._store_errors = store_errors

    async def get(self, digest: str) -> str | None:
        try:
            found = await self._primary.get(digest)
        except self._store_errors as exc:
            _store_down("persisted queries", exc)
            found = None
        return found if found is not None else await self._fallback.get(digest)

    async def put(self, digest: str, document: str) -> bool:
        kept = await self._fallback.put(digest, document)
        try:
            return await self._primary.put(digest, document)
        except self._store_errors as exc:
            _store_down("persisted queries", exc)
            return kept

"""The security parts that live as long as the app: token verification, revocations, rate
buckets and persisted queries, in Redis when one is configured and in memory otherwise.

Built with the app (middleware hold a reference from the start); ``start()`` and
``close()`` run in the lifespan, which owns the Redis connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.types import Scope

from security import events
from security.config import SecurityConfig
from security.http import client_address, trusted_networks
from security.persisted import (
    MemoryQueryStore,
    PersistedQueries,
    QueryStore,
    RedisQueryStore,
    load_manifest,
)
from security.principal import Principal
from security.ratelimit import Buckets, Decision, MemoryBuckets, RedisBuckets
from security.revocation import MemoryRevocations, RedisRevocations, Revocations
from security.tokens import InvalidToken, TokenVerifier

RejectHook = Callable[[str], None]  # told the limit's name on every refusal (metrics)


class SecurityRuntime:
    def __init__(
        self, config: SecurityConfig, *, on_rate_limited: RejectHook | None = None
    ) -> None:
        self.config = config
        self.verifier = TokenVerifier(config.jwt)
        self.trusted_proxies = trusted_networks(config.rate_limit.trusted_proxies)
        self._manifest = (
            load_manifest(config.trusted_documents_path) if config.trusted_documents_path else None
        )
        self._on_rate_limited = on_rate_limited
        self._redis: Any = None
        self._revocations: Revocations = MemoryRevocations()
        self._buckets: Buckets = MemoryBuckets()
        self.persisted = self._persisted(MemoryQueryStore())

    def _persisted(self, store: QueryStore) -> PersistedQueries:
        return PersistedQueries(
            store, manifest=self._manifest, trusted_only=self.config.trusted_documents_only
        )

    async def start(self) -> None:
        if self.config.redis_url is None:
            return
        import redis.asyncio

        self._redis = redis.asyncio.from_url(self.config.redis_url)
        self._revocations = RedisRevocations(self._redis)
        self._buckets = RedisBuckets(self._redis)
        self.persisted = self._persisted(RedisQueryStore(self._redis))

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    # -- revocations (the AuthenticationMiddleware's store) ----------------------------------

    async def revoke(self, session_id: str, expires_at: float) -> None:
        await self._revocations.revoke(session_id, expires_at)
        events.emit(events.SESSION_REVOKED, session=session_id)

    async def is_revoked(self, session_id: str) -> bool:
        return await self._revocations.is_revoked(session_id)

    def principal_of_token(self, token: str) -> Principal | None:
        """The principal a token names when it verifies; None otherwise."""
        try:
            return self.verifier.verify(token)
        except InvalidToken:
            return None

    # -- rate limiting --------------------------------------------------------------------

    async def spend(
        self, principal: Principal | None, scope: Scope, cost: float
    ) -> Decision | None:
        """Spend ``cost`` from the caller's bucket; None when rate limiting is off."""
        limits = self.config.rate_limit
        if not limits.enabled:
            return None
        if principal is not None:
            key, rate, burst, limit = principal.key, limits.rate, limits.burst, "principal"
        else:
            address = client_address(scope, self.trusted_proxies)
            key = f"ip:{address}"
            rate, burst, limit = limits.anonymous_rate, limits.anonymous_burst, "anonymous"
        decision = await self._buckets.spend(key, cost, rate, burst)
        if not decision.allowed:
            events.emit(events.RATE_LIMITED, key=key, cost=cost, retry_after=decision.retry_after)
            if self._on_rate_limited is not None:
                self._on_rate_limited(limit)
        return decision

"""The minimum spend: every GraphQL or REST request pays ``minimum_cost`` from its caller's
rate-limit bucket before anything parses it, so that invalid documents, refused routes and
malformed bodies are not free. A GraphQL operation then pays its own cost when it executes
(``security.operation``)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from security.principal import Principal
from security.ratelimit import Decision
from security.responses import GRAPHQL_PATH, is_api, principal_of, reject

Spend = Callable[[Principal | None, Scope, float], Awaitable[Decision | None]]


def retry_after_seconds(decision: Decision) -> int | None:
    """Whole seconds until the request would fit; None when it never will."""
    if math.isinf(decision.retry_after):
        return None
    return max(1, math.ceil(decision.retry_after))


class MinimumSpendMiddleware:
    def __init__(self, app: ASGIApp, spend: Spend, minimum_cost: float) -> None:
        self.app = app
        self.spend = spend
        self.minimum_cost = minimum_cost

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (scope["path"] == GRAPHQL_PATH or is_api(scope["path"])):
            await self.app(scope, receive, send)
            return
        decision = await self.spend(principal_of(scope), scope, self.minimum_cost)
        if decision is None or decision.allowed:
            await self.app(scope, receive, send)
            return
        retry = retry_after_seconds(decision)
        await reject(
            scope,
            send,
            429,
            "RATE_LIMITED",
            "Rate limit exceeded" + (f"; retry after {retry} s" if retry is not None else ""),
            [(b"retry-after", str(retry).encode())] if retry is not None else [],
            extensions={"retryAfter": retry},
        )

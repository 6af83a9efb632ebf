"""The minimum spend: every GraphQL or REST request pays ``minimum_cost`` from its caller's
rate-limit bucket before anything parses it, so that invalid documents, refused routes and
malformed bodies are not free. A GraphQL operation then pays its own cost when it executes
(``security.operation``)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from starlette.types import Receive, Scope

from security.principal import Principal
from security.ratelimit import Decision
from security.responses import GRAPHQL_PATH, is_api, principal_of
from security.steps import Refused

Spend = Callable[[Principal | None, Scope, float], Awaitable[Decision | None]]


def retry_after_seconds(decision: Decision) -> int | None:
    """Whole seconds until the request would fit; None when it never will."""
    if math.isinf(decision.retry_after):
        return None
    return max(1, math.ceil(decision.retry_after))


class MinimumSpend:
    """The edge step that spends ``minimum_cost`` for every GraphQL and REST request, and
    refuses it with 429 RATE_LIMITED (and ``Retry-After`` when it will ever fit)."""

    def __init__(self, spend: Spend, minimum_cost: float) -> None:
        self.spend = spend
        self.minimum_cost = minimum_cost

    async def __call__(self, scope: Scope, receive: Receive) -> Receive:
        path = scope["path"]
        if not (path == GRAPHQL_PATH or is_api(path)):
            return receive
        decision = await self.spend(principal_of(scope), scope, self.minimum_cost)
        if decision is None or decision.allowed:
            return receive
        retry = retry_after_seconds(decision)
        raise Refused(
            429,
            "RATE_LIMITED",
            "Rate limit exceeded" + (f"; retry after {retry} s" if retry is not None else ""),
            [(b"retry-after", str(retry).encode())] if retry is not None else [],
            extensions={"retryAfter": retry},
        )

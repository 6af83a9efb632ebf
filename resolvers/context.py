"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from resolvers.loaders import Loaders
from upstreams.cache import CacheReport
from upstreams.config import CallContext
from upstreams.registry import Upstreams

if TYPE_CHECKING:
    from resolvers.live import Live


class Caller(Protocol):
    """Who is calling, as the resolvers need it: the gateway's authenticated principal
    (``security.principal.Principal``) is one. The resolvers do not decide what a role may
    do; the graph's permissions and the arguments it passes in do."""

    @property
    def id(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def session_id(self) -> str: ...

    @property
    def expires_at(self) -> float: ...


class Sessions(Protocol):
    """The gateway's book of auth's sessions (``security.sessions.Sessions`` is one): a
    session that ends is revoked at the gateway too, so its tokens stop working there and
    not only at the auth service; and it remembers which session each refresh token belongs
    to (auth's refresh answer does not name the session it ends)."""

    async def opened(
        self, session_id: str, expires_at: float, refresh_token: str | None
    ) -> None: ...

    async def ended(self, session: Caller) -> None: ...

    async def refreshed(
        self, refresh_token: str, caller: Caller | None, caller_ended: Callable[[], Awaitable[bool]]
    ) -> None: ...


class HealthReports(Protocol):
    """What the gateway's background health probes last found, read without calling any
    upstream: the gateway's health monitor is one. A report holds ``healthy``, ``status``
    (the service's own word, the kind of failure or ``http_503``), ``latency_ms`` (None
    when the breaker was open and nothing was sent) and ``error`` when the probe failed."""

    @property
    def checked_at(self) -> datetime | None:
        """When the last round of probes ended; None before the first."""
        ...

    def report(self, service: str) -> Mapping[str, Any] | None:
        """What the last probe of ``service`` found; None before its first probe."""
        ...

    @property
    def worker(self) -> Mapping[str, int]:
        """The process answering: ``pid``, and ``workers``, how many the gateway runs."""
        ...


@dataclass(slots=True)
class Context:
    """Built once per GraphQL request by the gateway's ``get_context``.

    ``loaders`` are fresh for every request, so their caches never leak between callers.
    """

    upstreams: Upstreams
    call: CallContext
    loaders: Loaders
    request_id: str
    default_page_size: int
    max_page_size: int
    principal: Caller | None = None
    sessions: Sessions | None = None
    health: HealthReports | None = None
    request: Any = None
    response: Any = None
    live: Live | None = None  # the live-changes hub (subscriptions, and writes announcing)
    event: Any = None  # the ``resolvers.live.Change`` a subscription is delivering

    @property
    def actor(self) -> str | None:
        """The caller's user id, recorded upstream as who created or changed a thing."""
        return None if self.principal is None else self.principal.id

    @classmethod
    def create(
        cls,
        upstreams: Upstreams,
        call: CallContext,
        *,
        default_page_size: int,
        max_page_size: int,
        principal: Caller | None = None,
        sessions: Sessions | None = None,
        health: HealthReports | None = None,
        request: Any = None,
        response: Any = None,
        live: Live | None = None,
    ) -> Context:
        return cls(
            upstreams=upstreams,
            call=call,
            loaders=Loaders(call),
            request_id=call.request_id or "",
            default_page_size=default_page_size,
            max_page_size=max_page_size,
            principal=principal,
            sessions=sessions,
            health=health,
            request=request,
            response=response,
            live=live,
        )

    def renew(self, timeout: float) -> None:
        """A fresh start for the next event of a subscription: a new deadline ``timeout``
        seconds away, a new cache report and new loaders (what it reads is read now)."""
        call = self.call
        self.call = dataclasses.replace(
            call,
            deadline=time.monotonic() + timeout,
            cache=None if call.cache is None else CacheReport(),
        )
        hook = self.loaders.on_batch
        self.loaders.release()
        self.loaders = Loaders(self.call, hook)

    async def announce(self, topic: str, record: Mapping[str, Any]) -> None:
        """A write changed ``record`` (``resolvers.live``: its subscribers, here and on
        every replica, hear of it)."""
        if self.live is not None:
            await self.live.changed(topic, record)

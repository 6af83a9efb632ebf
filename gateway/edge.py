"""The edge: one pure-ASGI layer in front of the routes, wrapping ``send`` once.

For every HTTP request, in this order:

1. the request id (``gateway.request_id``): the caller's ``X-Request-ID`` when well formed,
   a fresh one otherwise; in ``scope["state"]["request_id"]``, bound to structlog's
   contextvars for every log line of the request, echoed in the response; the request
   bound to the audit trail (``security.audit``), so that its security events say whose;
2. the request's stats (``gateway.observe``), the in-flight gauge and the clock;
3. the server span and its ``trace_id`` on the log lines, when tracing is on;
4. CORS, when origins are configured: Starlette's ``CORSMiddleware`` around what follows
   (it answers preflights itself, before anything below is spent on them);
5. the security steps (``security.steps``): authentication, the minimum spend, the body
   limit, CSRF, each refusing with ``Refused`` or letting the request on;
6. the app: a hot route straight to its endpoint (``gateway.shortcuts``), any other
   request through the routes.

Its one ``send`` wrapper records the status and adds the security headers and the request
id to the response. Once the response is done (or the request failed or was cancelled:
499, nginx's code for a client that went away), it ends the span and writes the metrics
and the access line (``gateway.access_log``). A WebSocket gets its request id (on its log
lines, not echoed: the handshake answer is the server's) and is bound to the audit trail;
other scopes (lifespan) pass straight on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, reset_contextvars

from gateway.access_log import log_request, route_template
from gateway.metrics import CLIENT_CLOSED, Metrics
from gateway.observe import begin_request, current_request, end_request
from gateway.request_id import HEADER, accept_request_id
from gateway.shortcuts import Shortcuts
from gateway.tracing import Tracing
from security import audit
from security.headers import with_security_headers
from security.proxies import TrustedProxies
from security.steps import Refused, Step

# Wraps the security steps and the app: CORS (``functools.partial(CORSMiddleware, ...)``).
Wrapper = Callable[[ASGIApp], ASGIApp]


class Edge:
    """What every HTTP request passes through, as the module docstring says."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        trusted_proxies: TrustedProxies,
        steps: Sequence[Step] = (),
        trail: audit.AuditTrail | None = None,
        tracing: Tracing | None = None,
        cors: Wrapper | None = None,
        shortcuts: Shortcuts | None = None,
    ) -> None:
        self.app = app
        self.shortcuts = shortcuts
        self.metrics = metrics
        self.trusted_proxies = trusted_proxies
        self.steps = tuple(steps)
        self.trail = trail or audit.AuditTrail(trusted_proxies=trusted_proxies)
        self.tracing = tracing
        self._inner: ASGIApp = self._guarded if cors is None else cors(self._guarded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == HEADER:
                incoming = value.decode("latin-1")
                break
        request_id = accept_request_id(incoming)
        scope.setdefault("state", {})["request_id"] = request_id
        if kind == "websocket":
            await self._socket(scope, receive, send, request_id)
            return
        raw_id = request_id.encode()
        tls = self.trusted_proxies.over_tls(scope)
        bound = bind_contextvars(request_id=request_id)
        audited = audit.bind(self.trail, scope)
        metrics = self.metrics
        stats, stats_token = begin_request()
        metrics.in_flight.inc()
        started = time.perf_counter()
        span = None if self.tracing is None else self.tracing.start_server_span(scope)
        traced = None if span is None else bind_contextvars(trace_id=span.trace_id)

        async def edge_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                stats.status = message["status"]
                headers = with_security_headers(message.get("headers", ()), tls=tls)
                headers = [(k, v) for k, v in headers if k != HEADER]
                headers.append((HEADER, raw_id))
                message["headers"] = headers
            await send(message)

        failed = 0
        try:
            await self._inner(scope, receive, edge_send)
        except asyncio.CancelledError as exc:
            failed = CLIENT_CLOSED
            if span is not None:
                span.failed(exc)
            raise
        except BaseException as exc:
            failed = 500
            if span is not None:
                span.failed(exc)
            raise
        finally:
            duration = time.perf_counter() - started
            metrics.in_flight.dec()
            end_request(stats_token)
            stats.close()
            route = route_template(scope)
            if span is not None:
                # The span of a cancelled request is an error (500), as it always was.
                span.end(scope["method"], route, stats.status or (500 if failed else 0))
            if not stats.status:
                stats.status = failed
            try:
                log_request(metrics, scope, route, duration, stats)
            finally:
                if traced is not None:
                    reset_contextvars(**traced)
                reset_contextvars(**bound)
                audit.unbind(audited)

    async def _socket(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        """A WebSocket: its request id on its log lines and audit events, then the app."""
        bound = bind_contextvars(request_id=request_id)
        audited = audit.bind(self.trail, scope)
        try:
            await self.app(scope, receive, send)
        finally:
            audit.unbind(audited)
            reset_contextvars(**bound)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The security steps, then the app; a refusal is answered unless the response
        has started (a body found too large once the app had begun to answer)."""
        try:
            for step in self.steps:
                receive = await step(scope, receive)
            shortcuts = self.shortcuts
            app = None if shortcuts is None else shortcuts.match(scope)
            await (self.app if app is None else app)(scope, receive, send)
        except Refused as refusal:
            stats = current_request()
            if stats is None or not stats.status:
                await refusal.answer(scope, send)

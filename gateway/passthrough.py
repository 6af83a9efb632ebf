"""The REST passthrough: legacy ``/api/...`` calls relayed, streamed, to their service.

A pure ASGI app mounted at ``/api``. For each request, in order:

1. **Path safety.** The raw path is percent-decoded once; a ``.`` or ``..`` segment
   (written plainly or encoded), an encoded ``/`` or ``\\``, a backslash, a NUL byte,
   an escape that survives decoding (``%252e``), or a path that is not UTF-8 is a 400, and
   nothing is forwarded.
2. **Route.** ``gateway.rest_routes`` picks the service by the longest matching prefix;
   none matches: 404.
3. **Guard.** ``guard(request, route)`` may answer instead (security: JWT, roles by route
   and method, rate limit). The default lets everything through.
4. **Threats.** ``security.threats`` scans the decoded path, the query parameters and a
   JSON or form body for injection patterns (unless the route is allowed): found, it is
   recorded, and in ``block`` mode the call is a 400 ``THREAT_DETECTED`` and nothing is
   sent. A body's first bytes (up to the scan's bound) are held back until scanned; the
   rest streams as before.
5. **Relay.** The method, path (re-quoted), query string, body and end-to-end headers go
   out through ``upstreams.streaming``: the service's own breaker, bulkhead and timeouts,
   shared with GraphQL; retries only for bodiless idempotent calls. Hop-by-hop headers
   are dropped both ways (``Connection`` and the headers it names, ``Keep-Alive``, ``TE``,
   ``Trailer``, ``Transfer-Encoding``, ``Upgrade``, ``Proxy-*``); ``X-Forwarded-For``,
   ``-Proto``, ``-Host`` and ``X-Request-ID`` are set. The upstream's status, headers and
   body come back as they are, except ``Date`` and ``Server``, which the gateway's server
   writes itself.

Both bodies are streamed: an upload is read from ``receive`` as the upstream takes it,
a download is relayed chunk by chunk, so memory does not grow with their size. A client
that goes away cancels the upstream call (its connection is closed).

The gateway's own errors use the legacy shape ``{"error": {"code", "message"}}``: 400
``INVALID_PATH`` and ``THREAT_DETECTED``, 404 ``NOT_FOUND``, 408 ``REQUEST_TIMEOUT`` (the
client stalled while sending its body), 502 ``BAD_GATEWAY`` (the service could not be reached), 503
``SERVICE_UNAVAILABLE`` with ``Retry-After`` (breaker open, bulkhead full), 504
``GATEWAY_TIMEOUT``. The upstream's own error answers pass through unchanged.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl, quote, unquote_to_bytes

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

from gateway.request_id import accept_request_id
from gateway.rest_routes import LegacyRoute, RouteMap
from gateway.runtime import Runtime
from security import audit
from security.proxies import TrustedProxies
from security.responses import header
from security.threats import MESSAGE as THREAT_MESSAGE
from security.threats import THREAT_DETECTED, ThreatDetector, scanned_body
from upstreams.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from upstreams.streaming import RawHeaders, open_stream

log = structlog.get_logger()

Guard = Callable[[Request, LegacyRoute], Awaitable[Response | None]]
"""The security hook: return a response to answer instead of the upstream (401, 403, 429
in the legacy error shape; see ``legacy_error``), or None to let the call through. The
request's body cannot be read here (it is streamed to the upstream): a rule that depends
on the body is a ``Tap``."""


class Tap(Protocol):
    """An exchange the gateway must see whole: the request body before it is sent (to
    refuse by what it asks), the answer before the client hears it (to act on what the
    call did). Both are buffered, up to ``MAX_TAPPED_BYTES`` each; every other exchange is
    streamed."""

    def wants(self, method: str, path: str) -> bool:
        """Whether this tap sees the exchange (``path``: the decoded legacy path)."""
        ...

    async def before(self, request: Request, body: bytes) -> Response | None:
        """A response to answer instead of the upstream, or None to send the call."""
        ...

    async def after(self, request: Request, body: bytes, status: int, answer: bytes) -> None:
        """Told the upstream's status and body before the client is."""
        ...


class _Taps:
    """Several taps of one exchange, in order: the first refusal answers; each is told."""

    def __init__(self, taps: Sequence[Tap]) -> None:
        self.taps = taps

    def wants(self, method: str, path: str) -> bool:
        return True

    async def before(self, request: Request, body: bytes) -> Response | None:
        for tap in self.taps:
            denied = await tap.before(request, body)
            if denied is not None:
                return denied
        return None

    async def after(self, request: Request, body: bytes, status: int, answer: bytes) -> None:
        for tap in self.taps:
            await tap.after(request, body, status, answer)


MAX_TAPPED_BYTES = 64 * 1024
_TOO_LARGE_FOR_TAP = f"this route takes at most {MAX_TAPPED_BYTES} bytes"

DEFAULT_BODY_IDLE_TIMEOUT = 30.0

HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
)
# Request headers the gateway writes itself (Host is the upstream's; Expect is answered by
# the gateway's own server) or takes from a client only when it is a trusted proxy.
_REPLACED = frozenset({b"host", b"expect", b"x-request-id"})
_FORWARDING = frozenset(
    {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded", b"x-real-ip"}
)
# Response headers the gateway's server writes itself: relaying them would duplicate them.
_SERVER_WRITTEN = frozenset({b"date", b"server"})
# The services' own CORS headers (the release allows every origin): the gateway's CORS
# policy is the only one a browser may see.
_CORS_PREFIX = b"access-control-"

# Refused in the raw path: a backslash, a NUL, an encoded ``/``, backslash or NUL. Refused once
# decoded: a backslash, a NUL, an escape that survived (``%2e``, ``%2f``, ``%5c``), and a
# ``.`` or ``..`` segment.
_REFUSED_RAW = re.compile(rb"[\\\x00]|%(?:2f|5c|00)", re.IGNORECASE)
_REFUSED_DECODED = re.compile(rb"[\\\x00]|%(?:2e|2f|5c)|(?:^|/)\.\.?(?=/|\Z)", re.IGNORECASE)
_PATH_SAFE = "/:@!$&'()*+,;=~"
_JSON = [(b"content-type", b"application/json")]


async def allow_all(request: Request, route: LegacyRoute) -> Response | None:
    """The default guard: lets every call through (security plugs in its own)."""
    return None


@dataclass(frozen=True, slots=True)
class PassthroughConfig:
    """``trusted_proxies``: peers whose ``X-Forwarded-*`` headers are kept and extended;
    anyone else's are replaced. ``body_idle_timeout``: seconds a client may pause while
    sending its body before the call is abandoned with a 408."""

    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)
    body_idle_timeout: float = DEFAULT_BODY_IDLE_TIMEOUT

    def __post_init__(self) -> None:
        if self.body_idle_timeout <= 0:
            raise ValueError(f"body idle timeout must be positive: {self.body_idle_timeout!r}")


def legacy_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """An error answer in the legacy shape ``{"error": {"code": ..., "message": ...}}``."""
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return Response(body, status, headers=headers, media_type="application/json")


class ClientDisconnected(Exception):
    """The client went away while its request was being relayed."""


class ClientStalled(Exception):
    """The client stopped sending its body for longer than the idle timeout."""


class Passthrough:
    """The ``/api`` ASGI app (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        routes: RouteMap | None = None,
        guard: Guard = allow_all,
        taps: Sequence[Tap] = (),
        config: PassthroughConfig | None = None,
        threats: ThreatDetector | None = None,
    ) -> None:
        self.runtime = runtime
        self.threats = threats if threats is not None and threats.enabled else None
        self.routes = routes or RouteMap()
        self.guard = guard
        self.taps = tuple(taps)
        self.config = config or PassthroughConfig()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # a WebSocket under /api: there is none to relay to
            await WebSocketClose()(scope, receive, send)
            return
        raw_path: bytes = scope.get("raw_path") or quote(scope["path"]).encode()
        path = _safe_path(raw_path)
        if path is None:
            audit.emit(audit.PATH_REFUSED, audit.REFUSED)
            await _error(scope, receive, send, 400, "INVALID_PATH", "the path is not allowed")
            return
        route = self.routes.match(path)
        if route is None:
            await _error(scope, receive, send, 404, "NOT_FOUND", "no such API route")
            return
        # The legacy prefix names the route in logs and metrics (bounded: the map is fixed).
        scope.setdefault("state", {})["route_template"] = f"{route.prefix}/{{path}}"
        request = Request(scope)
        denied = await self.guard(request, route)
        if denied is not None:
            await denied(scope, receive, send)
            return
        threats = self.threats
        if threats is not None and threats.route_allowed(path):
            threats = None
        if threats is not None:
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), True)
            if threats.refuses(threats.rest(path, query)):
                await _error(scope, receive, send, 400, THREAT_DETECTED, THREAT_MESSAGE)
                return
        wanted = [t for t in self.taps if t.wants(scope["method"], path)] if self.taps else []
        tap = None if not wanted else wanted[0] if len(wanted) == 1 else _Taps(wanted)
        await self._relay(scope, receive, send, route, path, tap, threats)

    async def _relay(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        route: LegacyRoute,
        path: str,
        tap: Tap | None,
        threats: ThreatDetector | None = None,
    ) -> None:
        method: str = scope["method"]
        target = quote(route.upstream_path(path), safe=_PATH_SAFE).encode("ascii")
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        headers, has_body = self._request_headers(scope)
        exchange = _Exchange(receive, send, self.config.body_idle_timeout)
        body: AsyncIterator[bytes] | None = exchange.request_body() if has_body else None
        if body is None:
            exchange.body_read.set()
        client = self.runtime.upstreams[route.service]
        task = asyncio.current_task()
        assert task is not None
        watcher = asyncio.create_task(exchange.watch_disconnect(task))
        content_type = header(scope, b"content-type") if threats is not None else None
        if not scanned_body(content_type):
            threats = None
        try:
            sent = b""
            if threats is not None and body is not None and tap is None:
                # The first bytes are held back until they are scanned: a blocked body is
                # never sent.
                head, complete = await _peek(body, threats.config.max_scan)
                if threats.refuses(threats.body(head, content_type, complete)):
                    await _error(scope, receive, send, 400, THREAT_DETECTED, THREAT_MESSAGE)
                    return
                body = _prepended(head, body)
            if tap is not None:
                whole = await _read_whole(body) if body is not None else b""
                if whole is None:
                    await _error(scope, receive, send, 413, "PAYLOAD_TOO_LARGE", _TOO_LARGE_FOR_TAP)
                    return
                sent = whole
                if threats is not None and threats.refuses(threats.body(sent, content_type, True)):
                    await _error(scope, receive, send, 400, THREAT_DETECTED, THREAT_MESSAGE)
                    return
                denied = await tap.before(Request(scope), sent)
                if denied is not None:
                    await denied(scope, receive, send)
                    return
                body = _once(sent) if body is not None else None
            async with open_stream(client, method, target, headers, body) as upstream:
                response_headers = _response_headers(upstream.headers)
                async with aclosing(upstream.body()) as chunks:
                    if tap is None:
                        await exchange.relay(upstream.status, response_headers)
                        await exchange.relay_body(chunks)
                        return
                    answer = await _read_whole(chunks)
                if answer is None:
                    log.warning("passthrough.tapped_answer_too_large", service=route.service)
                    await _error(
                        scope, receive, send, 502, "BAD_GATEWAY", "the answer was too large"
                    )
                    return
                # The gateway acts on what the call did before the client hears of it.
                await tap.after(Request(scope), sent, upstream.status, answer)
                await exchange.relay(upstream.status, response_headers)
                await exchange.relay_body(_once(answer))
        except ClientStalled:
            if not exchange.started:
                await _error(scope, receive, send, 408, "REQUEST_TIMEOUT", "request body stalled")
        except ClientDisconnected:
            pass
        except UpstreamError as exc:
            if exchange.started:  # too late for an error answer: end the connection
                log.warning("passthrough.body_broken", service=exc.service, error=exc.message)
                raise
            await _upstream_error(scope, receive, send, exc)
        except asyncio.CancelledError:
            if exchange.disconnected and task.uncancel() == 0:
                return  # our own watcher cancelled the relay: the client is gone
            raise
        finally:
            watcher.cancel()

    def _request_headers(self, scope: Scope) -> tuple[RawHeaders, bool]:
        """End-to-end request headers plus the forwarding ones; and whether a body follows."""
        raw: list[tuple[bytes, bytes]] = scope["headers"]
        peer = scope["client"][0] if scope.get("client") else None
        trusted = self.config.trusted_proxies.trusts(scope)
        dropped = _connection_tokens(raw)
        headers: RawHeaders = []
        has_body = False
        host = b""
        incoming: dict[bytes, bytes] = {}
        request_id: str | None = None
        for name, value in raw:
            if name in HOP_BY_HOP or name in dropped or name.startswith(b"proxy-"):
                if name == b"transfer-encoding":
                    has_body = True
                continue
            if name in _REPLACED:
                if name == b"host":
                    host = value
                elif name == b"x-request-id":
                    request_id = value.decode("latin-1")
                continue
            if name in _FORWARDING:
                if trusted:
                    incoming[name] = value
                continue
            if name == b"content-length" and value.strip() not in (b"", b"0"):
                has_body = True
            headers.append((name, value))
        state_id = scope.get("state", {}).get("request_id")
        headers.append((b"x-request-id", (state_id or accept_request_id(request_id)).encode()))
        if not any(name == b"accept-encoding" for name, _ in headers):
            # Otherwise the HTTP client offers gzip on the caller's behalf.
            headers.append((b"accept-encoding", b"identity"))
        peer_bytes = (peer or "unknown").encode()
        chain = incoming.get(b"x-forwarded-for")
        forwarded_for = chain + b", " + peer_bytes if chain else peer_bytes
        headers.append((b"x-forwarded-for", forwarded_for))
        scheme = scope.get("scheme", "http").encode()
        headers.append((b"x-forwarded-proto", incoming.get(b"x-forwarded-proto", scheme)))
        if not host and scope.get("server"):
            host_name, port = scope["server"]
            host = f"{host_name}:{port}".encode()
        headers.append((b"x-forwarded-host", incoming.get(b"x-forwarded-host", host)))
        if trusted:
            headers.extend(
                (name, incoming[name]) for name in (b"forwarded", b"x-real-ip") if name in incoming
            )
        return headers, has_body


class _Exchange:
    """One client's side of a relay: its body as an iterator, the answer sent back, and a
    watcher that cancels the relay when the client disconnects."""

    def __init__(self, receive: Receive, send: Send, idle_timeout: float) -> None:
        self._receive = receive
        self._send = send
        self._idle_timeout = idle_timeout
        self.body_read = asyncio.Event()
        self.started = False
        self.finished = False
        self.disconnected = False

    async def request_body(self) -> AsyncIterator[bytes]:
        more = True
        while more:
            try:
                async with asyncio.timeout(self._idle_timeout):
                    message = await self._receive()
            except TimeoutError:
                raise ClientStalled from None
            if message["type"] == "http.disconnect":
                self.disconnected = True
                raise ClientDisconnected
            more = message.get("more_body", False)
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
        self.body_read.set()

    async def watch_disconnect(self, relay: asyncio.Task[None]) -> None:
        """Once the body is read (only then is ``receive`` free), wait for a disconnect."""
        await self.body_read.wait()
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                break
        if not self.finished:
            self.disconnected = True
            relay.cancel()

    async def relay(self, status: int, headers: RawHeaders) -> None:
        self.started = True
        await self._send({"type": "http.response.start", "status": status, "headers": headers})

    async def relay_body(self, chunks: AsyncIterator[bytes]) -> None:
        # One chunk is held back so the last goes out with more_body=False: a small answer
        # is one body message.
        pending: bytes | None = None
        async for chunk in chunks:
            if pending is not None:
                await self._send({"type": "http.response.body", "body": pending, "more_body": True})
            pending = chunk
        self.finished = True
        await self._send({"type": "http.response.body", "body": pending or b""})


async def _read_whole(chunks: AsyncIterator[bytes]) -> bytes | None:
    """All of ``chunks``, or None past ``MAX_TAPPED_BYTES``."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > MAX_TAPPED_BYTES:
            return None
        parts.append(chunk)
    return b"".join(parts)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _peek(chunks: AsyncIterator[bytes], limit: int) -> tuple[bytes, bool]:
    """At least ``limit`` bytes of ``chunks`` (or all of them, when fewer), and whether
    that was all."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            return b"".join(parts), True
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts), False


async def _prepended(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if head:
        yield head
    async for chunk in rest:
        yield chunk


def _safe_path(raw_path: bytes) -> str | None:
    """The decoded path, or None when it must not be forwarded (see the module docstring)."""
    if _REFUSED_RAW.search(raw_path):
        return None
    decoded = unquote_to_bytes(raw_path)
    if _REFUSED_DECODED.search(decoded):
        return None
    try:
        return decoded.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _connection_tokens(headers: RawHeaders) -> frozenset[bytes]:
    """The header names that a ``Connection`` header marks as hop-by-hop."""
    names: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            names.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return frozenset(names)


def _response_headers(headers: RawHeaders) -> RawHeaders:
    dropped = _connection_tokens(headers)
    return [
        (name, value)
        for name, value in headers
        if name not in HOP_BY_HOP
        and name not in dropped
        and name not in _SERVER_WRITTEN
        and not name.startswith(b"proxy-")
        and not name.startswith(_CORS_PREFIX)
    ]


async def _error(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    await legacy_error(status, code, message, headers)(scope, receive, send)


async def _upstream_error(scope: Scope, receive: Receive, send: Send, exc: UpstreamError) -> None:
    service = exc.service
    if isinstance(exc, UpstreamTimeout):
        await _error(
            scope, receive, send, 504, "GATEWAY_TIMEOUT", f"the {service} service timed out"
        )
    elif isinstance(exc, UpstreamUnavailable) and exc.retry_after is not None:
        retry_after = str(max(1, math.ceil(exc.retry_after)))
        message = f"the {service} service is temporarily unavailable"
        await _error(
            scope, receive, send, 503, "SERVICE_UNAVAILABLE", message, {"Retry-After": retry_after}
        )
    else:
        message = f"the {service} service could not be reached: {exc.message}"
        await _error(scope, receive, send, 502, "BAD_GATEWAY", message)

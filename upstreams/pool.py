"""The one HTTP connection pool of a process.

httpx is the client API: calls are ``httpx.Request`` objects answered by an
``httpx.AsyncBaseTransport``. httpx's own transport is slow under concurrency (encode/httpx
#3215), so the aiohttp transport of ``httpx-aiohttp`` does the I/O. The app's lifespan
creates the pool and closes it (``await pool.aclose()``) on shutdown.

Requests go straight to the transport, not through an ``httpx.AsyncClient``. The client's
layers are all things a gateway must not have: its cookie jar is shared by every caller (a
``Set-Cookie`` in one upstream answer would ride on everyone's later requests), and
redirects are the caller's to see, not to follow. Building and sending through them also
cost about 120 µs a call, measured against the sandbox: 280-310 µs through
``AsyncClient.request``, 163 µs through the transport (aiohttp alone: 55 µs).
Timeouts are set per request (``extensions["timeout"]``); the transport honours the
``connect`` and ``read`` ones.
"""

from __future__ import annotations

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

DEFAULT_MAX_CONNECTIONS = 512
DEFAULT_KEEPALIVE = 128
DEFAULT_KEEPALIVE_EXPIRY = 30.0


class HttpPool:
    """Pooled connections behind one httpx transport: ``send`` a request, ``aclose`` once."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; the answer's body is still unread (``aread`` or stream it, then
        ``aclose`` it: an answer closed before its end takes its connection with it)."""
        return await self.transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self.transport.aclose()


def create_http_pool(
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    keepalive: int = DEFAULT_KEEPALIVE,
    keepalive_expiry: float = DEFAULT_KEEPALIVE_EXPIRY,
) -> HttpPool:
    """The pool over aiohttp. Call from inside the running loop's lifespan; the aiohttp
    session is created lazily on the first request."""
    if max_connections <= 0:
        raise ValueError(f"max_connections must be positive, got {max_connections!r}")
    if keepalive < 0:
        raise ValueError(f"keepalive must not be negative, got {keepalive!r}")
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=keepalive,
        keepalive_expiry=keepalive_expiry,
    )

    def session() -> aiohttp.ClientSession:
        # No cookie jar: the pool is shared by every caller, so a cookie one upstream
        # answer set must never ride along on another caller's request.
        connector = aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=keepalive_expiry)
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    # trust_env=False: upstream URLs are explicit settings; no proxy from the environment.
    return HttpPool(AiohttpTransport(limits=limits, trust_env=False, client=session))

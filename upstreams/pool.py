"""The one HTTP connection pool of a process: one ``aiohttp.ClientSession``.

Calls go straight to aiohttp, with no client models in between (httpx's request and
response models cost about 110 µs a call, measured against the sandbox). The app's lifespan
creates the pool and closes it (``await pool.aclose()``) on shutdown; the session itself is
created lazily on the first request, inside the running loop.

The session has none of the layers a gateway must not have: no cookie jar (the pool is
shared by every caller, so a ``Set-Cookie`` in one upstream answer must never ride along on
another caller's request), no redirect following (redirects are the caller's to see), and
no proxy or credentials from the environment (``trust_env`` off: upstream URLs are explicit
settings). Timeouts are set per request by ``upstreams.pipeline``.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import aiohttp

DEFAULT_MAX_CONNECTIONS = 512
DEFAULT_KEEPALIVE = 128
DEFAULT_KEEPALIVE_EXPIRY = 30.0

Headers = dict[str, str] | list[tuple[str, str]]


class HttpPool:
    """Pooled connections behind one aiohttp session: ``request`` one, ``aclose`` once."""

    def __init__(self, session: Callable[[], aiohttp.ClientSession]) -> None:
        self._factory = session
        self._session: aiohttp.ClientSession | None = None

    async def request(
        self,
        method: str,
        url: str,
        headers: Headers,
        data: Any,
        limits: aiohttp.ClientTimeout,
        *,
        decompress: bool,
        tls: ssl.SSLContext | bool = True,
    ) -> aiohttp.ClientResponse:
        """Send one request; the answer's body is still unread (``read`` it, or stream
        ``content`` and ``release`` it: an answer closed before its end takes its connection
        with it). ``decompress`` False leaves the body as the upstream encoded it. ``tls``
        is the service's (``upstreams.tls.context``): an ``https://`` connection is opened
        with it, and pooled apart from those of other contexts."""
        session = self._session
        if session is None:
            session = self._session = self._factory()
        return await session.request(
            method,
            url,
            headers=headers,
            data=data,
            timeout=limits,
            allow_redirects=False,
            auto_decompress=decompress,
            compress=False,
            ssl=tls,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def create_http_pool(
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    keepalive: int = DEFAULT_KEEPALIVE,
    keepalive_expiry: float = DEFAULT_KEEPALIVE_EXPIRY,
) -> HttpPool:
    """The pool over aiohttp. Call from inside the running loop's lifespan."""
    if max_connections <= 0:
        raise ValueError(f"max_connections must be positive, got {max_connections!r}")
    if keepalive < 0:
        raise ValueError(f"keepalive must not be negative, got {keepalive!r}")

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=keepalive_expiry)
        return aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
        )

    return HttpPool(session)

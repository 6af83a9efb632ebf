"""The one pooled HTTP client of a process.

httpx is the client API; its default transport is slow under concurrency (encode/httpx
#3215), so the aiohttp transport of ``httpx-aiohttp`` does the I/O. The app's lifespan
creates the client and closes it (``await client.aclose()``) on shutdown. Timeouts are set
per request by ``UpstreamClient``; the transport honours the ``connect`` and ``read`` ones.
"""

from __future__ import annotations

from http.cookiejar import DefaultCookiePolicy

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

DEFAULT_MAX_CONNECTIONS = 512
DEFAULT_KEEPALIVE = 128
DEFAULT_KEEPALIVE_EXPIRY = 30.0


def create_http_client(
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    keepalive: int = DEFAULT_KEEPALIVE,
    keepalive_expiry: float = DEFAULT_KEEPALIVE_EXPIRY,
) -> httpx.AsyncClient:
    """A pooled ``httpx.AsyncClient`` over aiohttp. Call from inside the running loop's
    lifespan; the aiohttp session is created lazily on the first request."""
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

    # trust_env=False: proxy variables would mount httpx's own (slow) transport beside ours,
    # and upstream URLs are explicit settings anyway.
    client = httpx.AsyncClient(
        transport=AiohttpTransport(limits=limits, trust_env=False, client=session),
        limits=limits,
        trust_env=False,
        follow_redirects=False,
    )
    # httpx keeps a cookie jar of its own too: make it refuse every cookie.
    client.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return client

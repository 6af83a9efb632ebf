"""HTTP-level guards as pure ASGI middleware: authentication, CSRF prevention, body size,
security headers; and the client address as the rate limiter sees it.

Each answers a refusal itself, in the shape of the surface it guards: GraphQL errors with
a code for /graphql, the legacy ``{"error": {"code", "message"}}`` for /api.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from security import events
from security.principal import Principal
from security.revocation import Revocations
from security.tokens import InvalidToken, TokenVerifier, bearer_token

GRAPHQL_PATH = "/graphql"
API_PREFIX = "/api"


def _state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


def principal_of(scope: Scope) -> Principal | None:
    return scope.get("state", {}).get("principal")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def reject(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Answer a refusal in the shape of the surface that was called."""
    if scope["path"].startswith(API_PREFIX + "/") or scope["path"] == API_PREFIX:
        body = orjson.dumps({"error": {"code": code, "message": message}})
    else:
        body = orjson.dumps(
            {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
        )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AuthenticationMiddleware:
    """Verifies a bearer token when one is sent and puts the ``Principal`` (or None) in
    ``scope["state"]["principal"]``. A token that is sent but not valid, or whose session
    was revoked, is refused here with 401: a client that meant to authenticate must know
    it did not. What an anonymous caller may do is the authorization layer's decision."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier, revocations: Revocations) -> None:
        self.app = app
        self.verifier = verifier
        self.revocations = revocations

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            token = bearer_token(_header(scope, b"authorization"))
            principal = None if token is None else self.verifier.verify(token)
        except InvalidToken as exc:
            events.emit(events.TOKEN_REJECTED, reason=exc.reason, path=scope["path"])
            await reject(
                scope,
                send,
                401,
                "UNAUTHENTICATED",
                f"Invalid bearer token: {exc.reason}",
                [(b"www-authenticate", b'Bearer error="invalid_token"')],
            )
            return
        if principal is not None and await self.revocations.is_revoked(principal.session_id):
            events.emit(events.REVOKED_TOKEN_USED, principal=principal.id, path=scope["path"])
            await reject(
                scope,
                send,
                401,
                "UNAUTHENTICATED",
                "This session has ended; log in again",
                [(b"www-authenticate", b'Bearer error="invalid_token"')],
            )
            return
        _state(scope)["principal"] = principal
        await self.app(scope, receive, send)


_SIMPLE_CONTENT_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")
_PREFLIGHT_HEADERS = (b"apollo-require-preflight", b"x-apollo-operation-name")


class CsrfMiddleware:
    """Refuses GraphQL requests a browser could send cross-site without a preflight.

    A GET that carries an operation, and a POST with a "simple" content type (form or
    multipart uploads), must carry a non-empty ``apollo-require-preflight`` or
    ``x-apollo-operation-name`` header, or a non-simple Content-Type (as Apollo Server
    does). Mutations over GET are refused by the GraphQL view itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != GRAPHQL_PATH or self._safe(scope):
            await self.app(scope, receive, send)
            return
        events.emit(events.CSRF_REJECTED, method=scope["method"])
        await reject(
            scope,
            send,
            400,
            "CSRF_PREVENTION",
            "This operation has been blocked as a potential cross-site request forgery: "
            "send a non-empty 'apollo-require-preflight' header, or a JSON Content-Type",
        )

    @staticmethod
    def _safe(scope: Scope) -> bool:
        method = scope["method"]
        if method == "GET" and not scope.get("query_string"):
            return True  # the GraphiQL page, no operation
        if method not in ("GET", "POST"):
            return True  # the view answers 405
        headers = dict(scope["headers"])
        if any(headers.get(name, b"").strip() for name in _PREFLIGHT_HEADERS):
            return True
        content_type = headers.get(b"content-type", b"").decode("latin-1").split(";")[0]
        content_type = content_type.strip().lower()
        return bool(content_type) and content_type not in _SIMPLE_CONTENT_TYPES


class BodyLimitMiddleware:
    """Caps request bodies on /graphql: ``max_bytes``, or ``max_upload_bytes`` for multipart
    uploads. Declared lengths are refused up front; undeclared ones as they stream in."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != GRAPHQL_PATH:
            await self.app(scope, receive, send)
            return
        content_type = (_header(scope, b"content-type") or "").lower()
        limit = self.max_upload_bytes if content_type.startswith("multipart/") else self.max_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(scope, send, limit)
            return
        received = 0
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send_tracking)
        except _BodyTooLarge:
            if not started:
                await self._too_large(scope, send, limit)

    @staticmethod
    async def _too_large(scope: Scope, send: Send, limit: int) -> None:
        events.emit(events.BODY_TOO_LARGE, limit=limit)
        await reject(scope, send, 413, "PAYLOAD_TOO_LARGE", f"Request body exceeds {limit} bytes")


class _BodyTooLarge(Exception):
    pass


# GraphiQL is served from the gateway itself: scripts from 'self' only, no inline script;
# its editor sets inline styles, hence style-src 'unsafe-inline'.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)


class SecurityHeadersMiddleware:
    """CSP, X-Frame-Options, X-Content-Type-Options, Referrer-Policy on every response;
    HSTS when the request came over TLS."""

    def __init__(self, app: ASGIApp, trusted_proxies: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted = _networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https" or (
            _from_trusted(scope, self.trusted)
            and (_header(scope, b"x-forwarded-proto") or "").lower() == "https"
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                if tls:
                    extra.append(
                        (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
                    )
                headers.extend((k, v) for k, v in extra if k not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _in(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def _from_trusted(scope: Scope, trusted: tuple[Network, ...]) -> bool:
    client = scope.get("client")
    return bool(trusted) and client is not None and _in(client[0], trusted)


def client_address(scope: Scope, trusted_proxies: tuple[Network, ...]) -> str:
    """The caller's address: the peer, or, when the peer is a trusted proxy, the nearest
    X-Forwarded-For entry that is not itself a trusted proxy."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not _from_trusted(scope, trusted_proxies):
        return str(peer)
    forwarded = _header(scope, b"x-forwarded-for")
    if not forwarded:
        return str(peer)
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if not _in(hop, trusted_proxies):
            return hop
    return str(peer)


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return _networks(entries)

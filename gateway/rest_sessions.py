"""Login, refresh and logout through the REST passthrough keep the gateway's session book
(``security.sessions``) as the GraphQL mutations do.

A passthrough ``Tap`` on ``POST /api/auth/login``, ``/api/auth/refresh`` and
``/api/auth/logout``:

- **login** and **refresh**: once auth has answered 2xx, the new session's refresh token is
  linked to it; a refresh also ends the session of the refresh token it used (or, when the
  gateway never saw that token, the caller's bearer session if auth says it has ended).
- **logout** ends the caller's own session, as the GraphQL mutation does: the body must
  name the session of the caller's token (auth itself would end any session the body
  names, anyone's): another session is refused with 403 FORBIDDEN and nothing is sent. The
  session is revoked at the gateway before the call, so it ends even when auth fails; a
  body that names no session is left to auth to refuse.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.passthrough import legacy_error
from gateway.runtime import Runtime
from resolvers.users import session_ended
from security import audit
from security.responses import principal_of
from security.sessions import SessionEnded, Sessions
from security.tokens import InvalidToken, bearer_token
from upstreams.config import CallContext
from upstreams.normalize import parse_timestamp

LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh"
LOGOUT = "/api/auth/logout"
_TAPPED = frozenset({LOGIN, REFRESH, LOGOUT})


class SessionTap:
    """The passthrough tap of the module docstring."""

    def __init__(self, runtime: Runtime, sessions: Sessions) -> None:
        self._runtime = runtime
        self._sessions = sessions

    def wants(self, method: str, path: str) -> bool:
        return method == "POST" and path in _TAPPED

    async def before(self, request: Request, body: bytes) -> Response | None:
        principal = principal_of(request.scope)
        if request.url.path != LOGOUT or principal is None:
            return None  # logout without a token: the guard has answered already
        named = _uuid(_json(body).get("session_id"))
        if named is None:
            return None
        if named != _uuid(principal.session_id):
            audit.emit(audit.FORBIDDEN, audit.REFUSED, rule="own session")
            return legacy_error(
                403, "FORBIDDEN", "Not allowed: a logout ends the caller's own session only"
            )
        await self._sessions.ended(principal)
        return None

    async def after(self, request: Request, body: bytes, status: int, answer: bytes) -> None:
        path = request.url.path
        if path == LOGIN and status < 500:
            email = _json(body).get("email")
            outcome = audit.SUCCEEDED if 200 <= status < 300 else audit.FAILED
            data = _json(answer).get("data") if status < 300 else None
            session = data.get("session_id") if isinstance(data, dict) else None
            audit.emit(audit.LOGIN, outcome, email=email, session=session, status=status)
        if path == LOGOUT or not 200 <= status < 300:
            return
        if path == REFRESH:
            used = _json(body).get("refresh_token")
            if isinstance(used, str) and used:
                await self._sessions.refreshed(
                    used, principal_of(request.scope), self._caller_ended(request)
                )
        data = _json(answer).get("data")
        if not isinstance(data, dict) or not isinstance(data.get("session_id"), str):
            return
        expires = parse_timestamp(data.get("expires_at"))
        refresh_token = data.get("refresh_token")
        await self._sessions.opened(
            data["session_id"],
            expires.timestamp() if isinstance(expires, datetime) else 0.0,
            refresh_token if isinstance(refresh_token, str) else None,
        )

    def _caller_ended(self, request: Request) -> SessionEnded:
        async def ended() -> bool:
            try:
                token = bearer_token(request.headers.get("authorization"))
            except InvalidToken:
                token = None
            if token is None:
                return False
            call = CallContext(
                authorization=request.headers.get("authorization"),
                request_id=request.scope.get("state", {}).get("request_id"),
            )
            return await session_ended(self._runtime.upstreams.auth, call, token)

        return ended


def _json(body: bytes) -> dict[str, Any]:
    """A JSON object body; empty when the body is not one."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _uuid(value: Any) -> str | None:
    """The canonical spelling of a UUID, or None when ``value`` is not one."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None

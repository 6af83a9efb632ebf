"""Authentication: a bearer token, when one is sent, becomes the request's ``Principal``."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from security import events
from security.responses import header, reject, state
from security.revocation import Revocations
from security.tokens import InvalidToken, TokenVerifier, bearer_token


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
            token = bearer_token(header(scope, b"authorization"))
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
        state(scope)["principal"] = principal
        await self.app(scope, receive, send)

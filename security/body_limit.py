"""Request body size limits on /graphql."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from security import events
from security.responses import GRAPHQL_PATH, header, reject


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
        content_type = (header(scope, b"content-type") or "").lower()
        limit = self.max_upload_bytes if content_type.startswith("multipart/") else self.max_bytes
        declared = header(scope, b"content-length")
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

"""Request body size limits on /graphql."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope

from security import audit
from security.responses import GRAPHQL_PATH, header
from security.steps import Refused


class BodyLimit:
    """The edge step that caps request bodies on /graphql: ``max_bytes``, or
    ``max_upload_bytes`` for multipart uploads. Declared lengths are refused up front;
    undeclared ones as they stream in (the ``receive`` it returns raises ``Refused``)."""

    def __init__(self, max_bytes: int, max_upload_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive) -> Receive:
        if scope["path"] != GRAPHQL_PATH:
            return receive
        content_type = (header(scope, b"content-type") or "").lower()
        limit = self.max_upload_bytes if content_type.startswith("multipart/") else self.max_bytes
        declared = header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise _too_large(limit)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)
            return message

        return limited_receive


def _too_large(limit: int) -> Refused:
    audit.emit(audit.BODY_TOO_LARGE, audit.REFUSED, limit=limit)
    return Refused(413, "PAYLOAD_TOO_LARGE", f"Request body exceeds {limit} bytes")

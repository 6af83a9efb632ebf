"""What the HTTP guards share: the surface a path belongs to, a request header, and a
refusal answered in that surface's shape (GraphQL errors with a code for /graphql, the
legacy ``{"error": {"code", "message"}}`` for /api)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from starlette.types import Scope, Send

from security.principal import Principal

GRAPHQL_PATH = "/graphql"
API_PREFIX = "/api"


def state(scope: Scope) -> dict[str, Any]:
    """The request's ``scope["state"]``, created when missing."""
    found: dict[str, Any] = scope.setdefault("state", {})
    return found


def principal_of(scope: Scope) -> Principal | None:
    return scope.get("state", {}).get("principal")


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the request header ``name`` (lowercase bytes), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def is_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


async def reject(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
    extensions: dict[str, Any] | None = None,
) -> None:
    """Answer a refusal in the shape of the surface that was called."""
    if is_api(scope["path"]):
        body = orjson.dumps({"error": {"code": code, "message": message}})
        media_type = b"application/json"
    else:
        error = {"message": message, "extensions": {"code": code, **(extensions or {})}}
        body = orjson.dumps({"data": None, "errors": [error]})
        media_type = graphql_media_type(scope)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media_type),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


GRAPHQL_RESPONSE = b"application/graphql-response+json"


def graphql_media_type(scope: Scope) -> bytes:
    """The media type of a GraphQL answer: ``application/graphql-response+json`` when the
    client accepts it (GraphQL over HTTP), ``application/json`` otherwise."""
    accept = (header(scope, b"accept") or "").lower()
    if "application/graphql-response+json" in accept:
        return GRAPHQL_RESPONSE
    return b"application/json"

"""What the HTTP guards share: the surface a path belongs to, a request header, the media
type a GraphQL answer is written in, and a refusal answered in that surface's shape
(GraphQL errors with a code for /graphql, the legacy ``{"error": {"code", "message"}}``
for /api)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from starlette.types import Scope, Send

from security.principal import Principal

GRAPHQL_PATH = "/graphql"
API_PREFIX = "/api"

# GraphQL over HTTP: the spec's media type, and the legacy one every client understands.
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
LEGACY_JSON = "application/json"


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
        content_type = LEGACY_JSON.encode()
    else:
        # A client whose Accept admits no GraphQL media type is refused by the view (406);
        # a refusal that comes first still has to be written in one: the legacy one.
        media_type = graphql_media_type(scope) or LEGACY_JSON
        error = {"message": message, "extensions": {"code": code, **(extensions or {})}}
        body = orjson.dumps(request_error_body(media_type, {"errors": [error]}))
        content_type = content_type_of(media_type)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def request_error_body(media_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The body of a request error (nothing was executed) in ``media_type``: without a
    ``data`` entry in ``application/graphql-response+json``, as the spec requires; with
    ``"data": null`` in legacy ``application/json``, as the gateway has always answered."""
    rest = {key: value for key, value in body.items() if key != "data"}
    if media_type == GRAPHQL_RESPONSE_JSON:
        return rest
    return {"data": None, **rest}


def content_type_of(media_type: str) -> bytes:
    """The Content-Type header of a GraphQL answer: the media type and its encoding."""
    return f"{media_type}; charset=utf-8".encode()


def graphql_media_type(scope: Scope) -> str | None:
    """The media type of a GraphQL answer, negotiated from the request's Accept header
    (GraphQL over HTTP with RFC 9110's rules), or None when the header admits neither.

    Each of ``application/graphql-response+json`` and ``application/json`` takes the
    quality of the most specific range that matches it (the type itself, ``application/*``,
    then ``*/*``); ``q=0`` refuses it. The higher quality wins, then the more specific
    match. A tie between types both named prefers ``application/graphql-response+json``;
    a tie reached through a wildcard alone, or no Accept header at all, is answered in
    ``application/json``, which every client understands."""
    accept = header(scope, b"accept")
    if accept is None or not accept.strip():
        return LEGACY_JSON
    ranges = _media_ranges(accept)
    graphql = _quality(ranges, GRAPHQL_RESPONSE_JSON)
    legacy = _quality(ranges, LEGACY_JSON)
    if graphql[0] <= 0 and legacy[0] <= 0:
        return None
    if graphql > legacy:
        return GRAPHQL_RESPONSE_JSON
    if graphql == legacy and graphql[1] == _EXACT:
        return GRAPHQL_RESPONSE_JSON
    return LEGACY_JSON


_ANY, _SUBTYPES, _EXACT = 0, 1, 2


def _media_ranges(accept: str) -> list[tuple[str, str, float]]:
    """(type, subtype, q) of each well-formed range of an Accept header; others are
    skipped."""
    ranges = []
    for item in accept.split(","):
        media, _, params = item.partition(";")
        kind, slash, subtype = media.strip().lower().partition("/")
        if not slash or not kind or not subtype:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
        if 0.0 <= q <= 1.0:
            ranges.append((kind, subtype, q))
    return ranges


def _quality(ranges: list[tuple[str, str, float]], media_type: str) -> tuple[float, int]:
    """(q, specificity) of the most specific range matching ``media_type``; (0, -1) when
    none does."""
    kind, _, subtype = media_type.partition("/")
    best = (0.0, -1)
    for range_kind, range_subtype, q in ranges:
        if range_kind == kind and range_subtype == subtype:
            specificity = _EXACT
        elif range_kind == kind and range_subtype == "*":
            specificity = _SUBTYPES
        elif range_kind == "*" and range_subtype == "*":
            specificity = _ANY
        else:
            continue
        if specificity > best[1] or (specificity == best[1] and q > best[0]):
            best = (q, specificity)
    return best

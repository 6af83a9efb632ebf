"""Browser-tier HTTP caching of persisted-query GETs (RFC 9110 section 13, RFC 9111).

A GET naming a persisted document (``extensions.persistedQuery``) whose answer is a 200
without errors carries a strong ETag (the SHA-256 of the exact body),
``Cache-Control: private, max-age=N`` and a ``Vary`` naming what the answer depends on.
N is the request's cache report's ``freshness()`` (``CallContext.cache``), floored to
whole seconds; no report, or a report that cannot tell, is 0 (the browser must
revalidate). A request whose ``If-None-Match`` matches the ETag is answered 304 with no
body, the ETag, Cache-Control and Vary repeated. The 304 is decided after execution: the
gateway still runs the operation and only saves the bytes of the answer.

Everything else (a POST, a batch, a non-persisted GET, an answer with errors, a non-200)
gets none of these headers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from hashlib import sha256
from typing import Protocol

from starlette.types import Scope, Send

from gateway.graphql_request import GraphQLRequest

# What a persisted GET's answer depends on besides its URL: the caller (its bearer token)
# and the negotiated media type.
VARY = b"Accept, Authorization"


class Freshness(Protocol):
    """The part of a request's cache report this module reads."""

    def freshness(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class Validation:
    """The caching headers of an answer, and whether the client already holds it."""

    headers: list[tuple[bytes, bytes]]
    not_modified: bool


def etag(body: bytes) -> str:
    """A strong entity tag of exactly these bytes."""
    return f'"{sha256(body).hexdigest()}"'


def _opaque(tag: str) -> str:
    """A tag without its weakness indicator, for the weak comparison."""
    tag = tag.strip()
    return tag[2:] if tag.startswith(("W/", "w/")) else tag


def none_match(if_none_match: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` value matches ``tag``: ``*`` matches any current
    representation; otherwise any listed tag equal to it by the weak comparison (the one
    RFC 9110 section 13.1.2 requires for If-None-Match)."""
    if if_none_match is None:
        return False
    value = if_none_match.strip()
    if value == "*":
        return True
    wanted = _opaque(tag)
    return any(_opaque(candidate) == wanted for candidate in _tags(value))


def _tags(value: str) -> list[str]:
    """The entity tags of a comma-separated list (a quoted tag may itself hold a comma)."""
    tags: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            tags.append("".join(current))
            current = []
        else:
            current.append(char)
    tags.append("".join(current))
    return [t.strip() for t in tags if t.strip()]


def max_age(call: object) -> int:
    """Whole seconds the answer may be reused, from the request's cache report (0 when
    there is none or it cannot tell)."""
    report: Freshness | None = getattr(call, "cache", None)
    if report is None:
        return 0
    seconds = report.freshness()
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return 0
    return math.floor(seconds)


def _persisted(request: GraphQLRequest) -> bool:
    """Whether the request names a persisted document (an APQ hash or a trusted id)."""
    return (request.extensions or {}).get("persistedQuery") is not None


def validate(
    scope: Scope,
    request: GraphQLRequest | list[GraphQLRequest],
    answer: object,
    status: int,
    body: bytes,
    call: object,
) -> Validation | None:
    """The caching headers of this answer, or None when it is not cacheable (not a GET of
    one persisted document answered 200 without errors)."""
    if scope.get("method") != "GET" or status != 200 or isinstance(request, list):
        return None
    if not _persisted(request):
        return None
    if not isinstance(answer, dict) or answer.get("errors"):
        return None
    tag = etag(body)
    headers = [
        (b"etag", tag.encode()),
        (b"cache-control", f"private, max-age={max_age(call)}".encode()),
        (b"vary", VARY),
    ]
    return Validation(headers, none_match(_if_none_match(scope), tag))


def _if_none_match(scope: Scope) -> str | None:
    """Every If-None-Match value of the request, as one list (a header may repeat)."""
    values = [v.decode("latin-1") for k, v in scope["headers"] if k == b"if-none-match"]
    return ", ".join(values) if values else None


async def send_not_modified(send: Send, headers: list[tuple[bytes, bytes]]) -> None:
    """A 304: no body (and no Content-Length of the body it stands for)."""
    await send({"type": "http.response.start", "status": 304, "headers": headers})
    await send({"type": "http.response.body", "body": b""})

"""CSRF prevention for /graphql, as Apollo Server does it."""

from __future__ import annotations

from starlette.types import Receive, Scope

from security import audit
from security.responses import GRAPHQL_PATH
from security.steps import Refused

_SIMPLE_CONTENT_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")
_PREFLIGHT_HEADERS = (b"apollo-require-preflight", b"x-apollo-operation-name")


async def csrf(scope: Scope, receive: Receive) -> Receive:
    """The edge step that refuses GraphQL requests a browser could send cross-site without
    a preflight.

    A GET that carries an operation, and a POST with a "simple" content type (form or
    multipart uploads), must carry a non-empty ``apollo-require-preflight`` or
    ``x-apollo-operation-name`` header, or a non-simple Content-Type (as Apollo Server
    does). Mutations over GET are refused by the GraphQL view itself."""
    if scope["path"] != GRAPHQL_PATH or _safe(scope):
        return receive
    audit.emit(audit.CSRF_REFUSED, audit.REFUSED)
    raise Refused(
        400,
        "CSRF_PREVENTION",
        "This operation has been blocked as a potential cross-site request forgery: "
        "send a non-empty 'apollo-require-preflight' header, or a JSON Content-Type",
    )


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

"""Error codes of the graph, and the one place that assigns them.

Every error in a response carries ``extensions.code``: a resolver raises a ``GraphError``
subclass or lets an ``UpstreamError`` through; ``client_errors`` classifies each error once
execution is over (the endpoint calls it; ``ErrorCodes`` does for ``Schema.execute``).
Anything unrecognised is a bug: its message is replaced with a generic one, so no
traceback, upstream address or secret reaches a client, and it is logged with the request
id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import structlog
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from resolvers.errors import (
    BAD_USER_INPUT,
    FORBIDDEN,
    INTERNAL_SERVER_ERROR,
    NOT_FOUND,
    RATE_LIMITED,
    UNAUTHENTICATED,
    UPSTREAM_BAD_RESPONSE,
    UPSTREAM_TIMEOUT,
    UPSTREAM_UNAVAILABLE,
    UPSTREAM_UNSUPPORTED,
    BadUserInput,
    GraphError,
    NotFound,
    parse_id,
)
from upstreams.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamInvalidRequest,
    UpstreamNotFound,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnsupported,
)

log = structlog.get_logger()

__all__ = [
    "BAD_USER_INPUT",
    "FORBIDDEN",
    "INTERNAL_SERVER_ERROR",
    "NOT_FOUND",
    "RATE_LIMITED",
    "UNAUTHENTICATED",
    "UPSTREAM_BAD_RESPONSE",
    "UPSTREAM_TIMEOUT",
    "UPSTREAM_UNAVAILABLE",
    "UPSTREAM_UNSUPPORTED",
    "BadUserInput",
    "ErrorCodes",
    "GraphError",
    "NotFound",
    "classify",
    "client_errors",
    "parse_id",
]

MASKED_MESSAGE = "Internal server error"


def upstream_outcome(exc: UpstreamError) -> tuple[str, str, dict[str, Any]]:
    """(code, message, extensions) for an upstream failure."""
    ext: dict[str, Any] = {"service": exc.service}
    if isinstance(exc, UpstreamTimeout):
        return UPSTREAM_TIMEOUT, f"The {exc.service} service did not answer in time", ext
    if isinstance(exc, UpstreamUnavailable):
        if exc.retry_after is not None:
            ext["retryAfter"] = round(exc.retry_after, 3)
        return UPSTREAM_UNAVAILABLE, f"The {exc.service} service is unavailable", ext
    if isinstance(exc, UpstreamUnsupported):
        return UPSTREAM_UNSUPPORTED, exc.message, ext
    if isinstance(exc, UpstreamInvalidRequest):
        return BAD_USER_INPUT, exc.message, ext
    if isinstance(exc, UpstreamBadResponse):
        if exc.field is not None:
            ext["field"] = exc.field
        # The service broke its contract: worth a line for whoever runs it (the request id
        # is bound to every line of the request).
        log.warning(
            "upstream.bad_response", service=exc.service, field=exc.field, error=exc.message
        )
        return UPSTREAM_BAD_RESPONSE, exc.message, ext
    if isinstance(exc, UpstreamNotFound):
        return NOT_FOUND, exc.message, ext
    if isinstance(exc, UpstreamStatusError):
        if exc.code:
            ext["upstreamCode"] = exc.code
        if exc.status in (400, 409, 422):
            if exc.details is not None:
                ext["details"] = exc.details
            return BAD_USER_INPUT, exc.message, ext
        if exc.status == 401:
            return UNAUTHENTICATED, exc.message, ext
        if exc.status == 403:
            return FORBIDDEN, exc.message, ext
        if exc.status == 429:
            return RATE_LIMITED, exc.message, ext
        return UPSTREAM_UNAVAILABLE, f"The {exc.service} service failed", ext
    return UPSTREAM_UNAVAILABLE, f"The {exc.service} service failed", ext


def classify(error: GraphQLError) -> GraphQLError:
    """The error as the client sees it: with a code, masked when it is not ours."""
    original = error.original_error
    if original is None:
        # Parse and validation errors come from graphql-core and are the client's doing.
        if error.extensions and "code" in error.extensions:
            return error
        error.extensions = {**(error.extensions or {}), "code": BAD_USER_INPUT}
        return error
    if isinstance(original, GraphError):
        code, message, ext = original.code, original.message, dict(original.extensions)
    elif isinstance(original, UpstreamError):
        code, message, ext = upstream_outcome(original)
    elif isinstance(original, GraphQLError):
        return classify(original)
    else:
        log.error(
            "graphql.unexpected_error",
            path=error.path,
            exc_info=(type(original), original, original.__traceback__),
        )
        code, message, ext = INTERNAL_SERVER_ERROR, MASKED_MESSAGE, {}
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={"code": code, **ext},
    )


_SUGGESTION = re.compile(r" Did you mean .*\?$")


def _without_suggestion(error: GraphQLError) -> GraphQLError:
    message = _SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=error.extensions,
    )


def client_errors(errors: Iterable[GraphQLError], *, hide_suggestions: bool) -> list[GraphQLError]:
    """Every error of a result as the client sees it (``classify``); with
    ``hide_suggestions`` (production), without graphql-core's "Did you mean ...?" hints,
    which would otherwise spell out the schema to a caller who may not introspect it."""
    classified = [classify(e) for e in errors]
    if hide_suggestions:
        classified = [_without_suggestion(e) for e in classified]
    return classified


class ErrorCodes(SchemaExtension):
    """``client_errors`` for ``Schema.execute`` (tools and tests that execute the schema
    directly; the GraphQL endpoint calls ``client_errors`` itself)."""

    def __init__(self, *, hide_suggestions: bool = False) -> None:
        super().__init__()
        self._hide_suggestions = hide_suggestions

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = client_errors(errors, hide_suggestions=self._hide_suggestions)  # type: ignore[union-attr]

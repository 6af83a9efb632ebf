"""Errors a resolver raises on purpose, with the error codes of the graph.

``graph.errors.ErrorCodes`` turns them (and upstream errors) into ``extensions.code``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"
UPSTREAM_UNSUPPORTED = "UPSTREAM_UNSUPPORTED"
UPSTREAM_BAD_RESPONSE = "UPSTREAM_BAD_RESPONSE"
RATE_LIMITED = "RATE_LIMITED"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class GraphError(Exception):
    """An error a resolver raises on purpose; its message is shown to the client."""

    code = INTERNAL_SERVER_ERROR

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions


# What a mutation's userErrors say went wrong (``graph.payloads.UserErrorCode`` names them).
INVALID = "invalid"
NOT_FOUND_ITEM = "not_found"
TAKEN = "taken"
INVALID_TRANSITION = "invalid_transition"
INVALID_CREDENTIALS = "invalid_credentials"
INVALID_TOKEN = "invalid_token"  # noqa: S105 - an error code
LIMIT_EXCEEDED = "limit_exceeded"
CONFLICT = "conflict"


class UserFacing(GraphError):
    """An error the caller can fix: in a mutation it becomes one of the payload's
    ``userErrors`` (with ``field``, the path of the input it is about, and ``user_code``);
    in a query it is a top-level error with its code."""

    user_code = INVALID

    def __init__(
        self,
        message: str,
        *,
        field: Sequence[str] | None = None,
        user_code: str | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(message, **extensions)
        self.field = list(field) if field is not None else None
        if user_code is not None:
            self.user_code = user_code


class BadUserInput(UserFacing):
    code = BAD_USER_INPUT


class NotFound(UserFacing):
    code = NOT_FOUND
    user_code = NOT_FOUND_ITEM


def parse_id(value: str, argument: str) -> str:
    """A UUID argument in its canonical spelling, or BAD_USER_INPUT naming the argument
    (``argument`` is the input's path, dotted: ``input.sampleId``)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise BadUserInput(
            f"`{argument}` is not a valid id: {value[:64]!r}", field=argument.split(".")
        ) from None


class Unauthenticated(GraphError):
    code = UNAUTHENTICATED


class Forbidden(GraphError):
    code = FORBIDDEN


class UndeliverableValue(GraphError):
    """A stored value the graph cannot deliver as it is: that one field fails."""

    code = UPSTREAM_BAD_RESPONSE

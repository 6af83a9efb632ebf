"""Errors a resolver raises on purpose, with the error codes of the graph.

``graph.errors.ErrorCodes`` turns them (and upstream errors) into ``extensions.code``.
"""

from __future__ import annotations

import uuid
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


class BadUserInput(GraphError):
    code = BAD_USER_INPUT


class NotFound(GraphError):
    code = NOT_FOUND


def parse_id(value: str, argument: str) -> str:
    """A UUID argument in its canonical spelling, or BAD_USER_INPUT naming the argument."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise BadUserInput(f"`{argument}` is not a valid id: {value[:64]!r}") from None


class Unauthenticated(GraphError):
    code = UNAUTHENTICATED


class Forbidden(GraphError):
    code = FORBIDDEN

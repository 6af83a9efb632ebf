"""Mutation payloads: `name(input: NameInput!): NamePayload`, with `userErrors`.

A mutation answers its payload: the objects it changed and ``userErrors``. What the caller
can fix (a validation failure, an illegal status move, a duplicate barcode, wrong
credentials, a missing object named in the input) is a ``UserError`` with the input path it
is about and a typed code, so that a form can show it beside its field. Transport,
authentication, authorisation and upstream failures stay top-level errors
(``graph.errors``). ``attempt`` is the one place that tells the two apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import TypeVar

import strawberry

from graph.errors import BAD_USER_INPUT, NOT_FOUND, upstream_outcome
from resolvers import errors as codes
from resolvers.errors import UserFacing
from upstreams.errors import UpstreamNotFound, UpstreamStatusError

P = TypeVar("P")


@strawberry.enum(description="What a user error is about, for a client to act on.")
class UserErrorCode(Enum):
    INVALID = strawberry.enum_value(
        codes.INVALID, description="A value is malformed, out of range or not allowed."
    )
    NOT_FOUND = strawberry.enum_value(
        codes.NOT_FOUND_ITEM, description="An object the input names does not exist."
    )
    TAKEN = strawberry.enum_value(
        codes.TAKEN, description="A value that must be unique (a barcode, a name) is in use."
    )
    INVALID_TRANSITION = strawberry.enum_value(
        codes.INVALID_TRANSITION,
        description="The object's status cannot move to the status asked for.",
    )
    INVALID_CREDENTIALS = strawberry.enum_value(
        codes.INVALID_CREDENTIALS, description="The email or the password is wrong."
    )
    INVALID_TOKEN = strawberry.enum_value(
        codes.INVALID_TOKEN, description="A token in the input is invalid, expired or used up."
    )
    LIMIT_EXCEEDED = strawberry.enum_value(
        codes.LIMIT_EXCEEDED, description="The input holds more items than one call takes."
    )
    CONFLICT = strawberry.enum_value(
        codes.CONFLICT,
        description="The object's current state forbids the change (e.g. an occupied "
        "storage position).",
    )


@strawberry.type(description="Something in a mutation's input the caller can fix.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="The path of the input value it is about, from the mutation's "
        'arguments (`["input", "barcode"]`); null when it is about the input as a whole.'
    )
    message: str = strawberry.field(description="What is wrong, for a person to read.")
    code: UserErrorCode = strawberry.field(description="What is wrong, for a program.")


def user_error(exc: BaseException) -> UserError | None:
    """The user error ``exc`` amounts to; None when it is a top-level error."""
    if isinstance(exc, UserFacing):
        return UserError(field=exc.field, message=exc.message, code=UserErrorCode(exc.user_code))
    if isinstance(exc, UpstreamNotFound | UpstreamStatusError):
        code, message, _ = upstream_outcome(exc)
        if code == NOT_FOUND:
            return UserError(field=None, message=message, code=UserErrorCode.NOT_FOUND)
        if code == BAD_USER_INPUT:
            status = getattr(exc, "status", None)
            kind = UserErrorCode.TAKEN if status == 409 else UserErrorCode.INVALID
            return UserError(field=None, message=message, code=kind)
    return None


async def attempt(payload: Callable[..., P], work: Awaitable[P]) -> P:
    """``work``'s payload; a user-facing failure becomes ``payload(user_errors=[...])``,
    any other failure goes on as a top-level error."""
    try:
        return await work
    except Exception as exc:
        error = user_error(exc)
        if error is None:
            raise
        return payload(user_errors=[error])


USER_ERRORS_DESCRIPTION = (
    "What in the input the caller can fix: empty when the mutation did what it was asked; "
    "when it is not empty, the mutation changed nothing."
)


def user_errors_field() -> list[UserError]:
    """The ``userErrors`` field every payload declares."""
    return strawberry.field(default_factory=list, description=USER_ERRORS_DESCRIPTION)

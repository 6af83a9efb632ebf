"""The graph's own readings of scalars: `DateTime` and `Date`, specified by RFC 3339, and
`Upload`.

Strawberry's own time definitions (ISO 8601 text, read with ``dateutil``) with a description
that says the format and ``@specifiedBy`` pointing at RFC 3339; the schema maps Python's
``datetime`` and ``date`` onto them (``SCALAR_OVERRIDES``). Strawberry's `Upload` takes any
value; ours takes only the file part of a multipart request, so that a JSON value or a
literal in its place is the client's mistake (BAD_USER_INPUT), not a resolver's crash.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.file_uploads import Upload as UploadType
from strawberry.file_uploads import UploadDefinition
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition

RFC_3339 = "https://datatracker.ietf.org/doc/html/rfc3339"

DateTime = replace(
    DateTimeDefinition,
    description="An instant: an RFC 3339 date-time with its UTC offset "
    "(`2026-03-01T09:30:00+00:00`). In arguments, a value without an offset is read as UTC.",
    specified_by_url=RFC_3339,
)
Date = replace(
    DateDefinition,
    description="A calendar day without a time: an RFC 3339 full-date (`2026-03-01`).",
    specified_by_url=RFC_3339 + "#section-5.6",
)


def _file(value: object) -> object:
    # Strawberry puts the request's file parts (objects with an async ``read``) into the
    # variables the multipart ``map`` names, before the operation runs.
    if not callable(getattr(value, "read", None)):
        raise StrawberryInputCoercionError(
            "Upload must be a file part of a multipart request (the GraphQL multipart "
            "request spec), not a value in the operation"
        )
    return value


Upload = replace(UploadDefinition, parse_value=_file)

SCALAR_OVERRIDES: dict[object, Any] = {datetime: DateTime, date: Date, UploadType: Upload}

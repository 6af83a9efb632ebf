"""The graph's own readings of scalars: `DateTime` and `Date`, specified by RFC 3339,
`JSON` and `Upload`.

Strawberry's own time definitions (ISO 8601 text, read with ``dateutil``) with a description
that says the format and ``@specifiedBy`` pointing at RFC 3339; the schema maps Python's
``datetime`` and ``date`` onto them (``SCALAR_OVERRIDES``). Strawberry's `Upload` takes any
value; ours takes only the file part of a multipart request, so that a JSON value or a
literal in its place is the client's mistake (BAD_USER_INPUT), not a resolver's crash.

`JSON` values nest at most ``JSON_MAX_DEPTH`` containers deep, both ways. A deeper value in
an operation is BAD_USER_INPUT; a deeper one that a service holds (written through REST,
say) fails its own field with UPSTREAM_BAD_RESPONSE. Unbounded, such a value is sent on to
a service that may not read it back, and an answer holding it nests past what the encoder
writes (orjson: 255 levels), so that every list showing it would fail whole.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.file_uploads import Upload as UploadType
from strawberry.file_uploads import UploadDefinition
from strawberry.scalars import JSON as JSONType
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY

from resolvers.errors import UndeliverableValue

RFC_3339 = "https://datatracker.ietf.org/doc/html/rfc3339"
JSON_MAX_DEPTH = 64

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


def _within_depth(value: object) -> bool:
    """Whether ``value`` nests lists and objects at most ``JSON_MAX_DEPTH`` deep (a
    breadth-first walk, level by level: no recursion for a hostile value to exhaust)."""
    level = [value]
    for _ in range(JSON_MAX_DEPTH + 1):
        inner: list[object] = []
        for item in level:
            if isinstance(item, dict):
                inner.extend(item.values())
            elif isinstance(item, list):
                inner.extend(item)
        if not inner:
            return True
        level = inner
    return False


_TOO_DEEP = f"JSON values nest at most {JSON_MAX_DEPTH} lists or objects deep"


def _json_in(value: object) -> object:
    if not _within_depth(value):
        raise StrawberryInputCoercionError(_TOO_DEEP)
    return value


def _json_out(value: object) -> object:
    if not _within_depth(value):
        raise UndeliverableValue(f"The stored value cannot be delivered: {_TOO_DEEP}")
    return value


JSON = replace(
    DEFAULT_SCALAR_REGISTRY[JSONType],
    description=f"{DEFAULT_SCALAR_REGISTRY[JSONType].description} At most "
    f"{JSON_MAX_DEPTH} lists or objects deep.",
    serialize=_json_out,
    parse_value=_json_in,
)

SCALAR_OVERRIDES: dict[object, Any] = {
    datetime: DateTime,
    date: Date,
    JSONType: JSON,
    UploadType: Upload,
}

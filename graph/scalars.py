"""The graph's time scalars: `DateTime` and `Date`, specified by RFC 3339.

Strawberry's own definitions (ISO 8601 text, read with ``dateutil``) with a description
that says the format and ``@specifiedBy`` pointing at RFC 3339; the schema maps Python's
``datetime`` and ``date`` onto them (``SCALAR_OVERRIDES``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

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

SCALAR_OVERRIDES: dict[object, Any] = {datetime: DateTime, date: Date}

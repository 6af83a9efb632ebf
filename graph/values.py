"""Upstream values the graph cannot represent: an error in place of the value.

A record's enum string that names no member of the graph's enum must not become a silent
null (nor an error that takes the whole object down). ``member`` returns the member, or an
``UpstreamBadResponse`` to store as the field's value: graphql-core raises an exception it
finds as a field's value, so exactly that field fails, with ``UPSTREAM_BAD_RESPONSE`` and
the service's name (malformed timestamps arrive the same way from
``upstreams.normalize``).
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

from upstreams.errors import UpstreamBadResponse

E = TypeVar("E", bound=Enum)


def member(enum: type[E], value: Any, *, service: str, field: str) -> Any:
    """``enum(value)``; None for None; an ``UpstreamBadResponse`` for anything else."""
    if value is None or isinstance(value, Exception):
        return value
    try:
        return enum(value)
    except ValueError:
        return UpstreamBadResponse.for_value(service, field, value)

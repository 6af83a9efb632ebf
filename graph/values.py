"""Upstream values the graph cannot represent: an error in place of the value.

A record's enum string that names no member of the graph's enum must not become a silent
null (nor an error that takes the whole object down). ``member`` returns the member, or an
``UpstreamBadResponse`` to store as the field's value: graphql-core raises an exception it
finds as a field's value, so exactly that field fails, with ``UPSTREAM_BAD_RESPONSE`` and
the service's name (malformed timestamps arrive the same way from
``upstreams.normalize``). ``required`` does the same for a field the service always sends
that is missing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

from upstreams.errors import UpstreamBadResponse

E = TypeVar("E", bound=Enum)


def member(enum: type[E], value: Any, *, service: str, field: str) -> Any:
    """``enum(value)``; None for None; an ``UpstreamBadResponse`` for anything else."""
    if value is None or isinstance(value, Exception):
        return value
    # Every record meets this: a value's member by dictionary lookup, not Enum.__call__.
    found = enum._value2member_map_.get(value) if type(value) is str else None
    if found is not None:
        return found
    try:
        return enum(value)
    except (ValueError, TypeError):
        return UpstreamBadResponse.for_value(service, field, value)


def required(record: Mapping[str, Any], key: str, *, service: str) -> Any:
    """``record[key]`` for a field the service always sends; an ``UpstreamBadResponse``
    in its place when it is missing or null (never a silent ``""``)."""
    value = record.get(key)
    if value is None:
        return UpstreamBadResponse(
            service, f"The {service} service sent a record without its {key}", field=key
        )
    return value


T = TypeVar("T")


def fields_of(cls: type[Any]) -> dict[str, None]:
    """The attribute fields of the Strawberry type ``cls`` (those its ``__init__`` takes,
    not those with a resolver), each None: the base of ``built``'s values."""
    return dict.fromkeys(field.name for field in dataclasses.fields(cls) if field.init)


def built(cls: type[T], values: dict[str, Any]) -> T:
    """An object of the Strawberry type ``cls`` whose attributes are ``values``, taken as
    they are (not copied), without a call of its ``__init__``. ``values`` names every field
    (start from ``fields_of``) and may hold more keys, read by nobody. For the types the
    graph builds by the thousand from upstream records: the generated ``__init__`` with
    twenty keyword arguments costs more than the whole copy of a record."""
    instance = cls.__new__(cls)
    instance.__dict__ = values
    return instance

"""One field name, one type: a name means the same kind of value on every type and input
of the graph (a `createdBy` is a Person everywhere, a `status` an enum everywhere)."""

from __future__ import annotations

import re

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
)

from graph.schema import create_schema

# `UserError.field` is the path of an input (Shopify's shape); an order's `field` names what
# a list is sorted by (GitHub's). Both are the conventions client codegen expects.
EXEMPT = {"field"}


def _kind(named: GraphQLNamedType) -> str:
    """Scalars by name; every enum one kind (a `status` may name each entity's own enum);
    object, interface and input types by name."""
    if isinstance(named, GraphQLScalarType):
        return named.name
    if isinstance(named, GraphQLEnumType):
        return "enum"
    return named.name.removesuffix("Input")


def _kinds_by_field() -> dict[str, dict[str, list[str]]]:
    schema = create_schema()._schema
    found: dict[str, dict[str, list[str]]] = {}
    for name, kind in schema.type_map.items():
        # Root Mutation fields are verbs (`refreshToken`), not values of an object.
        if name.startswith("__") or name == "Mutation":
            continue
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in kind.fields.items():
                named = get_named_type(field.type)
                found.setdefault(field_name, {}).setdefault(_kind(named), []).append(name)
    return found


def test_a_field_name_has_one_kind_of_type_everywhere() -> None:
    mixed = {
        name: kinds
        for name, kinds in _kinds_by_field().items()
        if len(kinds) > 1 and name not in EXEMPT and not _objects_only(kinds)
    }
    assert not mixed, "\n".join(f"{name}: {kinds}" for name, kinds in sorted(mixed.items()))


def _objects_only(kinds: dict[str, list[str]]) -> bool:
    """Relations may point at different object types under one name (`node`, `sample`
    of a payload and of an input...), as long as no scalar or enum shares the name."""
    scalars = {"String", "ID", "Int", "Float", "Boolean", "DateTime", "Date", "JSON", "enum"}
    return not scalars.intersection(kinds)


def test_every_connection_field_pages_both_ways_and_states_its_page_sizes() -> None:
    schema = create_schema()._schema
    checked = 0
    for name, kind in schema.type_map.items():
        if name.startswith("__") or not isinstance(kind, GraphQLObjectType):
            continue
        for field_name, field in kind.fields.items():
            if not get_named_type(field.type).name.endswith("Connection"):
                continue
            checked += 1
            where = f"{name}.{field_name}"
            assert {"first", "after", "last", "before"} <= set(field.args), where
            for size in ("first", "last"):
                text = field.args[size].description or ""
                assert re.search(r"default \S+ \(\d+\), at most \S* ?\(?\d[\d,]*", text), where
    assert checked >= 10

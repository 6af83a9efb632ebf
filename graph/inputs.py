"""Input objects built from a plan made once per type, not worked out again per request.

Strawberry converts an input value field by field on every request: for each field it
derives the GraphQL name and resolves the annotation again, which for a mutation's input
costs more than the rest of its execution in the gateway. ``compile_inputs`` gives each
input type of the schema a ``from_input`` (Strawberry's hook for types that build their
own value) over a plan made once: each field's GraphQL name, Python name and resolved
type, and which fields are leaves (scalars and enums, which graphql-core has already
coerced and Strawberry passes on as they are). Anything else (lists, nested inputs,
GlobalIDs) is converted by Strawberry's own ``convert_argument``, as before. The value
built is the one Strawberry builds: the same class, the same keyword arguments, ``None``
for a nullable field the client left out that has no default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING
from typing import Any

import strawberry
from strawberry.relay import GlobalID
from strawberry.scalars import is_scalar
from strawberry.types.arguments import InputContext, convert_argument
from strawberry.types.base import StrawberryObjectDefinition, StrawberryOptional, StrawberryType
from strawberry.types.enum import StrawberryEnumDefinition


def compile_inputs(schema: strawberry.Schema) -> int:
    """Give every input type of ``schema`` its compiled ``from_input``; how many were not
    compiled yet (the types are the graph's module-level classes: every schema built from
    them shares their definitions, so a type is compiled once per process)."""
    converter = schema.schema_converter
    registry = converter.scalar_registry
    config = schema.config
    compiled = 0
    for concrete in list(converter.type_map.values()):
        definition = concrete.definition
        if not isinstance(definition, StrawberryObjectDefinition) or not definition.is_input:
            continue
        if definition.from_input is not None:
            continue
        definition.from_input = _builder(definition, registry, config)
        compiled += 1
    return compiled


def _is_leaf(type_: StrawberryType | type, registry: Mapping[object, Any]) -> bool:
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    if type_ is GlobalID:
        return False
    return isinstance(type_, StrawberryEnumDefinition) or is_scalar(type_, registry)


def _builder(
    definition: StrawberryObjectDefinition, registry: Mapping[object, Any], config: Any
) -> Any:
    plan = []
    for field in definition.fields:
        type_ = field.resolve_type(type_definition=definition)
        plan.append(
            (
                config.name_converter.from_field(field),
                field.python_name,
                type_,
                _is_leaf(type_, registry),
            )
        )
    nulls = {
        field.python_name: None
        for field in definition.fields
        if field.default_value is MISSING and field.default_factory is MISSING
    }

    def build(cls: type, value: Mapping[str, Any], context: InputContext) -> Any:
        kwargs: dict[str, Any] = dict(nulls)
        for graphql_name, python_name, type_, leaf in plan:
            if graphql_name in value:
                item = value[graphql_name]
                if not leaf:
                    item = convert_argument(
                        item,
                        type_,
                        context.scalar_registry,
                        context.config,
                        context.info,
                        path=(*context.path, graphql_name),
                    )
                kwargs[python_name] = item
        return cls(**kwargs)

    return build

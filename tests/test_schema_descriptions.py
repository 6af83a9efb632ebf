"""Every part of the graph a client sees is described: types, fields, arguments, enum
values and input fields (GraphiQL and codegen show these descriptions)."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
)

from graph.schema import create_schema


def _undescribed() -> list[str]:
    schema = create_schema()._schema
    missing: list[str] = []
    for name, kind in schema.type_map.items():
        if name.startswith("__"):
            continue
        if not kind.description:
            missing.append(f"type {name}")
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in kind.fields.items():
                if not field.description:
                    missing.append(f"field {name}.{field_name}")
                for arg_name, arg in field.args.items():
                    if not arg.description:
                        missing.append(f"argument {name}.{field_name}({arg_name})")
        elif isinstance(kind, GraphQLInputObjectType):
            for field_name, field in kind.fields.items():
                if not field.description:
                    missing.append(f"input field {name}.{field_name}")
        elif isinstance(kind, GraphQLEnumType):
            for value_name, value in kind.values.items():
                if not value.description:
                    missing.append(f"enum value {name}.{value_name}")
        elif isinstance(kind, GraphQLUnionType):
            pass
    return missing


def test_every_type_field_argument_and_enum_value_has_a_description() -> None:
    missing = _undescribed()
    assert not missing, f"{len(missing)} without a description:\n" + "\n".join(missing)

"""Input values built by the compiled plans (``graph.inputs``) are the values Strawberry's
own conversion builds: same classes, same fields, defaults and nulls included."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLInputObjectType
from graphql.utilities import coerce_input_value
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryObjectDefinition

from graph.schema import create_schema

SCHEMA = create_schema()
SAMPLE_ID = "1d9e697f-a929-49fb-b2ce-75f80c60d40c"

VALUES: list[tuple[str, dict[str, Any]]] = [
    ("CreateSampleInput", {"name": "Plasma 1", "sampleType": "PLASMA", "volume": 1.5}),
    (
        "CreateSampleInput",
        {
            "name": "Swab; drop & <select>",
            "sampleType": "SWAB",
            "barcode": None,
            "templateId": SAMPLE_ID,
            "collectionDate": "2025-12-29T10:42:08Z",
            "metadata": {"a": [1, {"b": None}]},
        },
    ),
    (
        "CreateSamplesInput",
        {"samples": [{"name": "a", "sampleType": "BLOOD"}, {"name": "b", "sampleType": "DNA"}]},
    ),
    (
        "CreateSampleSheetInput",
        {
            "name": "Run 7",
            "platform": "ILLUMINA_NOVASEQ",
            "samples": [{"sampleId": SAMPLE_ID, "sampleName": "S1", "plate": None}],
        },
    ),
    ("SampleFilter", {"statuses": ["PENDING", "VALIDATED"], "templateId": SAMPLE_ID}),
    ("SampleFilter", {}),
    (
        "SendNotificationInput",
        {"title": "t", "message": "m", "notificationType": "ALERT", "recipients": ["a@b.c"]},
    ),
]


def _strawberry_class(name: str) -> type:
    concrete = SCHEMA.schema_converter.type_map[name]
    definition = concrete.definition
    assert isinstance(definition, StrawberryObjectDefinition)
    assert definition.from_input is not None  # compiled
    return definition.origin


def _build(cls: type, value: dict[str, Any]) -> Any:
    converter = SCHEMA.schema_converter
    return convert_argument(value, cls, converter.scalar_registry, SCHEMA.config)


def _input_definitions() -> list[StrawberryObjectDefinition]:
    return [
        d
        for c in SCHEMA.schema_converter.type_map.values()
        if isinstance(d := c.definition, StrawberryObjectDefinition) and d.is_input
    ]


@pytest.mark.parametrize(
    ("name", "value"), VALUES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(VALUES)]
)
def test_a_compiled_input_is_built_as_strawberry_builds_it(
    name: str, value: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    graphql_type = SCHEMA._schema.type_map[name]
    assert isinstance(graphql_type, GraphQLInputObjectType)
    coerced = coerce_input_value(value, graphql_type)
    assert isinstance(coerced, dict), coerced
    cls = _strawberry_class(name)
    compiled = _build(cls, coerced)
    for definition in _input_definitions():  # Strawberry's own conversion, nested ones too
        monkeypatch.setattr(definition, "from_input", None)
    reference = _build(cls, coerce_input_value(value, graphql_type))
    assert type(compiled) is type(reference) is cls
    assert compiled == reference
    assert vars(compiled) == vars(reference)


def test_every_input_type_of_the_schema_is_compiled() -> None:
    inputs = _input_definitions()
    assert len(inputs) > 30
    assert all(d.from_input is not None for d in inputs)

"""The gateway's executor reads plain leaf fields directly; its answers, errors and null
propagation must be exactly graphql-core's. Each document runs on the same Strawberry
types under both executors and the results are compared whole."""

from __future__ import annotations

import enum
from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graph.execution import GatewayExecutor, leaf_plan


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Paint(enum.Enum):
    """Not the declared enum, though its values match Colour's."""

    RED = "red"


class Exploding:
    def __get__(self, obj: object, owner: type | None = None) -> str:
        raise RuntimeError("attribute failed")


@strawberry.type
class Item:
    id: strawberry.ID
    name: str
    colour: Colour
    note: str | None = None
    size: float | None = None

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    async def later(self) -> str:
        return f"later {self.id}"


def _items() -> list[Any]:
    good = [Item(id=strawberry.ID(str(i)), name=f"item {i}", colour=Colour.RED) for i in range(3)]
    # Broken records, as a buggy upstream mapping could produce them.
    null_name = Item(id=strawberry.ID("n"), name=None, colour=Colour.BLUE)  # type: ignore[arg-type]
    bad_enum = Item(id=strawberry.ID("e"), name="bad enum", colour="green")  # type: ignore[arg-type]
    bad_float = Item(id=strawberry.ID("f"), name="bad float", colour=Colour.RED, size="big")  # type: ignore[arg-type]
    return [*good, null_name, bad_enum, bad_float]


class _Raising(Item):
    note = Exploding()


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return _items()

    @strawberry.field
    def strict_items(self) -> list[Item]:
        return _items()

    @strawberry.field
    def numbered(self) -> Item:
        # An int where a String and an ID are declared: coerced to strings, not passed on.
        return Item(id=7, name=42, colour=Colour.RED)  # type: ignore[arg-type]

    @strawberry.field
    def foreign(self) -> list[Item | None]:
        return [
            Item(id=strawberry.ID("p"), name="paint", colour=Paint.RED),  # type: ignore[arg-type]
            Item(id=strawberry.ID("v"), name="value", colour="blue"),  # type: ignore[arg-type]
        ]

    @strawberry.field
    def raising(self) -> Item:
        return _Raising(id=strawberry.ID("r"), name="raising", colour=Colour.BLUE)


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    ours = strawberry.Schema(query=Query, execution_context_class=GatewayExecutor)
    stock = strawberry.Schema(
        query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext
    )
    return ours, stock


DOCUMENTS = {
    "plain leaves with aliases": "{ items { id n: name colour note size } }",
    "typename and resolver fields mixed in": "{ items { __typename id shout later name } }",
    "skip and include": "query($no: Boolean!) { items { id name @skip(if: $no) "
    "colour @include(if: $no) } }",
    "fragments": "fragment F on Item { name colour } { items { id ...F ... on Item { note } } }",
    "null on a non-null field in a nullable list item": "{ items { id name } }",
    "null propagates to a non-null list": "{ strictItems { id name } }",
    "an enum the type rejects": "{ items { colour } }",
    "a float the scalar rejects": "{ items { size } }",
    "an attribute that raises": "{ raising { id note } }",
    "the same field twice": "{ items { name name id } }",
    "numbers where strings are declared": "{ numbered { id name } }",
    "an enum field holding another enum or a raw value": "{ foreign { id colour } }",
}


@pytest.mark.parametrize("document", DOCUMENTS.values(), ids=DOCUMENTS.keys())
async def test_gateway_executor_answers_exactly_as_graphql_core(document: str) -> None:
    ours, stock = _schemas()
    variables = {"no": True}
    mine = await ours.execute(document, variables)
    theirs = await stock.execute(document, variables)
    assert mine.data == theirs.data
    assert [e.formatted for e in mine.errors or []] == [e.formatted for e in theirs.errors or []]


async def test_numbers_in_string_fields_are_coerced_to_strings() -> None:
    ours, _ = _schemas()
    result = await ours.execute("{ numbered { id name } }")
    assert result.errors is None
    assert result.data == {"numbered": {"id": "7", "name": "42"}}


async def test_broken_records_report_errors_with_paths() -> None:
    """The comparison above must not pass vacuously: the broken records do fail."""
    ours, _ = _schemas()
    result = await ours.execute("{ items { id name colour } }")
    assert result.errors is not None
    paths = sorted(tuple(map(str, e.path or ())) for e in result.errors)
    assert paths == [("items", "3", "name"), ("items", "4", "colour")]
    assert result.data is not None
    assert result.data["items"][3] is None
    assert result.data["items"][4] is None
    assert result.data["items"][0] == {"id": "0", "name": "item 0", "colour": "RED"}


def test_fast_path_covers_plain_leaves_only() -> None:
    ours, _ = _schemas()
    item = ours._schema.type_map["Item"]
    plan = leaf_plan(item)  # type: ignore[arg-type]
    assert sorted(plan) == ["colour", "id", "name", "note", "size"]
    assert plan["name"][0] == "name"
    assert plan["name"][2] is True
    assert plan["note"][2] is False

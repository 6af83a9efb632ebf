"""The gateway's executor reads plain leaf fields directly; its answers, errors and null
propagation must be exactly graphql-core's. Each document runs on the same Strawberry
types under both executors and the results are compared whole."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graph.execution import GatewayExecutor, batched, leaf_plan, only


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
    at: datetime | None = None

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


def _timed() -> list[Any]:
    """DateTime values the readers print themselves, and ones they leave to the scalar."""
    values: list[Any] = [
        datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        datetime(2026, 3, 1, 9, 30, 0, 120000, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 3, 1, 9, 30),  # naive
        date(2026, 3, 1),
        "yesterday",  # not a datetime: the scalar fails it
        ValueError("a broken timestamp"),
    ]
    return [
        Item(id=strawberry.ID(f"t{i}"), name="timed", colour=Colour.RED, at=value)
        for i, value in enumerate(values)
    ]


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
    def timed(self) -> list[Item | None]:
        return _timed()

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
    "datetimes, dates and values that are neither": "{ timed { id at } }",
    "a datetime beside other leaves": "{ timed { id name colour at size } }",
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
    assert sorted(plan) == ["at", "colour", "id", "name", "note", "size"]
    assert plan["name"][0] == "name"
    assert plan["name"][2] is True
    assert plan["note"][2] is False


# -- batched relations --------------------------------------------------------------------

BATCHES: list[list[str]] = []


@strawberry.type
class Owner:
    name: str


async def _owners(_ctx: Any, holders: Any) -> list[Any]:
    """An owner per holder; an error in place of one, and a null for another."""
    BATCHES.append([h.id for h in holders])
    values: list[Any] = []
    for holder in holders:
        if holder.id == "2":
            values.append(RuntimeError(f"no owner for {holder.id}"))
        elif holder.id == "3":
            values.append(None)
        else:
            values.append(Owner(name=f"owner of {holder.id}"))
    return values


@strawberry.type
class Holder:
    id: strawberry.ID

    @strawberry.field(metadata=batched(_owners))
    async def owner(self, info: strawberry.Info) -> Owner | None:
        return only(await _owners(info.context, [self]))

    @strawberry.field(metadata=batched(_owners))
    async def strict_owner(self, info: strawberry.Info) -> Owner:
        return only(await _owners(info.context, [self]))

    @strawberry.field
    async def plain(self) -> str:
        return f"plain {self.id}"


@strawberry.type
class HolderEdge:
    cursor: str
    node: Holder


@strawberry.type
class HolderQuery:
    @strawberry.field
    def holders(self) -> list[Holder | None]:
        return [Holder(id=strawberry.ID(str(i))) for i in range(5)]

    @strawberry.field
    def edges(self) -> list[HolderEdge]:
        return [HolderEdge(cursor=f"c{i}", node=Holder(id=strawberry.ID(str(i)))) for i in range(5)]

    @strawberry.field
    def holder(self) -> Holder:
        return Holder(id=strawberry.ID("1"))


BATCHED_DOCUMENTS = {
    "a batched relation with a per-item error and null": "{ holders { id owner { name } } }",
    "a non-null batched relation nulls its item": "{ holders { id strictOwner { name } } }",
    "batched and plain resolvers mixed, aliased": "{ holders { a: owner { name } plain "
    "b: owner { name } id } }",
    "one object, not a list": "{ holder { owner { name } strictOwner { name } } }",
    "beneath the plain fields of a list's items": "{ edges { cursor node { id owner { name } } } }",
    "a non-null one beneath them": "{ edges { node { strictOwner { name } } } }",
}


@pytest.mark.parametrize("document", BATCHED_DOCUMENTS.values(), ids=BATCHED_DOCUMENTS.keys())
async def test_batched_relations_answer_exactly_as_graphql_core(document: str) -> None:
    ours = strawberry.Schema(query=HolderQuery, execution_context_class=GatewayExecutor)
    stock = strawberry.Schema(
        query=HolderQuery, execution_context_class=StrawberryGraphQLCoreExecutionContext
    )
    mine = await ours.execute(document)
    theirs = await stock.execute(document)
    assert mine.data == theirs.data
    assert sorted(str(e.formatted) for e in mine.errors or []) == sorted(
        str(e.formatted) for e in theirs.errors or []
    )


async def test_a_list_selecting_a_batched_relation_calls_its_batch_once() -> None:
    ours = strawberry.Schema(query=HolderQuery, execution_context_class=GatewayExecutor)
    BATCHES.clear()
    result = await ours.execute("{ holders { id owner { name } } }")
    assert BATCHES == [["0", "1", "2", "3", "4"]]
    assert result.data is not None
    assert result.data["holders"][3] == {"id": "3", "owner": None}
    assert [tuple(map(str, e.path or ())) for e in result.errors or []] == [
        ("holders", "2", "owner")
    ]


async def test_batched_relations_beneath_plain_fields_are_batched_too() -> None:
    ours = strawberry.Schema(query=HolderQuery, execution_context_class=GatewayExecutor)
    BATCHES.clear()
    result = await ours.execute("{ edges { cursor node { owner { name } } } }")
    assert BATCHES == [["0", "1", "2", "3", "4"]]
    assert result.data is not None
    assert result.data["edges"][0] == {"cursor": "c0", "node": {"owner": {"name": "owner of 0"}}}

"""Execution cost of the graph against graphql-core alone, over the same in-memory data.

    .venv/bin/python -m bench.graph_execution [--samples 1000] [--rounds 30]

The document asks for 1,000 samples x 10 scalar fields through the `samples` connection.
Both sides execute it over the same 1,000 sample records, held in memory:

- graphql-core alone: a hand-written GraphQLSchema of the same shape, the document parsed
  and validated once, `graphql.execute` per round (the floor: no framework at all);
- the gateway: what its endpoint runs for the operation (``gateway.prepared``: the document
  prepared once, then ``execute_prepared`` with the graph's executor per round) over the
  real schema and resolvers (records turned into `Sample` objects), with the samples
  client swapped for one that answers from memory, so no I/O is timed.

Rounds alternate between the two so that machine noise hits both alike; the report gives
the median per-execution time of each and their ratio (target: at most 0.25, issue 14).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from inspect import isawaitable
from pathlib import Path
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    execute,
    parse,
    validate,
)

from gateway.prepared import Preparer, execute_prepared
from graph.enums import SampleStatus
from graph.schema import create_schema
from resolvers.context import Context
from security.config import OperationLimits
from security.persisted import sha256_hex
from security.principal import Principal
from upstreams.config import CallContext
from upstreams.services import Page

DOCUMENT = """
query BigList($first: Int) {
  samples(first: $first) {
    totalCount
    edges {
      node {
        id name barcode status sampleType volume concentration unit createdAt updatedAt
      }
    }
  }
}
"""

RESULTS = Path(__file__).parent / "results"
# Every field needs an authenticated caller: the one the gateway would build from a token.
BENCH_PRINCIPAL = Principal(
    id="00000000-0000-4000-8000-00000000bea0",
    email="bench@tracseq.lab",
    role="lab_administrator",
    session_id="bench",
    expires_at=float("inf"),
)


def make_records(n: int) -> list[dict[str, Any]]:
    """Sample records as the samples client returns them (canonical enums, datetimes)."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    statuses = [s.value for s in SampleStatus]
    return [
        {
            "id": f"00000000-0000-4000-8000-{i:012d}",
            "name": f"Sample {i}",
            "barcode": f"BC-{i:06d}",
            "status": statuses[i % len(statuses)],
            "sample_type": "DNA",
            "volume": 1.5 + i % 7,
            "concentration": 20.0 + i % 13,
            "unit": "ul",
            "created_at": base + timedelta(minutes=i),
            "updated_at": base + timedelta(minutes=2 * i),
            "template_id": None,
        }
        for i in range(n)
    ]


def graphql_core_schema(records: list[dict[str, Any]]) -> GraphQLSchema:
    """The same shape as the gateway's schema for this document, with default resolvers."""
    date_time = GraphQLScalarType("DateTime", serialize=lambda v: v.isoformat())
    status = GraphQLEnumType("SampleStatus", {s.name: s.value for s in SampleStatus})
    sample = GraphQLObjectType(
        "Sample",
        {
            "id": GraphQLField(GraphQLNonNull(GraphQLID)),
            "name": GraphQLField(GraphQLNonNull(GraphQLString)),
            "barcode": GraphQLField(GraphQLNonNull(GraphQLString)),
            "status": GraphQLField(GraphQLNonNull(status)),
            "sampleType": GraphQLField(
                GraphQLNonNull(GraphQLString), resolve=lambda r, _i: r["sample_type"]
            ),
            "volume": GraphQLField(GraphQLFloat),
            "concentration": GraphQLField(GraphQLFloat),
            "unit": GraphQLField(GraphQLString),
            "createdAt": GraphQLField(
                GraphQLNonNull(date_time), resolve=lambda r, _i: r["created_at"]
            ),
            "updatedAt": GraphQLField(
                GraphQLNonNull(date_time), resolve=lambda r, _i: r["updated_at"]
            ),
        },
    )
    edge = GraphQLObjectType("SampleEdge", {"node": GraphQLField(GraphQLNonNull(sample))})
    connection = GraphQLObjectType(
        "SampleConnection",
        {
            "totalCount": GraphQLField(GraphQLNonNull(GraphQLInt)),
            "edges": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(edge)))),
        },
    )

    def resolve_samples(_root: Any, _info: Any, first: int = 50) -> dict[str, Any]:
        items = records[:first]
        return {"totalCount": len(records), "edges": [{"node": r} for r in items]}

    query = GraphQLObjectType(
        "Query",
        {
            "samples": GraphQLField(
                GraphQLNonNull(connection),
                args={"first": GraphQLArgument(GraphQLInt)},
                resolve=resolve_samples,
            )
        },
    )
    return GraphQLSchema(query=query)


class _MemorySamples:
    def __init__(self, records: list[dict[str, Any]]) -> None:
        self._records = records

    async def page(self, _call: CallContext, *, page: int = 1, page_size: int = 50) -> Page:
        start = (page - 1) * page_size
        items = self._records[start : start + page_size]
        return Page(items=items, total_count=len(self._records), page=page, page_size=page_size)

    async def get_many(self, _call: CallContext, ids: Any) -> Sequence[Any]:
        return [None for _ in ids]


class _MemoryUpstreams:
    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.samples = _MemorySamples(records)


async def run(n: int, rounds: int) -> dict[str, Any]:
    records = make_records(n)
    variables = {"first": n}

    core_schema = graphql_core_schema(records)
    document = parse(DOCUMENT)
    if errors := validate(core_schema, document):
        raise SystemExit(f"baseline document invalid: {errors}")

    schema = create_schema()
    upstreams = _MemoryUpstreams(records)
    preparer = Preparer(schema._schema, limits=OperationLimits(), introspection=True, size=8)
    prepared = preparer.prepare(sha256_hex(DOCUMENT), DOCUMENT, None)
    if prepared.document is None or prepared.errors:
        raise SystemExit(f"gateway document invalid: {prepared.errors}")
    ours_document = prepared.document

    async def ours() -> ExecutionResult:
        result = execute_prepared(
            schema._schema,
            schema.execution_context_class,
            ours_document,
            context=context(),
            variables=variables,
            operation_name=None,
        )
        return await result if isawaitable(result) else result

    def context() -> Context:
        return Context.create(
            upstreams,  # type: ignore[arg-type]
            CallContext(),
            default_page_size=50,
            max_page_size=n,
            principal=BENCH_PRINCIPAL,
        )

    core_result = execute(core_schema, document, variable_values=variables)
    if not isinstance(core_result, ExecutionResult):  # every baseline resolver is sync
        raise SystemExit("the baseline execution did not complete synchronously")
    ours_result = await ours()
    if core_result.errors or ours_result.errors:
        raise SystemExit(f"errors: {core_result.errors or ours_result.errors}")
    if core_result.data != ours_result.data:
        raise SystemExit("the two executions disagree on the result")

    core_times: list[float] = []
    ours_times: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        execute(core_schema, document, variable_values=variables)
        core_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        await ours()
        ours_times.append(time.perf_counter() - started)

    core_ms = statistics.median(core_times) * 1000
    ours_ms = statistics.median(ours_times) * 1000
    return {
        "scenario": f"{n} samples x 10 scalar fields",
        "rounds": rounds,
        "graphql_core_ms": round(core_ms, 2),
        "gateway_ms": round(ours_ms, 2),
        "ratio": round(ours_ms / core_ms, 3),
        "target_ratio": 0.25,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    report = asyncio.run(run(args.samples, args.rounds))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "graph_execution.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

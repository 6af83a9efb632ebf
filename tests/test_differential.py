"""The gateway's executor against graphql-core's own, over the real sandbox.

Each document of the corpus runs through the whole gateway twice, once with
``GatewayExecutor`` and once with graphql-core's plain execution (Strawberry's execution
context, which adds nothing to graphql-core's completion), and the two answers must be the
same whole: data, and every error's message, path and extensions. The corpus covers
aliases, fragments, skip/include, abstract types, lists of relations, failing services
(the sandbox's fault switches), records that break the contract (a loopback samples
service) and fields a low role may not read.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

import graph.schema
from graph.execution import GatewayExecutor
from sandbox.runner import SandboxProcess
from tests.conftest import SandboxControl, gateway_client, sandbox_settings
from tests.test_bad_responses import SAMPLE_ID, _sample, _samples_service
from upstreams.config import BreakerPolicy

SAMPLE_FIELDS = """
  id name barcode sampleType status templateId sourceType collectionDate concentration
  volume unit qualityScore metadata notes createdAt updatedAt allowedNextStatuses
"""

CORPUS: dict[str, str] = {
    "a list of samples with every relation": f"""{{ samples(first: 20) {{ totalCount
        pageInfo {{ hasNextPage endCursor }}
        edges {{ cursor node {{ {SAMPLE_FIELDS}
          template {{ id name fields {{ name fieldType isRequired }} }}
          storage {{ __typename id positionIdentifier }}
          sequencingJobs {{ id status }} }} }} }} }}""",
    "aliases, the same field twice and typename": """{ samples(first: 5) { nodes {
        __typename first: name second: name id id barcode b: barcode } } }""",
    "fragments on the list items": """
        fragment Core on Sample { id name status }
        fragment More on Sample { ...Core createdAt template { __typename name } }
        { samples(first: 10) { edges { node { ...More ... on Sample { volume } } } } }""",
    "skip and include": """query($yes: Boolean = true, $no: Boolean = false) {
        samples(first: 10) { nodes { id name @skip(if: $yes) status @include(if: $yes)
          barcode @include(if: $no) ... @skip(if: $no) { unit } } } }""",
    "abstract types through node": """{ samples(first: 3) { nodes { id } }
        templates(first: 2) { nodes { id } } }""",
    "templates and their fields": """{ templates(first: 10) { edges { node { __typename
        id name fields { name fieldType isRequired } } } } }""",
    "storage locations": """{ storageLocations(first: 40) { totalCount edges { node {
        __typename id name temperatureZone } } } }""",
    "sequencing jobs": """{ sequencingJobs(first: 20) { nodes { id status } } }""",
}

# Abstract types: the ids read in the first round are asked for again through `node`.
NODE_DOCUMENT = """query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
    ... on Sample { name status template { name } }
    ... on Template { name } } }"""


@contextlib.contextmanager
def _stock_executor() -> Iterator[None]:
    """The schema built while this is open runs graphql-core's own completion."""
    saved = graph.schema.GatewayExecutor
    graph.schema.GatewayExecutor = StrawberryGraphQLCoreExecutionContext  # type: ignore[misc,assignment]
    try:
        # The endpoint executes with the schema's class: this one, while the block is open.
        stock = graph.schema.create_schema().execution_context_class
        assert stock is StrawberryGraphQLCoreExecutionContext
        yield
    finally:
        graph.schema.GatewayExecutor = saved  # type: ignore[misc]


async def _answers(
    settings: Any, role: str | None, documents: list[tuple[str, dict[str, Any]]]
) -> list[Any]:
    async with gateway_client(settings, role=role) as client:
        answers = []
        for query, variables in documents:
            response = await client.post("/graphql", json={"query": query, "variables": variables})
            answers.append((response.status_code, response.json()))
        return answers


def _whole(answer: tuple[int, dict[str, Any]]) -> tuple[int, Any, list[bytes]]:
    """Status, data and the errors whole; errors of concurrent fields arrive in either
    order, so they are compared as a sorted list. ``retryAfter`` counts down the open
    breaker's time, so only its presence is compared."""
    status, body = answer
    errors = []
    for error in body.get("errors") or []:
        extensions = error.get("extensions") or {}
        if "retryAfter" in extensions:
            error = error | {"extensions": extensions | {"retryAfter": "present"}}
        errors.append(orjson.dumps(error, option=orjson.OPT_SORT_KEYS))
    return status, body.get("data"), sorted(errors)


async def _differential(
    settings: Any, role: str | None, documents: list[tuple[str, dict[str, Any]]]
) -> list[Any]:
    assert graph.schema.GatewayExecutor is GatewayExecutor
    ours = await _answers(settings, role, documents)
    with _stock_executor():
        theirs = await _answers(settings, role, documents)
    for (query, _), mine, stock in zip(documents, ours, theirs, strict=True):
        assert _whole(mine) == _whole(stock), query
    return [body for _, body in ours]


def _corpus() -> list[tuple[str, dict[str, Any]]]:
    return [(query, {}) for query in CORPUS.values()]


async def test_the_corpus_answers_alike(sandbox: SandboxProcess, control: SandboxControl) -> None:
    answers = await _differential(sandbox_settings(sandbox), "lab_administrator", _corpus())
    assert all(a.get("data") for a in answers)
    first = answers[0]["data"]["samples"]["edges"]
    assert len(first) == 20
    ids = [e["node"]["id"] for e in first[:5]]
    ids += [n["id"] for n in answers[4]["data"]["templates"]["nodes"]]
    nodes = await _differential(
        sandbox_settings(sandbox), "lab_administrator", [(NODE_DOCUMENT, {"ids": ids})]
    )
    kinds = {n["__typename"] for n in nodes[0]["data"]["nodes"]}
    assert kinds == {"Sample", "Template"}


@pytest.mark.parametrize("service", ["sequencing", "templates", "storage"])
async def test_a_failing_service_answers_alike(
    sandbox: SandboxProcess, control: SandboxControl, service: str
) -> None:
    control.fault(service, status=503, times=None)
    # On the release a sample's storage is one call per sample, all at once; which of them
    # the breaker turns away once it opens is down to their interleaving, not to the
    # executor, so here the breaker stays closed and every call fails the same way.
    closed = BreakerPolicy(failure_threshold=10_000, min_calls=10_000)
    settings = sandbox_settings(sandbox, breaker=closed)
    answers = await _differential(settings, "lab_administrator", _corpus())
    assert any(a.get("errors") for a in answers)


@pytest.mark.parametrize("role", ["guest", "lab_technician", None])
async def test_forbidden_fields_answer_alike(
    sandbox: SandboxProcess, control: SandboxControl, role: str | None
) -> None:
    documents = [
        *_corpus(),
        ("{ users { nodes { id email } } templates(first: 3) { nodes { id name } } }", {}),
        ("{ me { id } samples(first: 2) { nodes { id createdBy { id } } } }", {}),
    ]
    answers = await _differential(sandbox_settings(sandbox), role, documents)
    assert any(a.get("errors") for a in answers)


# Each change to test_bad_responses' good record, and whether the graph must refuse a field of it.
BROKEN: dict[str, tuple[dict[str, Any], bool]] = {
    "a malformed timestamp": ({"collection_date": "999-01-02T00:00:00Z"}, True),
    "a malformed non-null timestamp": ({"created_at": "yesterday"}, True),
    "an unknown status": ({"status": "Misplaced"}, True),
    "an unknown sample type": ({"sample_type": "Plasma"}, False),
    "no name": ({"name": None}, True),
    "a number as the name": ({"name": 42}, False),
    "a string as the volume": ({"volume": "lots"}, True),
    "a list as the notes": ({"notes": ["a", "b"]}, True),
}


@pytest.mark.parametrize("change", BROKEN.values(), ids=BROKEN.keys())
async def test_a_broken_record_answers_alike(
    sandbox: SandboxProcess, change: tuple[dict[str, Any], bool]
) -> None:
    fields, refused = change
    documents = [
        (f"query($id: ID!) {{ sample(id: $id) {{ {SAMPLE_FIELDS} }} }}", {"id": SAMPLE_ID}),
        (
            "query($id: ID!) { sample(id: $id) { id name } "
            "nodes(ids: [$id]) { __typename id ... on Sample { status createdAt } } }",
            {"id": SAMPLE_ID},
        ),
    ]
    async with _samples_service(_sample(**fields)) as url:
        settings = sandbox_settings(sandbox)
        settings = dataclasses.replace(
            settings, upstream_urls={**settings.upstream_urls, "samples": url}
        )
        answers = await _differential(settings, "lab_administrator", documents)
    assert bool(answers[0].get("errors")) is refused

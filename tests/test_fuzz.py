"""Random operations through the gateway: whatever a client sends, the answer is never a 5xx,
never an INTERNAL_SERVER_ERROR, and never shows a traceback or an upstream address.

Drawn from ``schema.graphql`` (which a test holds to the code): valid queries and valid
mutations with their arguments as literals (hypothesis-graphql), invalid operations with one
schema violation each, and, for each root field in turn, its arguments as variables whose
JSON values fit their types or not. Ids and strings are drawn
partly from the sandbox's own data, so that operations reach real records and not only the
"not a valid id" check; JSON values nest deeper than the gateway takes, and one string is
longer than a URL may be. Each operation is sent as an administrator and as a lab
technician, logged in as the sandbox's demo accounts (real sessions, so auth's
session-bound routes answer too), with rate limiting off and the operation limits at their
defaults: a limit error is an answer, a 5xx is not. Lists default to pages of 5 (not 50),
so that a query's nested lists fan out to tens of upstream calls, not thousands. Mutations
change data, so the sandbox is this module's own.

Derandomized, with a fixed number of examples per strategy: the same operations every run,
in a bounded time. Each test prints how many examples it ran and how long they took.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import graphql
import httpx
import hypothesis_graphql
import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes

from sandbox.runner import SandboxProcess
from sandbox.seed import DEMO_USERS
from tests.conftest import gateway_client, sandbox_settings

SCHEMA = graphql.build_schema(
    (Path(__file__).parent.parent / "schema.graphql").read_text(encoding="utf-8")
)
ROLES = ("lab_administrator", "lab_technician")
ACCOUNTS = {role: (email, password) for email, password, role in DEMO_USERS}
# Examples per strategy, each sent once per role. Drawing a query or a mutation from this
# schema takes ~130 ms and a query fans out to many upstream calls (~400 ms an example on
# this machine); invalid operations and variables mostly stop at validation or at one call.
EXAMPLES = {"queries": 35, "mutations": 80, "invalid": 100}
# Examples for each root field that takes arguments, all of them passed as variables.
VARIABLE_EXAMPLES = 12

LOGIN = "mutation($input: LoginInput!) { login(input: $input) { accessToken } }"
# What the fuzzer's ids and strings are drawn from besides random text: a few of each kind
# of record the sandbox holds.
POOL = """{
  samples(first: 20) { edges { node { id barcode templateId createdById } } }
  templates(first: 5) { edges { node { id name fields { id name } } } }
  storageLocations(first: 5) {
    edges { node { id temperatureZone containers(first: 5) { edges { node { id barcode } } } } }
  }
  sequencingJobs(first: 10) { edges { node { id sampleSheetId } } }
  notifications(first: 5) { edges { node { id } } }
  users(first: 10) { edges { node { id email } } }
}"""
# Strings a careless path or query builder would trip over (the last is longer than a URL
# may be).
ODD_STRINGS = ("", " ", "\x00", "../..", "a/b?c=d#e", "%2e%2e%2f", "'\"", "\u202e", "x" * 70_000)
INTERNAL = "INTERNAL_SERVER_ERROR"


@dataclass
class Pool:
    """Values taken from the sandbox's data: ids (UUIDs) and other strings."""

    ids: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)

    def collect(self, value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                self.collect(v, k)
        elif isinstance(value, list):
            for v in value:
                self.collect(v, key)
        elif isinstance(value, str):
            (self.ids if key == "id" or key.endswith("Id") else self.words).append(value)


class Fuzzer:
    """The gateway in this process with its lifespan running, reached over one event loop
    that outlives each example; a logged-in session per role."""

    def __init__(self, sandbox: SandboxProcess) -> None:
        self._runner = asyncio.Runner()
        self._context = gateway_client(sandbox_settings(sandbox, default_page_size=5), role=None)
        self._client = self._runner.run(self._context.__aenter__())
        self._tokens = {role: self.login(role) for role in ROLES}
        self.upstreams = [url.split("//", 1)[-1] for url in sandbox.urls.values()]
        self.pool = Pool()
        self.pool.collect(self.body(self.send("lab_administrator", {"query": POOL}))["data"])

    def close(self) -> None:
        self._runner.run(self._context.__aexit__(None, None, None))
        self._runner.close()

    def login(self, role: str) -> str:
        email, password = ACCOUNTS[role]
        body = {"query": LOGIN, "variables": {"input": {"email": email, "password": password}}}
        response = self._runner.run(self._client.post("/graphql", json=body))
        token: str = response.json()["data"]["login"]["accessToken"]
        return token

    def send(self, role: str, body: dict[str, Any]) -> httpx.Response:
        """POST one operation as ``role``; a new session once the operation logged out."""
        headers = {"authorization": f"Bearer {self._tokens[role]}"}
        response = self._runner.run(self._client.post("/graphql", json=body, headers=headers))
        if "logout" in body["query"]:
            self._tokens[role] = self.login(role)
        return response

    def body(self, response: httpx.Response) -> dict[str, Any]:
        """The answer's JSON, after checking that it is one a client may be given."""
        text = response.text
        assert response.status_code < 500, text
        assert "Traceback" not in text, text
        assert not any(upstream in text for upstream in self.upstreams), text
        body: dict[str, Any] = orjson.loads(text)
        codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
        assert INTERNAL not in codes, text
        return body


@pytest.fixture(scope="module")
def fuzzer() -> Iterator[Fuzzer]:
    """A sandbox of this module's own (the mutations change its data) and the gateway."""
    with SandboxProcess() as sandbox:
        fuzzer = Fuzzer(sandbox)
        try:
            yield fuzzer
        finally:
            fuzzer.close()


# -- values --------------------------------------------------------------------------------

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)


def _nested(depth: int) -> Any:
    value: Any = None
    for _ in range(depth):
        value = [value]
    return value


JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
    # Nested past what the gateway takes, and past what its encoder writes.
) | st.integers(min_value=60, max_value=300).map(_nested)
DATES = st.dates(min_value=date(1, 1, 1)).map(date.isoformat)
DATETIMES = st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat) | st.datetimes().map(
    datetime.isoformat
)


# Mostly small (page sizes, positions, counts), sometimes at or past an edge.
INTS = st.integers(min_value=-2, max_value=6) | st.sampled_from(
    (100, 101, 1000, 1001, 2**31 - 1, -(2**31))
)


def _strings(pool: Pool) -> st.SearchStrategy[str]:
    return st.text(max_size=40) | st.sampled_from(ODD_STRINGS) | st.sampled_from(pool.words)


def _ids(pool: Pool) -> st.SearchStrategy[str]:
    return st.sampled_from(pool.ids) | st.uuids().map(str) | st.text(max_size=40)


def _literal(value: Any) -> graphql.ValueNode:
    """A JSON value as a GraphQL literal (object keys made into names)."""
    if value is None:
        return nodes.Null
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([_literal(v) for v in value])
    return nodes.Object(
        [
            graphql.ObjectFieldNode(name=graphql.NameNode(value=f"k{i}"), value=_literal(v))
            for i, v in enumerate(value.values())
        ]
    )


def _scalar_literals(pool: Pool) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Literals for hypothesis-graphql: the custom scalars, and ids and strings from the pool."""
    strings = _strings(pool)
    return {
        "ID": _ids(pool).map(nodes.String),
        "Int": INTS.map(nodes.Int),
        "String": strings.map(nodes.String),
        "Date": (DATES | strings).map(nodes.String),
        "DateTime": (DATETIMES | strings).map(nodes.String),
        "JSON": JSON_VALUES.map(_literal),
        "Upload": strings.map(nodes.String),
    }


def _variable_value(type_: graphql.GraphQLInputType, pool: Pool) -> st.SearchStrategy[Any]:
    """A JSON value for a variable of ``type_``: mostly one that fits, sometimes any value."""
    return _fitting(type_, pool) | _fitting(type_, pool) | JSON_VALUES


def _fitting(type_: graphql.GraphQLInputType, pool: Pool) -> st.SearchStrategy[Any]:
    if isinstance(type_, graphql.GraphQLNonNull):
        return _fitting(type_.of_type, pool)
    if isinstance(type_, graphql.GraphQLList):
        item = _variable_value(type_.of_type, pool)
        return st.lists(item, max_size=4) | item
    if isinstance(type_, graphql.GraphQLEnumType):
        return st.sampled_from(list(type_.values)) | st.text(max_size=10)
    if isinstance(type_, graphql.GraphQLInputObjectType):
        fields = type_.fields
        required = {n: _variable_value(f.type, pool) for n, f in fields.items() if _required(f)}
        optional = {n: _variable_value(f.type, pool) for n, f in fields.items() if not _required(f)}
        return st.fixed_dictionaries(required, optional=optional)
    return _scalar(type_.name, pool)


def _required(input_field: graphql.GraphQLInputField) -> bool:
    return graphql.is_required_input_field(input_field)


def _scalar(name: str, pool: Pool) -> st.SearchStrategy[Any]:
    if name == "Int":
        return INTS | st.integers()
    if name == "Float":
        return st.floats(allow_nan=False, allow_infinity=False) | st.integers()
    if name == "Boolean":
        return st.booleans()
    if name == "ID":
        return _ids(pool)
    if name == "Date":
        return DATES | _strings(pool)
    if name == "DateTime":
        return DATETIMES | _strings(pool)
    if name == "JSON":
        return JSON_VALUES
    return _strings(pool)


def _root_fields() -> list[tuple[str, str]]:
    """(operation keyword, field name) of every root field that takes arguments."""
    roots = (("query", SCHEMA.query_type), ("mutation", SCHEMA.mutation_type))
    return [
        (keyword, name)
        for keyword, root in roots
        if root is not None
        for name, root_field in sorted(root.fields.items())
        if root_field.args
    ]


def _with_variables(keyword: str, name: str, pool: Pool) -> st.SearchStrategy[dict[str, Any]]:
    """The root field with every argument passed as a variable of the argument's type: the
    required ones always, the others sometimes."""
    root = SCHEMA.query_type if keyword == "query" else SCHEMA.mutation_type
    assert root is not None
    args = root.fields[name].args
    definitions = ", ".join(f"${a}: {arg.type}" for a, arg in args.items())
    arguments = ", ".join(f"{a}: ${a}" for a in args)
    leaf = graphql.is_leaf_type(graphql.get_named_type(root.fields[name].type))
    query = f"{keyword}({definitions}) {{ {name}({arguments}){'' if leaf else ' { __typename }'} }}"
    required = {a: _variable_value(arg.type, pool) for a, arg in args.items() if _needed(arg)}
    optional = {a: _variable_value(arg.type, pool) for a, arg in args.items() if not _needed(arg)}
    return st.fixed_dictionaries(required, optional=optional).map(
        lambda variables: {"query": query, "variables": variables}
    )


def _needed(argument: graphql.GraphQLArgument) -> bool:
    return graphql.is_required_argument(argument)


def _operations(kind: str, pool: Pool) -> st.SearchStrategy[dict[str, Any]]:
    scalars = _scalar_literals(pool)
    if kind == "queries":
        documents = hypothesis_graphql.queries(SCHEMA, custom_scalars=scalars)
    elif kind == "mutations":
        documents = hypothesis_graphql.mutations(SCHEMA, custom_scalars=scalars)
    else:
        negative = hypothesis_graphql.Mode.NEGATIVE
        documents = hypothesis_graphql.queries(
            SCHEMA, custom_scalars=scalars, mode=negative
        ) | hypothesis_graphql.mutations(SCHEMA, custom_scalars=scalars, mode=negative)
    return documents.map(lambda query: {"query": query})


# -- the tests -----------------------------------------------------------------------------


def _fuzz(
    fuzzer: Fuzzer, operations: st.SearchStrategy[dict[str, Any]], examples: int
) -> list[dict[str, Any]]:
    """Send ``examples`` operations as each role; every answer, checked by ``Fuzzer.body``."""
    answered: list[dict[str, Any]] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large),
    )
    @given(operations)
    def run(operation: dict[str, Any]) -> None:
        for role in ROLES:
            answered.append(fuzzer.body(fuzzer.send(role, operation)))

    run()
    return answered


@pytest.mark.parametrize("kind", list(EXAMPLES))
def test_random_operations_get_no_server_error(
    fuzzer: Fuzzer, kind: str, record_property: Callable[[str, object], None]
) -> None:
    started = time.monotonic()
    answered = _fuzz(fuzzer, _operations(kind, fuzzer.pool), EXAMPLES[kind])
    elapsed = time.monotonic() - started
    examples = len(answered) // len(ROLES)
    print(f"fuzz {kind}: {examples} examples x {len(ROLES)} roles in {elapsed:.1f} s")
    record_property("examples", examples)
    if kind == "invalid":
        # Each operation broke one rule of the schema, and each answer says so.
        assert all(b.get("errors") for b in answered), answered
    else:
        # The operations reached the resolvers: some root field answered with data.
        assert any(any((b.get("data") or {}).values()) for b in answered), answered[:3]


@pytest.mark.parametrize(("keyword", "name"), _root_fields())
def test_each_root_field_with_random_variables_gets_no_server_error(
    fuzzer: Fuzzer, keyword: str, name: str, record_property: Callable[[str, object], None]
) -> None:
    started = time.monotonic()
    answered = _fuzz(fuzzer, _with_variables(keyword, name, fuzzer.pool), VARIABLE_EXAMPLES)
    elapsed = time.monotonic() - started
    examples = len(answered) // len(ROLES)
    print(f"fuzz {keyword} {name}: {examples} examples x {len(ROLES)} roles in {elapsed:.2f} s")
    record_property("examples", examples)

"""The RBAC matrix, generated: every route rule x method and every GraphQL mutation, for
every role and for an anonymous caller, sent through one gateway to a sandbox of its own,
and held to the tables README prints (parsed from README, so that README and behaviour
cannot drift apart).

Refused means the gateway's own refusal: REST 401 ``UNAUTHENTICATED`` (anonymous) or 403
``FORBIDDEN`` ``Not allowed...``; GraphQL ``UNAUTHENTICATED`` / ``FORBIDDEN`` naming the
rule in ``extensions.rule``. Allowed means anything else (the service answers, often with
its own error: the inputs are random ids and invalid bodies, which change nothing). A
``creator`` cell is refused here: the caller created none of these (random) records.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    Undefined,
)

from graph.schema import create_schema
from sandbox.runner import SandboxProcess
from security import rbac
from security.principal import ROLES
from tests.conftest import gateway_client, mint_token, sandbox_settings

pytestmark = pytest.mark.asyncio(loop_scope="module")

README = Path(__file__).resolve().parent.parent / "README.md"
CALLERS = (rbac.ANONYMOUS, *ROLES)
ANY_METHOD = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
RECORD = str(uuid.uuid4())  # no record has this id
SCHEMA = create_schema()._schema


# ---------------------------------------------------------------- README's tables


@dataclass(frozen=True)
class Printed:
    verdicts: dict[str, dict[str, str]]  # rule -> caller -> yes / no / creator
    routes: dict[tuple[str, str], str]  # (path, methods as printed) -> rule
    mutations: dict[str, str]  # mutation -> rule


def _rows(text: str, header: str) -> list[list[str]]:
    lines = text.splitlines()
    assert header in lines, f"README prints no table headed {header!r}"
    rows = []
    for line in lines[lines.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
    return rows


@pytest.fixture(scope="module")
def printed() -> Printed:
    text = README.read_text(encoding="utf-8")
    matrix = _rows(text, "| rule | " + " | ".join(CALLERS) + " |")
    routes = _rows(text, "| legacy path | methods | rule |")
    mutations = _rows(text, "| mutation | rule |")
    return Printed(
        verdicts={row[0]: dict(zip(CALLERS, row[1:], strict=True)) for row in matrix},
        routes={(path, methods): rule for path, methods, rule in routes},
        mutations={name: rule for name, rule in mutations},
    )


def _expected(printed: Printed, rule: str) -> dict[str, str]:
    assert rule in printed.verdicts, f"README's role matrix has no rule {rule!r}"
    cells = printed.verdicts[rule]
    return {
        caller: "allowed"
        if cells[caller] == "yes"
        else ("unauthenticated" if caller == rbac.ANONYMOUS else "forbidden")
        for caller in CALLERS
    }


def _headers(caller: str) -> dict[str, str]:
    """A fresh session per request: ``logout`` ends the one it is sent with."""
    return {} if caller == rbac.ANONYMOUS else {"authorization": f"Bearer {mint_token(caller)}"}


# ---------------------------------------------------------------- one sandbox, one gateway


@pytest.fixture(scope="module")
def matrix_sandbox() -> Iterator[SandboxProcess]:
    """A sandbox for this module alone: what the allowed calls do stays here."""
    with SandboxProcess() as sb:
        yield sb


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gateway(matrix_sandbox: SandboxProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_client(sandbox_settings(matrix_sandbox), role=None) as client:
        yield client


# ---------------------------------------------------------------- REST: rule x method x caller


def _rest_cases() -> Iterator[Any]:
    for row in rbac.ROUTE_RULES:
        for method in sorted(row.methods) or ANY_METHOD:
            yield pytest.param(row, method, id=f"{method} {row.prefix}")


def _rest_outcome(response: httpx.Response, method: str) -> str:
    if method == "HEAD":
        # No body to read: by status (no service answers these HEADs 401 or 403).
        if response.status_code == 401 and response.headers.get("www-authenticate") == "Bearer":
            return "unauthenticated"
        return "forbidden" if response.status_code == 403 else "allowed"
    try:
        error = response.json()["error"]
        code, message = error["code"], error["message"]
    except (ValueError, KeyError, TypeError):
        return "allowed"
    if response.status_code == 401 and code == "UNAUTHENTICATED":
        return "unauthenticated" if message.startswith("Log in first") else "allowed"
    if response.status_code == 403 and code == "FORBIDDEN":
        return "forbidden" if message.startswith("Not allowed") else "allowed"
    return "allowed"


@pytest.mark.parametrize(("row", "method"), list(_rest_cases()))
async def test_rest_route_rule_for_every_role(
    gateway: httpx.AsyncClient, printed: Printed, row: rbac.RouteRule, method: str
) -> None:
    methods = " ".join(sorted(row.methods)) or "any"
    assert (row.prefix, methods) in printed.routes, f"README does not print {row}"
    path = row.prefix.replace("{id}", RECORD)
    match = rbac.route_match(path, method)
    assert match is not None
    assert match.route == row  # the request is judged by this row
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None

    async def send(caller: str) -> str:
        headers = {**_headers(caller), "content-type": "application/json"}
        response = await gateway.request(method, path, content=body, headers=headers)
        return _rest_outcome(response, method)

    outcomes = await asyncio.gather(*(send(caller) for caller in CALLERS))
    expected = _expected(printed, printed.routes[(row.prefix, methods)])
    assert dict(zip(CALLERS, outcomes, strict=True)) == expected


# ---------------------------------------------------------------- GraphQL: mutation x caller


def _dummy(kind: GraphQLInputType, path: str, uploads: list[str]) -> Any:
    """A value of ``kind`` that changes nothing: required fields only, random ids, blank
    text, empty lists; an ``Upload`` is left null and its path noted for the multipart."""
    if isinstance(kind, GraphQLNonNull):
        return _dummy(kind.of_type, path, uploads)
    if isinstance(kind, GraphQLList):
        return []
    if isinstance(kind, GraphQLInputObjectType):
        return {
            name: _dummy(field.type, f"{path}.{name}", uploads)
            for name, field in kind.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        }
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    assert isinstance(kind, GraphQLScalarType)
    values: dict[str, Any] = {
        "ID": str(uuid.uuid4()),
        "String": "",
        "Int": 0,
        "Float": 0.0,
        "Boolean": False,
        "DateTime": "2000-01-01T00:00:00Z",
        "Date": "2000-01-01",
        "JSON": {},
    }
    if kind.name == "Upload":
        uploads.append(path)
        return None
    return values[kind.name]


def _operation(name: str, field: GraphQLField) -> tuple[str, dict[str, Any], list[str]]:
    """The mutation with its required arguments as variables, and the Upload paths."""
    uploads: list[str] = []
    required = {
        arg_name: arg
        for arg_name, arg in field.args.items()
        if isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
    }
    variables = {n: _dummy(a.type, f"variables.{n}", uploads) for n, a in required.items()}
    declared = ", ".join(f"${n}: {a.type}" for n, a in required.items())
    passed = ", ".join(f"{n}: ${n}" for n in required)
    query = (
        f"mutation{f'({declared})' if declared else ''} "
        f"{{ {name}{f'({passed})' if passed else ''} {{ __typename }} }}"
    )
    return query, variables, uploads


def _graphql_outcome(body: dict[str, Any]) -> str:
    for error in body.get("errors") or []:
        extensions = error.get("extensions") or {}
        if "rule" in extensions:
            return f"{extensions['code'].lower()}:{extensions['rule']}"
    return "allowed"


def _mutations() -> dict[str, GraphQLField]:
    mutation = SCHEMA.mutation_type
    if mutation is None:
        raise RuntimeError("the schema has no mutations")
    return dict(mutation.fields)


MUTATIONS = _mutations()


@pytest.mark.parametrize("name", list(MUTATIONS))
async def test_mutation_rule_for_every_role(
    gateway: httpx.AsyncClient, printed: Printed, name: str
) -> None:
    assert name in printed.mutations, f"README's mutation table does not list {name}"
    rule = printed.mutations[name]
    query, variables, uploads = _operation(name, MUTATIONS[name])

    async def send(caller: str) -> str:
        if uploads:
            response = await gateway.post(
                "/graphql",
                data={
                    "operations": orjson.dumps({"query": query, "variables": variables}).decode(),
                    "map": orjson.dumps({str(i): [p] for i, p in enumerate(uploads)}).decode(),
                },
                files={str(i): ("empty.txt", b"", "text/plain") for i in range(len(uploads))},
                headers={**_headers(caller), "apollo-require-preflight": "true"},
            )
        else:
            response = await gateway.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers=_headers(caller),
            )
        assert response.status_code == 200, response.text
        return _graphql_outcome(response.json())

    outcomes = await asyncio.gather(*(send(caller) for caller in CALLERS))
    expected = {
        caller: verdict if verdict == "allowed" else f"{verdict}:{rule}"
        for caller, verdict in _expected(printed, rule).items()
    }
    assert dict(zip(CALLERS, outcomes, strict=True)) == expected

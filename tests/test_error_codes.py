"""README's error-code list is complete and true: every code the gateway can answer (in a
GraphQL ``extensions.code`` or a REST ``error.code``) is in its table, and the table lists
no code the gateway never answers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "security", "graph", "resolvers", "upstreams")
CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$|^[A-Z]{4,}$")
# Constants spelled like codes that the gateway never answers.
NOT_ANSWERED = {
    "PROMETHEUS_MULTIPROC_DIR": "an environment variable of prometheus_client",
    "USER_NOT_FOUND": "the auth service's own code, read by the gateway, never passed on",
}
# Calls whose positional arguments include the code they answer with.
REFUSALS = {
    "legacy_error",
    "reject",
    "Refused",
    "_error",
    "RequestRefused",
    "GraphQLError",
    "_forbidden",
}


def _candidates(tree: ast.AST) -> list[ast.expr]:
    values: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            values += [v for k, v in zip(node.keys, node.values, strict=True) if _is(k, "code")]
        elif isinstance(node, (ast.keyword, ast.Assign)) and _names_a_code(node):
            values.append(node.value)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in REFUSALS:
                values += node.args
    return values


def _names_a_code(node: ast.keyword | ast.Assign) -> bool:
    """``code=...``, ``code = ...`` or a constant ``NAME = ...``."""
    if isinstance(node, ast.keyword):
        return node.arg == "code"
    return all(isinstance(t, ast.Name) and (t.id.isupper() or t.id == "code") for t in node.targets)


def _is(node: ast.expr | None, text: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == text


def answered_codes() -> set[str]:
    codes = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for value in _candidates(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                    and CODE.match(value.value)
                ):
                    codes.add(value.value)
    return codes - set(NOT_ANSWERED)


def documented_codes() -> set[str]:
    """The first column of the table under README's "### Error codes" heading."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Error codes\n", 1)[1].split("\n#", 1)[0]
    codes = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            codes.update(re.findall(r"`([A-Z_]+)`", first))
    return codes


def test_every_code_the_gateway_answers_is_in_the_readme_table() -> None:
    missing = answered_codes() - documented_codes()
    assert not missing, f"README's error-code table lacks {sorted(missing)}"


def test_the_readme_table_lists_no_code_the_gateway_never_answers() -> None:
    stale = documented_codes() - answered_codes()
    assert not stale, f"README's error-code table lists {sorted(stale)}, which nothing answers"


def test_the_scan_finds_codes_from_every_layer() -> None:
    found = answered_codes()
    # One from each way a code is written: GraphError classes, REST refusals, edge step
    # refusals, module constants, request refusals.
    assert {
        "UPSTREAM_UNAVAILABLE",
        "INVALID_PATH",
        "CSRF_PREVENTION",
        "OPERATION_LIMIT_EXCEEDED",
        "UNSUPPORTED_MEDIA_TYPE",
    } <= found

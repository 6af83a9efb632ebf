"""The house rules of DESIGN.md that an import can break: dependencies point one way
(gateway → graph → resolvers → upstreams; security used by gateway and graph only), and the
sandbox is a separate program. Every import is read, those inside functions included."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> first-party or framework packages it must never import
FORBIDDEN = {
    "upstreams": {"gateway", "graph", "resolvers", "security", "sandbox", "strawberry",
                  "starlette", "graphql"},
    "resolvers": {"gateway", "graph", "security", "sandbox", "strawberry", "starlette"},
    "graph": {"gateway", "sandbox"},
    "security": {"gateway", "graph", "resolvers", "upstreams", "sandbox"},
    "sandbox": {"gateway", "graph", "resolvers", "upstreams", "security"},
}  # fmt: skip
# graph reaches data only through the context's loaders and clients: of upstreams it may
# know the error types (to give them codes), nothing that sends a request.
GRAPH_MAY_IMPORT_FROM_UPSTREAMS = {"upstreams.errors"}
# Only the CLI command that starts the sandbox for `make run` may import it.
SANDBOX_IMPORTERS = {"gateway/cli.py"}


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_the_design_allows(package: str) -> None:
    broken = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(package)
        for name in _imports(path)
        if name.split(".")[0] in FORBIDDEN[package]
        or (
            package == "graph"
            and name.split(".")[0] == "upstreams"
            and name not in GRAPH_MAY_IMPORT_FROM_UPSTREAMS
        )
    ]
    assert not broken, broken


def test_only_the_cli_starts_the_sandbox() -> None:
    importers = {
        str(path.relative_to(ROOT))
        for package in ("gateway", "graph", "resolvers", "upstreams", "security")
        for path in _modules(package)
        if any(name.split(".")[0] == "sandbox" for name in _imports(path))
    }
    assert importers <= SANDBOX_IMPORTERS


def test_the_rules_see_the_imports_they_judge() -> None:
    """Guard against a check that passes because it reads nothing."""
    assert "upstreams.errors" in set(_imports(ROOT / "graph" / "errors.py"))
    assert "sandbox.runner" in set(_imports(ROOT / "gateway" / "cli.py"))
    assert len(_modules("upstreams")) >= 5

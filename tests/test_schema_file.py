"""schema.graphql at the repository root is the printed SDL of the code."""

from __future__ import annotations

from pathlib import Path

from graph.schema import create_schema

ROOT = Path(__file__).resolve().parent.parent


def test_schema_file_matches_the_code() -> None:
    printed = str(create_schema()) + "\n"
    on_disk = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert on_disk == printed, "schema.graphql is stale: run `tracseq-gateway export-schema`"

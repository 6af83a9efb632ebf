"""The sandbox's routing answers as the services' web frameworks do (UPSTREAMS.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sandbox.options import EXTENSIONS, FIXES, Options, options_from
from sandbox.runner import SandboxProcess
from sandbox.services import build_app
from sandbox.store import SEED_VERSION, open_store
from sandbox.web import uuid_error


@pytest.fixture
async def samples_app() -> AsyncIterator[httpx.AsyncClient]:
    store = open_store(None, memory=True)
    transport = httpx.ASGITransport(app=build_app("samples", store))
    async with httpx.AsyncClient(transport=transport, base_url="http://samples") as client:
        yield client
    store.close()


async def test_a_literal_segment_wins_over_a_parameter_and_a_wrong_method_is_an_empty_405(
    samples_app: httpx.AsyncClient,
) -> None:
    batch = await samples_app.get("/samples/batch")  # POST-only route, not a sample id
    assert (batch.status_code, batch.content, batch.headers["allow"]) == (405, b"", "POST")
    listing = await samples_app.delete("/samples")
    assert (listing.status_code, listing.headers["allow"]) == (405, "GET,POST")


async def test_unknown_paths_are_empty_404s_without_trailing_slash_redirects(
    samples_app: httpx.AsyncClient,
) -> None:
    for path in ("/nope", "/samples/"):
        answer = await samples_app.get(path)
        assert (answer.status_code, answer.content) == (404, b"")


async def test_a_malformed_uuid_in_the_path_is_a_plain_text_400_before_the_handler(
    samples_app: httpx.AsyncClient,
) -> None:
    answer = await samples_app.get("/samples/x")
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.text == (
        "Invalid URL: UUID parsing failed: invalid character: expected an optional prefix of "
        "`urn:uuid:` followed by [0-9a-fA-F-], found `x` at 1"
    )


def test_uuid_messages_follow_the_uuid_crate() -> None:
    assert uuid_error("abc") == "invalid length: expected length 32 for simple format, found 3"
    assert uuid_error("00000000-0000-4000-8000") == "invalid group count: expected 5, found 4"
    assert uuid_error("0000000-0000-4000-8000-000000000000") == (
        "invalid group length in group 0: expected 8, found 7"
    )


async def test_every_options_is_200_and_every_answer_carries_permissive_cors(
    samples_app: httpx.AsyncClient,
) -> None:
    preflight = await samples_app.options("/no/such/route")
    assert (preflight.status_code, preflight.content) == (200, b"")
    assert preflight.headers["access-control-allow-methods"] == "*"
    missing = await samples_app.get("/nope")
    assert missing.headers["access-control-allow-origin"] == "*"
    assert missing.headers["access-control-expose-headers"] == "*"


async def test_rag_answers_cors_only_to_a_request_with_an_origin() -> None:
    store = open_store(None, memory=True)
    transport = httpx.ASGITransport(app=build_app("rag", store))
    async with httpx.AsyncClient(transport=transport, base_url="http://rag") as client:
        plain = await client.get("/api/v1/health")
        cross = await client.get("/api/v1/health", headers={"origin": "https://a.example"})
    store.close()
    assert "access-control-allow-origin" not in plain.headers
    assert cross.headers["access-control-allow-origin"] == "*"


def test_options_name_every_extension_and_fix_and_refuse_unknown_ones() -> None:
    assert options_from("all", []).extensions == frozenset(EXTENSIONS)
    assert options_from("none", []) == Options()
    assert options_from("samples, storage", ["templates-clone"]) == Options(
        extensions=frozenset({"samples", "storage"}), fixes=frozenset({"templates-clone"})
    )
    with pytest.raises(ValueError, match="unknown extension"):
        options_from("samples,bogus", [])
    with pytest.raises(ValueError, match="unknown fix"):
        options_from("none", ["no-such-defect"])


def test_sandbox_readme_lists_every_extension_and_fix() -> None:
    readme = (Path(__file__).parent.parent / "sandbox" / "README.md").read_text()
    for name in (*EXTENSIONS, *FIXES):
        assert f"`{name}`" in readme, name


def test_the_sandbox_process_refuses_an_unknown_fix_by_name() -> None:
    with (
        pytest.raises(RuntimeError, match="unknown fix"),
        SandboxProcess(["samples"], extra_args=["--fix", "no-such-defect"]),
    ):
        pass


def test_a_store_file_seeded_by_another_version_is_reseeded(tmp_path: Path) -> None:
    path = str(tmp_path / "tracseq.db")
    store = open_store(path)
    store.run("INSERT INTO meta (key, value) VALUES ('marker', 'kept')")
    store.close()
    store = open_store(path)  # same version: the file and its changes stay
    assert store.value("SELECT value FROM meta WHERE key = 'marker'") == "kept"
    store.run("UPDATE meta SET value = 'old' WHERE key = 'seeded'")
    store.close()
    store = open_store(path)
    try:
        assert store.value("SELECT value FROM meta WHERE key = 'seeded'") == SEED_VERSION
        assert store.value("SELECT value FROM meta WHERE key = 'marker'") is None
    finally:
        store.close()

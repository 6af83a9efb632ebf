"""The gateway as a user starts it: a real process on a free port, in front of the sandbox."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.cli import freeze_startup_heap
from gateway.settings import Settings
from tests.conftest import auth_header
from tests.processes import gateway_process as start_gateway


@pytest.fixture
def gateway_process(sandbox: Any) -> Iterator[str]:
    with start_gateway(sandbox, TRACSEQ_LOG_LEVEL="warning") as gateway:
        yield gateway.url


def test_served_gateway_answers_samples_with_templates(gateway_process: str) -> None:
    # The oldest (seeded) samples: other tests add samples without a template at the head.
    query = "{ samples(last: 20) { totalCount edges { node { id name template { name } } } } }"
    response = httpx.post(
        f"{gateway_process}/graphql", json={"query": query}, headers=auth_header(), timeout=10
    )
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    nodes = [e["node"] for e in body["data"]["samples"]["edges"]]
    assert len(nodes) == 20
    assert any(n["template"] and n["template"]["name"] for n in nodes)
    assert response.headers["x-request-id"]


def test_startup_heap_is_frozen_out_of_full_collections() -> None:
    """``serve`` freezes what start-up allocated, so that a full collection no longer walks
    modules and schema (tens of milliseconds with the event loop stopped)."""
    create_app(Settings())
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 50_000
        assert len(gc.get_objects(generation=2)) < 1_000
    finally:
        gc.unfreeze()

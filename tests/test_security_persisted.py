"""Persisted queries: a document is registered only once its operation starts executing;
every document is bounded in size before parsing; the stores are bounded in bytes (memory)
and in time and bytes (Redis)."""

from __future__ import annotations

import dataclasses
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.settings import Settings
from security.config import OperationLimits, PersistedQueryConfig, RateLimitConfig
from security.persisted import KEY_PREFIX, MemoryQueryStore, RedisQueryStore
from tests.conftest import REDIS_URL, SandboxControl, codes, gateway_client, sandbox_settings

VALID = "query Registered { templates(first: 1) { totalCount } }"
DEEP = (
    '{ container(id: "c") { ' + "children(first: 1000) { nodes { " * 8 + "id" + " } }" * 8 + " } }"
)


def _sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def _apq(document: str | None, digest: str) -> dict[str, Any]:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    if document is not None:
        body["query"] = document
    return body


def _padded(size: int) -> str:
    """A valid document of exactly ``size`` UTF-8 bytes (a trailing comment fills it)."""
    head = f"{VALID} #"
    return head + "x" * (size - len(head.encode()))


def _with_limits(settings: Settings, **limits: Any) -> Settings:
    security = dataclasses.replace(
        settings.security, limits=dataclasses.replace(settings.security.limits, **limits)
    )
    return dataclasses.replace(settings, security=security)


# ---------------------------------------------------------------- registration over HTTP


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ("{ templates(first: 1) { totalCount }", "BAD_USER_INPUT"),
        ("{ templates(first: 1) { noSuchField } }", "BAD_USER_INPUT"),
        (DEEP, "OPERATION_LIMIT_EXCEEDED"),
    ],
    ids=["unparseable", "invalid", "over-the-limits"],
)
async def test_a_document_that_does_not_execute_is_not_registered(
    sandbox: Any, document: str, code: str
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        sent = await client.post("/graphql", json=_apq(document, _sha(document)))
        replay = await client.post("/graphql", json=_apq(None, _sha(document)))
    assert codes(sent.json()) == [code]
    assert codes(replay.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_a_document_whose_cost_the_rate_limit_refuses_is_not_registered(
    sandbox: Any, control: SandboxControl
) -> None:
    # Each request spends the minimum (1); this document's cost (150) exceeds the burst.
    costly = "{ templates(first: 50) { totalCount edges { node { id } } } }"
    settings = sandbox_settings(sandbox, rate_limit=RateLimitConfig(rate=0.01, burst=5))
    async with gateway_client(settings, role="lab_technician") as client:
        control.reset_stats()
        sent = await client.post("/graphql", json=_apq(costly, _sha(costly)))
        replay = await client.post("/graphql", json=_apq(None, _sha(costly)))
        assert control.requests() == 0
    assert codes(sent.json()) == ["RATE_LIMITED"]
    assert codes(replay.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_each_batched_operation_registers_only_its_own_document(sandbox: Any) -> None:
    invalid = "query Invalid { templates(first: 1) { noSuchField } }"
    async with gateway_client(sandbox_settings(sandbox)) as client:
        batch = await client.post(
            "/graphql", json=[_apq(invalid, _sha(invalid)), _apq(VALID, _sha(VALID))]
        )
        replays = await client.post(
            "/graphql", json=[_apq(None, _sha(invalid)), _apq(None, _sha(VALID))]
        )
    assert [codes(answer) for answer in batch.json()] == [["BAD_USER_INPUT"], []]
    invalid_replay, valid_replay = replays.json()
    assert codes(invalid_replay) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert valid_replay == batch.json()[1]


async def test_a_document_is_registered_in_redis_once_it_ran_with_the_configured_ttl(
    sandbox: Any, redis_client: Any
) -> None:
    base = sandbox_settings(sandbox)
    security = dataclasses.replace(
        base.security, redis_url=REDIS_URL, persisted=PersistedQueryConfig(redis_ttl=60)
    )
    settings = dataclasses.replace(base, security=security)
    marker = uuid.uuid4().hex
    valid = f"{VALID} # {marker}"
    invalid = f"{{ templates(first: 1) {{ noSuchField }} }} # {marker}"
    documents, expiry, counter = (
        f"{KEY_PREFIX}:{name}" for name in ("documents", "expiry", "bytes")
    )
    try:
        async with gateway_client(settings) as client:
            await client.post("/graphql", json=_apq(invalid, _sha(invalid)))
            before = time.time()
            ran = await client.post("/graphql", json=_apq(valid, _sha(valid)))
        assert "errors" not in ran.json()
        assert not await redis_client.hexists(documents, _sha(invalid))
        assert await redis_client.hget(documents, _sha(valid)) == valid.encode()
        expires = await redis_client.zscore(expiry, _sha(valid))
        assert before + 60 <= expires <= time.time() + 60
        assert 0 < await redis_client.pttl(documents) <= 60_000
    finally:
        if await redis_client.hdel(documents, _sha(valid)):
            await redis_client.decrby(counter, len(valid.encode()))
        await redis_client.zrem(expiry, _sha(valid), _sha(invalid))


# ---------------------------------------------------------------- the document size limit


async def test_a_document_over_the_size_limit_is_refused_before_parsing_and_not_registered(
    sandbox: Any, control: SandboxControl
) -> None:
    limit = OperationLimits().max_document_bytes
    too_large = _padded(limit + 1)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        plain = await client.post("/graphql", json={"query": too_large})
        persisted = await client.post("/graphql", json=_apq(too_large, _sha(too_large)))
        replay = await client.post("/graphql", json=_apq(None, _sha(too_large)))
        assert control.requests() == 0
        at_the_limit = await client.post("/graphql", json={"query": _padded(limit)})
    for answer in (plain, persisted):
        assert answer.status_code == 200
        body = answer.json()
        assert body["data"] is None
        assert codes(body) == ["OPERATION_LIMIT_EXCEEDED"]
        assert body["errors"][0]["message"] == (
            f"The document is {limit + 1} bytes; the limit is {limit} bytes"
        )
    assert codes(replay.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert at_the_limit.json()["data"]["templates"]["totalCount"] >= 12


async def test_the_document_size_limit_is_a_setting_counted_in_utf8_bytes(sandbox: Any) -> None:
    document = "query Named { templates(first: 1) { totalCount } } # é"
    size = len(document.encode())
    settings = _with_limits(sandbox_settings(sandbox), max_document_bytes=size - 1)
    async with gateway_client(settings) as client:
        refused = await client.post("/graphql", json={"query": document})
    assert refused.json()["errors"][0]["message"] == (
        f"The document is {size} bytes; the limit is {size - 1} bytes"
    )


# ---------------------------------------------------------------- the in-memory store


async def test_memory_store_evicts_the_least_recently_used_by_bytes() -> None:
    store = MemoryQueryStore(max_bytes=10)
    assert await store.put("a", "aaaa")
    assert await store.put("b", "bbbb")
    assert await store.get("a") == "aaaa"  # now b is the least recently used
    assert await store.put("c", "cccc")
    assert (await store.get("a"), await store.get("b"), await store.get("c")) == (
        "aaaa",
        None,
        "cccc",
    )
    assert store.used_bytes == 8


async def test_memory_store_counts_a_document_once_and_refuses_one_larger_than_it_all() -> None:
    store = MemoryQueryStore(max_bytes=10)
    assert await store.put("a", "éé")  # four bytes
    assert await store.put("a", "éé")
    assert store.used_bytes == 4
    assert not await store.put("big", "x" * 11)
    assert await store.get("big") is None
    assert await store.get("a") == "éé"


# ---------------------------------------------------------------- the Redis store


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis_store(redis_client: Any) -> AsyncIterator[tuple[RedisQueryStore, _Clock, Any]]:
    clock = _Clock()
    store = RedisQueryStore(
        redis_client, max_bytes=10, ttl=100, prefix=f"test-{uuid.uuid4()}", clock=clock
    )
    yield store, clock, redis_client
    await redis_client.delete(*store.keys)


async def test_redis_store_ttl_slides_on_use_and_an_expired_entry_is_a_miss(
    redis_store: Any,
) -> None:
    store, clock, _ = redis_store
    assert await store.put("a", "aaaa")
    clock.now += 90
    assert await store.get("a") == "aaaa"  # used: kept another 100 s from now
    clock.now += 90
    assert await store.get("a") == "aaaa"
    clock.now += 100
    assert await store.get("a") is None
    assert await store.put("b", "bbbbbbbbbb")  # the expired entry no longer counts


async def test_redis_store_keeps_no_new_document_beyond_its_budget(redis_store: Any) -> None:
    store, _, redis = redis_store
    assert await store.put("a", "aaaaaa")
    assert not await store.put("b", "bbbbb")  # 6 + 5 > 10
    assert await store.get("b") is None
    assert await store.get("a") == "aaaaaa"
    assert await store.put("a", "aaaaaa")  # a known document only has its time renewed
    assert int(await redis.get(store.keys[2])) == 6


async def test_redis_store_sweeps_expired_entries_when_it_registers_one(
    redis_store: Any,
) -> None:
    store, clock, redis = redis_store
    assert await store.put("a", "aaaa")
    assert await store.put("b", "bbbb")
    clock.now += 101
    assert await store.put("c", "cc")
    documents, expiry, counter = store.keys
    assert sorted(await redis.hkeys(documents)) == [b"c"]
    assert await redis.zcard(expiry) == 1
    assert int(await redis.get(counter)) == 2
    assert 0 < await redis.pttl(documents) <= 100_000
    assert await redis.zscore(expiry, "c") == clock.now + 100

"""Rate-limit buckets, operation measures, RBAC routes and persisted queries in isolation."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from typing import Any

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from graph.schema import create_schema
from security import rbac
from security.operation import MAX_COUNTED_COST, measure
from security.persisted import (
    HASH_MISMATCH,
    NOT_FOUND,
    NOT_TRUSTED,
    MemoryQueryStore,
    PersistedQueries,
    PersistedQueryError,
    RedisQueryStore,
    Resolved,
    load_manifest,
)
from security.principal import Principal
from security.ratelimit import MemoryBuckets, RedisBuckets
from tests.conftest import codes, gateway_client, sandbox_settings


async def test_bucket_allows_a_burst_then_refills_at_its_rate() -> None:
    now = [0.0]
    buckets = MemoryBuckets(clock=lambda: now[0])
    decisions = [await buckets.spend("k", 1, rate=2, burst=5) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert decisions[-1].retry_after == pytest.approx(0.5)
    now[0] = 1.0  # two tokens back
    assert (await buckets.spend("k", 2, rate=2, burst=5)).allowed
    assert not (await buckets.spend("k", 1, rate=2, burst=5)).allowed


async def test_costly_request_spends_its_cost_and_a_refused_one_spends_nothing() -> None:
    now = [0.0]
    buckets = MemoryBuckets(clock=lambda: now[0])
    assert (await buckets.spend("k", 80, rate=10, burst=100)).remaining == 20
    refused = await buckets.spend("k", 50, rate=10, burst=100)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(3.0)
    assert (await buckets.spend("k", 20, rate=10, burst=100)).allowed
    never = await buckets.spend("other", 500, rate=10, burst=100)
    assert not never.allowed
    assert math.isinf(never.retry_after)


async def test_redis_bucket_is_one_budget_for_every_replica(redis_client: Any) -> None:
    key = f"test-{uuid.uuid4()}"
    replica_a, replica_b = RedisBuckets(redis_client), RedisBuckets(redis_client)
    spent = [await (replica_a if i % 2 else replica_b).spend(key, 1, 0.001, 4) for i in range(5)]
    assert [d.allowed for d in spent] == [True, True, True, True, False]
    assert spent[-1].retry_after > 0
    await redis_client.delete(f"tracseq:ratelimit:{key}")


async def _tokens(redis_client: Any, key: str) -> float:
    return float(await redis_client.hget(f"tracseq:ratelimit:{key}", "tokens"))


async def test_a_busy_key_spends_from_its_lease_without_touching_the_shared_bucket(
    redis_client: Any,
) -> None:
    key = f"test-{uuid.uuid4()}"
    buckets = RedisBuckets(redis_client)
    first = await buckets.spend(key, 1, 0.001, 1000)
    assert first.allowed
    # 999 left after the spend; an eighth of them (124) leased to this process.
    after_first = await _tokens(redis_client, key)
    assert after_first == pytest.approx(999 - 124, abs=0.01)
    spent = [await buckets.spend(key, 2, 0.001, 1000) for _ in range(62)]
    assert all(d.allowed for d in spent)
    assert spent[-1].remaining == 0
    assert await _tokens(redis_client, key) == pytest.approx(after_first, abs=0.01)
    # The lease is empty: the next spend goes to the bucket (and takes a new lease).
    assert (await buckets.spend(key, 2, 0.001, 1000)).allowed
    assert await _tokens(redis_client, key) < after_first - 2
    await redis_client.delete(f"tracseq:ratelimit:{key}")


async def test_an_ended_lease_gives_its_unspent_tokens_back(redis_client: Any) -> None:
    key = f"test-{uuid.uuid4()}"
    now = [0.0]
    buckets = RedisBuckets(redis_client, clock=lambda: now[0])
    await buckets.spend(key, 1, 0.001, 1000)  # 999 left, 124 of them leased
    await buckets.spend(key, 4, 0.001, 1000)  # from the lease: 120 left in it
    now[0] = 5.0  # the lease has ended
    await buckets.spend(key, 1, 0.001, 1000)
    # 120 back, 1 spent: 994 in all, of which an eighth (124) is leased again.
    assert await _tokens(redis_client, key) == pytest.approx(994 - 124, abs=0.05)
    await redis_client.delete(f"tracseq:ratelimit:{key}")


async def test_leases_never_let_replicas_spend_more_than_the_budget(redis_client: Any) -> None:
    key = f"test-{uuid.uuid4()}"
    replica_a, replica_b = RedisBuckets(redis_client), RedisBuckets(redis_client)
    allowed = 0
    for i in range(400):
        decision = await (replica_a if i % 2 else replica_b).spend(key, 1, 0.001, 200)
        allowed += decision.allowed
    assert allowed == 200
    await redis_client.delete(f"tracseq:ratelimit:{key}")


def _measure(document: str, variables: dict[str, Any] | None = None) -> Any:
    schema = create_schema()._schema
    doc = parse(document)
    operation = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    return measure(schema, operation, fragments, variables, default_page_size=50)


def test_cost_multiplies_children_by_first_and_counts_depth_aliases_roots() -> None:
    m = _measure(
        "query($n: Int) { a: samples(first: $n) { edges { node { id template { name } } } }"
        ' b: sample(id: "x") { id } }',
        {"n": 100},
    )
    # Object fields cost 1 plus their children; samples multiplies its subtree by first:
    # samples 100 x (1 + edges (1 + node (1 + template 1))) = 400, plus sample 1.
    assert m.cost == 401
    assert m.depth == 5
    assert m.aliases == 2
    assert m.root_fields == 2


def test_cost_uses_the_default_page_size_without_first_and_follows_fragments() -> None:
    m = _measure(
        "{ samples { edges { node { ...F } } } } fragment F on Sample { template { name } }"
    )
    assert m.cost == 50 * (1 + 1 + 1 + 1)


def test_route_rules_pick_the_longest_prefix_with_a_matching_method() -> None:
    assert rbac.route_rule("/api/samples/rag/query", "POST") == rbac.READ_LIMS
    assert rbac.route_rule("/api/samples/123", "DELETE") == rbac.DELETE_SAMPLES
    assert rbac.route_rule("/api/samples", "POST") == rbac.WRITE_SAMPLES
    assert rbac.route_rule("/api/templates", "GET") == rbac.READ_TEMPLATES
    assert rbac.route_rule("/api/auth/login", "POST") == rbac.PUBLIC
    assert rbac.route_rule("/api/auth/logout", "POST") == rbac.AUTHENTICATED
    assert rbac.route_rule("/api/samplesX", "GET") is None


def _p(role: str) -> Principal:
    return Principal(id="u", email="e", role=role, session_id="s", expires_at=0)


def test_guest_reads_templates_only_and_admin_does_everything() -> None:
    guest, admin = _p("guest"), _p("lab_administrator")
    assert rbac.allows(rbac.READ_TEMPLATES, guest)
    assert not rbac.allows(rbac.READ_LIMS, guest)
    assert all(rbac.allows(rule, admin) for rule in rbac.RULES)
    assert not rbac.allows(rbac.READ_TEMPLATES, None)
    assert rbac.allows(rbac.PUBLIC, None)
    assert rbac.allows(rbac.SUBMIT_SEQUENCING, _p("lab_technician"))
    assert not rbac.allows(rbac.SUBMIT_SEQUENCING, _p("data_analyst"))
    assert not rbac.allows(rbac.DELETE_SAMPLES, _p("lab_technician"))


def _sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def _ext(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def test_apq_hash_only_is_not_found_until_its_registration_is_performed() -> None:
    pq = PersistedQueries(MemoryQueryStore())
    document = "{ samples { totalCount } }"
    with pytest.raises(PersistedQueryError) as info:
        await pq.resolve(None, _ext(_sha(document)))
    assert info.value.code == NOT_FOUND
    resolved = await pq.resolve(document, _ext(_sha(document)))
    assert resolved.document == document
    with pytest.raises(PersistedQueryError) as still_unknown:
        await pq.resolve(None, _ext(_sha(document)))
    assert still_unknown.value.code == NOT_FOUND
    assert resolved.registration is not None
    assert await resolved.registration.perform()
    assert (await pq.resolve(None, _ext(_sha(document)))).document == document
    with pytest.raises(PersistedQueryError) as mismatch:
        await pq.resolve("{ other }", _ext(_sha(document)))
    assert mismatch.value.code == HASH_MISMATCH


async def test_apq_store_in_redis_is_shared(redis_client: Any) -> None:
    prefix = f"test-{uuid.uuid4()}"
    document = "{ samples { totalCount } }"
    store = RedisQueryStore(redis_client, prefix=prefix)
    resolved = await PersistedQueries(store).resolve(document, _ext(_sha(document)))
    assert resolved.registration is not None
    await resolved.registration.perform()
    other_replica = PersistedQueries(RedisQueryStore(redis_client, prefix=prefix))
    assert (await other_replica.resolve(None, _ext(_sha(document)))).document == document
    await redis_client.delete(*store.keys)


async def test_trusted_documents_lock_down_refuses_everything_else(tmp_path: Any) -> None:
    trusted = "query Trusted { samples { totalCount } }"
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"operations": [{"id": _sha(trusted), "body": trusted}]}))
    pq = PersistedQueries(MemoryQueryStore(), manifest=load_manifest(str(path)), trusted_only=True)
    assert await pq.resolve(None, _ext(_sha(trusted))) == Resolved(trusted)
    assert await pq.resolve(trusted, None) == Resolved(trusted)
    for query, ext in (("{ other }", None), ("{ other }", _ext(_sha("{ other }")))):
        with pytest.raises(PersistedQueryError) as info:
            await pq.resolve(query, ext)
        assert info.value.code == NOT_TRUSTED


def test_manifest_with_a_wrong_hash_is_refused(tmp_path: Any) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"0" * 64: "{ samples { totalCount } }"}))
    with pytest.raises(ValueError, match="does not match"):
        load_manifest(str(path))


def test_readme_prints_the_rbac_tables_of_the_code() -> None:
    from pathlib import Path

    readme = Path(__file__).resolve().parent.parent / "README.md"
    assert rbac.markdown_tables() in readme.read_text(encoding="utf-8")


def test_introspection_is_not_held_to_the_depth_and_cost_limits() -> None:
    from graphql import get_introspection_query

    m = _measure(get_introspection_query())
    assert m.depth <= 2
    assert m.cost == 1


# Eight nested pages of 1,000 children: a cost of about 2 * 10**24 when counted in full.
DEEP_CONNECTIONS = (
    '{ container(id: "c") { ' + "children(first: 1000) { nodes { " * 8 + "id" + " } }" * 8 + " } }"
)


def test_cost_saturates_at_the_largest_exact_json_integer() -> None:
    m = _measure(DEEP_CONNECTIONS)
    assert m.cost == MAX_COUNTED_COST == 2**53 - 1
    assert m.depth == 18


async def test_a_deep_query_through_connections_is_refused_with_an_encodable_error(
    sandbox: Any, control: Any
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        response = await client.post("/graphql", json={"query": DEEP_CONNECTIONS})
        assert control.requests() == 0
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["data"] is None
    assert codes(body) == ["OPERATION_LIMIT_EXCEEDED"]
    assert body["errors"][0]["message"] == "Query depth 18 exceeds the limit of 10"
    assert body["errors"][0]["extensions"]["cost"] == 2**53 - 1

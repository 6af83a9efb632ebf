"""The response cache of reference reads (``upstreams.cache``), through the running gateway
over the sandbox, and its Redis tier against the real Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings, SettingsError
from sandbox.runner import SandboxProcess
from sandbox.seed import DEMO_USERS
from tests.conftest import (
    REDIS_URL,
    SandboxControl,
    gateway_client,
    gql,
    log_lines,
    mint_token,
    sandbox_settings,
    started,
)
from tests.test_graph_samples import in_the_seed
from upstreams.cache import (
    DEFAULT_MAX_STALE,
    DEFAULT_MEMORY_BYTES,
    DEFAULT_TTL,
    CacheConfig,
    CacheReport,
    Entry,
    MemoryTier,
)
from upstreams.config import CallContext

TTL = 60.0
SAMPLES_WITH_TEMPLATE = """
query CachedSamples($first: Int, $after: String) {
  samples(first: $first, after: $after) {
    edges { node { id templateId template {
      id name status createdAt updatedAt metadata fields { id name fieldType }
    } } }
  }
}
"""
TEMPLATE = "query CachedTemplate($id: ID!) { template(id: $id) { id name description } }"
UPDATE = """
mutation($input: UpdateTemplateInput!) {
  updateTemplate(input: $input) { template { id description } userErrors { message } }
}
"""


class Clock:
    """The cache's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def cached_settings(sandbox: SandboxProcess, **cache: Any) -> Settings:
    config = CacheConfig(**{"default_ttl": TTL, **cache})
    return sandbox_settings(sandbox, cache=config)


@asynccontextmanager
async def gateway(
    settings: Settings, clock: Clock | None = None, role: str = "lab_administrator"
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The app (its lifespan running) and a client with a bearer token for ``role``."""
    app = create_app(settings, cache_clock=clock or Clock())
    async with started(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"authorization": f"Bearer {mint_token(role)}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway.test", headers=headers
        ) as client:
            yield client, app


def metric(app: Any, name: str, **labels: str) -> float:
    value = app.state.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else float(value)


async def poll(condition: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
def template(sandbox: SandboxProcess) -> Iterator[str]:
    """A template of this test's own, created on the sandbox and deleted after."""
    with httpx.Client(base_url=sandbox.urls["templates"], timeout=10) as raw:
        created = raw.post(
            "/templates",
            json={"name": f"Cache {uuid.uuid4().hex[:8]}", "template_type": "collection"},
        )
        assert created.status_code == 200, created.text
        template_id = str(created.json()["template"]["id"])
        yield template_id
        raw.delete(f"/templates/{template_id}")


# -- what is cached, and that it answers as the upstream does ---------------------------------


async def test_a_warm_cache_answers_fifty_samples_with_templates_in_one_upstream_call(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    seed = in_the_seed(sandbox)
    async with gateway_client(sandbox_settings(sandbox)) as uncached:
        expected = await gql(uncached, SAMPLES_WITH_TEMPLATE, first=50, after=seed)
    assert "errors" not in expected
    nodes = [e["node"] for e in expected["data"]["samples"]["edges"]]
    assert len(nodes) == 50
    assert len({n["templateId"] for n in nodes if n["templateId"]}) > 1
    async with gateway(cached_settings(sandbox)) as (client, _):
        cold = await gql(client, SAMPLES_WITH_TEMPLATE, first=50, after=seed)
        control.reset_stats()
        warm = await gql(client, SAMPLES_WITH_TEMPLATE, first=50, after=seed)
    assert control.by_route("samples") == {"GET /samples": 1}
    assert control.requests() == 1
    assert cold == expected
    assert warm == expected


async def test_a_template_mutation_is_seen_by_the_next_read(
    sandbox: SandboxProcess, control: SandboxControl, template: str
) -> None:
    async with gateway(cached_settings(sandbox)) as (client, _):
        before = await gql(client, TEMPLATE, id=template)
        control.reset_stats()
        again = await gql(client, TEMPLATE, id=template)
        assert control.requests("templates") == 0
        changed = await gql(client, UPDATE, input={"id": template, "description": "changed"})
        assert changed["data"]["updateTemplate"]["userErrors"] == []
        after = await gql(client, TEMPLATE, id=template)
    assert again == before
    assert before["data"]["template"]["description"] is None
    assert after["data"]["template"]["description"] == "changed"


async def test_a_passthrough_write_bumps_the_generation(
    sandbox: SandboxProcess, template: str
) -> None:
    async with gateway(cached_settings(sandbox)) as (client, app):
        await gql(client, TEMPLATE, id=template)
        written = await client.put(f"/api/templates/{template}", json={"description": "by REST"})
        assert written.status_code == 200, written.text
        after = await gql(client, TEMPLATE, id=template)
        assert len(app.state.cache.memory) == 1  # the new entry; the old one was dropped
    assert after["data"]["template"]["description"] == "by REST"


async def test_the_passthrough_reads_are_not_cached(
    sandbox: SandboxProcess, control: SandboxControl, template: str
) -> None:
    async with gateway(cached_settings(sandbox)) as (client, _):
        await gql(client, TEMPLATE, id=template)
        control.reset_stats()
        for _ in range(2):
            answered = await client.get(f"/api/templates/{template}")
            assert answered.status_code == 200
    assert control.by_route("templates") == {"GET /templates/{id}": 2}


async def test_users_read_as_two_roles_never_share_an_entry(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with gateway(cached_settings(sandbox)) as (_, app):
        auth = app.state.runtime.upstreams.auth
        email, password, _ = DEMO_USERS[0]  # an administrator: auth lets it read users
        session = await auth.login(CallContext(), email, password)
        token = f"Bearer {session['access_token']}"
        listed = await auth.list_users(CallContext(authorization=token))
        user_id = str(listed[0]["id"])

        def call(role: str) -> CallContext:
            return CallContext(authorization=token, role=role, cache=CacheReport())

        control.reset_stats()
        first = await auth.get_many(call("lab_administrator"), [user_id])
        again = await auth.get_many(call("lab_administrator"), [user_id])
        assert control.requests("auth") == 1
        other = await auth.get_many(call("principal_investigator"), [user_id])
        assert control.requests("auth") == 2
    assert first == again == other
    roles = {key[3] for key in app.state.cache.memory.sizes()}
    assert roles == {"lab_administrator", "principal_investigator"}


# -- stale entries --------------------------------------------------------------------------


async def test_with_templates_down_expired_entries_answer_marked_stale_with_their_age(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    seed = in_the_seed(sandbox)
    clock = Clock()
    async with gateway(cached_settings(sandbox), clock) as (client, app):
        fresh = await gql(client, SAMPLES_WITH_TEMPLATE, first=50, after=seed)
        assert "extensions" not in fresh
        clock.now += TTL + 7
        control.fault("templates", status=503)
        revalidating = await gql(client, SAMPLES_WITH_TEMPLATE, first=50, after=seed)
        failing = await gql(client, SAMPLES_WITH_TEMPLATE, first=50, after=seed)
        served = {
            reason: metric(
                app, "tracseq_cache_stale_served_total", service="templates", reason=reason
            )
            for reason in ("revalidate", "error")
        }
    for body in (revalidating, failing):
        assert body["data"] == fresh["data"]
        assert "errors" not in body
        stale = body["extensions"]["cache"]["stale"]
        assert {s["service"] for s in stale} == {"templates"}
        assert {s["kind"] for s in stale} == {"template", "fields", "data"}
        assert {s["age"] for s in stale} == {int(TTL + 7)}
    assert served["revalidate"] > 0
    assert served["error"] > 0


async def test_an_expired_entry_is_served_once_while_one_refresh_runs(
    sandbox: SandboxProcess, control: SandboxControl, template: str
) -> None:
    clock = Clock()
    async with gateway(cached_settings(sandbox), clock) as (client, app):
        await gql(client, TEMPLATE, id=template)
        clock.now += TTL + 1
        control.reset_stats()
        control.fault("templates", delay_ms=300, times=1)
        stale = await gql(client, TEMPLATE, id=template)
        waited = await gql(client, TEMPLATE, id=template)
        await poll(lambda: not app.state.cache.filling, "the refresh ends")
        fresh = await gql(client, TEMPLATE, id=template)
    assert stale["extensions"]["cache"]["stale"] == [
        {"service": "templates", "kind": "template", "age": int(TTL + 1)}
    ]
    assert "extensions" not in waited
    assert "extensions" not in fresh
    assert waited["data"] == fresh["data"] == stale["data"]
    assert control.by_route("templates") == {"GET /templates/{id}": 1}


async def test_a_404_on_refresh_is_the_answer_never_a_stale_entry(
    sandbox: SandboxProcess, control: SandboxControl, template: str
) -> None:
    clock = Clock()
    async with gateway(cached_settings(sandbox, max_stale=3600), clock) as (client, app):
        await gql(client, TEMPLATE, id=template)
        clock.now += TTL + 1
        control.fault("templates", status=404)
        await gql(client, TEMPLATE, id=template)  # served stale once, the refresh finds 404
        await poll(lambda: not app.state.cache.filling, "the refresh ends")
        gone = await gql(client, TEMPLATE, id=template)
    assert gone["data"]["template"] is None
    assert "extensions" not in gone


async def test_concurrent_misses_of_one_key_make_one_upstream_call(
    sandbox: SandboxProcess, control: SandboxControl, template: str
) -> None:
    async with gateway(cached_settings(sandbox)) as (client, _):
        control.reset_stats()
        control.fault("templates", delay_ms=200, times=1)
        answers = await asyncio.gather(*(gql(client, TEMPLATE, id=template) for _ in range(8)))
    assert all(a == answers[0] for a in answers)
    assert answers[0]["data"]["template"]["id"] == template
    assert control.requests("templates") == 1


# -- the byte bound ---------------------------------------------------------------------------


async def test_the_lru_never_holds_more_than_its_byte_bound_and_counts_evictions(
    sandbox: SandboxProcess,
) -> None:
    seed = in_the_seed(sandbox)
    bound = 4000
    async with gateway(cached_settings(sandbox, memory_bytes=bound)) as (client, app):
        body = await gql(client, SAMPLES_WITH_TEMPLATE, first=50, after=seed)
        memory = app.state.cache.memory
        held = sum(memory.sizes().values())
        evictions = metric(app, "tracseq_cache_evictions_total", tier="memory")
        gauge = metric(app, "tracseq_cache_bytes", tier="memory")
    assert "errors" not in body
    assert 0 < held == memory.bytes <= bound
    assert gauge == memory.bytes
    assert evictions > 0


def test_memory_tier_evicts_least_recently_used_entries_to_stay_within_bytes() -> None:
    tier = MemoryTier(100)
    keys = [("templates", "0", "template", "-", str(i)) for i in range(4)]
    for key in keys[:3]:
        tier.put(key, Entry(b"x" * 40, 0.0))
    assert tier.bytes == 80
    assert len(tier) == 2
    assert tier.get(keys[0]) is None
    assert tier.get(keys[1]) is not None  # now the most recently used
    tier.put(keys[3], Entry(b"y" * 40, 0.0))
    assert tier.get(keys[2]) is None
    assert tier.get(keys[1]) is not None
    tier.put(keys[0], Entry(b"z" * 101, 0.0))  # larger than the bound: not kept
    assert tier.get(keys[0]) is None
    assert tier.bytes <= 100


# -- the report and the browser tier -------------------------------------------------------------


def test_the_report_is_fresh_only_when_every_read_was_cached_and_none_stale() -> None:
    report = CacheReport()
    assert report.freshness() == 0  # nothing read
    report.note_read("templates", "template", 10.0, 60.0, False)
    report.note_read("storage", "locations", 30.5, 60.0, False)
    assert report.freshness() == 29
    assert report.extensions() is None
    report.note_read("templates", "fields", 75.9, 60.0, True)
    assert report.freshness() == 0
    assert report.extensions() == {"stale": [{"service": "templates", "kind": "fields", "age": 75}]}
    uncached = CacheReport()
    uncached.note_read("templates", "template", 0.0, 60.0, False)
    uncached.note_uncached()
    assert uncached.freshness() == 0


async def test_a_warm_persisted_get_of_a_template_query_gets_a_max_age_within_the_ttl(
    sandbox: SandboxProcess, template: str
) -> None:
    digest = hashlib.sha256(TEMPLATE.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    clock = Clock()
    async with gateway(cached_settings(sandbox), clock) as (client, _):
        registered = await client.post(
            "/graphql",
            json={"query": TEMPLATE, "variables": {"id": template}, "extensions": extensions},
        )
        assert registered.status_code == 200
        clock.now += 5
        response = await client.get(
            "/graphql",
            params={
                "extensions": json.dumps(extensions),
                "variables": json.dumps({"id": template}),
            },
            headers={"apollo-require-preflight": "true"},
        )
    assert response.status_code == 200
    assert response.json()["data"]["template"]["id"] == template
    assert response.headers["cache-control"] == f"private, max-age={int(TTL - 5)}"


# -- Redis: two replicas, and Redis down -----------------------------------------------------


async def _clear_cache_keys(redis: Any) -> None:
    keys = [key async for key in redis.scan_iter(match="tracseq:cache:*")]
    if keys:
        await redis.delete(*keys)


async def test_a_mutation_on_replica_a_is_seen_by_replica_b_on_its_next_read(
    sandbox: SandboxProcess, control: SandboxControl, template: str, redis_client: Any
) -> None:
    await _clear_cache_keys(redis_client)
    settings = cached_settings(sandbox)
    settings = dataclasses.replace(
        settings, security=dataclasses.replace(settings.security, redis_url=REDIS_URL)
    )
    async with gateway(settings) as (a, app_a), gateway(settings) as (b, app_b):
        await gql(b, TEMPLATE, id=template)
        control.reset_stats()
        cached_on_b = await gql(b, TEMPLATE, id=template)
        shared_to_a = await gql(a, TEMPLATE, id=template)  # from the Redis tier
        assert control.requests("templates") == 0
        changed = await gql(a, UPDATE, input={"id": template, "description": "on A"})
        assert changed["data"]["updateTemplate"]["userErrors"] == []
        after_on_b = await gql(b, TEMPLATE, id=template)  # whether or not B heard yet
        # A second write: B's listener hears of it and drops B's entries unasked.
        await gql(a, UPDATE, input={"id": template, "description": "again on A"})
        memory_b = app_b.state.cache.memory
        await poll(lambda: not memory_b.sizes(), "replica B drops its entries of templates")
        heard_on_b = await gql(b, TEMPLATE, id=template)
        redis_hits = metric(app_a, "tracseq_cache_hits_total", service="templates", tier="redis")
        errors = metric(app_b, "tracseq_cache_store_errors_total", operation="listen")
    assert cached_on_b["data"]["template"]["description"] is None
    assert shared_to_a == cached_on_b
    assert after_on_b["data"]["template"]["description"] == "on A"
    assert heard_on_b["data"]["template"]["description"] == "again on A"
    assert redis_hits == 1
    assert errors == 0
    await _clear_cache_keys(redis_client)


async def test_a_replica_with_its_cache_off_still_invalidates_the_others(
    sandbox: SandboxProcess, control: SandboxControl, template: str, redis_client: Any
) -> None:
    await _clear_cache_keys(redis_client)
    on, off = cached_settings(sandbox), sandbox_settings(sandbox)
    on, off = (
        dataclasses.replace(s, security=dataclasses.replace(s.security, redis_url=REDIS_URL))
        for s in (on, off)
    )
    async with gateway(off) as (a, _), gateway(on) as (b, _):
        before = await gql(b, TEMPLATE, id=template)
        control.reset_stats()
        await gql(b, TEMPLATE, id=template)
        assert control.requests("templates") == 0
        changed = await gql(a, UPDATE, input={"id": template, "description": "uncached A"})
        assert changed["data"]["updateTemplate"]["userErrors"] == []
        after = await gql(b, TEMPLATE, id=template)
    assert before["data"]["template"]["description"] is None
    assert after["data"]["template"]["description"] == "uncached A"
    await _clear_cache_keys(redis_client)


async def test_with_redis_down_reads_and_writes_still_answer_from_memory_and_upstream(
    sandbox: SandboxProcess,
    control: SandboxControl,
    template: str,
    json_log: io.StringIO,
    closed_port: int,
) -> None:
    settings = cached_settings(sandbox)
    closed = f"redis://127.0.0.1:{closed_port}/0"
    settings = dataclasses.replace(
        settings, security=dataclasses.replace(settings.security, redis_url=closed)
    )
    async with gateway(settings) as (client, app):
        first = await client.post(
            "/graphql", json={"query": TEMPLATE, "variables": {"id": template}}
        )
        control.reset_stats()
        second = await gql(client, TEMPLATE, id=template)
        assert control.requests("templates") == 0  # the memory tier served it
        changed = await gql(client, UPDATE, input={"id": template, "description": "no Redis"})
        after = await gql(client, TEMPLATE, id=template)
        failures = metric(app, "tracseq_cache_store_errors_total", operation="generation")
    assert first.status_code == 200
    assert first.json() == second
    assert "errors" not in second
    assert changed["data"]["updateTemplate"]["userErrors"] == []
    assert after["data"]["template"]["description"] == "no Redis"
    assert failures > 0
    said = [line for line in log_lines(json_log) if line.get("event") == "cache.redis_failed"]
    assert said
    assert said[0]["level"] == "warning"


# -- settings ------------------------------------------------------------------------------------


def test_cache_settings_default_to_on_with_five_minutes_per_service() -> None:
    cache = Settings.from_env({}).cache
    assert cache.enabled is True
    assert cache.memory_bytes == DEFAULT_MEMORY_BYTES == 32 * 1024 * 1024
    assert cache.max_stale == DEFAULT_MAX_STALE == 3600
    services = ("auth", "sequencing", "storage", "templates")
    assert [cache.ttl(s) for s in services] == [DEFAULT_TTL] * 4
    assert DEFAULT_TTL == 300
    assert cache.ttl("samples") == 0  # nothing of samples is cached


def test_cache_settings_are_read_from_the_environment() -> None:
    cache = Settings.from_env(
        {
            "TRACSEQ_CACHE_ENABLED": "false",
            "TRACSEQ_CACHE_TTL_TEMPLATES": "0",
            "TRACSEQ_CACHE_TTL_AUTH": "12.5",
            "TRACSEQ_CACHE_MEMORY_BYTES": "1024",
            "TRACSEQ_CACHE_MAX_STALE": "0",
        }
    ).cache
    assert cache.enabled is False
    assert cache.ttl("templates") == 0  # off anyway
    assert dict(cache.ttls) == {
        "auth": 12.5,
        "sequencing": DEFAULT_TTL,
        "storage": DEFAULT_TTL,
        "templates": 0.0,
    }
    assert cache.memory_bytes == 1024
    assert cache.max_stale == 0
    on = Settings.from_env({"TRACSEQ_CACHE_TTL_STORAGE": "0"}).cache
    assert on.ttl("storage") == 0
    assert on.ttl("templates") == DEFAULT_TTL


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TRACSEQ_CACHE_ENABLED", "maybe", "expected true or false"),
        ("TRACSEQ_CACHE_TTL_TEMPLATES", "-1", "a positive number of seconds"),
        ("TRACSEQ_CACHE_TTL_TEMPLATES", "soon", "a number of seconds"),
        ("TRACSEQ_CACHE_TTL_STORAGE", "inf", "a finite number of seconds"),
        ("TRACSEQ_CACHE_TTL_SAMPLES", "5", "names no service with cached reads"),
        ("TRACSEQ_CACHE_MEMORY_BYTES", "0", "an integer of at least 1"),
        ("TRACSEQ_CACHE_MEMORY_BYTES", "lots", "an integer"),
        ("TRACSEQ_CACHE_MAX_STALE", "-5", "a positive number of seconds"),
    ],
)
def test_bad_cache_settings_are_refused_naming_the_variable(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({name: value})
    assert name in str(refused.value)
    assert message in str(refused.value)


LOCATIONS = """
query CachedLocations($id: ID!) {
  storageLocations(first: 1000) { totalCount edges { node { id name } } }
  storageLocation(id: $id) { id name }
}
"""


async def test_storage_locations_are_cached_until_a_write_to_storage(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    listed = httpx.get(f"{sandbox.urls['storage']}/storage/locations").json()["data"]
    some = str(listed[0]["id"])
    async with gateway(cached_settings(sandbox)) as (client, _):
        before = await gql(client, LOCATIONS, id=some)
        control.reset_stats()
        again = await gql(client, LOCATIONS, id=some)
        assert control.requests("storage") == 0
        name = f"Cache room {uuid.uuid4().hex[:8]}"
        created = await client.post(
            "/api/storage/locations",
            json={
                "name": name,
                "location_type": "room",
                "temperature_zone": "RT",
                "max_capacity": 10,
            },
        )
        assert created.status_code == 201, created.text
        after = await gql(client, LOCATIONS, id=some)
    httpx.delete(f"{sandbox.urls['storage']}/storage/locations/{created.json()['data']['id']}")
    assert "errors" not in before
    assert again == before
    assert before["data"]["storageLocation"]["id"] == some
    total = before["data"]["storageLocations"]["totalCount"]
    assert after["data"]["storageLocations"]["totalCount"] == total + 1
    names = {e["node"]["name"] for e in after["data"]["storageLocations"]["edges"]}
    assert name in names


STORED_PATHS = """
query CachedPaths($first: Int) {
  samples(first: $first) { edges { node {
    id storage { path containerChain { id name containerType } location { name } }
  } } }
}
"""
CONTAINER_WITH_CHILDREN = """
query CachedContainer($id: ID!) {
  container(id: $id) { id name children { edges { node { id name } } } }
}
"""
DETAIL_ROUTE = "GET /storage/containers/{container_id}"


def _stored_paths(body: dict[str, Any]) -> list[str]:
    return [
        e["node"]["storage"]["path"]
        for e in body["data"]["samples"]["edges"]
        if e["node"]["storage"] is not None
    ]


async def test_container_records_of_stored_paths_are_cached_until_a_write_to_storage(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as uncached:
        expected = await gql(uncached, STORED_PATHS, first=50)
    assert "errors" not in expected
    assert len(_stored_paths(expected)) > 5
    async with gateway(cached_settings(sandbox)) as (client, _):
        cold = await gql(client, STORED_PATHS, first=50)
        control.reset_stats()
        warm = await gql(client, STORED_PATHS, first=50)
        warm_routes = control.by_route("storage")
        created = await client.post(
            "/api/storage/locations",
            json={
                "name": f"Cache room {uuid.uuid4().hex[:8]}",
                "location_type": "room",
                "temperature_zone": "RT",
                "max_capacity": 10,
            },
        )
        assert created.status_code == 201, created.text
        control.reset_stats()
        after_write = await gql(client, STORED_PATHS, first=50)
        after_routes = control.by_route("storage")
    httpx.delete(f"{sandbox.urls['storage']}/storage/locations/{created.json()['data']['id']}")
    assert cold == expected
    assert warm == expected
    assert after_write == expected
    assert DETAIL_ROUTE not in warm_routes
    assert after_routes[DETAIL_ROUTE] > 5  # the write dropped every storage entry


async def test_a_container_s_children_are_read_live_in_the_same_call_as_its_record(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    listed = httpx.get(
        f"{sandbox.urls['storage']}/storage/containers", params={"container_type": "freezer"}
    ).json()["data"]["data"]
    freezer = str(listed[0]["id"])
    async with gateway(cached_settings(sandbox)) as (client, _):
        control.reset_stats()
        cold = await gql(client, CONTAINER_WITH_CHILDREN, id=freezer)
        cold_routes = control.by_route("storage")
        control.reset_stats()
        warm = await gql(client, CONTAINER_WITH_CHILDREN, id=freezer)
        warm_routes = control.by_route("storage")
    assert "errors" not in cold
    assert cold["data"]["container"]["children"]["edges"]
    assert warm == cold
    # Cold: one detail read serves the record (then cached) and the children.
    assert cold_routes == {DETAIL_ROUTE: 1}
    # Warm: the record from the cache, the children still from the service.
    assert warm_routes == {DETAIL_ROUTE: 1}


JOBS_OF_SAMPLES = """
query CachedJobs($first: Int) {
  samples(first: $first) { edges { node { id sequencingJobs { id name status } } } }
}
"""
SHEET_ROUTE = "GET /sample-sheets/{id}"


@pytest.mark.parametrize("sequencing_ttl", [TTL, 0.0], ids=["cached", "ttl-0"])
async def test_which_samples_a_sheet_lists_is_cached_under_the_sequencing_ttl(
    sandbox: SandboxProcess, control: SandboxControl, sequencing_ttl: float
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as uncached:
        expected = await gql(uncached, JOBS_OF_SAMPLES, first=50)
    assert "errors" not in expected
    nodes = [e["node"] for e in expected["data"]["samples"]["edges"]]
    assert any(n["sequencingJobs"] for n in nodes)
    settings = cached_settings(sandbox, ttls={"sequencing": sequencing_ttl})
    async with gateway(settings) as (client, _):
        cold = await gql(client, JOBS_OF_SAMPLES, first=50)
        control.reset_stats()
        warm = await gql(client, JOBS_OF_SAMPLES, first=50)
        warm_routes = control.by_route("sequencing")
    assert cold == expected
    assert warm == expected
    if sequencing_ttl:
        assert SHEET_ROUTE not in warm_routes
    else:
        assert warm_routes[SHEET_ROUTE] > 1

"""The upstream clients over real HTTP against the sandbox services.

The ``sandbox`` (session) and ``control`` (stats and faults, reset per test) fixtures come
from conftest. Breaker tests use a fake clock; retry tests a recording sleep; time-bound
tests use the real clock with small timeouts.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
import pytest

from sandbox.runner import SandboxProcess
from sandbox.seed import DEMO_USERS
from sandbox.tokens import mint_token
from upstreams.breaker import BreakerState
from upstreams.client import UpstreamClient, query_string
from upstreams.config import (
    BreakerPolicy,
    BulkheadPolicy,
    CallContext,
    RetryPolicy,
    Timeouts,
    UpstreamConfig,
)
from upstreams.errors import (
    UpstreamError,
    UpstreamNotFound,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
    translate,
)
from upstreams.pool import HttpPool, create_http_pool
from upstreams.registry import SERVICES, Upstreams
from upstreams.samples import SamplesClient
from upstreams.services import Page

if TYPE_CHECKING:
    from tests.conftest import SandboxControl

CTX = CallContext(request_id="test-upstreams")
MISSING = "00000000-0000-4000-8000-000000000000"


class FakeClock:
    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


class CountingPool(HttpPool):
    """Counts requests on the wire at once (what the upstream sees from this process)."""

    def __init__(self, inner: HttpPool) -> None:
        super().__init__(lambda: aiohttp.ClientSession())
        self.inner = inner
        self.current = 0
        self.peak = 0

    async def request(self, *args: Any, **kwargs: Any) -> aiohttp.ClientResponse:
        self.current += 1
        self.peak = max(self.peak, self.current)
        try:
            response = await self.inner.request(*args, **kwargs)
            await response.read()
            return response
        finally:
            self.current -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
async def http() -> AsyncIterator[HttpPool]:
    pool = create_http_pool(max_connections=300)
    yield pool
    await pool.aclose()


@pytest.fixture
async def upstreams(sandbox: SandboxProcess, http: HttpPool) -> Upstreams:
    return Upstreams({name: _config(sandbox, name) for name in SERVICES}, http)


def _config(sb: SandboxProcess, name: str, **overrides: Any) -> UpstreamConfig:
    return UpstreamConfig(name=name, base_url=sb.urls[name], **overrides)


def _samples(
    sb: SandboxProcess, http: HttpPool, **overrides: Any
) -> tuple[SamplesClient, UpstreamClient]:
    injected = {k: overrides.pop(k) for k in ("clock", "sleep", "rng") if k in overrides}
    client = UpstreamClient(_config(sb, "samples", **overrides), http, **injected)
    return SamplesClient(client), client


async def _no_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


def _route_count(control: SandboxControl, service: str, route: str) -> int:
    return control.by_route(service).get(route, 0)


def _has_no_uppercase_enum(records: list[dict[str, Any]], key: str) -> bool:
    return all(r[key] == r[key].lower() for r in records)


# ---------------------------------------------------------------- envelopes and quirks


async def _token(upstreams: Upstreams) -> dict[str, Any]:
    email, password, _role = DEMO_USERS[0]
    return await upstreams.auth.login(CTX, email, password)


async def test_auth_envelope_roles_and_error_shape(upstreams: Upstreams) -> None:
    login = await _token(upstreams)
    assert isinstance(login["access_token"], str)
    assert login["role"] == "lab_administrator"
    assert isinstance(login["expires_at"], datetime)
    assert login["refresh_token"] is None  # only with remember_me
    ctx = CallContext(authorization=f"Bearer {login['access_token']}", request_id="r1")
    me = await upstreams.auth.me(ctx)
    assert me["email"] == "admin@tracseq.lab"
    assert isinstance(me["created_at"], datetime)
    users = await upstreams.auth.list_users(ctx)
    assert users
    assert all(u["role"] == u["role"].lower() for u in users)
    with pytest.raises(UpstreamStatusError) as info:
        await upstreams.auth.login(CTX, "admin@tracseq.lab", "wrong")
    assert info.value.code == "INVALID_CREDENTIALS"
    with pytest.raises(UpstreamNotFound) as missing:
        await upstreams.auth.get_user(ctx, MISSING)
    assert missing.value.code == "USER_NOT_FOUND"
    with pytest.raises(UpstreamNotFound) as unknown:
        await upstreams.auth.login(CTX, "nobody@tracseq.lab", "wrong")
    assert unknown.value.code == "USER_NOT_FOUND"
    # A token auth never issued: its 404 is the caller's failure, not an absent user.
    stranger = CallContext(authorization=f"Bearer {mint_token()}", request_id="r2")
    with pytest.raises(UpstreamStatusError) as refused:
        await upstreams.auth.get_user(stranger, me["id"])
    assert not isinstance(refused.value, UpstreamNotFound)
    assert (refused.value.status, refused.value.code) == (404, "SESSION_NOT_FOUND")


async def test_samples_envelope_pascal_enums_and_errors(upstreams: Upstreams) -> None:
    page = await upstreams.samples.list(CTX, page=1, page_size=20)
    assert isinstance(page, Page)
    assert page.total_count >= len(page.items) > 0
    assert _has_no_uppercase_enum(page.items, "status")
    assert all(isinstance(s["created_at"], datetime) for s in page.items)
    created = await upstreams.samples.create(CTX, {"name": "gw-test", "sample_type": "dna"})
    assert (created["status"], created["sample_type"]) == ("pending", "DNA")
    moved = await upstreams.samples.change_status(CTX, created["id"], "validated")
    assert moved["status"] == "validated"
    moved = await upstreams.samples.change_status(CTX, created["id"], "in_storage")
    assert moved["status"] == "in_storage"
    assert (await upstreams.samples.get(CTX, created["id"]))["status"] == "in_storage"
    with pytest.raises(UpstreamStatusError) as bad:
        await upstreams.samples.change_status(CTX, created["id"], "completed")
    assert (bad.value.status, bad.value.code) == (400, "invalid_workflow_transition")
    with pytest.raises(UpstreamNotFound) as missing:
        await upstreams.samples.get(CTX, MISSING)
    assert missing.value.code == "sample_not_found"
    with pytest.raises(UpstreamStatusError) as malformed:
        await upstreams.samples.get(CTX, "not-a-uuid")
    assert malformed.value.status == 400
    assert "127.0.0.1" not in malformed.value.message


async def test_samples_filtered_list_never_sends_filters_and_reads_every_page(
    upstreams: Upstreams, control: SandboxControl
) -> None:
    total = (await upstreams.samples.list(CTX, page_size=1)).total_count
    control.reset_stats()
    filtered = await upstreams.samples.list(CTX, status="in_storage", page_size=10)
    assert len(filtered.items) == 10
    assert {s["status"] for s in filtered.items} == {"in_storage"}
    assert control.by_route("samples") == {"GET /samples": -(-total // 1000)}


async def test_templates_single_item_key_and_empty_error_bodies(upstreams: Upstreams) -> None:
    page = await upstreams.templates.list(CTX)
    assert page.items
    assert page.total_count >= len(page.items)
    assert _has_no_uppercase_enum(page.items, "status")
    template = await upstreams.templates.get(CTX, page.items[0]["id"])
    assert template["id"] == page.items[0]["id"]  # unwrapped from "template"
    assert isinstance(template["created_at"], datetime)
    with pytest.raises(UpstreamNotFound) as missing:
        await upstreams.templates.get(CTX, MISSING)
    assert missing.value.message == "Not Found"
    with pytest.raises(UpstreamStatusError) as malformed:
        await upstreams.templates.get(CTX, "nope")
    assert (malformed.value.status, malformed.value.message) == (400, "Bad Request")


async def test_sequencing_list_is_summaries_the_detail_full_and_enums_canonical(
    upstreams: Upstreams,
) -> None:
    page = await upstreams.sequencing.list(CTX, limit=10)
    assert len(page.items) == 10
    assert page.page_size == 10
    assert _has_no_uppercase_enum(page.items, "status")
    assert _has_no_uppercase_enum(page.items, "priority")
    assert all("created_by" not in j and "sample_sheet_id" not in j for j in page.items)
    everything = await upstreams.sequencing.scan(CTX)
    assert len(everything) == page.total_count
    assert "on_hold" in {j["status"] for j in everything}  # OnHold on the wire
    seeded = everything[-1]  # the oldest: seeded with a sample sheet (newer ones are tests')
    job = await upstreams.sequencing.get(CTX, seeded["id"])
    assert job["id"] == seeded["id"]
    assert job["sample_sheet_id"]
    assert job["created_by"]
    with pytest.raises(UpstreamNotFound) as missing:
        await upstreams.sequencing.get(CTX, MISSING)
    assert missing.value.message == f"Job not found: {MISSING}"


async def test_rag_bare_json_and_health_route(upstreams: Upstreams) -> None:
    answer = await upstreams.rag.query(CTX, "Which samples are stored at -80C?")
    assert isinstance(answer["answer"], str)
    submissions = await upstreams.rag.submissions(CTX)
    assert "submissions" in submissions
    health = await upstreams.clients["rag"].health()
    assert health["healthy"] is True


async def test_notifications_bare_array(upstreams: Upstreams) -> None:
    # Written in PascalCase (the only spelling the service accepts), read back canonical.
    created = await upstreams.notifications.create(
        CTX,
        {
            "title": "t",
            "message": "m",
            "notification_type": "info",
            "priority": "low",
            "channels": ["in_app"],
            "recipients": ["someone@tracseq.lab"],
        },
    )
    assert created["status"] == "pending"
    listed = await upstreams.notifications.list(CTX, limit=5)
    assert len(listed) == 5
    assert all(c == c.lower() for n in listed for c in n["channels"])
    assert all(n["priority"] == n["priority"].lower() for n in listed)
    # The release stores nothing behind the receipt.
    with pytest.raises(UpstreamNotFound):
        await upstreams.notifications.get(CTX, str(created["id"]))
    with pytest.raises(UpstreamNotFound):
        await upstreams.notifications.get(CTX, MISSING)


async def test_every_service_reports_healthy(upstreams: Upstreams) -> None:
    reports = await upstreams.health()
    assert set(reports) == set(SERVICES)
    assert all(r["healthy"] for r in reports.values()), reports


# ---------------------------------------------------------------- breaker


async def test_route_breaker_opens_fails_fast_half_opens_and_closes(
    sandbox: SandboxProcess, http: HttpPool, control: SandboxControl
) -> None:
    clock = FakeClock()
    samples, client = _samples(
        sandbox,
        http,
        breaker=BreakerPolicy(failure_threshold=3, recovery_timeout=30),
        retry=RetryPolicy(attempts=1),
        clock=clock,
    )
    route = client.breakers.route("GET /samples")
    control.fault("samples", status=503, methods=["GET"], path_prefix="/samples")
    for _ in range(3):
        with pytest.raises(UpstreamStatusError):
            await samples.list(CTX)
    assert route.state is BreakerState.OPEN
    # The service answered every time: its own breaker (and readiness) is not affected.
    assert client.breaker.state is BreakerState.CLOSED
    seen = control.requests("samples")
    assert seen == 3

    with pytest.raises(UpstreamUnavailable) as info:
        await samples.list(CTX)
    assert info.value.retry_after == pytest.approx(30)
    assert "GET /samples" in info.value.message
    assert control.requests("samples") == seen  # failed fast: nothing was sent

    control.clear_faults()
    clock.now += 30
    assert route.state is BreakerState.HALF_OPEN
    assert (await samples.list(CTX)).items
    assert route.state is BreakerState.CLOSED


async def test_client_errors_do_not_open_the_breaker(
    sandbox: SandboxProcess, http: HttpPool
) -> None:
    samples, client = _samples(sandbox, http, breaker=BreakerPolicy(failure_threshold=2))
    for _ in range(4):
        with pytest.raises(UpstreamNotFound):
            await samples.get(CTX, MISSING)
    assert client.breaker.state is BreakerState.CLOSED


# ---------------------------------------------------------------- retries and deadlines


async def test_get_is_retried_on_503(
    sandbox: SandboxProcess, http: HttpPool, control: SandboxControl
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    samples, _ = _samples(sandbox, http, retry=RetryPolicy(attempts=3), sleep=sleep)
    control.fault("samples", status=503, times=2, methods=["GET"])
    page = await samples.list(CTX)
    assert page.items
    assert _route_count(control, "samples", "GET /samples") == 3
    assert len(slept) == 2


async def test_post_is_never_retried(
    sandbox: SandboxProcess, http: HttpPool, control: SandboxControl
) -> None:
    samples, _ = _samples(sandbox, http, retry=RetryPolicy(attempts=5), sleep=_no_sleep)
    control.fault("samples", status=503, methods=["POST"])
    with pytest.raises(UpstreamStatusError) as info:
        await samples.create(CTX, {"name": "never", "sample_type": "DNA"})
    assert info.value.status == 503
    assert _route_count(control, "samples", "POST /samples") == 1


async def test_retries_never_run_past_the_deadline(
    sandbox: SandboxProcess, http: HttpPool, control: SandboxControl
) -> None:
    samples, _ = _samples(
        sandbox,
        http,
        retry=RetryPolicy(attempts=50, backoff_base=0.05, backoff_max=0.1),
        breaker=BreakerPolicy(failure_threshold=1000, min_calls=1000),
    )
    control.fault("samples", status=503, methods=["GET"])
    started = time.monotonic()
    ctx = CallContext(deadline=started + 0.4)
    # The last 503, or an attempt cut short by the deadline itself: never a later answer.
    with pytest.raises((UpstreamStatusError, UpstreamTimeout)):
        await samples.list(ctx)
    elapsed = time.monotonic() - started
    # The deadline plus scheduling slack on a busy machine, far below one more backoff.
    assert elapsed < 0.55
    assert 1 < _route_count(control, "samples", "GET /samples") < 50


async def test_a_slow_answer_is_a_timeout(
    sandbox: SandboxProcess, http: HttpPool, control: SandboxControl
) -> None:
    samples, _ = _samples(sandbox, http, timeouts=Timeouts(connect=0.5, read=0.2, total=2))
    control.fault("samples", delay_ms=1000, methods=["GET"])
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        await samples.list(CTX)
    # The read timeout (0.2 s) ends the call, long before the 1 s answer would arrive.
    assert time.monotonic() - started < 0.9


async def test_a_dropped_connection_is_unavailable(
    sandbox: SandboxProcess, http: HttpPool, control: SandboxControl
) -> None:
    samples, _ = _samples(sandbox, http)
    control.fault("samples", status=0, methods=["POST"])
    with pytest.raises(UpstreamUnavailable):
        await samples.create(CTX, {"name": "dropped", "sample_type": "DNA"})
    assert _route_count(control, "samples", "POST /samples") == 1


# ---------------------------------------------------------------- unreachable upstreams


@pytest.fixture
def unaccepting_port() -> Iterator[int]:
    """A listener that never accepts, its backlog filled by connections nobody serves."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = int(server.getsockname()[1])
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    server.close()


async def test_stopped_upstream_is_unavailable_fast(http: HttpPool, closed_port: int) -> None:
    config = UpstreamConfig(
        name="storage",
        base_url=f"http://127.0.0.1:{closed_port}",
        timeouts=Timeouts(connect=0.5, read=1, total=2),
    )
    client = UpstreamClient(config, http)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable) as info:
        await client.request(CTX, "GET", "/storage/locations")
    assert time.monotonic() - started < 1.0
    assert str(closed_port) not in info.value.message
    report = await client.health()
    assert report["healthy"] is False
    assert report["status"] == "unavailable"


async def test_unaccepting_upstream_fails_within_connect_timeout(
    http: HttpPool, unaccepting_port: int
) -> None:
    config = UpstreamConfig(
        name="storage",
        base_url=f"http://127.0.0.1:{unaccepting_port}",
        timeouts=Timeouts(connect=0.3, read=0.3, total=5),
        retry=RetryPolicy(attempts=1),
    )
    client = UpstreamClient(config, http)
    started = time.monotonic()
    with pytest.raises((UpstreamUnavailable, UpstreamTimeout)):
        await client.request(CTX, "GET", "/storage/locations")
    assert time.monotonic() - started < 1.0


# ---------------------------------------------------------------- bulkhead


async def test_bulkhead_holds_its_limit_under_200_concurrent_calls(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    limit = 10
    http = counting = CountingPool(create_http_pool(max_connections=300))
    try:
        samples, client = _samples(
            sandbox, http, bulkhead=BulkheadPolicy(max_concurrency=limit, queue_timeout=10)
        )
        first = (await samples.list(CTX, page_size=1)).items[0]["id"]
        control.fault("samples", delay_ms=10, methods=["GET"])
        control.wait_idle("samples")
        control.reset_stats()
        results = await asyncio.gather(*(samples.get(CTX, first) for _ in range(200)))
    finally:
        await http.aclose()
    assert all(r["id"] == first for r in results)
    assert client.bulkhead.max_in_flight == limit
    assert counting.peak <= limit
    assert control.max_in_flight("samples") <= limit
    assert client.bulkhead.in_flight == 0
    assert control.requests("samples") == 200


async def test_bulkhead_full_fails_fast(
    sandbox: SandboxProcess, http: HttpPool, control: SandboxControl
) -> None:
    samples, _ = _samples(
        sandbox, http, bulkhead=BulkheadPolicy(max_concurrency=2, queue_timeout=0.05)
    )
    control.fault("samples", delay_ms=300, methods=["GET"])
    outcomes = await asyncio.gather(*(samples.list(CTX) for _ in range(5)), return_exceptions=True)
    rejected = [o for o in outcomes if isinstance(o, UpstreamUnavailable)]
    assert len(rejected) == 3
    assert all(o.message == "bulkhead full" for o in rejected)


# ---------------------------------------------------------------- get_many


async def test_get_many_batch_is_one_request_and_aligned(
    sandbox_ext: SandboxProcess, http: HttpPool, control_ext: SandboxControl
) -> None:
    control = control_ext
    samples, _ = _samples(sandbox_ext, http, batch=True)
    ids = [s["id"] for s in (await samples.list(CTX, page_size=3)).items]
    control.reset_stats()
    asked = [ids[0], MISSING, ids[1], ids[0], ids[2]]
    found = await samples.get_many(CTX, asked)
    assert [r["id"] if r else None for r in found] == [ids[0], None, ids[1], ids[0], ids[2]]
    assert control.requests("samples") == 1


async def test_get_many_without_batch_fans_out_once_per_distinct_id(
    sandbox: SandboxProcess, http: HttpPool, control: SandboxControl
) -> None:
    samples, _ = _samples(sandbox, http, batch=False)
    ids = [s["id"] for s in (await samples.list(CTX, page_size=3)).items]
    control.reset_stats()
    asked = [ids[0], MISSING, ids[1], ids[0], ids[2], MISSING]
    found = await samples.get_many(CTX, asked)
    assert [r["id"] if r else None for r in found] == [ids[0], None, ids[1], ids[0], ids[2], None]
    assert control.by_route("samples") == {"GET /samples/{id}": 4}


# The templates half of this test lives in tests/test_sandbox_templates.py (get_many with
# and without the [extension] ids filter).
async def test_get_many_of_jobs_is_one_get_each_on_the_release_and_one_batch_with_the_extension(
    sandbox: SandboxProcess,
    sandbox_ext: SandboxProcess,
    http: HttpPool,
    control: SandboxControl,
    control_ext: SandboxControl,
) -> None:
    release = Upstreams({name: _config(sandbox, name, batch=False) for name in SERVICES}, http)
    extended = Upstreams(
        {name: _config(sandbox_ext, name, batch=name == "sequencing") for name in SERVICES}, http
    )
    # Two seeded jobs (the oldest): both sandboxes hold them, whatever other tests created.
    jobs = (await release.sequencing.scan(CTX))[-2:]
    asked = [MISSING] + [j["id"] for j in jobs] + [jobs[0]["id"]]
    control.reset_stats()
    found = await release.sequencing.get_many(CTX, asked)
    assert control.by_route("sequencing") == {"GET /jobs/{id}": 3}
    control_ext.reset_stats()
    found_ext = await extended.sequencing.get_many(CTX, asked)
    assert control_ext.by_route("sequencing") == {"GET /jobs": 1}
    expected = [None] + [j["id"] for j in jobs] + [jobs[0]["id"]]
    assert [j["id"] if j else None for j in found] == expected
    assert [j["id"] if j else None for j in found_ext] == expected
    assert all(j is None or j["created_by"] for j in found + found_ext)


async def test_get_many_answers_none_for_ids_that_cannot_exist(
    sandbox: SandboxProcess, http: HttpPool, control: SandboxControl
) -> None:
    for batch in (True, False):
        samples, _ = _samples(sandbox, http, batch=batch)
        assert await samples.get_many(CTX, ["not-a-uuid", ""]) == [None, None]
    assert control.requests("samples") == 0


async def test_jobs_with_samples_is_one_extension_call(
    sandbox_ext: SandboxProcess, http: HttpPool, control_ext: SandboxControl
) -> None:
    upstreams = Upstreams(
        {name: _config(sandbox_ext, name, batch=name == "sequencing") for name in SERVICES}, http
    )
    summary = (await upstreams.sequencing.list(CTX, limit=1)).items[0]
    job = await upstreams.sequencing.get(CTX, summary["id"])
    sheet = await upstreams.sequencing.sample_sheet(CTX, job["sample_sheet_id"])
    in_sheet = sheet["entries"][0]["sample_id"]
    control_ext.reset_stats()
    jobs = await upstreams.sequencing.jobs_with_samples(CTX, [in_sheet, MISSING])
    assert control_ext.by_route("sequencing") == {"GET /jobs": 1}
    assert job["id"] in {j["id"] for j in jobs}
    assert all(j["sample_sheet_id"] for j in jobs)
    assert sheet["entry_count"] == len(sheet["entries"]) == sheet["sample_count"]


async def test_breaker_opening_mid_retry_reports_the_upstream_error(
    sandbox: SandboxProcess, http: HttpPool, control: SandboxControl
) -> None:
    samples, client = _samples(
        sandbox,
        http,
        breaker=BreakerPolicy(failure_threshold=2),
        retry=RetryPolicy(attempts=5),
        sleep=_no_sleep,
    )
    control.fault("samples", status=503, methods=["GET"])
    with pytest.raises(UpstreamStatusError) as info:
        await samples.list(CTX)
    assert info.value.status == 503
    assert client.breakers.route("GET /samples").state is BreakerState.OPEN
    assert control.requests("samples") == 2


async def test_an_expired_deadline_sends_nothing_and_spares_the_breaker(
    sandbox: SandboxProcess, http: HttpPool, control: SandboxControl
) -> None:
    samples, client = _samples(sandbox, http, breaker=BreakerPolicy(failure_threshold=1))
    with pytest.raises(UpstreamTimeout):
        await samples.list(CallContext(deadline=time.monotonic() - 1))
    assert control.requests("samples") == 0
    assert client.breaker.state is BreakerState.CLOSED


async def test_a_cookie_one_answer_sets_never_rides_on_another_callers_request(
    sandbox: SandboxProcess, http: HttpPool
) -> None:
    client = UpstreamClient(_config(sandbox, "samples"), http)
    setting = await client.request(CTX, "GET", "/_sandbox/echo", params={"cookie": "1"})
    later = await client.request(CallContext(request_id="other"), "GET", "/_sandbox/echo")
    assert "cookie" not in {name for name, _ in setting["headers"]}
    assert "cookie" not in {name for name, _ in later["headers"]}


@pytest.mark.parametrize(
    "params",
    [
        {"ids": "a,b,c", "page": 2},
        {"q": "plasma samples/2024 & more", "empty": ""},
        {"active": True, "archived": False, "skipped": None},
        {"status": ["validated", "in storage"], "volume": 1.5},
        {"name": "Müller"},
    ],
)
def test_query_strings_are_spelled_as_httpx_spells_params(params: dict[str, Any]) -> None:
    """A filter left as None is not sent at all (httpx would send ``name=``)."""
    given = {k: v for k, v in params.items() if v is not None}
    expected = httpx.Request("GET", "http://upstream.test/x", params=given).url.query.decode()
    assert query_string(params) == expected


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        (aiohttp.ConnectionTimeoutError(), UpstreamUnavailable, "within the connect timeout"),
        (aiohttp.SocketTimeoutError(), UpstreamTimeout, "no answer within the read timeout"),
        (aiohttp.ServerDisconnectedError(), UpstreamUnavailable, "closed before an answer"),
        (aiohttp.ClientPayloadError(), UpstreamUnavailable, "the answer broke off"),
        (ConnectionRefusedError(), UpstreamUnavailable, "could not connect"),
        (aiohttp.ClientOSError(), UpstreamUnavailable, "connection failed"),
    ],
)
def test_transport_errors_become_one_tree_for_every_call(
    error: BaseException, kind: type[UpstreamError], message: str
) -> None:
    translated = translate("samples", error)
    assert type(translated) is kind
    assert message in translated.message
    assert translated.service == "samples"

"""Security through the running gateway: authentication, roles, rate limits, operation
limits, persisted queries, CSRF, headers, CORS and production lock-down, over GraphQL and
the REST passthrough alike."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
import time
from typing import Any

import httpx
import jwt
import pytest

from gateway.settings import Settings, SettingsError
from sandbox.seed import DEMO_USERS
from security.config import OperationLimits, RateLimitConfig
from tests.conftest import (
    SandboxControl,
    audit_lines,
    auth_header,
    codes,
    gateway_client,
    mint_token,
    sandbox_settings,
)

SAMPLES = "{ samples(first: 2) { totalCount edges { node { id } } } }"
TEMPLATES = "{ templates(first: 2) { totalCount edges { node { id name } } } }"


async def post(
    client: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None, **variables: Any
) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers or {}
    )


def _user(role: str) -> tuple[str, str, str]:
    return next(u for u in DEMO_USERS if u[2] == role)


# ---------------------------------------------------------------- authentication


async def test_anonymous_callers_may_log_in_and_introspect_but_read_nothing(
    sandbox: Any, control: SandboxControl
) -> None:
    email, password, _ = _user("lab_technician")
    login = "mutation($i: LoginInput!) { login(input: $i) { accessToken role } }"
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        control.reset_stats()
        samples = (await post(client, SAMPLES)).json()
        schema = (await post(client, "{ __schema { queryType { name } } }")).json()
        assert control.requests() == 0
        logged_in = (await post(client, login, i={"email": email, "password": password})).json()
        health = await client.get("/health")
        ready = await client.get("/ready")
        metrics = await client.get("/metrics")
    assert samples["data"] is None or samples["data"]["samples"] is None
    assert codes(samples) == ["UNAUTHENTICATED"]
    assert schema["data"]["__schema"]["queryType"]["name"] == "Query"
    assert logged_in["data"]["login"]["role"] == "LAB_TECHNICIAN"
    assert health.status_code == metrics.status_code == 200
    assert ready.status_code in (200, 503)  # readiness, whatever it is, without a token


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        mint_token(lifetime=-3600),
        mint_token(secret="another-secret-of-at-least-32-bytes-long"),
        mint_token(aud="someone-else"),
        jwt.encode({"sub": "x", "role": "lab_administrator"}, "", algorithm="none"),
    ],
    ids=["garbage", "expired", "wrong-secret", "wrong-audience", "alg-none"],
)
async def test_an_invalid_token_is_refused_on_both_surfaces(
    sandbox: Any, control: SandboxControl, token: str
) -> None:
    headers = {"authorization": f"Bearer {token}"}
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        control.reset_stats()
        graph = await post(client, SAMPLES, headers)
        rest = await client.get("/api/samples", headers=headers)
    assert graph.status_code == 401
    assert codes(graph.json()) == ["UNAUTHENTICATED"]
    assert graph.headers["www-authenticate"].startswith("Bearer")
    assert rest.status_code == 401
    assert rest.json()["error"]["code"] == "UNAUTHENTICATED"
    assert control.requests() == 0


async def test_logout_revokes_the_session_at_the_gateway_for_graphql_and_rest(
    sandbox: Any, control: SandboxControl
) -> None:
    email, password, _ = _user("research_scientist")
    login = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }"
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        token = (await post(client, login, i={"email": email, "password": password})).json()[
            "data"
        ]["login"]["accessToken"]
        headers = {"authorization": f"Bearer {token}"}
        before = await post(client, SAMPLES, headers)
        out = await post(client, "mutation { logout { success } }", headers)
        control.reset_stats()
        graph = await post(client, SAMPLES, headers)
        rest = await client.get("/api/samples", headers=headers)
        assert control.requests() == 0
    assert before.status_code == 200
    assert "errors" not in before.json()
    assert out.json()["data"]["logout"]["success"] is True
    assert graph.status_code == rest.status_code == 401


async def test_revocation_in_redis_is_seen_by_another_replica(
    sandbox: Any, redis_client: Any
) -> None:
    from tests.conftest import REDIS_URL

    settings = sandbox_settings(sandbox)
    settings = dataclasses.replace(
        settings, security=dataclasses.replace(settings.security, redis_url=REDIS_URL)
    )
    session = f"replica-test-{time.monotonic_ns()}"
    token = mint_token("lab_technician", session_id=session)
    headers = {"authorization": f"Bearer {token}"}
    async with (
        gateway_client(settings, token=token) as one,
        gateway_client(settings, token=token) as two,
    ):
        assert (await post(two, SAMPLES)).status_code == 200
        await one._transport.app.state.security.revoke(session, time.time() + 60)  # type: ignore[attr-defined]
        refused = await post(two, SAMPLES, headers)
    assert refused.status_code == 401
    await redis_client.delete(f"tracseq:revoked:{session}")


# ---------------------------------------------------------------- roles


async def test_guest_reads_templates_but_not_samples_nor_template_samples(
    sandbox: Any, control: SandboxControl
) -> None:
    query = "{ templates(first: 1) { edges { node { name samples(first: 1) { totalCount } } } } }"
    async with gateway_client(sandbox_settings(sandbox), role="guest") as client:
        control.reset_stats()
        templates = (await post(client, query)).json()
        samples = (await post(client, SAMPLES)).json()
        rest_templates = await client.get("/api/templates")
        rest_samples = await client.get("/api/samples")
    assert templates["data"]["templates"]["edges"][0]["node"]["name"]
    assert templates["data"]["templates"]["edges"][0]["node"]["samples"] is None
    assert codes(templates) == ["FORBIDDEN"]
    assert codes(samples) == ["FORBIDDEN"]
    assert rest_templates.status_code == 200
    assert rest_samples.status_code == 403
    assert rest_samples.json()["error"]["code"] == "FORBIDDEN"
    assert control.requests("samples") == 0


@pytest.mark.parametrize(
    ("role", "create", "delete", "submit", "users"),
    [
        ("data_analyst", False, False, False, False),
        ("lab_technician", True, False, True, False),
        ("research_scientist", True, False, True, False),
        ("principal_investigator", True, True, True, False),
        ("lab_administrator", True, True, True, True),
    ],
)
async def test_role_table_on_mutations_and_admin_fields(
    sandbox: Any, role: str, create: bool, delete: bool, submit: bool, users: bool
) -> None:
    missing = "00000000-0000-4000-8000-00000000beef"
    async with gateway_client(sandbox_settings(sandbox), role=role) as client:
        created = (
            await post(
                client,
                "mutation($i: CreateSampleInput!) {"
                " createSample(input: $i) { sample { id } userErrors { code } } }",
                i={"name": f"RBAC {role}", "sampleType": "DNA"},
            )
        ).json()
        deleted = (
            await post(
                client,
                "mutation($id: ID!) { deleteSample(input: {id: $id}) { deletedSampleId } }",
                id=missing,
            )
        ).json()
        submitted = (
            await post(
                client,
                "mutation($i: CreateSequencingJobInput!) { createSequencingJob(input: $i) {"
                " sequencingJob { id } userErrors { field code } } }",
                i={"name": "x", "platform": "NANOPORE", "workflowName": ""},
            )
        ).json()
        listed = (await post(client, "{ users(first: 1) { totalCount } }")).json()
    # Allowed: the call reaches its resolver (and fails or succeeds on its own merits);
    # refused: FORBIDDEN before anything is sent.
    assert ("FORBIDDEN" not in codes(created)) is create
    assert ("FORBIDDEN" not in codes(deleted)) is delete
    assert ("FORBIDDEN" not in codes(submitted)) is submit
    assert ("FORBIDDEN" not in codes(listed)) is users
    if create:
        assert created["data"]["createSample"]["sample"]["id"]


async def test_only_the_creator_or_a_lead_may_cancel_a_job(
    sandbox: Any, control: SandboxControl
) -> None:
    # The release records a random creator for jobs it creates, but a clone keeps its
    # source's: a clone of a seeded job belongs to the seeded job's (known) creator.
    jobs_url = f"{sandbox.urls['sequencing']}/jobs"
    listed = httpx.get(jobs_url, params={"limit": 100}).json()["jobs"]
    seeded = httpx.get(f"{jobs_url}/{listed[-1]['id']}").json()
    clone = httpx.post(f"{jobs_url}/{seeded['id']}/clone").json()
    creator = mint_token("lab_technician", user_id=seeded["created_by"])
    other = mint_token("lab_technician", user_id="3c0d9a5e-0a7e-4b8e-9d0b-6d6f6f6f6f01")
    cancel = (
        "mutation($id: ID!) { cancelSequencingJob(input: {id: $id}) {"
        " sequencingJob { status createdById } userErrors { field code } } }"
    )
    async with gateway_client(sandbox_settings(sandbox), token=creator) as client:
        by_other = (
            await post(client, cancel, {"authorization": f"Bearer {other}"}, id=clone["id"])
        ).json()
        rest_other = await client.post(
            f"/api/sequencing/jobs/{clone['id']}/cancel",
            headers={"authorization": f"Bearer {other}"},
        )
        by_creator = (await post(client, cancel, id=clone["id"])).json()
    assert codes(by_other) == ["FORBIDDEN"]
    assert rest_other.status_code == 403
    assert by_creator["data"]["cancelSequencingJob"] == {
        "sequencingJob": {"status": "CANCELLED", "createdById": seeded["created_by"]},
        "userErrors": [],
    }
    httpx.delete(f"{jobs_url}/{clone['id']}")


# ---------------------------------------------------------------- rate limits


def _limited(sandbox: Any, **limits: Any) -> Settings:
    return sandbox_settings(sandbox, rate_limit=RateLimitConfig(**limits))


async def test_graphql_spends_its_cost_and_is_refused_with_retry_after(
    sandbox: Any,
    control: SandboxControl,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = _limited(sandbox, rate=1, burst=500)
    big = "{ samples(first: 100) { edges { node { id template { name } } } } }"
    async with gateway_client(settings, role="lab_technician") as client:
        first = (await post(client, big)).json()
        control.reset_stats()
        second = (await post(client, big)).json()
        assert control.requests("samples") == 0
        cheap = (await post(client, "{ gatewayStatus { healthy } }")).json()
    assert "errors" not in first
    assert second["data"] is None
    assert codes(second) == ["RATE_LIMITED"]
    assert second["errors"][0]["extensions"]["retryAfter"] >= 1
    assert "errors" not in cheap  # what is left still pays for a cheap query
    events = [line for line in audit_lines(capsys) if line["event"] == "security.rate_limited"]
    assert events
    assert events[0]["request_id"]
    assert events[0]["role"] == "lab_technician"
    assert events[0]["outcome"] == "refused"


async def test_rest_is_refused_with_429_and_retry_after(sandbox: Any) -> None:
    settings = _limited(sandbox, rate=0.5, burst=2)
    async with gateway_client(settings, role="lab_technician") as client:
        statuses = [(await client.get("/api/templates")).status_code for _ in range(3)]
        refused = await client.get("/api/templates")
    assert statuses[:2] == [200, 200]
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "RATE_LIMITED"


async def test_anonymous_callers_share_a_budget_per_client_address(sandbox: Any) -> None:
    settings = _limited(sandbox, anonymous_rate=0.01, anonymous_burst=2)
    async with gateway_client(settings, role=None) as client:
        statuses = [(await client.post("/api/auth/login", json={})).status_code for _ in range(3)]
    assert statuses[2] == 429


async def test_redis_buckets_are_one_budget_for_two_replicas(
    sandbox: Any, redis_client: Any
) -> None:
    from tests.conftest import REDIS_URL

    settings = _limited(sandbox, rate=0.01, burst=3)
    settings = dataclasses.replace(
        settings, security=dataclasses.replace(settings.security, redis_url=REDIS_URL)
    )
    user = f"00000000-0000-4000-8000-{time.monotonic_ns() % 10**12:012d}"
    token = mint_token("lab_technician", user_id=user)
    async with (
        gateway_client(settings, token=token) as one,
        gateway_client(settings, token=token) as two,
    ):
        statuses = [
            (await (one if i % 2 else two).get("/api/templates")).status_code for i in range(4)
        ]
    assert statuses == [200, 200, 200, 429]
    await redis_client.delete(f"tracseq:ratelimit:user:{user}")


# ---------------------------------------------------------------- operation limits


@pytest.mark.parametrize(
    ("limits", "query"),
    [
        ({"max_depth": 3}, "{ samples { edges { node { template { name } } } } }"),
        (
            {"max_aliases": 2},
            "{ a: samples { totalCount } b: samples { totalCount } c: samples { totalCount } }",
        ),
        (
            {"max_root_fields": 2},
            "{ samples { totalCount } templates { totalCount } gatewayStatus { healthy } }",
        ),
        ({"max_cost": 100}, "{ samples(first: 100) { edges { node { template { name } } } } }"),
        ({"max_tokens": 10}, "{ samples { edges { node { id name barcode status } } } }"),
    ],
    ids=["depth", "aliases", "root-fields", "cost", "tokens"],
)
async def test_operation_limits_refuse_with_a_code_and_execute_nothing(
    sandbox: Any, control: SandboxControl, limits: dict[str, int], query: str
) -> None:
    base = sandbox_settings(sandbox)
    security = dataclasses.replace(
        base.security, limits=dataclasses.replace(base.security.limits, **limits)
    )
    async with gateway_client(dataclasses.replace(base, security=security)) as client:
        control.reset_stats()
        response = await post(client, query)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert codes(body)[0] in ("OPERATION_LIMIT_EXCEEDED", "BAD_USER_INPUT")
    assert control.requests() == 0


async def test_batches_and_bodies_over_their_limits_are_refused_with_codes(
    sandbox: Any, control: SandboxControl
) -> None:
    base = sandbox_settings(sandbox)
    limits = OperationLimits(max_batch=2, max_body_bytes=2000)
    settings = dataclasses.replace(base, security=dataclasses.replace(base.security, limits=limits))
    async with gateway_client(settings) as client:
        control.reset_stats()
        batch = await client.post("/graphql", json=[{"query": TEMPLATES}] * 3)
        ok_batch = await client.post("/graphql", json=[{"query": TEMPLATES}] * 2)
        big = await client.post(
            "/graphql", json={"query": "{ " + " " * 3000 + "samples { totalCount } }"}
        )
    assert batch.status_code == 400
    assert codes(batch.json()) == ["OPERATION_LIMIT_EXCEEDED"]
    assert ok_batch.status_code == 200
    assert len(ok_batch.json()) == 2
    assert big.status_code == 413
    assert codes(big.json()) == ["PAYLOAD_TOO_LARGE"]


# ---------------------------------------------------------------- persisted queries, CSRF


def _sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


async def test_apq_register_then_get_by_hash(sandbox: Any, control: SandboxControl) -> None:
    document = "query Apq { templates(first: 1) { totalCount } }"
    ext = {"persistedQuery": {"version": 1, "sha256Hash": _sha(document)}}
    preflight = {"apollo-require-preflight": "true"}
    async with gateway_client(sandbox_settings(sandbox)) as client:
        unknown = await client.post("/graphql", json={"extensions": ext})
        registered = await client.post("/graphql", json={"query": document, "extensions": ext})
        by_hash = await client.get(
            "/graphql", params={"extensions": json.dumps(ext)}, headers=preflight
        )
        mutation = 'mutation { deleteSample(input: {id: "not-an-id"}) { deletedSampleId } }'
        mutation_ext = {"persistedQuery": {"version": 1, "sha256Hash": _sha(mutation)}}
        await client.post("/graphql", json={"query": mutation, "extensions": mutation_ext})
        mutation_by_get = await client.get(
            "/graphql", params={"extensions": json.dumps(mutation_ext)}, headers=preflight
        )
    assert codes(unknown.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert registered.json()["data"]["templates"]["totalCount"] >= 12
    assert by_hash.status_code == 200
    assert by_hash.json() == registered.json()
    # A registered mutation still never runs over GET.
    assert mutation_by_get.status_code in (400, 405)
    assert codes(mutation_by_get.json()) == ["BAD_REQUEST"]


async def test_trusted_documents_lock_down(sandbox: Any, tmp_path: Any) -> None:
    trusted = "query Trusted { templates(first: 1) { totalCount } }"
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({_sha(trusted): trusted}))
    base = sandbox_settings(sandbox)
    security = dataclasses.replace(
        base.security, trusted_documents_path=str(manifest), trusted_documents_only=True
    )
    async with gateway_client(dataclasses.replace(base, security=security)) as client:
        ok = await post(client, trusted)
        ext = {"persistedQuery": {"version": 1, "sha256Hash": _sha(trusted)}}
        by_hash = await client.post("/graphql", json={"extensions": ext})
        other = await post(client, TEMPLATES)
    assert "errors" not in ok.json()
    assert "errors" not in by_hash.json()
    assert codes(other.json()) == ["OPERATION_NOT_TRUSTED"]


async def test_csrf_prevention_blocks_simple_requests_without_a_preflight_header(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        get = await client.get("/graphql", params={"query": TEMPLATES})
        form = await client.post(
            "/graphql",
            content=json.dumps({"query": TEMPLATES}),
            headers={"content-type": "text/plain"},
        )
        assert control.requests() == 0
        get_ok = await client.get(
            "/graphql", params={"query": TEMPLATES}, headers={"apollo-require-preflight": "1"}
        )
        page = await client.get("/graphql", headers={"accept": "text/html"})
    assert get.status_code == form.status_code == 400
    assert codes(get.json()) == ["CSRF_PREVENTION"]
    assert get_ok.status_code == 200
    assert page.status_code == 200


# ---------------------------------------------------------------- headers, CORS, production


async def test_security_headers_and_hsts_only_over_tls(sandbox: Any) -> None:
    base = sandbox_settings(sandbox)
    security = dataclasses.replace(
        base.security,
        rate_limit=dataclasses.replace(base.security.rate_limit, trusted_proxies=("127.0.0.1",)),
    )
    async with gateway_client(dataclasses.replace(base, security=security)) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        tls = await client.get("/health", headers={"x-forwarded-proto": "https"})
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in page.headers
    assert tls.headers["strict-transport-security"].startswith("max-age=")


async def test_cors_allows_listed_origins_only(sandbox: Any) -> None:
    base = sandbox_settings(sandbox)
    security = dataclasses.replace(base.security, cors_origins=("https://lims.example",))
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
    }
    async with gateway_client(dataclasses.replace(base, security=security)) as client:
        allowed = await client.options(
            "/graphql", headers={"origin": "https://lims.example", **preflight}
        )
        refused = await client.options(
            "/graphql", headers={"origin": "https://evil.example", **preflight}
        )
    assert allowed.headers["access-control-allow-origin"] == "https://lims.example"
    assert "access-control-allow-origin" not in refused.headers


async def test_production_hides_the_schema_and_suggestions(sandbox: Any) -> None:
    base = sandbox_settings(sandbox)
    security = dataclasses.replace(base.security, introspection=False, production=True)
    settings = dataclasses.replace(base, env="production", security=security)
    async with gateway_client(settings) as client:
        introspect = (await post(client, "{ __schema { types { name } } }")).json()
        typo = (await post(client, "{ sampels { totalCount } }")).json()
    assert introspect["data"] is None
    assert introspect["errors"]
    assert "Did you mean" not in typo["errors"][0]["message"]


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, "TRACSEQ_JWT_SECRET"),
        (
            {"TRACSEQ_JWT_SECRET": secrets.token_urlsafe(32), "TRACSEQ_CORS_ORIGINS": "*"},
            "wildcard",
        ),
    ],
)
def test_production_refuses_the_dev_secret_and_wildcard_cors(
    env: dict[str, str], problem: str
) -> None:
    with pytest.raises(SettingsError, match=problem):
        Settings.from_env({"TRACSEQ_ENV": "production", **env})
    ok = Settings.from_env(
        {
            "TRACSEQ_ENV": "production",
            "TRACSEQ_JWT_SECRET": secrets.token_urlsafe(32),
            "TRACSEQ_CORS_ORIGINS": "https://lims.example",
            "TRACSEQ_SINGLE_INSTANCE": "true",
        }
    )
    assert ok.security.introspection is False


def test_auth_header_helper_mints_verifiable_tokens() -> None:
    header = auth_header("guest")
    assert header["authorization"].startswith("Bearer ")


async def test_an_unreachable_redis_degrades_to_this_process_memory_not_to_errors(
    sandbox: Any, capsys: pytest.CaptureFixture[str], closed_port: int
) -> None:
    # Each operation spends the minimum (1) and its cost (1): two of them empty the bucket.
    base = _limited(sandbox, rate=0.01, burst=4)
    settings = dataclasses.replace(
        base,
        security=dataclasses.replace(base.security, redis_url=f"redis://127.0.0.1:{closed_port}/0"),
    )
    document = "query Down { templates(first: 1) { totalCount } }"
    ext = {"persistedQuery": {"version": 1, "sha256Hash": _sha(document)}}
    async with gateway_client(settings, role="lab_technician") as client:
        first = await client.post("/graphql", json={"query": document, "extensions": ext})
        by_hash = await client.post("/graphql", json={"extensions": ext})
        limited = await client.get("/api/templates")
    assert first.status_code == by_hash.status_code == 200
    assert "errors" not in by_hash.json()
    assert limited.status_code == 429  # the local bucket still holds the budget
    down = [x for x in audit_lines(capsys) if x["event"] == "security.store_unavailable"]
    assert {x["store"] for x in down} >= {"revocations", "rate limits", "persisted queries"}


def test_a_spoofed_x_forwarded_for_does_not_buy_a_fresh_budget(sandbox: Any) -> None:
    from tests.processes import gateway_process

    env = {
        "TRACSEQ_RATE_LIMIT_ANONYMOUS_RATE": "0.01",
        "TRACSEQ_RATE_LIMIT_ANONYMOUS_BURST": "2",
    }
    with gateway_process(sandbox, **env) as gateway:
        statuses = [
            httpx.post(
                f"{gateway.url}/api/auth/login",
                json={},
                headers={"x-forwarded-for": f"198.51.100.{i}"},
                timeout=10,
            ).status_code
            for i in range(3)
        ]
    assert statuses[2] == 429

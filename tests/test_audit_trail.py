"""The security audit trail (security.audit): every event, who and what, and no secret."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin, Subprotocol

from gateway.app import create_app
from gateway.settings import Settings, SettingsError
from sandbox.runner import SandboxProcess
from sandbox.seed import DEMO_USERS
from sandbox.services.auth import DEFAULT_JWT_SECRET
from sandbox.tokens import mint_token
from security import audit
from security.config import RateLimitConfig
from tests.conftest import SandboxControl, audit_lines, sandbox_settings, started
from tests.loopback import serve

TECH_EMAIL, TECH_PASSWORD, _ = DEMO_USERS[2]
ORIGIN = "https://lab.tracseq.example"
MISSING = "00000000-0000-4000-8000-00000000beef"
LOGIN = """mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password, rememberMe: true}) {
    accessToken refreshToken sessionId userErrors { code }
  }
}"""
REQUEST_BOUND = set(audit.EVENTS) - {audit.STORE_UNAVAILABLE}


def _gateway_settings(sandbox: SandboxProcess, tmp_path: Path) -> Settings:
    base = sandbox_settings(sandbox)
    limits = dataclasses.replace(base.security.limits, max_depth=4, max_body_bytes=4096)
    return dataclasses.replace(
        base,
        breaker=dataclasses.replace(base.breaker, failure_threshold=2, recovery_timeout=60),
        retry=dataclasses.replace(base.retry, attempts=1),
        security=dataclasses.replace(base.security, limits=limits, cors_origins=(ORIGIN,)),
        audit=audit.AuditConfig(file=str(tmp_path / "audit.log")),
    )


async def _every_request_event(client: httpx.AsyncClient, url: str, control: Any) -> list[str]:
    """Cause each request-bound event once or more; the secrets sent on the way."""
    gql = "/graphql"
    admin = {"authorization": f"Bearer {mint_token('lab_administrator')}"}
    wrong_token = mint_token("lab_administrator", secret="not-the-gateway-secret-" * 2)
    await client.post(
        gql,
        json={"query": "{ samples(first: 1) { totalCount } }"},
        headers={"authorization": f"Bearer {wrong_token}"},
    )
    failed = await client.post(
        gql, json={"query": LOGIN, "variables": {"email": TECH_EMAIL, "password": "wrong-pw-1"}}
    )
    assert failed.json()["data"]["login"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    login = await client.post(
        gql, json={"query": LOGIN, "variables": {"email": TECH_EMAIL, "password": TECH_PASSWORD}}
    )
    session = login.json()["data"]["login"]
    bearer = {"authorization": f"Bearer {session['accessToken']}"}
    logout = await client.post(
        gql, json={"query": "mutation { logout { success } }"}, headers=bearer
    )
    assert logout.json()["data"]["logout"]["success"] is True
    revoked = await client.post(gql, json={"query": "{ me { id } }"}, headers=bearer)
    assert revoked.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    rest_login = await client.post(
        "/api/auth/login", json={"email": TECH_EMAIL, "password": TECH_PASSWORD}
    )
    assert rest_login.status_code == 200
    guest = {"authorization": f"Bearer {mint_token('guest')}"}
    remove = (
        f'mutation {{ removeSampleFromStorage(input: {{sampleId: "{MISSING}"}}) {{ __typename }} }}'
    )
    forbidden = await client.post(gql, json={"query": remove}, headers=guest)
    assert forbidden.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    rest_forbidden = await client.delete(f"/api/storage/locations/{MISSING}", headers=guest)
    assert rest_forbidden.status_code == 403
    csrf = await client.post(gql, content=b"{ __typename }", headers={"content-type": "text/plain"})
    assert csrf.status_code == 400
    mismatch = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    apq = await client.post(gql, json={"query": "{ __typename }", "extensions": mismatch})
    assert apq.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    deep = "{ samples { edges { node { template { fields { name } } } } } }"
    limited = await client.post(gql, json={"query": deep})
    assert limited.json()["errors"][0]["extensions"]["code"] == "OPERATION_LIMIT_EXCEEDED"
    large = await client.post(
        gql, content=b" " * 5000, headers={"content-type": "application/json"}
    )
    assert large.status_code == 413
    traversal = await client.get("/api/samples/%2e%2e/admin")
    assert traversal.status_code == 400
    threat = await client.get(
        "/api/samples", params={"barcode": "<script>x</script>"}, headers=admin
    )
    assert threat.status_code == 200  # logged, not blocked: the default
    control.fault("templates", status=500, times=None)
    template = f'{{ template(id: "{MISSING}") {{ name }} }}'
    for _ in range(3):
        failing = await client.post(gql, json={"query": template}, headers=admin)
    assert failing.json()["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    control.clear_faults()
    ws = url.replace("http://", "ws://") + gql
    with pytest.raises(InvalidStatus):
        async with connect(
            ws,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            origin=Origin("https://evil.example"),
        ):
            pass
    return [
        wrong_token,
        TECH_PASSWORD,
        "wrong-pw-1",
        session["accessToken"],
        session["refreshToken"],
        rest_login.json()["data"]["access_token"],
        DEFAULT_JWT_SECRET,
        guest["authorization"].split()[1],
        admin["authorization"].split()[1],
    ]


async def test_every_security_event_is_one_line_naming_who_and_what_without_secrets(
    sandbox: SandboxProcess,
    control: SandboxControl,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    closed_port: int,
) -> None:
    settings = _gateway_settings(sandbox, tmp_path)
    app = create_app(settings)
    async with started(app), serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        secrets = await _every_request_event(client, url, control)
        scraped = (await client.get("/metrics")).text
    # Redis away, and a budget of two requests: the store and the rate-limit events.
    base = sandbox_settings(
        sandbox, rate_limit=RateLimitConfig(anonymous_rate=0.01, anonymous_burst=2)
    )
    degraded = dataclasses.replace(
        base,
        security=dataclasses.replace(base.security, redis_url=f"redis://127.0.0.1:{closed_port}/0"),
    )
    app = create_app(degraded)
    async with started(app), serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        statuses = [(await client.get("/api/templates")).status_code for _ in range(3)]
    assert statuses[-1] == 429

    out = capsys.readouterr().out
    lines = [orjson.loads(line) for line in out.splitlines() if line.startswith('{"event":')]
    seen = {line["event"] for line in lines}
    assert seen == set(audit.EVENTS)
    for line in lines:
        assert line["event"] in audit.EVENTS
        assert line["outcome"]
        assert line["timestamp"].endswith("Z")
        if line["event"] in REQUEST_BOUND:
            assert line["request_id"], line
            assert line["client"] == "127.0.0.1", line
            assert line["route"].split()[0] in ("GET", "POST", "DELETE", "WS"), line
    for secret in secrets:
        assert secret not in out
    by_event = {line["event"]: line for line in lines}
    assert by_event[audit.LOGIN]["email"] == TECH_EMAIL
    assert {x["outcome"] for x in lines if x["event"] == audit.LOGIN} == {"succeeded", "failed"}
    forbidden = by_event[audit.FORBIDDEN]
    assert forbidden["role"] == "guest"
    assert forbidden["principal"]
    assert by_event[audit.BREAKER_OPENED]["service"] == "templates"
    assert len([x for x in lines if x["event"] == audit.FORBIDDEN]) == 2
    assert by_event[audit.RATE_LIMITED]["principal"] is None
    threat = by_event[audit.THREAT_DETECTED]
    assert (threat["outcome"], threat["family"], threat["where"]) == (
        "allowed",
        "xss",
        "query.barcode",
    )
    assert threat["role"] == "lab_administrator"
    revoked = [x for x in lines if x.get("reason") == "revoked"]
    assert revoked
    assert revoked[0]["role"] == "lab_technician"

    # The file holds the first gateway's lines, as stdout did.
    written = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert [x["event"] for x in written] == [
        x["event"] for x in lines if x["event"] not in (audit.STORE_UNAVAILABLE, audit.RATE_LIMITED)
    ]
    counted = {
        (s.labels["event"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(scraped)
        for s in family.samples
        if s.name == "tracseq_security_events_total"
    }
    assert counted[(audit.CSRF_REFUSED, "refused")] == 1
    assert counted[(audit.LOGIN, "failed")] == 1
    assert counted[(audit.LOGIN, "succeeded")] == 2


def test_the_audit_file_is_appended_to_and_rotated_by_size(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_text('{"event":"security.login","outcome":"failed"}\n')
    trail = audit.AuditTrail(audit.AuditConfig(file=str(path), max_bytes=1024, backups=2))
    trail.open()
    try:
        with audit.bound(trail):
            for n in range(40):
                audit.emit(audit.RATE_LIMITED, audit.REFUSED, key=f"ip:10.0.0.{n}")
    finally:
        trail.close()
    rotated = sorted(p.name for p in tmp_path.iterdir())
    assert rotated == ["audit.log", "audit.log.1", "audit.log.2"]
    assert all(p.stat().st_size <= 1024 for p in tmp_path.iterdir())
    newest = [json.loads(x) for x in path.read_text().splitlines()]
    assert newest[-1]["key"] == "ip:10.0.0.39"
    # The oldest file kept is the one just before: the first line (and the one that was
    # there before) rotated out past two backups.
    oldest = (tmp_path / "audit.log.2").read_text()
    assert '"ip:10.0.0.0"' not in oldest


def test_credentials_in_details_are_dropped_or_masked(capsys: pytest.CaptureFixture[str]) -> None:
    token = mint_token("guest")
    audit.emit(
        audit.AUTHENTICATION_FAILED,
        audit.REFUSED,
        password="hunter2",
        refresh_token="r-123",
        reason=f"header was Bearer {token}",
        sent=token,
    )
    (line,) = audit_lines(capsys)
    assert "password" not in line
    assert "refresh_token" not in line
    assert line["reason"] == "header was [redacted]"
    assert line["sent"] == "[redacted]"


def test_an_audit_file_with_several_workers_or_in_a_missing_folder_stops_startup(
    tmp_path: Path,
) -> None:
    with pytest.raises(SettingsError, match="TRACSEQ_AUDIT_FILE needs TRACSEQ_WORKERS=1"):
        Settings.from_env({"TRACSEQ_AUDIT_FILE": str(tmp_path / "a.log"), "TRACSEQ_WORKERS": "2"})
    with pytest.raises(SettingsError, match=r"the folder .* is missing"):
        Settings.from_env({"TRACSEQ_AUDIT_FILE": str(tmp_path / "nowhere" / "a.log")})
    too_small = r"TRACSEQ_AUDIT_FILE_\*: the file's size limit must be at least 1024"
    with pytest.raises(SettingsError, match=too_small):
        Settings.from_env({"TRACSEQ_AUDIT_FILE_MAX_BYTES": "12"})
    settings = Settings.from_env({"TRACSEQ_AUDIT_FILE": str(tmp_path / "a.log")})
    assert settings.audit.file == str(tmp_path / "a.log")


def test_readme_prints_the_event_table_of_the_code() -> None:
    readme = Path(__file__).resolve().parent.parent / "README.md"
    assert audit.event_table() in readme.read_text(encoding="utf-8")

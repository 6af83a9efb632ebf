"""The sandbox services over real HTTP: envelopes, enums, error bodies, auth, extensions,
retrieval, and the test-support control endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from sandbox.runner import ALL_SERVICES, SandboxProcess
from sandbox.seed import DEMO_USERS

SECRET = "test-secret-for-the-sandbox-0123456789"  # >= 32 bytes: PyJWT warns below
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess(jwt_secret=SECRET) as sb:
        yield sb


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as c:
        yield c


@pytest.fixture(scope="module")
def urls(sandbox: SandboxProcess) -> dict[str, str]:
    return sandbox.urls


def _samples(
    client: httpx.Client, urls: dict[str, str], *, page_size: int = 50, **equal: Any
) -> list[dict[str, Any]]:
    """The newest samples whose fields equal ``equal``: the release's list answers 500 to
    any filter, so the first 1000 samples are read and filtered here."""
    response = client.get(f"{urls['samples']}/samples", params={"page_size": 1000})
    assert response.status_code == 200, response.text
    samples: list[dict[str, Any]] = response.json()["data"]["samples"]
    chosen = [s for s in samples if all(s.get(k) == v for k, v in equal.items())]
    return chosen[:page_size]


def test_every_service_is_announced_and_healthy(client: httpx.Client, urls: dict[str, str]) -> None:
    assert set(urls) == set(ALL_SERVICES)
    for name, url in urls.items():
        path = "/api/v1/health" if name == "rag" else "/health"
        response = client.get(url + path)
        assert response.status_code == 200
        assert response.json()["status"] == "healthy"
    assert client.get(urls["rag"] + "/health").status_code == 404


def test_auth_login_jwt_and_sessions(client: httpx.Client, urls: dict[str, str]) -> None:
    base = urls["auth"]
    email, password, role = DEMO_USERS[0]
    login = client.post(f"{base}/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200
    data = login.json()["data"]
    claims = jwt.decode(
        data["access_token"],
        SECRET,
        algorithms=["HS256"],
        audience="lab-management-system",
        issuer="auth-service",
    )
    assert set(claims) == {"sub", "email", "role", "exp", "iat", "iss", "aud", "jti"}
    assert claims["role"] == role == data["role"]
    assert claims["jti"] == data["session_id"]
    assert claims["exp"] - claims["iat"] == 3600
    headers = {"Authorization": f"Bearer {data['access_token']}"}
    me = client.get(f"{base}/auth/me", headers=headers)
    assert me.json()["data"]["email"] == email
    users = client.get(f"{base}/admin/users", headers=headers).json()["data"]
    assert {u["role"] for u in users} >= {r for _, _, r in DEMO_USERS}
    valid = client.post(f"{base}/validate/token", json={"token": data["access_token"]})
    assert valid.json()["data"]["valid"] is True
    refreshed = client.post(f"{base}/auth/refresh", json={"refresh_token": data["refresh_token"]})
    assert refreshed.status_code == 200
    gone = client.get(f"{base}/auth/me", headers=headers)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "SESSION_NOT_FOUND"
    bad = client.get(f"{base}/auth/me", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "JWT_ERROR"
    wrong = client.post(f"{base}/auth/login", json={"email": email, "password": "wrong"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "INVALID_CREDENTIALS"


def test_storage_envelope_and_placement(client: httpx.Client, urls: dict[str, str]) -> None:
    base = urls["storage"]
    locations = client.get(f"{base}/storage/locations").json()
    assert set(locations) == {"success", "data", "message", "timestamp"}
    assert len(locations["data"]) == 40
    zones = {loc["temperature_zone"] for loc in locations["data"]}
    assert zones == {"-80C", "-20C", "4C", "RT", "37C"}
    capacity = client.get(f"{base}/storage/locations/{locations['data'][0]['id']}/capacity")
    assert capacity.status_code == 200
    assert capacity.json()["data"]["max_capacity"] == 150
    missing = client.get(f"{base}/storage/locations/{UNKNOWN_ID}")
    assert missing.status_code == 404
    assert set(missing.json()) == {"error", "timestamp"}
    boxes = client.get(f"{base}/storage/containers", params={"container_type": "box"}).json()
    assert boxes["data"]["pagination"]["total_items"] == 240
    stored = _samples(client, urls, status="InStorage", page_size=2)
    ids = ",".join([stored[0]["id"], stored[1]["id"], UNKNOWN_ID])
    found = client.get(f"{base}/storage/samples/locations", params={"sample_ids": ids}).json()
    assert {d["sample_id"] for d in found["data"]} <= {stored[0]["id"], stored[1]["id"]}
    assert found["data"], "InStorage samples are placed in positions"
    detailed = found["data"][0]
    assert detailed["position"]["container_type"] == "position"
    assert [c["container_type"] for c in detailed["container_chain"]] == ["box", "rack", "freezer"]


def test_notifications_roundtrip(client: httpx.Client, urls: dict[str, str]) -> None:
    base = urls["notifications"]
    created = client.post(
        f"{base}/notifications",
        json={
            "title": "Run done",
            "message": "Run 7 completed",
            "notification_type": "info",
            "priority": "low",
            "channels": ["email"],
            "recipients": ["pi@tracseq.lab"],
        },
    )
    assert created.status_code == 201
    again = client.get(f"{base}/notifications/{created.json()['id']}")
    assert again.json() == created.json()
    assert isinstance(client.get(f"{base}/notifications").json(), list)
    missing = client.get(f"{base}/notifications/{UNKNOWN_ID}").json()
    assert set(missing["error"]) == {"code", "message", "retryable", "timestamp"}


def test_rag_answers_from_documents(client: httpx.Client, urls: dict[str, str]) -> None:
    base = urls["rag"]
    question = "At what temperature should RNA samples be stored?"
    answer = client.post(f"{base}/api/samples/rag/query", json={"query": question}).json()
    assert answer["session_id"] == "default"
    assert "RNA" in answer["sources"][0]["title"]
    assert "-80C" in answer["answer"]
    assert answer["confidence_score"] > 0
    nothing = client.post(f"{base}/api/samples/rag/query", json={"query": "zebra quasar"}).json()
    assert nothing["confidence_score"] == 0
    assert nothing["sources"] == []
    invalid = client.post(f"{base}/api/samples/rag/query", json={})
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "query"]
    document = b"Submitter: Dr Who\nSample: Patient 7 plasma\nType: plasma\nVolume: 2 mL\n"
    processed = client.post(
        f"{base}/api/rag/process", files={"file": ("form.txt", document, "text/plain")}
    ).json()
    assert processed["success"] is True
    assert processed["samples_found"] == 1
    listing = client.get(f"{base}/api/submissions").json()
    assert processed["submission_id"] in {s["id"] for s in listing["submissions"]}


def test_stats_and_faults(client: httpx.Client, urls: dict[str, str]) -> None:
    base = urls["storage"]
    client.post(f"{base}/_sandbox/stats/reset")
    location = client.get(f"{base}/storage/locations").json()["data"][0]
    client.get(f"{base}/storage/locations/{location['id']}")
    client.get(f"{base}/storage/locations/{location['id']}")
    stats = client.get(f"{base}/_sandbox/stats").json()
    assert stats["requests"] == 3
    assert stats["by_route"] == {"GET /storage/locations": 1, "GET /storage/locations/{id}": 2}
    fault = {"status": 503, "times": 2, "methods": ["GET"], "path_prefix": "/storage/locations"}
    assert client.post(f"{base}/_sandbox/faults", json=fault).status_code == 200
    first = client.get(f"{base}/storage/locations")
    assert first.status_code == 503
    assert set(first.json()) == {"error", "timestamp"}
    assert client.get(f"{base}/storage/locations").status_code == 503
    assert client.get(f"{base}/storage/locations").status_code == 200
    client.post(f"{base}/_sandbox/faults", json={"status": 0, "times": 1})
    with pytest.raises(httpx.TransportError):
        client.get(f"{base}/storage/locations")
    client.post(f"{base}/_sandbox/faults", json={"status": 500, "times": None})
    assert client.get(f"{base}/health").status_code == 500
    assert client.delete(f"{base}/_sandbox/faults").status_code == 200
    assert client.get(f"{base}/health").status_code == 200
    assert client.get(f"{base}/_sandbox/stats").json()["requests"] == 9
    templates_fault = client.post(f"{urls['templates']}/_sandbox/faults", json={"status": 503})
    assert templates_fault.status_code == 200
    empty = client.get(f"{urls['templates']}/templates")
    assert empty.status_code == 503
    assert empty.content == b""
    client.delete(f"{urls['templates']}/_sandbox/faults")

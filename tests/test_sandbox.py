"""The sandbox services over real HTTP: envelopes, enums, error bodies, auth, extensions,
retrieval, and the test-support control endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.runner import ALL_SERVICES, SandboxProcess

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


def test_rag_release_canned_answers_uploads_and_submissions(
    client: httpx.Client, urls: dict[str, str]
) -> None:
    base = urls["rag"]
    question = "At what temperature should RNA samples be stored?"
    answer = client.post(f"{base}/api/samples/rag/query", json={"query": question}).json()
    assert list(answer) == [
        "answer",
        "session_id",
        "confidence_score",
        "processing_time",
        "sources",
    ]
    assert answer["answer"].startswith("For sample storage, TracSeq 2.0 supports")
    assert answer["session_id"] == "default"
    assert answer["confidence_score"] == 0.85
    assert [s["title"] for s in answer["sources"]] == [
        "Laboratory Management Knowledge Base",
        "Sample Processing Guidelines",
        "Quality Control Standards",
    ]
    other = client.post(
        f"{base}/api/samples/rag/query", json={"query": "zebra quasar", "session_id": None}
    ).json()
    assert other["answer"].startswith("I'm here to help with TracSeq 2.0")
    assert other["session_id"] is None
    invalid = client.post(f"{base}/api/samples/rag/query", json={})
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "query"]
    assert client.get(f"{base}/health").json() == {"detail": "Not Found"}
    document = b"Submitter: Dr Who\nSample ID: PLS-20931 plasma, 2 ml\n"
    processed = client.post(
        f"{base}/api/rag/process", files={"file": ("form.txt", document, "text/plain")}
    ).json()
    assert processed["success"] is True
    assert processed["samples_found"] == 1
    assert processed["extracted_data"]["sample"] == {
        "sample_id": "PLS-20931",
        "sample_type": "Plasma",
        "volume": "2 ml",
    }
    assert len(processed["submission_id"]) == 8
    unkept = client.post(
        f"{base}/api/rag/process", files={"file": ("none.txt", b"nothing here", "text/plain")}
    ).json()
    assert (unkept["samples_found"], unkept["confidence_score"]) == (0, 0.0)
    binary = client.post(
        f"{base}/api/rag/process",
        files={"file": ("x.bin", b"\xff\xfe", "application/octet-stream")},
    ).json()
    assert (binary["success"], binary["submission_id"]) == (False, None)
    listing = client.get(f"{base}/api/submissions").json()
    kept = {s["id"] for s in listing["submissions"]}
    assert processed["submission_id"] in kept
    assert unkept["submission_id"] not in kept
    assert listing["total"] == len(kept)
    mock = client.get(f"{base}/api/rag/submissions").json()
    assert [s["id"] for s in mock["submissions"][:3]] == ["RAG-001", "RAG-002", "RAG-003"]
    assert mock["data"] == mock["submissions"]
    assert mock["totalCount"] == 3 + listing["total"]
    one = client.get(f"{base}/api/rag/submissions/{processed['submission_id']}")
    assert one.json()["id"] == processed["submission_id"]
    missing = client.get(f"{base}/api/rag/submissions/nope")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Submission nope not found"})


def test_stats_and_faults(client: httpx.Client, urls: dict[str, str]) -> None:
    base = urls["storage"]
    client.post(f"{base}/_sandbox/stats/reset")
    location = client.get(f"{base}/storage/locations").json()["data"][0]
    client.get(f"{base}/storage/locations/{location['id']}")
    client.get(f"{base}/storage/locations/{location['id']}")
    stats = client.get(f"{base}/_sandbox/stats").json()
    assert stats["requests"] == 3
    assert stats["by_route"] == {
        "GET /storage/locations": 1,
        "GET /storage/locations/{location_id}": 2,
    }
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

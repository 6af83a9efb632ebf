"""The sandbox's notifications service over real HTTP, as the release answers (UPSTREAMS.md,
"## notifications"): bare JSON, PascalCase enums, receipts for writes that store nothing,
a list that ignores its filters, and the two fixes that turn those defects off."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.options import Options
from sandbox.runner import SandboxProcess

RECEIPT_KEYS = ["id", "status", "message", "created_at", "scheduled_at", "sent_at"]
NOTIFICATION_KEYS = [
    "id",
    "title",
    "message",
    "notification_type",
    "priority",
    "status",
    "channels",
    "recipients",
    "template_id",
    "template_data",
    "scheduled_at",
    "sent_at",
    "delivery_attempts",
    "metadata",
    "created_by",
    "created_at",
    "updated_at",
]


@pytest.fixture
def base(sandbox: SandboxProcess) -> str:
    return sandbox.urls["notifications"]


@pytest.fixture(scope="module")
def fixed() -> Iterator[str]:
    """A notifications service with both of its release defects turned off."""
    options = Options(fixes=frozenset({"notifications-persist", "notifications-list-filters"}))
    with SandboxProcess(["notifications"], options=options) as sb:
        yield sb.urls["notifications"]


def body(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Run done",
        "message": "Run 7 completed",
        "notification_type": "Info",
        "priority": "Low",
        "channels": ["Email", "InApp"],
        "recipients": ["pi@tracseq.lab"],
        **extra,
    }


def _error(response: httpx.Response) -> tuple[int, str, str, bool]:
    error = response.json()["error"]
    assert list(error) == ["code", "message", "retryable", "timestamp"]
    return response.status_code, error["code"], error["message"], error["retryable"]


def test_send_answers_a_receipt_and_stores_nothing(base: str) -> None:
    sent = httpx.post(f"{base}/notifications", json=body())
    later = httpx.post(
        f"{base}/notifications", json=body(scheduled_at="2999-01-01T00:00:00Z")
    ).json()
    assert sent.status_code == 200
    receipt = sent.json()
    assert list(receipt) == RECEIPT_KEYS
    assert receipt["status"] == "Pending"
    assert receipt["message"] == "Notification created and queued for sending"
    assert receipt["sent_at"] is None
    assert later["status"] == "Scheduled"
    for notification_id in (receipt["id"], later["id"]):
        read = httpx.get(f"{base}/notifications/{notification_id}")
        assert _error(read) == (
            404,
            "NOTIFICATION_NOT_FOUND",
            f"Notification not found: {notification_id}",
            False,
        )
    listed = httpx.get(f"{base}/notifications", params={"limit": 1000}).json()
    assert receipt["id"] not in {n["id"] for n in listed}


def test_enums_must_be_pascal_case(base: str) -> None:
    lower = httpx.post(f"{base}/notifications", json=body(notification_type="info"))
    channel = httpx.post(f"{base}/notifications", json=body(channels=["in_app"]))
    assert lower.status_code == channel.status_code == 422
    assert lower.headers["content-type"].startswith("text/plain")
    assert lower.text.startswith(
        "Failed to deserialize the JSON body into the target type: "
        "notification_type: unknown variant `info`, expected one of `Alert`"
    )
    assert "channels[0]: unknown variant `in_app`" in channel.text


def test_send_validation_messages(base: str) -> None:
    cases = {
        "Title cannot be empty": body(title="  "),
        "Message cannot be empty": body(message=""),
        "At least one recipient is required": body(recipients=[]),
        "At least one channel is required": body(channels=[]),
    }
    for message, payload in cases.items():
        response = httpx.post(f"{base}/notifications", json=payload)
        assert _error(response) == (400, "VALIDATION_ERROR", f"Validation error: {message}", False)


def test_list_is_a_bare_array_newest_first_and_ignores_its_filters(base: str) -> None:
    everything = httpx.get(f"{base}/notifications", params={"limit": 1000}).json()
    page = httpx.get(f"{base}/notifications", params={"limit": 5, "offset": 2}).json()
    failed = httpx.get(f"{base}/notifications", params={"status": "Failed", "limit": 1000}).json()
    bad_enum = httpx.get(f"{base}/notifications", params={"status": "failed"})
    negative = httpx.get(f"{base}/notifications", params={"limit": -1})
    assert len(everything) >= 30
    assert list(everything[0]) == NOTIFICATION_KEYS
    created = [n["created_at"] for n in everything]
    assert created == sorted(created, reverse=True)
    assert [n["id"] for n in page] == [n["id"] for n in everything[2:7]]
    assert failed == everything
    assert {n["status"] for n in failed} > {"Failed"}
    assert bad_enum.status_code == 400
    assert bad_enum.text.startswith("Failed to deserialize query string: unknown variant `failed`")
    status, code, _, retryable = _error(negative)
    assert (status, code, retryable) == (500, "DATABASE_ERROR", True)


def test_status_and_retry_routes(base: str) -> None:
    everything = httpx.get(f"{base}/notifications", params={"limit": 1000}).json()
    failed = next(n for n in everything if n["status"] == "Failed")
    sent = next(n for n in everything if n["status"] != "Failed")
    status = httpx.get(f"{base}/notifications/{failed['id']}/status").json()
    retried = httpx.post(f"{base}/notifications/{failed['id']}/retry").json()
    refused = httpx.post(f"{base}/notifications/{sent['id']}/retry")
    after = httpx.get(f"{base}/notifications/{failed['id']}").json()
    missing = httpx.get(f"{base}/notifications/{uuid.uuid4()}/status")
    assert status == {
        "id": failed["id"],
        "status": "Failed",
        "delivery_attempts": failed["delivery_attempts"],
        "sent_at": failed["sent_at"],
        "channels": failed["channels"],
        "delivery_status": [],
        "error_message": None,
    }
    assert list(retried) == RECEIPT_KEYS
    assert (retried["status"], retried["message"]) == ("Pending", "Notification retry initiated")
    assert after == failed  # the retry changes nothing stored
    assert _error(refused) == (
        400,
        "INVALID_OPERATION",
        "Invalid operation: Only failed notifications can be retried",
        False,
    )
    assert _error(missing)[:2] == (404, "NOTIFICATION_NOT_FOUND")


def test_bulk_answers_a_receipt_per_item_failed_ones_included(base: str) -> None:
    response = httpx.post(
        f"{base}/notifications/bulk",
        json={"notifications": [body(), body(title="")], "batch_id": "batch-1"},
    ).json()
    assert response["batch_id"] == "batch-1"
    assert (response["total_notifications"], response["successful"], response["failed"]) == (
        2,
        1,
        1,
    )
    ok, bad = response["notifications"]
    assert (ok["status"], ok["message"]) == ("Pending", "Notification created and queued")
    assert bad["status"] == "Failed"
    assert bad["message"] == (
        "Failed to create notification: Validation error: Title cannot be empty"
    )


def test_fixed_service_stores_what_it_sends_and_filters_its_list(fixed: str) -> None:
    receipt = httpx.post(f"{fixed}/notifications", json=body(priority="Urgent")).json()
    stored = httpx.get(f"{fixed}/notifications/{receipt['id']}")
    newest = httpx.get(f"{fixed}/notifications", params={"limit": 1}).json()
    urgent = httpx.get(f"{fixed}/notifications", params={"priority": "Urgent"}).json()
    by_channel = httpx.get(f"{fixed}/notifications", params={"channel": "InApp"}).json()
    assert stored.status_code == 200
    assert list(stored.json()) == NOTIFICATION_KEYS
    assert stored.json()["priority"] == "Urgent"
    assert newest[0]["id"] == receipt["id"]
    assert urgent
    assert {n["priority"] for n in urgent} == {"Urgent"}
    assert by_channel
    assert all("InApp" in n["channels"] for n in by_channel)

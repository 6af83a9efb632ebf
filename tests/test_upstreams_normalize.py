"""Envelopes, enum spellings, timestamps and every service's error body, without a network."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from upstreams.errors import UpstreamNotFound, UpstreamStatusError
from upstreams.normalize import canonical, normalize, parse_error, to_pascal, unwrap


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("InStorage", "in_storage"),
        ("in_storage", "in_storage"),
        ("IN_STORAGE", "in_storage"),
        ("OnHold", "on_hold"),
        ("in-storage", "in_storage"),
        ("Pending", "pending"),
        ("lab_technician", "lab_technician"),
        ("Multiselect", "multiselect"),
    ],
)
def test_canonical_reads_every_spelling(wire: str, expected: str) -> None:
    assert canonical(wire) == expected


def test_to_pascal_writes_what_the_rust_services_want() -> None:
    assert to_pascal("in_storage") == "InStorage"
    assert to_pascal("InSequencing") == "InSequencing"
    assert to_pascal("on_hold") == "OnHold"
    assert to_pascal("PENDING") == "Pending"


def test_sample_body_is_unwrapped_and_normalised() -> None:
    body = {
        "success": True,
        "data": {
            "id": "a",
            "status": "InStorage",
            "sample_type": "DNA",
            "collection_date": "2024-05-01T10:00:00Z",
            "created_at": "2024-05-02T10:00:00+00:00",
            "metadata": {"status": "KeepMe", "created_at": "not touched"},
        },
    }
    sample = normalize(unwrap("samples", body))
    assert sample["status"] == "in_storage"
    assert sample["sample_type"] == "DNA"
    assert sample["collection_date"] == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert sample["created_at"].tzinfo is not None
    assert sample["metadata"] == {"status": "KeepMe", "created_at": "not touched"}


def test_envelopes_of_each_service() -> None:
    assert unwrap("templates", {"success": True, "template": {"id": "t"}}) == {"id": "t"}
    listed = unwrap("templates", {"success": True, "data": [1], "pagination": {"page": 1}})
    assert listed == {"data": [1], "pagination": {"page": 1}}
    storage = {"success": True, "data": [1], "message": None, "timestamp": "2024-01-01T00:00:00Z"}
    assert unwrap("storage", storage) == [1]
    assert unwrap("sequencing", {"jobs": []}) == {"jobs": []}
    assert unwrap("notifications", [{"id": "n"}]) == [{"id": "n"}]
    assert unwrap("rag", {"answer": "x", "success": True, "data": 1}) == {
        "answer": "x",
        "success": True,
        "data": 1,
    }


@pytest.mark.parametrize(
    ("service", "status", "body", "cls", "code", "message"),
    [
        (
            "samples",
            404,
            b'{"error":"sample_not_found","message":"Sample x not found","details":null}',
            UpstreamNotFound,
            "sample_not_found",
            "Sample x not found",
        ),
        (
            "auth",
            401,
            b'{"error":{"code":"INVALID_CREDENTIALS","message":"Bad login","timestamp":"t"}}',
            UpstreamStatusError,
            "INVALID_CREDENTIALS",
            "Bad login",
        ),
        ("storage", 500, b'{"error":"boom","timestamp":"t"}', UpstreamStatusError, None, "boom"),
        ("sequencing", 404, b'{"error":{"message":"no job"}}', UpstreamNotFound, None, "no job"),
        (
            "notifications",
            503,
            b'{"error":{"code":"QUEUE","message":"busy","retryable":true}}',
            UpstreamStatusError,
            "QUEUE",
            "busy",
        ),
        ("templates", 404, b"", UpstreamNotFound, None, "Not Found"),
        ("templates", 400, b"", UpstreamStatusError, None, "Bad Request"),
        ("rag", 422, b'{"detail":"query is empty"}', UpstreamStatusError, None, "query is empty"),
        (
            "samples",
            422,
            b"Failed to deserialize the JSON body: unknown variant `in_storage`",
            UpstreamStatusError,
            None,
            "Failed to deserialize the JSON body: unknown variant `in_storage`",
        ),
        ("samples", 502, b"<html>\x00\xff", UpstreamStatusError, None, "<html>\x00\ufffd"),
    ],
)
def test_every_error_shape(
    service: str,
    status: int,
    body: bytes,
    cls: type[UpstreamStatusError],
    code: str | None,
    message: str,
) -> None:
    error = parse_error(service, status, body)
    assert type(error) is cls
    assert (error.service, error.status, error.code, error.message) == (
        service,
        status,
        code,
        message,
    )


def test_retryable_flag_and_validation_details_are_kept() -> None:
    error = parse_error("notifications", 503, b'{"error":{"message":"m","retryable":true}}')
    assert error.details == {"retryable": True}
    error = parse_error("rag", 422, b'{"detail":[{"loc":["body","query"]}]}')
    assert error.message == "validation error"
    assert error.details == [{"loc": ["body", "query"]}]


def test_messages_never_name_an_upstream() -> None:
    body = b'{"error":"cannot reach http://10.0.0.5:8082/storage/x or db.internal:5432"}'
    message = parse_error("storage", 500, body).message
    assert "10.0.0.5" not in message
    assert "db.internal" not in message
    assert "http" not in message

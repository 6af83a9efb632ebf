"""The sandbox's samples service answers as the release does (UPSTREAMS.md, "## samples"):
shapes, status codes, error bodies, ignored parameters and defects, over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.options import Options
from sandbox.runner import SandboxProcess

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
SAMPLE_KEYS = [
    "barcode",
    "collection_date",
    "collection_location",
    "collector",
    "concentration",
    "created_at",
    "created_by",
    "id",
    "metadata",
    "name",
    "notes",
    "quality_score",
    "sample_type",
    "source_identifier",
    "source_type",
    "status",
    "template_id",
    "unit",
    "updated_at",
    "updated_by",
    "volume",
]
RELEASE_TYPES = {
    "DNA",
    "RNA",
    "Protein",
    "Cell Culture",
    "Tissue",
    "Blood",
    "Serum",
    "Plasma",
    "Urine",
    "Saliva",
    "Swab",
    "Environmental",
    "Other",
}
ERROR_KEYS = ["error", "message", "details", "timestamp", "request_id"]


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as c:
        yield c


@pytest.fixture(scope="module")
def base(sandbox: SandboxProcess) -> str:
    return sandbox.urls["samples"]


@pytest.fixture(scope="module")
def fixed() -> Iterator[SandboxProcess]:
    """Samples alone, with the list-filter defect turned off and the ids= extension on."""
    options = Options(extensions=frozenset({"samples"}), fixes=frozenset({"samples-list-filters"}))
    with SandboxProcess(["samples"], options=options) as sb:
        yield sb


def _create(http: httpx.Client, base: str, **fields: Any) -> dict[str, Any]:
    response = http.post(
        f"{base}/samples", json={"name": "SB sample", "sample_type": "DNA", **fields}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _all(http: httpx.Client, base: str) -> list[dict[str, Any]]:
    first = http.get(f"{base}/samples", params={"page_size": 1000}).json()["data"]
    samples: list[dict[str, Any]] = list(first["samples"])
    for page in range(2, first["total_pages"] + 1):
        more = http.get(f"{base}/samples", params={"page_size": 1000, "page": page})
        samples += more.json()["data"]["samples"]
    return samples


def _error(response: httpx.Response, status: int, code: str, message: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ERROR_KEYS
    assert (body["error"], body["message"], body["details"], body["request_id"]) == (
        code,
        message,
        None,
        None,
    )
    assert body["timestamp"].endswith("Z")


def test_list_is_a_sorted_envelope_of_sorted_samples_newest_first(
    http: httpx.Client, base: str
) -> None:
    response = http.get(f"{base}/samples", params={"page": 2, "page_size": 5})
    assert response.text.startswith('{"data":{"page":2,"page_size":5,"samples":[')
    body = response.json()
    assert list(body) == ["data", "success"]
    data = body["data"]
    assert list(data) == ["page", "page_size", "samples", "total_count", "total_pages"]
    assert data["total_pages"] == -(-data["total_count"] // 5)
    assert all(list(s) == SAMPLE_KEYS for s in data["samples"])
    everything = _all(http, base)
    assert [s["id"] for s in everything[5:10]] == [s["id"] for s in data["samples"]]
    stamps = [s["created_at"] for s in everything]
    assert stamps == sorted(stamps, reverse=True)
    assert {s["sample_type"] for s in everything} <= RELEASE_TYPES
    assert "Deleted" in {s["status"] for s in everything}


def test_list_paging_bounds(http: httpx.Client, base: str) -> None:
    low = http.get(f"{base}/samples", params={"page": -3, "page_size": 2}).json()["data"]
    assert low["page"] == 1
    capped = http.get(f"{base}/samples", params={"page_size": 5000}).json()["data"]
    assert capped["page_size"] == 1000
    assert len(capped["samples"]) == 1000
    default = http.get(f"{base}/samples").json()["data"]
    assert default["page_size"] == 50
    _error(
        http.get(f"{base}/samples", params={"page_size": -1}),
        500,
        "database_error",
        "A database error occurred",
    )
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(f"{base}/samples", params={"page_size": 0})
    bad = http.get(f"{base}/samples", params={"page": "two"})
    assert (bad.status_code, bad.text) == (
        400,
        "Failed to deserialize query string: invalid digit found in string",
    )


@pytest.mark.parametrize(
    "params",
    [
        {"status": "InStorage"},
        {"sample_type": "DNA"},
        {"template_id": UNKNOWN_ID},
        {"search": "ONC"},
        {"created_after": "2025-06-01T00:00:00Z"},
        {"created_before": "2025-06-01T00:00:00Z"},
    ],
)
def test_any_list_filter_is_a_database_error(
    http: httpx.Client, base: str, params: dict[str, str]
) -> None:
    _error(
        http.get(f"{base}/samples", params=params),
        500,
        "database_error",
        "A database error occurred",
    )


def test_list_filters_are_parsed_before_they_fail(http: httpx.Client, base: str) -> None:
    snake = http.get(f"{base}/samples", params={"status": "in_storage"})
    assert snake.status_code == 400
    assert snake.text.startswith(
        "Failed to deserialize query string: unknown variant `in_storage`, expected one of "
        "`Pending`, `Validated`"
    )
    bad_id = http.get(f"{base}/samples", params={"template_id": "nope"})
    assert bad_id.status_code == 400
    assert "UUID parsing failed" in bad_id.text
    bad_time = http.get(f"{base}/samples", params={"created_after": "yesterday"})
    assert bad_time.status_code == 400


def test_ignored_list_parameters_and_ids_without_the_extension(
    http: httpx.Client, base: str
) -> None:
    plain = http.get(f"{base}/samples", params={"page_size": 3}).json()["data"]
    some = [s["id"] for s in plain["samples"]]
    ignored: dict[str, str | int] = {
        "limit": 1,
        "offset": 7,
        "created_by": "x",
        "barcode_prefix": "ZZZ",
        "sort_by": "name",
        "ids": f"{some[2]},{UNKNOWN_ID}",
    }
    answer = http.get(f"{base}/samples", params={"page_size": 3, **ignored}).json()["data"]
    assert answer == plain


def test_get_by_id_barcode_and_their_errors(http: httpx.Client, base: str) -> None:
    listed = http.get(f"{base}/samples", params={"page_size": 1}).json()["data"]["samples"][0]
    one = http.get(f"{base}/samples/{listed['id']}")
    assert one.text.startswith('{"data":{"barcode":')
    assert one.json() == {"data": listed, "success": True}
    assert http.get(f"{base}/samples/barcode/{listed['barcode']}").json()["data"] == listed
    _error(http.get(f"{base}/samples/{UNKNOWN_ID}"), 404, "sample_not_found", "Sample not found")
    _error(
        http.get(f"{base}/samples/barcode/NO-SUCH"), 404, "barcode_not_found", "Barcode not found"
    )
    malformed = http.get(f"{base}/samples/not-a-uuid")
    assert malformed.status_code == 400
    assert malformed.headers["content-type"].startswith("text/plain")
    assert http.get(f"{base}/samples/batch").status_code == 405


def test_create_answers_200_with_a_generated_lab_barcode_and_no_creator(
    http: httpx.Client, base: str
) -> None:
    response = http.post(
        f"{base}/samples",
        json={
            "name": "SB create",
            "sample_type": "Cell Culture",
            "created_by": "someone",
            "volume": 2,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["data", "message", "success"]
    assert body["message"] == "Sample created successfully"
    sample = body["data"]
    assert list(sample) == SAMPLE_KEYS
    assert re.fullmatch(r"LAB-\d{14}-\d{4}", sample["barcode"])
    assert (sample["status"], sample["created_by"], sample["updated_by"]) == ("Pending", None, None)
    assert sample["metadata"] is None
    assert sample["volume"] == 2.0
    assert '"volume":2.0' in response.text


def test_create_validation_order_and_messages(http: httpx.Client, base: str) -> None:
    taken = _create(http, base)["barcode"]
    # Uniqueness is checked before the type.
    _error(
        http.post(f"{base}/samples", json={"name": "x", "sample_type": "dna", "barcode": taken}),
        409,
        "duplicate_barcode",
        "Duplicate barcode",
    )
    _error(
        http.post(f"{base}/samples", json={"name": "x", "sample_type": "dna"}),
        400,
        "validation_error",
        "Invalid sample type 'dna'. Valid types are: DNA, RNA, Protein, Cell Culture, Tissue, "
        "Blood, Serum, Plasma, Urine, Saliva, Swab, Environmental, Other",
    )
    _error(
        http.post(f"{base}/samples", json={"name": "", "sample_type": "DNA"}),
        400,
        "validation_error",
        "name: Sample name must be between 1 and 255 characters",
    )
    missing = http.post(f"{base}/samples", json={"sample_type": "DNA"})
    assert missing.status_code == 422
    assert "missing field `name`" in missing.text
    assert http.post(f"{base}/samples", content=b"{}").status_code == 415


def test_update_coalesces_and_marks_the_user(http: httpx.Client, base: str) -> None:
    sample = _create(http, base, notes="first", volume=1.5)
    response = http.put(
        f"{base}/samples/{sample['id']}", json={"notes": None, "volume": 3, "unit": "mL"}
    )
    assert response.json()["message"] == "Sample updated successfully"
    updated = response.json()["data"]
    assert (updated["notes"], updated["volume"], updated["unit"]) == ("first", 3.0, "mL")
    assert updated["updated_by"] == "user"
    assert updated["created_at"] == sample["created_at"]
    _error(
        http.put(f"{base}/samples/{UNKNOWN_ID}", json={"notes": "x"}),
        404,
        "sample_not_found",
        "Sample not found",
    )
    # The body is read before the sample: a bad body on an unknown id is 422.
    assert http.put(f"{base}/samples/{UNKNOWN_ID}", json={"volume": "a lot"}).status_code == 422


def test_status_transitions_follow_the_release_table(http: httpx.Client, base: str) -> None:
    sample = _create(http, base)
    url = f"{base}/samples/{sample['id']}/status"
    for refused in ("Pending", "InStorage", "Completed"):
        _error(
            http.put(url, json={"new_status": refused}),
            400,
            "invalid_workflow_transition",
            "Invalid workflow transition",
        )
    moved = http.put(url, json={"new_status": "Validated", "notify": True, "metadata": {"a": 1}})
    assert moved.json()["message"] == "Sample status updated successfully"
    assert (moved.json()["data"]["status"], moved.json()["data"]["updated_by"]) == (
        "Validated",
        "user",
    )
    assert moved.json()["data"]["metadata"] is None
    snake = http.put(url, json={"new_status": "in_storage"})
    assert snake.status_code == 422
    assert snake.headers["content-type"].startswith("text/plain")


def test_delete_is_soft_and_refused_while_sequencing(http: httpx.Client, base: str) -> None:
    sample = _create(http, base)
    deleted = http.delete(f"{base}/samples/{sample['id']}")
    assert deleted.json() == {"message": "Sample deleted successfully", "success": True}
    after = http.get(f"{base}/samples/{sample['id']}").json()["data"]
    assert (after["status"], after["updated_by"]) == ("Deleted", "user")
    assert http.delete(f"{base}/samples/{sample['id']}").status_code == 200
    busy = _create(http, base)
    for status in ("Validated", "InSequencing"):
        http.put(f"{base}/samples/{busy['id']}/status", json={"new_status": status})
    _error(
        http.delete(f"{base}/samples/{busy['id']}"),
        400,
        "business_rule_violation",
        "Cannot delete sample that is currently being sequenced",
    )


def test_validate_answers_200_even_when_invalid(http: httpx.Client, base: str) -> None:
    plain = _create(http, base)
    ok = http.post(f"{base}/samples/{plain['id']}/validate").json()
    assert (ok["success"], ok["message"]) == (True, "Sample validation successful")
    assert list(ok["data"]) == [
        "error_message",
        "errors",
        "id",
        "is_valid",
        "rule_id",
        "sample_id",
        "validated_at",
        "validated_by",
        "validation_passed",
        "warnings",
    ]
    templated = _create(http, base, template_id=UNKNOWN_ID)
    bad = http.post(f"{base}/samples/{templated['id']}/validate")
    assert bad.status_code == 200
    assert (bad.json()["success"], bad.json()["data"]["validation_passed"]) == (False, True)
    assert bad.json()["data"]["errors"] == [
        "Template validation failed: Template validation failed: "
        "Template requires metadata but none provided"
    ]
    many = http.post(
        f"{base}/samples/batch/validate", json={"sample_ids": [plain["id"], UNKNOWN_ID]}
    ).json()
    assert many["success"] is False
    assert many["message"] == "Some samples have validation errors"
    data = many["data"]
    assert (data["total_samples"], data["valid_samples"], data["invalid_samples"]) == (2, 1, 1)
    assert data["validation_results"][1]["errors"] == [f"Sample not found: {UNKNOWN_ID}"]


def test_batch_creates_one_by_one_and_echoes_failures(http: httpx.Client, base: str) -> None:
    taken = _create(http, base)["barcode"]
    response = http.post(
        f"{base}/samples/batch",
        json={
            "samples": [
                {"name": "SB batch 1", "sample_type": "Blood"},
                {"name": "SB batch 2", "sample_type": "blood"},
                {"name": "SB batch 3", "sample_type": "Blood", "barcode": taken},
            ],
            "template_id": UNKNOWN_ID,
            "batch_name": "ignored",
        },
    )
    body = response.json()
    assert response.status_code == 200
    assert body["message"] == "Batch processing completed: 1 created, 2 failed"
    data = body["data"]
    assert data["created_samples"][0]["template_id"] is None
    failures = data["failed_samples"]
    assert [f["index"] for f in failures] == [1, 2]
    assert failures[0]["error"].startswith("Validation error: Invalid sample type 'blood'.")
    assert failures[1]["error"] == f"Duplicate barcode: {taken}"
    assert len(failures[0]["sample_data"]) == 16
    assert failures[0]["sample_data"]["name"] == "SB batch 2"


def test_batch_first_invalid_item_fails_the_call_and_the_size_cap(
    http: httpx.Client, base: str
) -> None:
    before = http.get(f"{base}/samples", params={"page_size": 1}).json()["data"]["total_count"]
    items = [{"name": "SB fine", "sample_type": "DNA"}, {"name": "", "sample_type": "DNA"}]
    _error(
        http.post(f"{base}/samples/batch", json={"samples": items}),
        400,
        "validation_error",
        "name: Sample name must be between 1 and 255 characters",
    )
    many = [{"name": f"SB {i}", "sample_type": "DNA"} for i in range(101)]
    _error(
        http.post(f"{base}/samples/batch", json={"samples": many}),
        429,
        "resource_limit_exceeded",
        "Batch size 101 exceeds maximum allowed size of 100",
    )
    empty = http.post(f"{base}/samples/batch", json={"samples": []}).json()
    assert empty["data"]["total_created"] == 0
    after = http.get(f"{base}/samples", params={"page_size": 1}).json()["data"]["total_count"]
    assert after == before


def test_collection_dates_print_as_chrono_does(http: httpx.Client, base: str) -> None:
    early = _create(http, base, collection_date="0999-05-01T12:00:00.250+00:00")
    assert early["collection_date"] == "0999-05-01T12:00:00.250Z"
    # An offset can carry a date into year 0, which the release stores and prints.
    zero = _create(http, base, collection_date="0001-01-01T00:30:00+01:00")
    assert zero["collection_date"] == "0000-12-31T23:30:00Z"
    again = http.get(f"{base}/samples/{zero['id']}").json()["data"]
    assert again["collection_date"] == "0000-12-31T23:30:00Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?Z", early["created_at"])


def test_fixed_list_filters_apply(http: httpx.Client, fixed: SandboxProcess) -> None:
    base = fixed.urls["samples"]
    everything = _all(http, base)
    stored = http.get(f"{base}/samples", params={"status": "InStorage", "page_size": 1000})
    data = stored.json()["data"]
    expected = [s["id"] for s in everything if s["status"] == "InStorage"]
    assert [s["id"] for s in data["samples"]] == expected
    assert data["total_count"] == len(expected)
    dna = http.get(f"{base}/samples", params={"sample_type": "DNA", "search": "onc"}).json()
    assert dna["data"]["samples"]
    assert all(
        s["sample_type"] == "DNA" and ("onc" in s["name"].lower() or "onc" in s["barcode"].lower())
        for s in dna["data"]["samples"]
    )


def test_ids_extension_answers_those_samples(http: httpx.Client, fixed: SandboxProcess) -> None:
    base = fixed.urls["samples"]
    some = [s["id"] for s in _all(http, base)[:3]]
    asked = [some[2], UNKNOWN_ID, some[0]]
    data = http.get(f"{base}/samples", params={"ids": ",".join(asked)}).json()["data"]
    assert [s["id"] for s in data["samples"]] == [some[2], some[0]]
    assert data["total_count"] == 2

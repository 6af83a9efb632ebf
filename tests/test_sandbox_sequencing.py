"""The sandbox's sequencing service answers as the release does (UPSTREAMS.md, "## sequencing"):
shapes, key order, status codes, error bodies, ignored parameters and defects; the
[extension] filters only with the extension on, the list filters only with their fix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.options import Options
from sandbox.runner import SandboxProcess

UNKNOWN = "00000000-0000-4000-8000-000000000000"
JOB_KEYS = [
    "id",
    "name",
    "description",
    "status",
    "priority",
    "platform_id",
    "workflow_id",
    "sample_sheet_id",
    "run_id",
    "created_by",
    "assigned_to",
    "estimated_start",
    "estimated_completion",
    "actual_start",
    "actual_completion",
    "metadata",
    "created_at",
    "updated_at",
    "platform",
    "job_name",
    "started_at",
    "completed_at",
]
SUMMARY_KEYS = [
    "created_at",
    "estimated_completion",
    "id",
    "name",
    "platform_id",
    "priority",
    "progress_percentage",
    "status",
    "workflow_id",
]
NEW_JOB = {"name": "sandbox test", "priority": "Normal", "platform_id": "nanopore"}


@pytest.fixture
def http(sandbox: SandboxProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.urls["sequencing"], timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def fixed_filters() -> Iterator[SandboxProcess]:
    with SandboxProcess(
        ["sequencing"], options=Options(fixes=frozenset({"jobs-list-filters"}))
    ) as sb:
        yield sb


def _all(http: httpx.Client) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = http.get("/jobs", params={"limit": 100}).json()["jobs"]
    return jobs


def _create(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/jobs", json={**NEW_JOB, "workflow_id": "standard_wgs", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_job_list_is_sorted_summaries_newest_first_with_its_pagination(http: httpx.Client) -> None:
    response = http.get("/jobs", params={"limit": 3})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["jobs", "pagination"]
    assert list(body["pagination"]) == ["limit", "page", "pages", "total"]
    total = body["pagination"]["total"]
    assert body["pagination"] == {"limit": 3, "page": 1, "pages": -(-total // 3), "total": total}
    assert [list(j) for j in body["jobs"]] == [SUMMARY_KEYS] * 3
    created = [j["created_at"] for j in _all(http)]
    assert created == sorted(created, reverse=True)
    progress = {j["status"]: j["progress_percentage"] for j in _all(http)}
    assert progress["Completed"] == 100.0
    assert progress["OnHold"] == 25.0
    assert progress["Running"] == 50.0
    assert progress["Draft"] == 0.0


def test_job_list_caps_limit_at_100_treats_page_0_as_1_and_rejects_negatives(
    http: httpx.Client,
) -> None:
    assert http.get("/jobs", params={"limit": 500}).json()["pagination"]["limit"] == 100
    first = http.get("/jobs", params={"limit": 5}).json()["jobs"]
    zero = http.get("/jobs", params={"limit": 5, "page": 0}).json()
    assert zero["jobs"] == first
    assert zero["pagination"]["page"] == 0
    negative = http.get("/jobs", params={"page": -1})
    assert negative.status_code == 400
    assert negative.text == "Failed to deserialize query string: invalid digit found in string"
    nothing = http.get("/jobs", params={"limit": 0}).json()
    assert nothing["jobs"] == []
    assert nothing["pagination"]["pages"] == 4294967295


def test_job_list_ignores_its_filters_and_the_batch_parameters(http: httpx.Client) -> None:
    everything = http.get("/jobs", params={"limit": 10}).json()
    job = everything["jobs"][0]
    for params in (
        {"status": "Completed"},
        {"priority": "Critical"},
        {"platform": "nanopore"},
        {"created_by": UNKNOWN},
        {"sort": "name", "order": "asc"},
        {"ids": UNKNOWN},
        {"sample_ids": UNKNOWN},
    ):
        assert http.get("/jobs", params={"limit": 10, **params}).json() == everything, params
    assert {j["status"] for j in everything["jobs"]} != {"Completed"}
    assert job["id"] in {j["id"] for j in everything["jobs"]}
    bad_creator = http.get("/jobs", params={"created_by": "x"})
    assert bad_creator.status_code == 400
    assert bad_creator.text.startswith("Failed to deserialize query string: UUID parsing failed")


def test_job_detail_is_the_struct_in_order_with_its_alias_keys(http: httpx.Client) -> None:
    summary = _all(http)[0]
    response = http.get(f"/jobs/{summary['id']}")
    assert response.status_code == 200
    job = response.json()
    assert list(job) == JOB_KEYS
    assert job["platform"] == job["platform_id"] == summary["platform_id"]
    assert job["job_name"] == job["name"]
    assert (job["started_at"], job["completed_at"]) == (
        job["actual_start"],
        job["actual_completion"],
    )
    missing = http.get(f"/jobs/{UNKNOWN}")
    assert missing.status_code == 404
    assert list(missing.json()) == ["error"]
    assert list(missing.json()["error"]) == ["message", "timestamp"]
    assert missing.json()["error"]["message"] == f"Job not found: {UNKNOWN}"


def test_create_takes_platform_names_answers_a_summary_and_a_random_creator(
    http: httpx.Client,
) -> None:
    first = _create(http, metadata={"b": 1, "a": 2})
    second = _create(http)
    try:
        assert list(first) == SUMMARY_KEYS
        assert (first["status"], first["progress_percentage"]) == ("Draft", 0.0)
        assert first["platform_id"] == "nanopore"
        assert first["workflow_id"] == "standard_wgs"
        one = http.get(f"/jobs/{first['id']}").json()
        two = http.get(f"/jobs/{second['id']}").json()
        assert one["created_by"] != two["created_by"]
        assert list(one["metadata"]) == ["a", "b"]
        unknown = http.post(
            "/jobs", json={**NEW_JOB, "platform_id": "NovaSeq 6000", "workflow_id": "w"}
        )
        assert unknown.status_code == 404
        assert unknown.json()["error"]["message"] == "Platform not found"
        empty = http.post("/jobs", json={**NEW_JOB, "name": " ", "workflow_id": "w"})
        assert (empty.status_code, empty.json()["error"]["message"]) == (
            400,
            "Validation error: Job name cannot be empty",
        )
        no_workflow = http.post("/jobs", json={**NEW_JOB, "workflow_id": ""})
        assert (
            no_workflow.json()["error"]["message"]
            == "Validation error: Workflow ID cannot be empty"
        )
        snake = http.post("/jobs", json={**NEW_JOB, "priority": "normal", "workflow_id": "w"})
        assert snake.status_code == 422
        assert "unknown variant `normal`" in snake.text
    finally:
        for job in (first, second):
            http.delete(f"/jobs/{job['id']}")


def test_status_table_cancel_skipping_it_update_clone_and_delete(http: httpx.Client) -> None:
    job = _create(http, description="keep me")
    path = f"/jobs/{job['id']}"
    clone: dict[str, Any] = {}
    try:
        jump = http.put(f"{path}/status", json={"status": "Running"})
        assert jump.status_code == 400
        assert jump.json()["error"]["message"] == (
            'Invalid job status transition: from "Draft" to "Running"'
        )
        for status in ("Submitted", "Validated", "OnHold", "Queued"):
            moved = http.put(f"{path}/status", json={"status": status, "notes": "n"})
            assert moved.status_code == 200
            assert moved.json()["status"] == status
        assert "status_notes" not in moved.json()["metadata"]
        queued = http.delete(path)
        assert queued.status_code == 400
        assert queued.json()["error"]["message"] == (
            f'Invalid operation: Cannot delete job {job["id"]} - job is currently "Queued"'
        )
        running = http.put(f"{path}/status", json={"status": "Running"}).json()
        assert running["actual_start"]
        assert running["actual_completion"] is None
        updated = http.put(path, json={"name": "renamed", "description": None}).json()
        assert (updated["name"], updated["description"]) == ("renamed", "keep me")
        clone = http.post(f"{path}/clone").json()
        assert list(clone) == SUMMARY_KEYS
        assert (clone["name"], clone["status"]) == ("renamed (Copy)", "Draft")
        assert http.get(f"/jobs/{clone['id']}").json()["created_by"] == running["created_by"]
        cancelled = http.post(f"/jobs/{clone['id']}/cancel")  # Draft → Cancelled: no table
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "Cancelled"
        again = http.post(f"/jobs/{clone['id']}/cancel")
        assert again.status_code == 400
        assert again.json()["error"]["message"] == (
            f"Invalid operation: Cannot cancel job {clone['id']} - job is already in terminal "
            "state: Cancelled"
        )
        assert http.delete(f"/jobs/{clone['id']}").status_code == 204
    finally:
        http.post(f"{path}/cancel")
        http.delete(path)


def test_sample_sheet_is_an_envelope_with_its_own_entry_keys(http: httpx.Client) -> None:
    job = http.get(f"/jobs/{_all(http)[0]['id']}").json()
    response = http.get(f"/sample-sheets/{job['sample_sheet_id']}")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["data", "success"]
    assert list(body["data"]) == ["entries", "entry_count", "sample_sheet", "validation"]
    data = body["data"]
    assert data["entry_count"] == len(data["entries"]) == data["sample_sheet"]["sample_count"]
    assert data["sample_sheet"]["version"] == "1.0"
    assert "entries" not in data["sample_sheet"]
    entry = data["entries"][0]
    assert list(entry) == [
        "description",
        "id",
        "index1",
        "index2",
        "project",
        "sample_id",
        "sample_name",
        "sample_plate",
        "sample_sheet_id",
        "sample_well",
    ]
    wells = [e["sample_well"] for e in data["entries"]]
    assert wells == sorted(wells)
    missing = http.get(f"/sample-sheets/{UNKNOWN}")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == f"Sample sheet not found: {UNKNOWN}"


def test_sample_sheet_list_answers_500_to_any_filter(http: httpx.Client) -> None:
    listed = http.get("/sample-sheets", params={"page_size": 2}).json()
    assert list(listed["data"]) == ["pagination", "sample_sheets"]
    assert list(listed["data"]["pagination"]) == ["page", "page_size", "total_count", "total_pages"]
    assert len(listed["data"]["sample_sheets"]) == 2
    for params in ({"platform": "nanopore"}, {"status": "Draft"}, {"created_by": "x"}):
        failed = http.get("/sample-sheets", params=params)
        assert failed.status_code == 500, params
        assert failed.json()["error"]["message"].startswith("Database error: ")


def test_sample_sheet_create_validate_update_and_delete(http: httpx.Client) -> None:
    rows = [
        {"Sample_ID": UNKNOWN, "Sample_Name": "s one", "Sample_Well": "B01", "index": "ACGT"},
        {"Sample_ID": UNKNOWN, "Sample_Name": "s two", "Sample_Well": "A01", "index": "ACGT"},
    ]
    bad = http.post(
        "/sample-sheets",
        json={
            "name": "x",
            "platform": "nanopore",
            "run_parameters": {},
            "samples": [{"Sample_Name": "a"}],
        },
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == (
        "Validation error: Sample at index 0 missing required field: Sample_ID"
    )
    created = http.post(
        "/sample-sheets",
        json={"name": "x", "platform": "illumina_novaseq", "run_parameters": {}, "samples": rows},
    ).json()
    assert created["message"] == "Sample sheet created successfully"
    sheet_id = created["data"]["id"]
    entries = http.get(f"/sample-sheets/{sheet_id}").json()["data"]["entries"]
    assert [e["sample_well"] for e in entries] == ["A01", "B01"]
    checked = http.post(f"/sample-sheets/{sheet_id}/validate").json()["data"]
    assert checked["summary"] == {
        "error_count": 1,
        "is_valid": False,
        "new_status": "Invalid",
        "warning_count": 4,
    }
    assert checked["validation"]["errors"] == [
        "Duplicate index sequence 'ACGT' found at positions 0 and 1"
    ]
    reread = http.get(f"/sample-sheets/{sheet_id}").json()["data"]
    assert reread["sample_sheet"]["status"] == "Invalid"
    assert reread["validation"]["id"] == checked["validation"]["id"]
    renamed = http.put(f"/sample-sheets/{sheet_id}", json={"name": "y"}).json()
    assert (renamed["data"]["name"], renamed["message"]) == (
        "y",
        "Sample sheet updated successfully",
    )
    deleted = http.delete(f"/sample-sheets/{sheet_id}")
    assert deleted.status_code == 200
    assert deleted.json()["data"]["id"] == sheet_id
    assert http.get(f"/sample-sheets/{sheet_id}").status_code == 404


def test_a_sample_sheet_of_a_queued_job_cannot_be_deleted(http: httpx.Client) -> None:
    queued = next(j for j in _all(http) if j["status"] == "Queued")
    sheet_id = http.get(f"/jobs/{queued['id']}").json()["sample_sheet_id"]
    refused = http.delete(f"/sample-sheets/{sheet_id}")
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == "Sample sheet in use"


def test_workflows_are_minimal(http: httpx.Client) -> None:
    listed = http.get("/workflows").json()
    assert listed["data"]["workflows"] == []
    assert http.get("/workflows", params={"platform": "nanopore"}).status_code == 500
    missing = http.get(f"/workflows/{UNKNOWN}")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == f"Workflow not found: {UNKNOWN}"
    assert http.get("/workflows/standard_wgs").status_code == 400


def test_batch_extension_answers_full_jobs_by_id_and_by_sample(sandbox_ext: SandboxProcess) -> None:
    with httpx.Client(base_url=sandbox_ext.urls["sequencing"], timeout=10) as http:
        job = http.get(f"/jobs/{_all(http)[0]['id']}").json()
        by_id = http.get("/jobs", params={"ids": f"{job['id']},{UNKNOWN}"}).json()
        sheet = http.get(f"/sample-sheets/{job['sample_sheet_id']}").json()["data"]
        sample_id = sheet["entries"][0]["sample_id"]
        by_sample = http.get("/jobs", params={"sample_ids": sample_id}).json()
    assert by_id["jobs"] == [job]
    assert job["id"] in {j["id"] for j in by_sample["jobs"]}
    assert all(list(j) == JOB_KEYS for j in by_sample["jobs"])
    assert set(by_sample) == {"jobs", "pagination"}


def test_fixed_list_filters_apply(fixed_filters: SandboxProcess) -> None:
    with httpx.Client(base_url=fixed_filters.urls["sequencing"], timeout=10) as http:
        completed = http.get("/jobs", params={"status": "Completed", "limit": 100}).json()
        nanopore = http.get("/jobs", params={"platform": "nanopore", "limit": 100}).json()
        everything = _all(http)
    assert completed["pagination"]["total"] == sum(
        1 for j in everything if j["status"] == "Completed"
    )
    assert {j["status"] for j in completed["jobs"]} == {"Completed"}
    assert {j["platform_id"] for j in nanopore["jobs"]} == {"nanopore"}

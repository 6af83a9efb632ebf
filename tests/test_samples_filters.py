"""Issue 12, item 4: `orderBy` and the filters a lab UI needs on `samples`.

The release can neither filter (any filter answers 500) nor sort: the gateway reads the
list whole and filters, sorts and pages it. The expected answers here come straight from
the sandbox's REST routes, sorted and filtered in the test."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import SandboxControl, codes, gateway_client, gql, sandbox_settings
from tests.test_graph_samples import _every_sample

LIST = """
query($filter: SampleFilter, $orderBy: SampleOrder, $first: Int, $last: Int) {
  samples(filter: $filter, orderBy: $orderBy, first: $first, last: $last) {
    totalCount
    nodes { id }
  }
}
"""
# The workflow's order, as SampleStatus declares it.
WORKFLOW = [
    "Pending",
    "Validated",
    "InStorage",
    "InSequencing",
    "Completed",
    "Failed",
    "Discarded",
    "Rejected",
    "Archived",
    "Deleted",
]


def _instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


KEYS = {
    "CREATED_AT": lambda s: _instant(s["created_at"]),
    "UPDATED_AT": lambda s: _instant(s["updated_at"]),
    "NAME": lambda s: s["name"].casefold(),
    "BARCODE": lambda s: s["barcode"],
    "COLLECTION_DATE": lambda s: _instant(s.get("collection_date")),
    "STATUS": lambda s: WORKFLOW.index(s["status"]),
}


def _sorted(samples: list[dict[str, Any]], field: str, direction: str) -> list[str]:
    """The ids sorted as the gateway promises: stable (ties keep newest first), records
    without the key last in either direction."""
    key = KEYS[field]
    present = [s for s in samples if key(s) is not None]
    absent = [s for s in samples if key(s) is None]
    present.sort(key=key, reverse=direction == "DESC")
    return [s["id"] for s in present + absent]


async def _ids(client: httpx.AsyncClient, **arguments: Any) -> tuple[list[str], int]:
    body = await gql(client, LIST, **arguments)
    assert "errors" not in body, body
    connection = body["data"]["samples"]
    return [n["id"] for n in connection["nodes"]], connection["totalCount"]


@pytest.mark.parametrize("field", sorted(KEYS))
async def test_order_by_sorts_the_whole_list_both_ways(
    sandbox: Any, control: SandboxControl, field: str
) -> None:
    everything = _every_sample(sandbox)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        for direction in ("ASC", "DESC"):
            order = {"field": field, "direction": direction}
            head, total = await _ids(client, orderBy=order, first=40)
            tail, _ = await _ids(client, orderBy=order, last=40)
            expected = _sorted(everything, field, direction)
            assert total == len(everything)
            assert head == expected[:40], (field, direction)
            assert tail == expected[-40:], (field, direction)


async def test_the_default_order_is_the_upstreams_own_and_costs_one_call(
    sandbox: Any, control: SandboxControl
) -> None:
    everything = _every_sample(sandbox)
    newest = {"field": "CREATED_AT", "direction": "DESC"}
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        plain, _ = await _ids(client, first=20)
        ordered, _ = await _ids(client, orderBy=newest, first=20)
    assert plain == ordered == [s["id"] for s in everything[:20]]
    assert control.by_route("samples") == {"GET /samples": 2}


async def test_statuses_and_sample_types_filter_by_any_of_several(
    sandbox: Any, control: SandboxControl
) -> None:
    everything = _every_sample(sandbox)
    cases = [
        (
            {"statuses": ["COMPLETED", "FAILED"]},
            [s["id"] for s in everything if s["status"] in ("Completed", "Failed")],
        ),
        (
            {"sampleTypes": ["DNA", "CELL_CULTURE"]},
            [s["id"] for s in everything if s["sample_type"] in ("DNA", "Cell Culture")],
        ),
        (
            {"statuses": ["IN_STORAGE"], "sampleTypes": ["BLOOD", "PLASMA"]},
            [
                s["id"]
                for s in everything
                if s["status"] == "InStorage" and s["sample_type"] in ("Blood", "Plasma")
            ],
        ),
    ]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        for filter_, expected in cases:
            assert len(expected) > 3, filter_
            ids, total = await _ids(client, filter=filter_, first=1000)
            assert (ids, total) == (expected, len(expected)), filter_


async def test_collection_dates_filter_inclusively_and_leave_out_undated_samples(
    sandbox: Any, control: SandboxControl
) -> None:
    everything = _every_sample(sandbox)
    low, high = (
        datetime.fromisoformat("2025-03-01T00:00:00Z"),
        datetime.fromisoformat("2025-04-01T00:00:00Z"),
    )
    dated = [s for s in everything if s.get("collection_date")]
    expected = [
        s["id"] for s in dated if low <= datetime.fromisoformat(s["collection_date"]) <= high
    ]
    after = [s["id"] for s in dated if datetime.fromisoformat(s["collection_date"]) >= low]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        both, _ = await _ids(
            client,
            filter={
                "collectedAfter": "2025-03-01T00:00:00Z",
                "collectedBefore": "2025-04-01T00:00:00Z",
            },
            first=1000,
        )
        only_after, total = await _ids(
            client, filter={"collectedAfter": "2025-03-01T00:00:00Z"}, first=1000
        )
    assert len(expected) > 3
    assert both == expected
    assert total == len(after)
    assert only_after == after[:1000]


async def test_collected_on_is_one_utc_calendar_day_of_the_date_scalar(
    sandbox: Any, control: SandboxControl
) -> None:
    dated = [s for s in _every_sample(sandbox) if s.get("collection_date")]
    day = datetime.fromisoformat(dated[0]["collection_date"]).astimezone(UTC).date()
    expected = [
        s["id"]
        for s in dated
        if datetime.fromisoformat(s["collection_date"]).astimezone(UTC).date() == day
    ]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        on_day, total = await _ids(client, filter={"collectedOn": day.isoformat()}, first=1000)
        narrowed, _ = await _ids(
            client,
            filter={"collectedOn": day.isoformat(), "collectedAfter": "9000-01-01T00:00:00Z"},
            first=1000,
        )
        not_a_day = await gql(client, LIST, filter={"collectedOn": "2025-02-30"}, first=1)
    assert expected
    assert (on_day, total) == (expected, len(expected))
    assert narrowed == []
    assert not_a_day["data"] is None
    assert codes(not_a_day) == ["BAD_USER_INPUT"]


def _samples_beneath(http: httpx.Client, container: dict[str, Any]) -> set[str]:
    """The samples in a container's boxes, from the storage service's REST routes."""
    rows = http.get(f"/storage/containers/{container['id']}/hierarchy").json()["data"]
    boxes = [r["id"] for r in rows if r["container_type"] == "box"]
    found: set[str] = set()
    for box in boxes:
        grid = http.get(f"/storage/containers/{box}/grid").json()["data"]
        found |= {p["sample_id"] for p in grid["positions"] if p.get("sample_id")}
    return found


def _every_container(http: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        data = http.get("/storage/containers", params={"page": page, "per_page": 100}).json()
        found += data["data"]["data"]
        if not data["data"]["pagination"]["has_next"]:
            return found
        page += 1


async def test_container_and_location_filters_answer_the_samples_stored_there(
    sandbox: Any, control: SandboxControl
) -> None:
    known = {s["id"] for s in _every_sample(sandbox)}
    with httpx.Client(base_url=sandbox.urls["storage"]) as http:
        containers = _every_container(http)
        freezer = next(
            c
            for c in containers
            if c["container_type"] == "freezer"
            and c["location_id"]
            and len(_samples_beneath(http, c) & known) > 3
        )
        in_freezer = _samples_beneath(http, freezer) & known
        location = freezer["location_id"]
        tops = [
            c for c in containers if c["location_id"] == location and not c["parent_container_id"]
        ]
        at_location = set().union(*(_samples_beneath(http, c) for c in tops)) & known
        box = next(
            c
            for c in containers
            if c["container_type"] == "box"
            and c["parent_container_id"]
            and _samples_beneath(http, c) & in_freezer
        )
        in_box = _samples_beneath(http, box) & known
    async with gateway_client(sandbox_settings(sandbox)) as client:
        by_freezer, _ = await _ids(client, filter={"containerId": freezer["id"]}, first=1000)
        by_box, _ = await _ids(client, filter={"containerId": box["id"]}, first=1000)
        by_location, _ = await _ids(client, filter={"locationId": location}, first=1000)
        unknown = await gql(
            client, LIST, filter={"containerId": "00000000-0000-4000-8000-000000000000"}, first=1
        )
    assert set(by_freezer) == in_freezer
    assert len(by_freezer) == len(in_freezer)
    assert set(by_box) == in_box
    assert in_box
    assert set(by_location) == at_location
    assert at_location >= in_freezer
    assert unknown["data"] == {"samples": None}
    assert codes(unknown) == ["BAD_USER_INPUT"]
    assert "container" in unknown["errors"][0]["message"]


async def test_a_creator_filter_is_unsupported_not_an_empty_list(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(
            client, LIST, filter={"createdById": "00000000-0000-4000-8000-000000000001"}, first=5
        )
    assert body["data"] == {"samples": None}
    (error,) = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["service"]) == (
        "UPSTREAM_UNSUPPORTED",
        "samples",
    )
    assert "created_by" in error["message"]
    assert control.requests() == 0


async def test_filtering_beyond_the_scan_limit_is_unsupported(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox, max_scan_items=100)) as client:
        body = await gql(client, LIST, orderBy={"field": "NAME", "direction": "ASC"}, first=5)
    assert body["data"] == {"samples": None}
    assert codes(body) == ["UPSTREAM_UNSUPPORTED"]
    assert "TRACSEQ_MAX_SCAN_ITEMS" in body["errors"][0]["message"]

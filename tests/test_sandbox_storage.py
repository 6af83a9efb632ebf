"""The sandbox's storage service answers as the release does (UPSTREAMS.md, "## storage"):
shapes, status codes, error bodies, ignored parameters and defects; and the storage client
over it. Writes build their own container tree, so they disturb no seeded data."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from sandbox.options import Options
from sandbox.runner import SandboxProcess
from tests.conftest import SandboxControl
from upstreams.client import UpstreamClient
from upstreams.config import CallContext, UpstreamConfig
from upstreams.errors import UpstreamNotFound, UpstreamStatusError
from upstreams.pool import HttpPool, create_http_pool
from upstreams.storage import StorageClient

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
CTX = CallContext(request_id="test-sandbox-storage")
ENVELOPE = ["success", "data", "message", "timestamp"]
LOCATION_KEYS = [
    "id",
    "name",
    "description",
    "location_type",
    "temperature_zone",
    "max_capacity",
    "current_capacity",
    "coordinates",
    "status",
    "metadata",
    "created_at",
    "updated_at",
]
CONTAINER_KEYS = [
    "id",
    "name",
    "container_type",
    "parent_container_id",
    "location_id",
    "grid_position",
    "dimensions",
    "capacity",
    "occupied_count",
    "temperature_zone",
    "barcode",
    "description",
    "status",
    "installation_date",
    "last_maintenance_date",
    "next_maintenance_date",
    "container_metadata",
    "access_restrictions",
    "created_at",
    "updated_at",
    "created_by",
]
POSITION_KEYS = [
    "id",
    "sample_id",
    "container_id",
    "position_identifier",
    "assigned_at",
    "assigned_by",
    "removed_at",
    "removed_by",
    "status",
    "reservation_expires_at",
    "storage_conditions",
    "special_requirements",
    "chain_of_custody",
    "position_metadata",
    "notes",
    "created_at",
    "updated_at",
]
DETAILED_KEYS = [
    "position_id",
    "sample_id",
    "position_identifier",
    "assigned_at",
    "assigned_by",
    "position_status",
    "storage_conditions",
    "special_requirements",
    "notes",
    "container_id",
    "container_name",
    "container_type",
    "container_barcode",
    "temperature_zone",
    "full_path",
    "level",
    "path",
    "location_name",
    "location_zone_type",
]


@pytest.fixture(scope="module")
def base(sandbox: SandboxProcess) -> str:
    return sandbox.urls["storage"]


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as c:
        yield c


def _data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ENVELOPE
    assert body["success"] is True
    assert body["message"] is None
    assert body["timestamp"].endswith("Z")
    return body["data"]


def _error(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error", "timestamp"]
    assert body["error"] == message
    assert body["timestamp"].endswith("+00:00")


def _tree(client: httpx.Client, base: str, positions: int = 3) -> dict[str, Any]:
    """A new location with freezer > rack > box > ``positions`` positions (A1, A2, ...)."""
    tag = uuid.uuid4().hex[:8]
    location = _data(
        client.post(
            f"{base}/storage/locations",
            json={
                "name": f"Test {tag} tree",
                "location_type": "freezer",
                "temperature_zone": "-80C",
                "max_capacity": 100,
            },
        ),
        201,
    )

    def make(name: str, kind: str, capacity: int, **extra: Any) -> dict[str, Any]:
        body = {"name": name, "container_type": kind, "capacity": capacity, **extra}
        made: dict[str, Any] = _data(client.post(f"{base}/storage/containers", json=body), 201)
        return made

    freezer = make(f"F-{tag}", "freezer", 2, location_id=location["id"])
    rack = make("R1", "rack", 2, parent_container_id=freezer["id"])
    box = make("B1", "box", positions, parent_container_id=rack["id"])
    cells = [
        make(
            f"A{n}",
            "position",
            1,
            parent_container_id=box["id"],
            grid_position={"row": 1, "column": n},
        )
        for n in range(1, positions + 1)
    ]
    return {"location": location, "freezer": freezer, "rack": rack, "box": box, "cells": cells}


def _occupied(client: httpx.Client, base: str, container_id: str) -> int:
    detail = _data(client.get(f"{base}/storage/containers/{container_id}"))
    count: int = detail["container"]["occupied_count"]
    return count


# -- locations ------------------------------------------------------------------------------------


def test_locations_are_every_location_by_name_in_struct_order(
    client: httpx.Client, base: str
) -> None:
    locations = _data(client.get(f"{base}/storage/locations"))
    assert len(locations) >= 40
    assert list(locations[0]) == LOCATION_KEYS
    names = [loc["name"] for loc in locations]
    assert names == sorted(names)
    # page, per_page and both filters are parsed and ignored
    ignored = _data(
        client.get(
            f"{base}/storage/locations",
            params={"page": 2, "per_page": 1, "temperature_zone": "4C", "location_type": "x"},
        )
    )
    assert [loc["id"] for loc in ignored] == [loc["id"] for loc in locations]
    bad = client.get(f"{base}/storage/locations", params={"page": "x"})
    assert (bad.status_code, bad.text) == (
        400,
        "Failed to deserialize query string: invalid digit found in string",
    )


def test_location_errors_and_capacity_info(client: httpx.Client, base: str) -> None:
    _error(client.get(f"{base}/storage/locations/{UNKNOWN_ID}"), 404, "Not found")
    location = _data(client.get(f"{base}/storage/locations"))[0]
    capacity = _data(client.get(f"{base}/storage/locations/{location['id']}/capacity"))
    assert list(capacity) == [
        "location_id",
        "max_capacity",
        "current_capacity",
        "utilization_percentage",
        "available_capacity",
        "status",
    ]
    assert capacity["max_capacity"] == location["max_capacity"] == 150
    assert capacity["current_capacity"] == location["current_capacity"]
    assert capacity["status"] == "normal"
    _error(
        client.put(f"{base}/storage/locations/{UNKNOWN_ID}", json={}), 400, "No updates provided"
    )
    _error(
        client.put(f"{base}/storage/locations/{UNKNOWN_ID}", json={"name": "x"}), 404, "Not found"
    )
    _error(
        client.delete(f"{base}/storage/locations/{location['id']}"),
        400,
        "Cannot delete location with existing containers",
    )


def test_location_writes_201_update_and_delete(client: httpx.Client, base: str) -> None:
    body = {
        "name": "Spare",
        "location_type": "cabinet",
        "temperature_zone": "RT",
        "max_capacity": 4,
    }
    created = _data(client.post(f"{base}/storage/locations", json=body), 201)
    assert list(created) == LOCATION_KEYS
    assert (created["current_capacity"], created["status"], created["metadata"]) == (
        0,
        "active",
        {},
    )
    invalid = client.post(f"{base}/storage/locations", json={**body, "max_capacity": 0})
    assert invalid.status_code == 400
    assert invalid.json()["error"].startswith("Validation failed: max_capacity")
    updated = _data(
        client.put(f"{base}/storage/locations/{created['id']}", json={"status": "anything"})
    )
    assert updated["status"] == "anything"
    deleted = _data(client.delete(f"{base}/storage/locations/{created['id']}"))
    assert deleted == "Location deleted successfully"
    _error(client.get(f"{base}/storage/locations/{created['id']}"), 404, "Not found")


# -- containers -----------------------------------------------------------------------------------


def test_container_list_filters_the_page_but_totals_count_every_container(
    client: httpx.Client, base: str
) -> None:
    everything = _data(client.get(f"{base}/storage/containers", params={"per_page": 1}))
    total = everything["pagination"]["total_items"]
    assert total >= 40 * 159
    freezers = _data(
        client.get(
            f"{base}/storage/containers", params={"container_type": "freezer", "per_page": 100}
        )
    )
    assert list(freezers) == ["data", "pagination"]
    assert len(freezers["data"]) >= 40
    assert {c["container_type"] for c in freezers["data"]} == {"freezer"}
    assert list(freezers["data"][0]) == CONTAINER_KEYS
    # the defect: the totals ignore the filter
    assert freezers["pagination"]["total_items"] == total
    assert freezers["pagination"]["total_pages"] == math.ceil(total / 100)
    assert freezers["pagination"]["has_next"] is True
    # only the tops carry location_id
    freezer = freezers["data"][0]
    assert freezer["location_id"] is not None
    assert freezer["parent_container_id"] is None
    racks = _data(client.get(f"{base}/storage/containers", params={"parent_id": freezer["id"]}))[
        "data"
    ]
    assert len(racks) == 2
    assert {(r["parent_container_id"], r["location_id"]) for r in racks} == {(freezer["id"], None)}
    # parent_container_id is not a filter of the release: it is ignored
    unfiltered = _data(
        client.get(
            f"{base}/storage/containers",
            params={"parent_container_id": freezer["id"], "per_page": 5},
        )
    )["data"]
    assert len(unfiltered) == 5
    assert client.get(f"{base}/storage/containers", params={"page": 0}).status_code == 500
    with pytest.raises(httpx.TransportError):
        client.get(f"{base}/storage/containers", params={"per_page": 0})


def test_container_list_is_newest_first(client: httpx.Client, base: str) -> None:
    tree = _tree(client, base, positions=1)
    page = _data(client.get(f"{base}/storage/containers", params={"per_page": 4}))["data"]
    newest = [tree["cells"][0], tree["box"], tree["rack"], tree["freezer"]]
    assert [c["id"] for c in page] == [c["id"] for c in newest]


def test_container_detail_is_container_with_children(client: httpx.Client, base: str) -> None:
    tree = _tree(client, base, positions=3)
    detail = _data(client.get(f"{base}/storage/containers/{tree['box']['id']}"))
    assert list(detail) == ["container", "children", "samples", "capacity_info"]
    assert detail["container"]["id"] == tree["box"]["id"]
    assert [c["name"] for c in detail["children"]] == ["A1", "A2", "A3"]
    assert detail["samples"] == []
    assert detail["capacity_info"] == {
        "total_capacity": 3,
        "occupied_count": 0,
        "available_count": 3,
        "utilization_percentage": 0.0,
        "capacity_status": "normal",
        "child_containers_count": 3,
        "direct_samples_count": 0,
    }
    _error(client.get(f"{base}/storage/containers/{UNKNOWN_ID}"), 404, "Storage location not found")


def test_container_create_checks_type_and_nesting(client: httpx.Client, base: str) -> None:
    tree = _tree(client, base, positions=1)
    post = client.post
    _error(
        post(
            f"{base}/storage/containers",
            json={"name": "X", "container_type": "shelf", "capacity": 1},
        ),
        400,
        "Invalid container type",
    )
    _error(
        post(
            f"{base}/storage/containers",
            json={
                "name": "X",
                "container_type": "rack",
                "capacity": 1,
                "parent_container_id": tree["box"]["id"],
            },
        ),
        400,
        "Invalid hierarchy: box cannot contain rack",
    )
    _error(
        post(
            f"{base}/storage/containers",
            json={"name": "X", "container_type": "rack", "capacity": 1, "location_id": UNKNOWN_ID},
        ),
        500,
        "Database error occurred",
    )


def test_hierarchy_grid_available_and_by_temperature(client: httpx.Client, base: str) -> None:
    tree = _tree(client, base, positions=2)
    rows = _data(client.get(f"{base}/storage/containers/{tree['freezer']['id']}/hierarchy"))
    assert [(r["level"], r["name"]) for r in rows] == [
        (1, tree["freezer"]["name"]),
        (2, "R1"),
        (3, "B1"),
        (4, "A1"),
        (4, "A2"),
    ]
    assert rows[-1]["full_path"] == f"{tree['freezer']['name']} > R1 > B1 > A2"
    assert rows[-1]["path"] == [tree["freezer"]["name"], "R1", "B1", "A2"]
    shallow = client.get(
        f"{base}/storage/containers/{tree['freezer']['id']}/hierarchy", params={"max_depth": 2}
    )
    assert [r["level"] for r in _data(shallow)] == [1, 2]
    assert _data(client.get(f"{base}/storage/containers/{UNKNOWN_ID}/hierarchy")) == []
    grid = _data(client.get(f"{base}/storage/containers/{tree['box']['id']}/grid"))
    assert grid["grid_dimensions"] == {"rows": 1, "columns": 2, "total_positions": 2}
    assert [
        (p["position_identifier"], p["is_occupied"], p["sample_id"], p["status"])
        for p in grid["positions"]
    ] == [("A1", False, None, "available"), ("A2", False, None, "available")]
    _error(
        client.get(f"{base}/storage/containers/{UNKNOWN_ID}/grid"),
        404,
        "Storage location not found",
    )
    available = _data(
        client.get(f"{base}/storage/containers/available", params={"temperature_zone": "-80C"})
    )
    assert {c["container_type"] for c in available} == {"position"}
    assert all(c["occupied_count"] < c["capacity"] for c in available)
    by_zone = _data(client.get(f"{base}/storage/containers/by-temperature/37C"))
    assert by_zone
    assert {c["temperature_zone"] for c in by_zone} == {"37C"}
    assert [c["name"] for c in by_zone] == sorted(c["name"] for c in by_zone)


def test_grid_of_a_position_without_grid_cell_is_500(client: httpx.Client, base: str) -> None:
    tree = _tree(client, base, positions=1)
    body = {"name": "Z9", "container_type": "position", "capacity": 1}
    _data(
        client.post(
            f"{base}/storage/containers", json={**body, "parent_container_id": tree["box"]["id"]}
        ),
        201,
    )
    _error(
        client.get(f"{base}/storage/containers/{tree['box']['id']}/grid"),
        500,
        "Database error occurred",
    )


# -- samples --------------------------------------------------------------------------------------


def test_assign_places_only_in_positions_and_counts_every_ancestor(
    client: httpx.Client, base: str
) -> None:
    tree = _tree(client, base, positions=2)
    sample, other = str(uuid.uuid4()), str(uuid.uuid4())
    cell = tree["cells"][0]
    assign = f"{base}/storage/samples/assign"
    _error(
        client.post(assign, json={"sample_id": sample, "container_id": tree["box"]["id"]}),
        400,
        "Can only assign samples to position-type containers",
    )
    _error(
        client.post(assign, json={"sample_id": sample, "container_id": UNKNOWN_ID}),
        404,
        "Storage location not found",
    )
    placed = _data(
        client.post(
            assign, json={"sample_id": sample, "container_id": cell["id"], "notes": "first"}
        ),
        201,
    )
    assert list(placed) == POSITION_KEYS
    assert (placed["sample_id"], placed["container_id"], placed["status"]) == (
        sample,
        cell["id"],
        "occupied",
    )
    # the identifier is what the caller sent: here nothing
    assert placed["position_identifier"] is None
    assert placed["chain_of_custody"][0]["action"] == "assigned"
    _error(
        client.post(assign, json={"sample_id": other, "container_id": cell["id"]}),
        400,
        "Position is already occupied",
    )
    _error(
        client.post(assign, json={"sample_id": sample, "container_id": tree["cells"][1]["id"]}),
        400,
        "Sample is already assigned to another position",
    )
    counts = [_occupied(client, base, tree[k]["id"]) for k in ("freezer", "rack", "box")]
    assert counts == [1, 1, 1]
    assert _occupied(client, base, cell["id"]) == 1
    detail = _data(client.get(f"{base}/storage/containers/{cell['id']}"))
    assert [s["sample_id"] for s in detail["samples"]] == [sample]
    # no route changes a location's current_capacity
    location = _data(client.get(f"{base}/storage/locations/{tree['location']['id']}"))
    assert location["current_capacity"] == 0


def test_move_answers_the_new_position_and_counts_never_decrement(
    client: httpx.Client, base: str
) -> None:
    tree = _tree(client, base, positions=2)
    sample = str(uuid.uuid4())
    first, second = tree["cells"]
    client.post(
        f"{base}/storage/samples/assign", json={"sample_id": sample, "container_id": first["id"]}
    )
    move = f"{base}/storage/samples/{sample}/move"
    _error(
        client.put(move, json={"new_container_id": tree["box"]["id"]}),
        400,
        "Can only move samples to position-type containers",
    )
    _error(
        client.put(move, json={"new_container_id": first["id"]}),
        400,
        "New position is already occupied",
    )
    moved = _data(
        client.put(move, json={"new_container_id": second["id"], "reason": "reorganised"})
    )
    assert list(moved) == POSITION_KEYS
    assert moved["container_id"] == second["id"]
    assert [c["action"] for c in moved["chain_of_custody"]] == ["assigned", "moved"]
    assert moved["chain_of_custody"][1]["from_container_id"] == first["id"]
    # the trigger counts the new assignment and never takes the old one off
    assert [_occupied(client, base, c["id"]) for c in (first, second)] == [1, 1]
    assert [_occupied(client, base, tree[k]["id"]) for k in ("box", "rack", "freezer")] == [2, 2, 2]
    rack = _data(client.get(f"{base}/storage/containers/{tree['rack']['id']}"))
    assert rack["capacity_info"]["utilization_percentage"] == 100.0
    assert rack["capacity_info"]["capacity_status"] == "critical"
    located = _data(client.get(f"{base}/storage/samples/{sample}/location-detailed"))
    assert list(located) == DETAILED_KEYS
    assert (located["container_id"], located["container_name"], located["level"]) == (
        second["id"],
        "A2",
        4,
    )
    assert located["path"] == [tree["freezer"]["name"], "R1", "B1", "A2"]
    assert located["full_path"] == " > ".join(located["path"])
    # the location joins on the position's own location_id: null below the top
    assert (located["location_name"], located["location_zone_type"]) == (None, None)
    _error(
        client.put(
            f"{base}/storage/samples/{UNKNOWN_ID}/move", json={"new_container_id": first["id"]}
        ),
        404,
        "Sample not found",
    )


def test_remove_leaves_the_counts_and_location_detailed_is_null(
    client: httpx.Client, base: str
) -> None:
    tree = _tree(client, base, positions=1)
    sample = str(uuid.uuid4())
    cell = tree["cells"][0]
    client.post(
        f"{base}/storage/samples/assign", json={"sample_id": sample, "container_id": cell["id"]}
    )
    removed = _data(
        client.delete(f"{base}/storage/samples/{sample}/position", params={"reason": "used up"})
    )
    assert removed == "Sample removed from storage successfully"
    assert _data(client.get(f"{base}/storage/samples/{sample}/location-detailed")) is None
    assert _occupied(client, base, cell["id"]) == 1
    # the position is free again although its count says full
    available = _data(client.get(f"{base}/storage/containers/available"))
    assert cell["id"] not in {c["id"] for c in available}
    _error(client.delete(f"{base}/storage/samples/{sample}/position"), 404, "Sample not found")


def test_stubs_and_the_summary_routes(client: httpx.Client, base: str) -> None:
    stub = client.post(f"{base}/storage/samples", json={"barcode": "B", "sample_type": "dna"})
    assert _data(stub, 501) == "Sample storage not yet implemented"
    assert _data(client.get(f"{base}/storage/samples/{UNKNOWN_ID}")) == (
        "Sample lookup not yet implemented"
    )
    assert _data(client.get(f"{base}/storage/samples/{UNKNOWN_ID}/location")) == (
        "Sample location lookup not yet implemented"
    )
    assert _data(client.post(f"{base}/storage/samples/{UNKNOWN_ID}/retrieve")) == (
        "Sample retrieval not yet implemented"
    )
    for path in ("/storage/capacity/summary", "/storage/utilization"):
        _error(client.get(f"{base}{path}"), 500, "Database error occurred")


def test_sample_locations_batch_is_a_malformed_sample_id_on_the_release(
    client: httpx.Client, base: str, sandbox_ext: SandboxProcess
) -> None:
    tree = _tree(client, base, positions=1)
    answer = client.get(f"{base}/storage/samples/locations", params={"sample_ids": UNKNOWN_ID})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text.startswith("Invalid URL: ")
    assert "UUID parsing failed" in answer.text
    del tree
    ext = sandbox_ext.urls["storage"]
    cell = next(
        p
        for box in _data(
            client.get(
                f"{ext}/storage/containers", params={"container_type": "box", "per_page": 50}
            )
        )["data"]
        for p in _data(client.get(f"{ext}/storage/containers/{box['id']}/grid"))["positions"]
        if p["sample_id"]
    )
    found = _data(
        client.get(
            f"{ext}/storage/samples/locations",
            params={"sample_ids": f"{UNKNOWN_ID},{cell['sample_id']}"},
        )
    )
    assert [(f["sample_id"], f["container_id"]) for f in found] == [
        (cell["sample_id"], cell["container_id"])
    ]
    assert list(found[0]) == DETAILED_KEYS


# -- with the defects fixed -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixed() -> Iterator[SandboxProcess]:
    fixes = frozenset({"storage-container-totals", "storage-capacity-summary"})
    with SandboxProcess(["storage"], options=Options(fixes=fixes)) as sb:
        yield sb


def test_fixed_totals_count_the_filtered_containers(
    client: httpx.Client, fixed: SandboxProcess
) -> None:
    base = fixed.urls["storage"]
    freezers = _data(client.get(f"{base}/storage/containers", params={"container_type": "freezer"}))
    assert freezers["pagination"]["total_items"] == 40
    assert freezers["pagination"]["total_pages"] == 2
    summary = _data(client.get(f"{base}/storage/capacity/summary"))
    assert summary[0]["utilization_percentage"] >= summary[-1]["utilization_percentage"]
    report = _data(client.get(f"{base}/storage/utilization"))
    assert report["overall"]["total_capacity"] > 0


# -- the client over the release ------------------------------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[HttpPool]:
    pool = create_http_pool(max_connections=50)
    yield pool
    await pool.aclose()


def _storage(sb: SandboxProcess, http: HttpPool, *, batch: bool = False) -> StorageClient:
    config = UpstreamConfig(name="storage", base_url=sb.urls["storage"], batch=batch)
    return StorageClient(UpstreamClient(config, http))


async def test_client_unwraps_the_envelope_and_the_composite_detail(
    sandbox: SandboxProcess, http: HttpPool
) -> None:
    storage = _storage(sandbox, http)
    locations = await storage.locations(CTX)
    assert {loc["temperature_zone"] for loc in locations} >= {"-80C", "-20C", "4C", "RT", "37C"}
    one = await storage.location(CTX, locations[0]["id"])
    assert one["id"] == locations[0]["id"]
    page = await storage.containers(CTX, page=1, per_page=5, container_type="freezer")
    assert len(page.items) == 5
    freezers = await storage.containers_where(CTX, container_type="freezer")
    assert len(freezers) == len({f["id"] for f in freezers}) >= 40
    assert [f["id"] for f in freezers[:5]] == [f["id"] for f in page.items]
    seeded = next(f for f in freezers if f["name"].endswith("-U1"))
    detail = await storage.container(CTX, seeded["id"])
    assert detail["container"]["id"] == seeded["id"]
    assert [c["name"] for c in detail["children"]] == ["R1", "R2"]
    with pytest.raises(UpstreamNotFound):
        await storage.location(CTX, UNKNOWN_ID)
    with pytest.raises(UpstreamNotFound):
        await storage.container(CTX, UNKNOWN_ID)
    with pytest.raises(UpstreamStatusError) as capacity:
        await storage.client.request(CTX, "GET", "/storage/capacity/summary")
    assert capacity.value.status == 500


async def test_sample_locations_many_fan_out_and_batch_agree(
    sandbox: SandboxProcess,
    sandbox_ext: SandboxProcess,
    http: HttpPool,
    control: SandboxControl,
    control_ext: SandboxControl,
) -> None:
    answers = []
    for sb, ctl, batch in ((sandbox, control, False), (sandbox_ext, control_ext, True)):
        storage = _storage(sb, http, batch=batch)
        stored: list[str] = []
        boxes = await storage.containers_where(CTX, container_type="box")
        # the seeded boxes (with dimensions), not the ones the tests above built
        for box in (b for b in boxes if b["dimensions"]):
            grid = await storage.grid(CTX, box["id"])
            stored = [p["sample_id"] for p in grid["positions"] if p["sample_id"]][:2]
            if len(stored) == 2:
                break
        asked = [*stored, UNKNOWN_ID, stored[0]]
        ctl.reset_stats()
        found = await storage.sample_locations_many(CTX, asked)
        answers.append([f and f["sample_id"] for f in found] == [*stored, None, stored[0]])
        expected = (
            {"GET /storage/samples/locations": 1}
            if batch
            else {"GET /storage/samples/{sample_id}/location-detailed": 3}
        )
        assert ctl.by_route("storage") == expected
    assert answers == [True, True]

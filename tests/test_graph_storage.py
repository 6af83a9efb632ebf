"""Storage through the graph against the release-mode sandbox: locations, the container tree
(ContainerWithChildren details, parents walked for the location), container samples from
the grids, where a sample sits (the flat location view), the placement mutations, request
counts per route, partial results; and a smaller set with every batch extension on."""

from __future__ import annotations

import math
from typing import Any

import httpx

from graph.storage import CapacityLevel, StorageCapacity
from sandbox.runner import SandboxProcess
from tests.conftest import (
    SandboxControl,
    extension_settings,
    gateway_client,
    gql,
    sandbox_settings,
)
from upstreams.config import Timeouts
from upstreams.storage import SCAN_PAGE_SIZE

MISSING = "00000000-0000-4000-8000-000000000000"
DETAIL = "GET /storage/containers/{container_id}"
GRID = "GET /storage/containers/{container_id}/grid"
HIERARCHY = "GET /storage/containers/{container_id}/hierarchy"
LIST = "GET /storage/containers"
LOCATION = "GET /storage/locations/{location_id}"
LOCATED = "GET /storage/samples/{sample_id}/location-detailed"

LOCATIONS = """
query($first: Int, $after: String) {
  storageLocations(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node {
      id name status temperatureZone locationType
      capacity { total used available utilizationPercentage level }
    } }
  }
}
"""

BOX = """
query($id: ID!) {
  container(id: $id) {
    id name containerType locationId capacity { total used available }
    location { id name }
    parent { id containerType locationId parent { id containerType locationId parent { id } } }
    children(first: 25) {
      totalCount
      edges { node { id name containerType positionIdentifier locationId parent { id } } }
    }
  }
}
"""

ASSIGN = """
mutation($input: AssignSampleToStorageInput!) {
  assignSampleToStorage(input: $input) {
    sampleStorage {
      id sampleId positionIdentifier path temperatureZone notes
      sample { id name }
      position { id name containerType capacity { used } }
      containerChain { id name containerType }
      location { id name }
    }
    sample { id storage { id positionIdentifier } }
    userErrors { field message code }
  }
}
"""

MOVE = """
mutation($input: MoveSampleInput!) {
  moveSample(input: $input) {
    sampleStorage {
      id sampleId positionIdentifier
      position { id name }
      containerChain { id containerType }
      location { id }
    }
    previousPosition { id name }
    userErrors { field message code }
  }
}
"""

STORAGE_OF = """
query($id: ID!) { sample(id: $id) { id storage {
  sampleId positionIdentifier path temperatureZone assignedAt
  position { id name containerType }
  containerChain { id name containerType }
  location { id name }
} } }
"""


async def _locations(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    body = await gql(client, LOCATIONS, first=100)
    return [e["node"] for e in body["data"]["storageLocations"]["edges"]]


async def _seeded(client: httpx.AsyncClient, status: str = "ACTIVE") -> dict[str, Any]:
    """A seeded location (its name ends in two digits) with the given status."""
    return next(
        n for n in await _locations(client) if n["status"] == status and n["name"][-2:].isdigit()
    )


async def _boxes(client: httpx.AsyncClient, location_id: str) -> list[dict[str, Any]]:
    query = """query($id: ID!) { storageLocation(id: $id) {
      containers(containerType: BOX, first: 100) { edges { node { id name capacity { used } } } }
    } }"""
    body = await gql(client, query, id=location_id)
    return [e["node"] for e in body["data"]["storageLocation"]["containers"]["edges"]]


def _grid_samples(sandbox: SandboxProcess, box_id: str) -> list[str]:
    base = sandbox.urls["storage"]
    grid = httpx.get(f"{base}/storage/containers/{box_id}/grid").json()["data"]
    return [p["sample_id"] for p in grid["positions"] if p["sample_id"]]


def _container_total(sandbox: SandboxProcess) -> int:
    base = sandbox.urls["storage"]
    page = httpx.get(f"{base}/storage/containers", params={"per_page": 1}).json()["data"]
    total: int = page["pagination"]["total_items"]
    return total


# -- locations ------------------------------------------------------------------------------------


async def test_storage_locations_are_paged_in_the_gateway_from_one_request(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        whole = (await gql(client, LOCATIONS, first=100))["data"]["storageLocations"]
        assert control.by_route("storage") == {"GET /storage/locations": 1}
        first = (await gql(client, LOCATIONS, first=7))["data"]["storageLocations"]
        after = first["pageInfo"]["endCursor"]
        second = (await gql(client, LOCATIONS, first=7, after=after))["data"]["storageLocations"]
    nodes = [e["node"] for e in whole["edges"]]
    assert whole["totalCount"] == len(nodes) >= 40
    assert [n["name"] for n in nodes] == sorted(n["name"] for n in nodes)
    assert [e["node"] for e in first["edges"] + second["edges"]] == nodes[:14]
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert {"ACTIVE", "MAINTENANCE", "OFFLINE", "DECOMMISSIONED"} <= {n["status"] for n in nodes}
    # the release stores current_capacity and no route changes it: the seeded ones say 0
    seeded = [n for n in nodes if n["name"][-2:].isdigit()]
    assert {(n["capacity"]["total"], n["capacity"]["used"]) for n in seeded} == {(150, 0)}


def test_location_levels_are_strict_and_container_levels_inclusive() -> None:
    # the release's capacity route: warning above 80 %; its container detail: from 80 %
    assert StorageCapacity.of(100, 80, strict=True).level is CapacityLevel.NORMAL
    assert StorageCapacity.of(100, 81, strict=True).level is CapacityLevel.WARNING
    assert StorageCapacity.of(100, 80).level is CapacityLevel.WARNING
    assert StorageCapacity.of(100, 95).level is CapacityLevel.CRITICAL
    over = StorageCapacity.of(2, 3)
    assert (over.available, over.utilization_percentage) == (0, 150.0)


async def test_location_containers_are_filtered_by_location_in_the_gateway(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    """User report: StorageLocation.containers ignored the location (the list has no
    location filter and only the tops of the trees carry location_id)."""
    query = """query($id: ID!, $type: ContainerType, $first: Int, $after: String) {
      storageLocation(id: $id) { containers(containerType: $type, first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { node { id name containerType locationId } }
      } } }"""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        location = await _seeded(client)
        pages = math.ceil(_container_total(sandbox) / SCAN_PAGE_SIZE)
        control.reset_stats()
        freezers = await gql(client, query, id=location["id"], type="FREEZER")
        assert control.by_route("storage") == {LOCATION: 1, LIST: 1}
        control.reset_stats()
        boxes = await gql(client, query, id=location["id"], type="BOX", first=4)
        # the whole list, read once: no filter can pick one location's boxes
        assert control.by_route("storage") == {LOCATION: 1, LIST: pages}
        cursor = boxes["data"]["storageLocation"]["containers"]["pageInfo"]["endCursor"]
        rest = await gql(client, query, id=location["id"], type="BOX", first=4, after=cursor)
        everything = await gql(client, query, id=location["id"], first=100)
    assert "errors" not in freezers, freezers
    tops = freezers["data"]["storageLocation"]["containers"]
    assert tops["totalCount"] == 1
    assert tops["edges"][0]["node"]["locationId"] == location["id"]
    first = boxes["data"]["storageLocation"]["containers"]
    assert first["totalCount"] == 6
    assert first["pageInfo"]["hasNextPage"] is True
    nodes = [
        e["node"] for e in first["edges"] + rest["data"]["storageLocation"]["containers"]["edges"]
    ]
    assert len(nodes) == len({n["id"] for n in nodes}) == 6
    assert {(n["containerType"], n["locationId"]) for n in nodes} == {("BOX", location["id"])}
    tree = everything["data"]["storageLocation"]["containers"]
    # a freezer, 2 racks, 6 boxes, 150 positions: tops first
    assert tree["totalCount"] == 159
    kinds = [e["node"]["containerType"] for e in tree["edges"]]
    assert kinds[:9] == ["FREEZER", "RACK", "RACK", *["BOX"] * 6]


async def test_many_locations_share_one_freezer_list(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    query = """{ storageLocations(first: 10) { edges { node { id
      containers(containerType: FREEZER) { totalCount edges { node { id locationId } } }
    } } } }"""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, query)
    assert control.by_route("storage") == {"GET /storage/locations": 1, LIST: 1}
    for edge in body["data"]["storageLocations"]["edges"]:
        node = edge["node"]
        assert [f["node"]["locationId"] for f in node["containers"]["edges"]] == [node["id"]]


# -- containers -----------------------------------------------------------------------------------


async def test_container_by_id_reads_the_composite_detail(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    """User report: container(id) answered INTERNAL_SERVER_ERROR (the detail is
    ContainerWithChildren, not a bare container)."""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        box = (await _boxes(client, (await _seeded(client))["id"]))[0]
        control.reset_stats()
        body = await gql(
            client,
            """query($id: ID!) { container(id: $id) {
                 id name containerType capacity { total } children { totalCount } } }""",
            id=box["id"],
        )
        by_route = control.by_route("storage")
        missing = await gql(client, "query($id: ID!) { container(id: $id) { id } }", id=MISSING)
    assert "errors" not in body, body
    assert body["data"]["container"] == {
        "id": box["id"],
        "name": box["name"],
        "containerType": "BOX",
        "capacity": {"total": 25},
        "children": {"totalCount": 25},
    }
    assert by_route == {DETAIL: 1}
    assert missing == {"data": {"container": None}}


async def test_container_parent_location_and_children_on_the_release(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    """User reports: parent, location (locationId was the string "None") and children (the
    old filter returned containers of other parents) were wrong."""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        location = await _seeded(client)
        box = (await _boxes(client, location["id"]))[0]
        control.reset_stats()
        body = await gql(client, BOX, id=box["id"])
        by_route = control.by_route("storage")
    assert "errors" not in body, body
    node = body["data"]["container"]
    assert node["locationId"] == location["id"]
    assert node["location"] == {"id": location["id"], "name": location["name"]}
    rack = node["parent"]
    assert (rack["containerType"], rack["locationId"]) == ("RACK", location["id"])
    freezer = rack["parent"]
    assert (freezer["containerType"], freezer["locationId"]) == ("FREEZER", location["id"])
    assert freezer["parent"] is None
    positions = [e["node"] for e in node["children"]["edges"]]
    assert len(positions) == node["children"]["totalCount"] == node["capacity"]["total"] == 25
    assert {(p["containerType"], p["parent"]["id"], p["locationId"]) for p in positions} == {
        ("POSITION", node["id"], location["id"])
    }
    assert [p["positionIdentifier"] for p in positions[:6]] == ["A1", "A2", "A3", "A4", "A5", "B1"]
    # the box, its rack and its freezer (the walk to the location shares them), the location;
    # the children come with the box's detail
    assert by_route == {DETAIL: 3, LOCATION: 1}


async def test_container_samples_come_from_the_grids_with_the_fewest_calls(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    """User report: StorageContainer.samples called a route the release does not have."""
    query = """query($id: ID!) { container(id: $id) {
      samples(first: 100) { totalCount edges { node { id } } }
      children(first: 25) { edges { node { id samples { totalCount edges { node { id } } } } } }
    } }"""
    rack_query = """query($id: ID!) { container(id: $id) { parent { id
      samples(first: 100) { totalCount edges { node { id } } }
      parent { samples(first: 100) { totalCount } }
    } } }"""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        location = await _seeded(client)
        boxes = await _boxes(client, location["id"])
        box = next(b for b in boxes if 1 < b["capacity"]["used"] < 25)
        held = _grid_samples(sandbox, box["id"])
        control.reset_stats()
        body = await gql(client, query, id=box["id"])
        box_routes = control.by_route("storage")
        sample_routes = control.by_route("samples")
        control.reset_stats()
        upward = await gql(client, rack_query, id=box["id"])
        rack_routes = control.by_route("storage")
    assert "errors" not in body, body
    node = body["data"]["container"]
    assert node["samples"]["totalCount"] == len(held) == box["capacity"]["used"]
    assert [e["node"]["id"] for e in node["samples"]["edges"]] == held
    per_position = [
        e["node"]["id"] for p in node["children"]["edges"] for e in p["node"]["samples"]["edges"]
    ]
    assert per_position == held
    assert {p["node"]["samples"]["totalCount"] for p in node["children"]["edges"]} == {0, 1}
    # the box's detail (for its children), one grid for the box and all its positions
    assert box_routes == {DETAIL: 1, GRID: 1}
    # one GET per sample: the release has no batch look-up
    assert list(sample_routes.values()) == [len(held)]
    assert next(iter(sample_routes)).startswith("GET /samples/{")
    assert "errors" not in upward, upward
    rack = upward["data"]["container"]["parent"]
    rack_total = rack["samples"]["totalCount"]
    freezer_total = rack["parent"]["samples"]["totalCount"]
    assert len(held) <= rack_total <= freezer_total
    # box, rack, freezer details; a hierarchy each for rack and freezer; the 6 boxes' grids
    assert rack_routes == {DETAIL: 3, HIERARCHY: 2, GRID: 6}


# -- where a sample sits --------------------------------------------------------------------------


async def test_sample_storage_is_built_from_the_flat_location_view(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    """User report: Sample.storage for a stored sample was INTERNAL_SERVER_ERROR (the
    release's location view is flat)."""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        location = await _seeded(client)
        box = next(b for b in await _boxes(client, location["id"]) if b["capacity"]["used"])
        sample_id = _grid_samples(sandbox, box["id"])[0]
        control.reset_stats()
        body = await gql(client, STORAGE_OF, id=sample_id)
        by_route = control.by_route("storage")
    assert "errors" not in body, body
    storage = body["data"]["sample"]["storage"]
    chain = storage["containerChain"]
    assert [c["containerType"] for c in chain] == ["FREEZER", "RACK", "BOX", "POSITION"]
    assert chain[2]["id"] == box["id"]
    assert chain[3] == storage["position"]
    assert storage["sampleId"] == sample_id
    assert storage["positionIdentifier"] == storage["position"]["name"]
    assert storage["location"] == {"id": location["id"], "name": location["name"]}
    assert storage["path"] == " > ".join([location["name"], *(c["name"] for c in chain)])
    assert storage["temperatureZone"] == location["temperatureZone"]
    assert storage["assignedAt"]
    # the view, then position, box, rack and freezer, then the location
    assert by_route == {LOCATED: 1, DETAIL: 4, LOCATION: 1}


async def test_the_locations_of_many_stored_samples_come_from_one_location_list(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    query = "{ samples(first: 200) { edges { node { storage { location { id name } } } } } }"
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, query)
        by_route = control.by_route("storage")
    assert "errors" not in body, body
    located = [e["node"]["storage"] for e in body["data"]["samples"]["edges"]]
    names = {s["location"]["name"] for s in located if s is not None}
    assert len(names) >= 2
    # The whole (unpaged) location list once, instead of one read per location.
    assert by_route["GET /storage/locations"] == 1
    assert LOCATION not in by_route


async def test_assign_and_move_on_the_release(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    """User reports: assignSampleToStorage and moveSample answered INTERNAL_SERVER_ERROR
    although the write succeeded."""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        # a location under maintenance holds no seeded samples: its boxes are free
        location = await _seeded(client, "MAINTENANCE")
        box, other_box = (await _boxes(client, location["id"]))[:2]
        loose = await gql(
            client, "{ samples(first: 50) { edges { node { id storage { sampleId } } } } }"
        )
        sample_id = next(
            e["node"]["id"]
            for e in loose["data"]["samples"]["edges"]
            if e["node"]["storage"] is None
        )
        control.reset_stats()
        assigned = await gql(
            client, ASSIGN, input={"sampleId": sample_id, "containerId": box["id"], "notes": "gw"}
        )
        assign_routes = control.by_route("storage")
        again = await gql(client, ASSIGN, input={"sampleId": sample_id, "containerId": box["id"]})
        unknown = await gql(client, ASSIGN, input={"sampleId": MISSING, "containerId": box["id"]})
        control.reset_stats()
        moved = await gql(
            client,
            MOVE,
            input={
                "sampleId": sample_id,
                "containerId": other_box["id"],
                "positionIdentifier": "c3",
            },
        )
        move_routes = control.by_route("storage")
        stay = await gql(
            client,
            MOVE,
            input={
                "sampleId": sample_id,
                "containerId": other_box["id"],
                "positionIdentifier": "C3",
            },
        )
        not_stored = await gql(client, MOVE, input={"sampleId": MISSING, "containerId": box["id"]})
        held = """query($id: ID!) { container(id: $id) {
          samples { totalCount edges { node { id } } } capacity { used } } }"""
        old_box = await gql(client, held, id=box["id"])
        new_box = await gql(client, held, id=other_box["id"])
    assert "errors" not in assigned, assigned
    payload = assigned["data"]["assignSampleToStorage"]
    assert payload["userErrors"] == []
    placed = payload["sampleStorage"]
    assert placed["id"] == placed["sampleId"] == placed["sample"]["id"] == sample_id
    # the payload carries the sample, with its new storage (the same cache entry)
    assert payload["sample"]["id"] == sample_id
    assert payload["sample"]["storage"] == {"id": sample_id, "positionIdentifier": "A1"}
    assert placed["positionIdentifier"] == placed["position"]["name"] == "A1"
    assert placed["position"]["containerType"] == "POSITION"
    assert placed["position"]["capacity"]["used"] == 1
    assert [c["containerType"] for c in placed["containerChain"]] == [
        "FREEZER",
        "RACK",
        "BOX",
        "POSITION",
    ]
    assert placed["containerChain"][2]["id"] == box["id"]
    assert placed["location"] == {"id": location["id"], "name": location["name"]}
    assert placed["notes"] == "gw"
    names = [c["name"] for c in placed["containerChain"]]
    assert names[2:] == [box["name"], "A1"]
    assert placed["path"] == " > ".join([location["name"], *names])
    assert placed["temperatureZone"] == location["temperatureZone"]
    # before the write: the box, its grid and the chosen position; the write; after it the
    # position (read fresh), box, rack, freezer and the location, and where the sample sits
    assert assign_routes == {
        DETAIL: 6,
        GRID: 1,
        "POST /storage/samples/assign": 1,
        LOCATION: 1,
        LOCATED: 1,
    }
    # a refusal is a user error on the input it is about, and the payload says nothing else
    assert "errors" not in again, again
    refused = again["data"]["assignSampleToStorage"]
    assert refused["sampleStorage"] is None
    assert refused["sample"] is None
    [error] = refused["userErrors"]
    assert (error["field"], error["code"]) == (["input", "sampleId"], "CONFLICT")
    assert error["message"].endswith("Sample is already assigned to another position")
    [error] = unknown["data"]["assignSampleToStorage"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "sampleId"], "NOT_FOUND")
    assert "errors" not in moved, moved
    now = moved["data"]["moveSample"]["sampleStorage"]
    assert now["id"] == sample_id
    assert now["positionIdentifier"] == now["position"]["name"] == "C3"
    assert now["containerChain"][2]["id"] == other_box["id"]
    assert now["location"] == {"id": location["id"]}
    left = {"id": placed["position"]["id"], "name": "A1"}
    assert moved["data"]["moveSample"]["previousPosition"] == left
    assert move_routes["PUT /storage/samples/{sample_id}/move"] == 1
    [error] = stay["data"]["moveSample"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "positionIdentifier"], "CONFLICT")
    assert "already occupied" in error["message"]
    [error] = not_stored["data"]["moveSample"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "sampleId"], "NOT_FOUND")
    new = new_box["data"]["container"]
    assert new["capacity"]["used"] == new["samples"]["totalCount"] == 1
    assert new["samples"]["edges"][0]["node"]["id"] == sample_id
    # the release never decrements: the box the sample left still counts it
    old = old_box["data"]["container"]
    assert (old["samples"]["totalCount"], old["capacity"]["used"]) == (0, 1)


async def test_a_failed_read_after_a_write_is_a_field_error_not_a_failed_write(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        location = await _seeded(client, "MAINTENANCE")
        box = (await _boxes(client, location["id"]))[2]
        loose = await gql(
            client, "{ samples(first: 80) { edges { node { id storage { sampleId } } } } }"
        )
        sample_id = [
            e["node"]["id"]
            for e in loose["data"]["samples"]["edges"]
            if e["node"]["storage"] is None
        ][-1]
        control.fault("storage", status=503, times=None, path_prefix="/storage/locations/")
        try:
            body = await gql(
                client, ASSIGN, input={"sampleId": sample_id, "containerId": box["id"]}
            )
        finally:
            control.clear_faults()
    placed = body["data"]["assignSampleToStorage"]["sampleStorage"]
    assert body["data"]["assignSampleToStorage"]["userErrors"] == []
    assert placed["sampleId"] == sample_id
    assert placed["position"]["name"] == "A1"
    assert placed["location"] is None
    assert placed["path"] is None
    assert {(tuple(e["path"]), e["extensions"]["code"]) for e in body["errors"]} == {
        (("assignSampleToStorage", "sampleStorage", "location"), "UPSTREAM_UNAVAILABLE"),
        (("assignSampleToStorage", "sampleStorage", "path"), "UPSTREAM_UNAVAILABLE"),
    }


async def test_bad_ids_are_bad_user_input_and_reach_no_upstream(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        bodies = [
            await gql(client, "query($id: ID!) { storageLocation(id: $id) { id } }", id="nope"),
            await gql(client, "query($id: ID!) { container(id: $id) { id } }", id="1234"),
            await gql(client, LOCATIONS, first=-1),
            await gql(client, LOCATIONS, first=5, after="not a cursor"),
        ]
        assign = await gql(client, ASSIGN, input={"sampleId": "x", "containerId": MISSING})
        move = await gql(client, MOVE, input={"sampleId": MISSING, "containerId": "../../etc"})
    for body in bodies:
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    # in a mutation a malformed id is a user error on the input field that holds it
    assert assign["data"]["assignSampleToStorage"]["userErrors"] == [
        {
            "field": ["input", "sampleId"],
            "message": "`input.sampleId` is not a valid id: 'x'",
            "code": "INVALID",
        }
    ]
    [error] = move["data"]["moveSample"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "containerId"], "INVALID")
    assert control.requests() == 0


async def test_only_positions_and_boxes_take_samples(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        location = await _seeded(client, "MAINTENANCE")
        freezer = await gql(
            client,
            """query($id: ID!) { storageLocation(id: $id) {
                 containers(containerType: FREEZER) { edges { node { id } } } } }""",
            id=location["id"],
        )
        freezer_id = freezer["data"]["storageLocation"]["containers"]["edges"][0]["node"]["id"]
        loose = await gql(client, "{ samples(first: 5) { edges { node { id } } } }")
        sample_id = loose["data"]["samples"]["edges"][0]["node"]["id"]
        control.reset_stats()
        body = await gql(client, ASSIGN, input={"sampleId": sample_id, "containerId": freezer_id})
    [error] = body["data"]["assignSampleToStorage"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "containerId"], "INVALID")
    assert "POST /storage/samples/assign" not in control.by_route("storage")


# -- partial results ------------------------------------------------------------------------------


async def test_storage_down_nulls_only_the_storage_fields(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    query = """{
      storageLocations(first: 3) { totalCount }
      container(id: "00000000-0000-4000-8000-000000000000") { id }
      sequencingJobs(first: 3) { totalCount edges { node { id name } } }
    }"""
    control.fault("storage", status=503, times=None)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        body = await gql(client, query)
    assert body["data"]["storageLocations"] is None
    assert body["data"]["container"] is None
    assert len(body["data"]["sequencingJobs"]["edges"]) == 3
    assert sorted(
        (e["path"][0], e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]
    ) == [
        ("container", "UPSTREAM_UNAVAILABLE", "storage"),
        ("storageLocations", "UPSTREAM_UNAVAILABLE", "storage"),
    ]
    text = str(body)
    assert "127.0.0.1" not in text
    assert "Traceback" not in text


async def test_samples_down_nulls_only_the_container_samples(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        location = await _seeded(client)
        box = next(b for b in await _boxes(client, location["id"]) if b["capacity"]["used"] > 0)
        control.fault("samples", status=503, times=None)
        body = await gql(
            client,
            """query($id: ID!) { container(id: $id) {
                 id name capacity { used } samples { totalCount } } }""",
            id=box["id"],
        )
    node = body["data"]["container"]
    assert node["id"] == box["id"]
    assert node["capacity"]["used"] > 0
    assert node["samples"] is None
    codes = {(e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]}
    assert codes == {("UPSTREAM_UNAVAILABLE", "samples")}


async def test_slow_container_samples_time_out_alone(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        location = await _seeded(client)
        box = next(b for b in await _boxes(client, location["id"]) if b["capacity"]["used"] > 0)
    control.wait_idle("storage")
    control.fault(
        "storage",
        delay_ms=1500,
        path_prefix=f"/storage/containers/{box['id']}/grid",
        methods=["GET"],
    )
    settings = sandbox_settings(sandbox, timeouts=Timeouts(connect=1.0, read=0.3, total=0.6))
    async with gateway_client(settings) as client:
        body = await gql(
            client,
            """query($id: ID!) { container(id: $id) {
                 id name parent { id } samples { totalCount } } }""",
            id=box["id"],
        )
    control.wait_idle("storage")
    node = body["data"]["container"]
    assert node["id"] == box["id"]
    assert node["parent"]["id"]
    assert node["samples"] is None
    pairs = {(e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]}
    assert pairs == {("UPSTREAM_TIMEOUT", "storage")}


# -- with every batch extension -------------------------------------------------------------------


async def test_with_extensions_sample_storage_and_container_samples_are_batched(
    sandbox_ext: SandboxProcess, control_ext: SandboxControl
) -> None:
    query = """query($id: ID!) { container(id: $id) {
      samples(first: 25) { totalCount edges { node { id storage { positionIdentifier } } } }
    } }"""
    async with gateway_client(extension_settings(sandbox_ext)) as client:
        location = await _seeded(client)
        box = next(b for b in await _boxes(client, location["id"]) if b["capacity"]["used"] > 1)
        control_ext.reset_stats()
        body = await gql(client, query, id=box["id"])
        storage_routes = control_ext.by_route("storage")
        sample_routes = control_ext.by_route("samples")
    assert "errors" not in body, body
    samples = body["data"]["container"]["samples"]
    assert samples["totalCount"] == len(samples["edges"]) > 1
    assert all(e["node"]["storage"]["positionIdentifier"] for e in samples["edges"])
    # the grid, then one batch each for the samples and where they sit
    assert storage_routes == {DETAIL: 1, GRID: 1, "GET /storage/samples/locations": 1}
    assert sample_routes == {"GET /samples": 1}

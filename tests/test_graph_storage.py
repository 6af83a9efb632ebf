"""Storage through the graph: locations, the container tree, container samples, placement
mutations, batching and partial results, against the sandbox."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import SandboxControl, gateway_client, gql, sandbox_settings
from upstreams.config import Timeouts

MISSING = "00000000-0000-4000-8000-000000000000"

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

LOCATION_TREE = """
query($id: ID!) {
  storageLocation(id: $id) {
    id name capacity { total used }
    containers(containerType: FREEZER) {
      totalCount
      edges { node {
        id name containerType parentId
        children { totalCount edges { node { id containerType parent { id } } } }
      } }
    }
  }
}
"""

BOX = """
query($id: ID!) {
  container(id: $id) {
    id name containerType capacity { total used available }
    location { id name }
    parent { id containerType parent { id containerType parent { id } } }
    samples(first: 25) { totalCount edges { node { id name } } }
    children(first: 25) {
      totalCount
      edges { node {
        id name containerType positionIdentifier
        parent { id }
        samples { totalCount edges { node { id } } }
      } }
    }
  }
}
"""

ASSIGN = """
mutation($input: AssignSampleToStorageInput!) {
  assignSampleToStorage(input: $input) {
    sampleId positionIdentifier path temperatureZone notes
    sample { id name }
    position { id name containerType capacity { used } }
    containerChain { id containerType }
    location { id name }
  }
}
"""

MOVE = """
mutation($input: MoveSampleInput!) {
  moveSample(input: $input) {
    sampleId positionIdentifier
    position { id name }
    containerChain { id containerType }
    location { id }
  }
}
"""


async def _locations(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    body = await gql(client, LOCATIONS, first=100)
    return [e["node"] for e in body["data"]["storageLocations"]["edges"]]


async def _boxes(client: httpx.AsyncClient, location_id: str) -> list[dict[str, Any]]:
    query = """query($id: ID!) { storageLocation(id: $id) {
      containers(containerType: BOX, first: 100) { edges { node { id name capacity { used } } } }
    } }"""
    body = await gql(client, query, id=location_id)
    return [e["node"] for e in body["data"]["storageLocation"]["containers"]["edges"]]


async def test_storage_locations_list_with_capacity_in_one_request(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        whole = (await gql(client, LOCATIONS, first=100))["data"]["storageLocations"]
        assert control.requests() == 1
        first = (await gql(client, LOCATIONS, first=7))["data"]["storageLocations"]
        after = first["pageInfo"]["endCursor"]
        second = (await gql(client, LOCATIONS, first=7, after=after))["data"]["storageLocations"]
    nodes = [e["node"] for e in whole["edges"]]
    assert whole["totalCount"] == len(nodes) >= 40
    assert whole["pageInfo"]["hasNextPage"] is False
    assert [e["node"] for e in first["edges"] + second["edges"]] == nodes[:14]
    assert second["pageInfo"]["hasPreviousPage"] is True
    statuses = {n["status"] for n in nodes}
    assert {"ACTIVE", "MAINTENANCE", "OFFLINE", "DECOMMISSIONED"} <= statuses
    for node in nodes:
        cap = node["capacity"]
        assert cap["available"] == cap["total"] - cap["used"]
        expected = round(100.0 * cap["used"] / cap["total"], 2) if cap["total"] else 0.0
        assert cap["utilizationPercentage"] == expected
        assert cap["level"] in {"NORMAL", "WARNING", "CRITICAL"}
    assert any(n["capacity"]["used"] > 0 for n in nodes)


async def test_storage_location_with_its_container_tree(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        location = next(n for n in await _locations(client) if n["capacity"]["used"] > 0)
        control.reset_stats()
        body = await gql(client, LOCATION_TREE, id=location["id"])
        # the location, its freezers, and the freezer's children (parents come from the
        # loader the root already filled)
        assert control.requests("storage") == 3
        missing = await gql(client, LOCATION_TREE, id=MISSING)
    assert "errors" not in body
    loc = body["data"]["storageLocation"]
    assert loc["id"] == location["id"]
    assert loc["capacity"] == {k: location["capacity"][k] for k in ("total", "used")}
    freezers = [e["node"] for e in loc["containers"]["edges"]]
    assert loc["containers"]["totalCount"] == len(freezers) == 1
    freezer = freezers[0]
    assert freezer["containerType"] == "FREEZER"
    assert freezer["parentId"] is None
    racks = [e["node"] for e in freezer["children"]["edges"]]
    assert len(racks) == freezer["children"]["totalCount"] == 2
    assert all(r["containerType"] == "RACK" and r["parent"]["id"] == freezer["id"] for r in racks)
    assert missing == {"data": {"storageLocation": None}}


async def test_container_with_parent_chain_children_and_samples_batched(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        location = next(n for n in await _locations(client) if n["capacity"]["used"] > 0)
        box = next(b for b in await _boxes(client, location["id"]) if b["capacity"]["used"] > 0)
        control.reset_stats()
        body = await gql(client, BOX, id=box["id"])
        by_route = control.by_route("storage")
        storage_calls = control.requests("storage")
        samples_calls = control.requests("samples")
    assert "errors" not in body, body
    node = body["data"]["container"]
    assert node["containerType"] == "BOX"
    assert node["location"]["id"] == location["id"]
    rack = node["parent"]
    assert rack["containerType"] == "RACK"
    assert rack["parent"]["containerType"] == "FREEZER"
    assert rack["parent"]["parent"] is None
    positions = [e["node"] for e in node["children"]["edges"]]
    assert len(positions) == node["children"]["totalCount"] == node["capacity"]["total"] == 25
    assert all(p["containerType"] == "POSITION" for p in positions)
    assert all(p["parent"]["id"] == node["id"] for p in positions)
    occupied = [p for p in positions if p["samples"]["totalCount"]]
    assert len(occupied) == node["capacity"]["used"] == node["samples"]["totalCount"] > 0
    assert all(p["samples"]["totalCount"] == 1 for p in occupied)
    in_box = {e["node"]["id"] for e in node["samples"]["edges"]}
    assert in_box == {p["samples"]["edges"][0]["node"]["id"] for p in occupied}
    # box, location, rack, freezer, the box's children, and one samples-in-containers call
    # for the box and its 25 positions together; one samples batch for every sample.
    assert storage_calls == 6, by_route
    assert samples_calls == 1


async def test_location_containers_and_samples_without_batch_extension(
    sandbox: Any, control: SandboxControl
) -> None:
    query = """query($first: Int) { storageLocations(first: $first) { edges { node { id
      containers(containerType: FREEZER) { edges { node { id
        samples(first: 5) { totalCount edges { node { id name } } }
      } } }
    } } } }"""
    for batch in (True, False):
        overrides: dict[str, Any] = {} if batch else {"batch_services": frozenset()}
        async with gateway_client(sandbox_settings(sandbox, **overrides)) as client:
            control.reset_stats()
            body = await gql(client, query, first=10)
        assert "errors" not in body, body
        freezers = [
            f["node"]
            for e in body["data"]["storageLocations"]["edges"]
            for f in e["node"]["containers"]["edges"]
        ]
        assert len(freezers) == 10
        ids = {s["node"]["id"] for f in freezers for s in f["samples"]["edges"]}
        assert ids, "the first locations hold samples"
        # locations list + one containers list per location + one samples-in-containers call
        assert control.requests("storage") == 1 + 10 + 1
        assert control.requests("samples") == (1 if batch else len(ids))


async def test_bad_ids_are_bad_user_input_and_reach_no_upstream(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        bodies = [
            await gql(client, "query($id: ID!) { storageLocation(id: $id) { id } }", id="nope"),
            await gql(client, "query($id: ID!) { container(id: $id) { id } }", id="1234"),
            await gql(client, ASSIGN, input={"sampleId": "x", "containerId": MISSING}),
            await gql(client, MOVE, input={"sampleId": MISSING, "containerId": "../../etc"}),
            await gql(client, LOCATIONS, first=-1),
            await gql(client, LOCATIONS, first=5, after="not a cursor"),
        ]
    for body in bodies:
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert control.requests() == 0


async def test_missing_container_is_null(sandbox: Any, control: SandboxControl) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        body = await gql(client, "query($id: ID!) { container(id: $id) { id } }", id=MISSING)
    assert body == {"data": {"container": None}}


async def test_assign_and_move_a_new_sample(sandbox: Any, control: SandboxControl) -> None:
    create = """mutation($input: CreateSampleInput!) { createSample(input: $input) { id } }"""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        # A location under maintenance holds no samples: its boxes are free.
        location = next(n for n in await _locations(client) if n["status"] == "MAINTENANCE")
        box, other_box = (await _boxes(client, location["id"]))[:2]
        sample = (await gql(client, create, input={"name": "GW-storage", "sampleType": "dna"}))[
            "data"
        ]["createSample"]
        assigned = await gql(
            client,
            ASSIGN,
            input={"sampleId": sample["id"], "containerId": box["id"], "notes": "gw test"},
        )
        again = await gql(
            client, ASSIGN, input={"sampleId": sample["id"], "containerId": box["id"]}
        )
        unknown = await gql(client, ASSIGN, input={"sampleId": MISSING, "containerId": box["id"]})
        moved = await gql(
            client,
            MOVE,
            input={
                "sampleId": sample["id"],
                "containerId": other_box["id"],
                "positionIdentifier": "c3",
            },
        )
        stay = await gql(
            client,
            MOVE,
            input={
                "sampleId": sample["id"],
                "containerId": other_box["id"],
                "positionIdentifier": "C3",
            },
        )
        not_stored = await gql(client, MOVE, input={"sampleId": MISSING, "containerId": box["id"]})
        where = await gql(
            client,
            """query($id: ID!) { container(id: $id) {
                 samples { totalCount edges { node { id } } } capacity { used } } }""",
            id=other_box["id"],
        )
    assert "errors" not in assigned, assigned
    placed = assigned["data"]["assignSampleToStorage"]
    assert placed["sampleId"] == placed["sample"]["id"] == sample["id"]
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
    assert placed["location"]["id"] == location["id"]
    assert placed["notes"] == "gw test"
    assert placed["path"].startswith(location["name"] + " > ")
    assert placed["path"].endswith(" > A1")
    assert again["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "already stored" in again["errors"][0]["message"]
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert "errors" not in moved, moved
    now = moved["data"]["moveSample"]
    assert now["positionIdentifier"] == now["position"]["name"] == "C3"
    assert now["containerChain"][2]["id"] == other_box["id"]
    assert stay["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert not_stored["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    held = where["data"]["container"]
    assert held["capacity"]["used"] == held["samples"]["totalCount"] == 1
    assert held["samples"]["edges"][0]["node"]["id"] == sample["id"]


async def test_storage_down_nulls_only_the_storage_fields(
    sandbox: Any, control: SandboxControl
) -> None:
    query = """{
      storageLocations(first: 3) { totalCount }
      sequencingJobs(first: 3) { totalCount edges { node { id name } } }
    }"""
    control.fault("storage", status=503, times=None)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        body = await gql(client, query)
    assert body["data"]["storageLocations"] is None
    assert len(body["data"]["sequencingJobs"]["edges"]) == 3
    assert [
        (e["path"], e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]
    ] == [(["storageLocations"], "UPSTREAM_UNAVAILABLE", "storage")]
    text = str(body)
    assert "127.0.0.1" not in text
    assert "Traceback" not in text


async def test_samples_down_nulls_only_the_container_samples(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        location = next(n for n in await _locations(client) if n["capacity"]["used"] > 0)
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


async def test_slow_container_samples_time_out_alone(sandbox: Any, control: SandboxControl) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        location = next(n for n in await _locations(client) if n["capacity"]["used"] > 0)
        box = next(b for b in await _boxes(client, location["id"]) if b["capacity"]["used"] > 0)
    control.wait_idle("storage")
    control.fault("storage", delay_ms=1500, path_prefix="/storage/samples/", methods=["GET"])
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

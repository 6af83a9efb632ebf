"""Issue 12 for storage, against the release-mode sandbox: nullability by the wire contract,
errors for values the schema cannot represent, Node ids for locations and containers, a
SampleStorage id that survives a move, the placement mutations' user errors, taking a sample
out, a container by barcode, boxes with free space, typed fields, and location order.

Tests that write build their own container tree (freezer > rack > box > 3 positions, at no
location, in a temperature zone of their own) and their own samples, so that what they
assert does not depend on other tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from sandbox.runner import SandboxProcess
from sandbox.seed import DEMO_USERS
from tests.conftest import SandboxControl, gateway_client, gql, sandbox_settings

MISSING = "00000000-0000-4000-8000-000000000000"
LIST = "GET /storage/containers"


def _storage(sandbox: SandboxProcess) -> str:
    return sandbox.urls["storage"]


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(url, json=body)
    assert response.status_code in (200, 201), response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _tree(sandbox: SandboxProcess) -> dict[str, Any]:
    """A fresh freezer > rack > box with positions A1..A3, in a zone of its own."""
    base = f"{_storage(sandbox)}/storage/containers"
    zone = f"T{uuid.uuid4().hex[:10]}"
    tag = uuid.uuid4().hex[:8].upper()

    def make(name: str, kind: str, capacity: int, parent: str | None, **extra: Any) -> str:
        body = {
            "name": name,
            "container_type": kind,
            "capacity": capacity,
            "parent_container_id": parent,
            "temperature_zone": zone,
            "barcode": f"GW-{tag}-{name}",
            **extra,
        }
        return str(_post(base, body)["id"])

    freezer = make("F", "freezer", 1, None)
    rack = make("R", "rack", 1, freezer)
    box = make("B", "box", 3, rack)
    positions = {
        f"A{n}": make(f"A{n}", "position", 1, box, grid_position={"row": 1, "column": n})
        for n in (1, 2, 3)
    }
    return {
        "zone": zone,
        "freezer": freezer,
        "rack": rack,
        "box": box,
        "positions": positions,
        "box_barcode": f"GW-{tag}-B",
    }


def _sample(sandbox: SandboxProcess) -> str:
    """A new sample, in no storage."""
    created = _post(
        f"{sandbox.urls['samples']}/samples",
        {"name": f"storage-test-{uuid.uuid4().hex[:8]}", "sample_type": "DNA"},
    )
    return str(created["id"])


def _grid_free(sandbox: SandboxProcess, box_id: str) -> list[str]:
    grid = httpx.get(f"{_storage(sandbox)}/storage/containers/{box_id}/grid").json()["data"]
    return [p["position_identifier"] for p in grid["positions"] if not p["is_occupied"]]


ASSIGN = """
mutation($input: AssignSampleToStorageInput!) {
  assignSampleToStorage(input: $input) {
    sampleStorage { id sampleId positionIdentifier position { id } }
    sample { id storage { id positionIdentifier } }
    userErrors { field message code }
  }
}
"""

MOVE = """
mutation($input: MoveSampleInput!) {
  moveSample(input: $input) {
    sampleStorage { id positionIdentifier position { id } }
    sample { id }
    previousPosition { id freePositions }
    userErrors { field message code }
  }
}
"""

REMOVE = """
mutation($input: RemoveSampleFromStorageInput!) {
  removeSampleFromStorage(input: $input) {
    removedSampleStorageId
    sample { id storage { id } }
    previousPosition { id name freePositions }
    userErrors { field message code }
  }
}
"""

AVAILABLE = """
query($zone: String!, $min: Int! = 1) {
  availableContainers(temperatureZone: $zone, minFreePositions: $min) {
    totalCount nodes { id containerType freePositions capacity { used } }
  }
}
"""

TYPE = """
query($name: String!) { __type(name: $name) {
  interfaces { name }
  fields { name type { kind name ofType { kind name ofType { kind name } } } }
} }
"""


async def _fields(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    body = await gql(client, TYPE, name=name)
    kind = body["data"]["__type"]
    return {
        "interfaces": [i["name"] for i in kind["interfaces"]],
        **{f["name"]: f["type"] for f in kind["fields"]},
    }


def _non_null(t: dict[str, Any]) -> bool:
    return bool(t["kind"] == "NON_NULL")


# -- item 1: nullability ------------------------------------------------------------------------


async def test_fields_the_storage_service_always_sends_are_non_null_and_relations_nullable(
    sandbox: SandboxProcess,
) -> None:
    always = {
        "StorageLocation": [
            "id",
            "name",
            "locationType",
            "temperatureZone",
            "status",
            "capacity",
            "metadata",
            "createdAt",
            "updatedAt",
        ],
        "StorageContainer": [
            "id",
            "name",
            "containerType",
            "status",
            "capacity",
            "metadata",
            "createdAt",
            "updatedAt",
        ],
        "SampleStorage": ["id", "sampleId", "assignedAt", "storageConditions"],
    }
    relations = {
        "StorageLocation": ["containers", "description", "coordinates"],
        "StorageContainer": [
            "parent",
            "children",
            "location",
            "locationId",
            "samples",
            "freePositions",
        ],
        "SampleStorage": [
            "position",
            "containerChain",
            "location",
            "sample",
            "assignedBy",
            "path",
            "temperatureZone",
        ],
    }
    async with gateway_client(sandbox_settings(sandbox)) as client:
        found = {name: await _fields(client, name) for name in always}
    for name, fields in always.items():
        assert [f for f in fields if not _non_null(found[name][f])] == [], name
    for name, fields in relations.items():
        assert [f for f in fields if _non_null(found[name][f])] == [], name
    chain = found["SampleStorage"]["containerChain"]
    assert (chain["kind"], chain["ofType"]["kind"]) == ("LIST", "NON_NULL")


async def test_an_unknown_location_status_is_an_upstream_bad_response_not_a_null(
    sandbox: SandboxProcess,
) -> None:
    """The release's location update takes any status string (no validation)."""
    base = f"{_storage(sandbox)}/storage/locations"
    location = _post(
        base,
        {
            "name": f"Gateway flood test {uuid.uuid4().hex[:6]}x",
            "location_type": "cabinet",
            "temperature_zone": "RT",
            "max_capacity": 10,
        },
    )
    try:
        httpx.put(f"{base}/{location['id']}", json={"status": "flooded"}).raise_for_status()
        async with gateway_client(sandbox_settings(sandbox)) as client:
            body = await gql(
                client,
                "query($id: ID!) { storageLocation(id: $id) { id name status } }",
                id=location["id"],
            )
    finally:
        httpx.delete(f"{base}/{location['id']}").raise_for_status()
    assert body["data"] == {"storageLocation": None}
    [error] = body["errors"]
    assert error["path"] == ["storageLocation", "status"]
    assert error["extensions"]["code"] == "UPSTREAM_BAD_RESPONSE"
    assert error["extensions"]["service"] == "storage"


# -- item 2: mutations --------------------------------------------------------------------------


async def test_placement_refusals_are_user_errors_on_the_input_they_are_about(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    tree = _tree(sandbox)
    first, second = _sample(sandbox), _sample(sandbox)
    a1 = tree["positions"]["A1"]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        placed = await gql(client, ASSIGN, input={"sampleId": first, "containerId": tree["box"]})
        named = await gql(
            client,
            ASSIGN,
            input={"sampleId": second, "containerId": tree["box"], "positionIdentifier": "a1"},
        )
        direct = await gql(client, ASSIGN, input={"sampleId": second, "containerId": a1})
        unknown = await gql(client, ASSIGN, input={"sampleId": second, "containerId": MISSING})
        no_such = await gql(
            client,
            ASSIGN,
            input={"sampleId": second, "containerId": tree["box"], "positionIdentifier": "Z9"},
        )
        rack = await gql(client, ASSIGN, input={"sampleId": second, "containerId": tree["rack"]})
        control.reset_stats()
        moved_nowhere = await gql(client, MOVE, input={"sampleId": second, "containerId": a1})
    assert "errors" not in placed, placed
    payload = placed["data"]["assignSampleToStorage"]
    assert payload["userErrors"] == []
    assert payload["sampleStorage"]["positionIdentifier"] == "A1"
    assert payload["sampleStorage"]["position"] == {"id": a1}
    assert payload["sample"] == {"id": first, "storage": {"id": first, "positionIdentifier": "A1"}}

    def error(body: dict[str, Any], field: str) -> tuple[list[str] | None, str]:
        assert "errors" not in body, body
        result = body["data"][field]
        assert result["sampleStorage"] is None
        assert result["sample"] is None
        [only] = result["userErrors"]
        return only["field"], only["code"]

    assert error(named, "assignSampleToStorage") == (["input", "positionIdentifier"], "CONFLICT")
    # the position itself named: the release's own refusal, on the field that named it
    assert error(direct, "assignSampleToStorage") == (["input", "containerId"], "CONFLICT")
    assert error(unknown, "assignSampleToStorage") == (["input", "containerId"], "NOT_FOUND")
    assert error(no_such, "assignSampleToStorage") == (["input", "positionIdentifier"], "NOT_FOUND")
    assert error(rack, "assignSampleToStorage") == (["input", "containerId"], "INVALID")
    assert error(moved_nowhere, "moveSample") == (["input", "sampleId"], "NOT_FOUND")
    # the second sample was never placed
    assert _grid_free(sandbox, tree["box"]) == ["A2", "A3"]


async def test_remove_sample_from_storage_frees_its_position_on_the_release(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    tree = _tree(sandbox)
    sample_id = _sample(sandbox)
    a2 = tree["positions"]["A2"]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        await gql(
            client,
            ASSIGN,
            input={"sampleId": sample_id, "containerId": tree["box"], "positionIdentifier": "A2"},
        )
        control.reset_stats()
        removed = await gql(client, REMOVE, input={"sampleId": sample_id, "reason": "thawed"})
        routes = control.by_route("storage")
        free_after = _grid_free(sandbox, tree["box"])
        again = await gql(client, REMOVE, input={"sampleId": sample_id})
        after = await gql(
            client, "query($id: ID!) { sample(id: $id) { id storage { id } } }", id=sample_id
        )
        back = await gql(client, ASSIGN, input={"sampleId": sample_id, "containerId": a2})
    assert "errors" not in removed, removed
    payload = removed["data"]["removeSampleFromStorage"]
    assert payload["userErrors"] == []
    assert payload["removedSampleStorageId"] == sample_id
    assert payload["sample"] == {"id": sample_id, "storage": None}
    assert payload["previousPosition"] == {"id": a2, "name": "A2", "freePositions": 1}
    assert routes["DELETE /storage/samples/{sample_id}/position"] == 1
    assert free_after == ["A1", "A2", "A3"]
    [error] = again["data"]["removeSampleFromStorage"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "sampleId"], "NOT_FOUND")
    assert again["data"]["removeSampleFromStorage"]["removedSampleStorageId"] is None
    assert after["data"]["sample"] == {"id": sample_id, "storage": None}
    # the position it left takes a sample again
    assert back["data"]["assignSampleToStorage"]["userErrors"] == []


# -- item 5: the screens ------------------------------------------------------------------------


async def test_container_by_barcode_reads_the_container_list_and_matches_exactly(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    tree = _tree(sandbox)
    query = """query($barcode: String!) { containerByBarcode(barcode: $barcode) {
      id barcode containerType parent { id } } }"""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        found = await gql(client, query, barcode=tree["box_barcode"])
        routes = control.by_route("storage")
        lower = await gql(client, query, barcode=tree["box_barcode"].lower())
        empty = await gql(client, query, barcode="  ")
    assert "errors" not in found, found
    assert found["data"]["containerByBarcode"] == {
        "id": tree["box"],
        "barcode": tree["box_barcode"],
        "containerType": "BOX",
        "parent": {"id": tree["rack"]},
    }
    # no barcode route: the container list, then the rack for `parent`
    assert set(routes) == {LIST, "GET /storage/containers/{container_id}"}
    assert lower == {"data": {"containerByBarcode": None}}
    assert empty["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_available_containers_count_free_positions_from_the_grids(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    """The release's occupied_count never comes down after a move or a removal: free space
    is what the grids say."""
    tree = _tree(sandbox)
    sample_id = _sample(sandbox)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        empty_box = await gql(client, AVAILABLE, zone=tree["zone"])
        await gql(client, ASSIGN, input={"sampleId": sample_id, "containerId": tree["box"]})
        control.reset_stats()
        one_taken = await gql(client, AVAILABLE, zone=tree["zone"], min=2)
        routes = control.by_route("storage")
        too_many = await gql(client, AVAILABLE, zone=tree["zone"], min=3)
        await gql(client, REMOVE, input={"sampleId": sample_id})
        removed = await gql(client, AVAILABLE, zone=tree["zone"], min=3)
        other_zone = await gql(client, AVAILABLE, zone=f"{tree['zone']}x")
        zero = await gql(client, AVAILABLE, zone=tree["zone"], min=0)
    box = {"id": tree["box"], "containerType": "BOX"}
    assert empty_box["data"]["availableContainers"] == {
        "totalCount": 1,
        "nodes": [box | {"freePositions": 3, "capacity": {"used": 0}}],
    }
    assert one_taken["data"]["availableContainers"]["nodes"] == [
        box | {"freePositions": 2, "capacity": {"used": 1}}
    ]
    # the zone's boxes from the filtered list, and one grid per box
    assert routes == {LIST: 1, "GET /storage/containers/{container_id}/grid": 1}
    assert too_many["data"]["availableContainers"] == {"totalCount": 0, "nodes": []}
    # all three free again, though the service still counts the removed sample
    assert removed["data"]["availableContainers"]["nodes"] == [
        box | {"freePositions": 3, "capacity": {"used": 1}}
    ]
    assert other_zone["data"]["availableContainers"]["totalCount"] == 0
    assert zero["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_free_positions_of_a_tree_sum_its_boxes(sandbox: SandboxProcess) -> None:
    tree = _tree(sandbox)
    sample_id = _sample(sandbox)
    query = """query($id: ID!) { container(id: $id) { freePositions } }"""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        await gql(client, ASSIGN, input={"sampleId": sample_id, "containerId": tree["box"]})
        counts = {
            kind: (await gql(client, query, id=tree[kind]))["data"]["container"]["freePositions"]
            for kind in ("freezer", "rack", "box")
        }
        a1 = await gql(client, query, id=tree["positions"]["A1"])
        a2 = await gql(client, query, id=tree["positions"]["A2"])
    assert counts == {"freezer": 2, "rack": 2, "box": 2}
    assert (a1["data"]["container"]["freePositions"], a2["data"]["container"]["freePositions"]) == (
        0,
        1,
    )


# -- item 7: ids --------------------------------------------------------------------------------


async def test_sample_storage_id_is_the_sample_id_across_a_move_and_is_no_node(
    sandbox: SandboxProcess,
) -> None:
    tree = _tree(sandbox)
    sample_id = _sample(sandbox)
    a1, a3 = tree["positions"]["A1"], tree["positions"]["A3"]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        placed = await gql(client, ASSIGN, input={"sampleId": sample_id, "containerId": a1})
        moved = await gql(client, MOVE, input={"sampleId": sample_id, "containerId": a3})
        fields = await _fields(client, "SampleStorage")
    before = placed["data"]["assignSampleToStorage"]["sampleStorage"]
    after = moved["data"]["moveSample"]
    assert before["id"] == after["sampleStorage"]["id"] == sample_id
    assert (before["position"]["id"], after["sampleStorage"]["position"]["id"]) == (a1, a3)
    assert after["sample"] == {"id": sample_id}
    assert after["previousPosition"] == {"id": a1, "freePositions": 1}
    assert after["userErrors"] == []
    assert fields["interfaces"] == []


async def test_storage_locations_and_containers_are_refetched_by_node_id(
    sandbox: SandboxProcess,
) -> None:
    tree = _tree(sandbox)
    locations = httpx.get(f"{_storage(sandbox)}/storage/locations").json()["data"]
    location = locations[0]
    query = """query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
      ... on StorageLocation { name }
      ... on StorageContainer { containerType }
    } }"""
    async with gateway_client(sandbox_settings(sandbox), role="lab_technician") as client:
        body = await gql(client, query, ids=[location["id"], tree["box"], MISSING])
        one = await gql(
            client,
            "query($id: ID!) { node(id: $id) { __typename id } }",
            id=tree["positions"]["A2"],
        )
        fields = {
            name: await _fields(client, name) for name in ("StorageLocation", "StorageContainer")
        }
    assert "errors" not in body, body
    assert body["data"]["nodes"] == [
        {"__typename": "StorageLocation", "id": location["id"], "name": location["name"]},
        {"__typename": "StorageContainer", "id": tree["box"], "containerType": "BOX"},
        None,
    ]
    assert one["data"]["node"] == {"__typename": "StorageContainer", "id": tree["positions"]["A2"]}
    assert {n: f["interfaces"] for n, f in fields.items()} == {
        "StorageLocation": ["Node"],
        "StorageContainer": ["Node"],
    }


# -- item 8: types ------------------------------------------------------------------------------


async def test_container_status_is_an_enum_and_grid_positions_are_typed(
    sandbox: SandboxProcess,
) -> None:
    tree = _tree(sandbox)
    query = """query($id: ID!) { container(id: $id) {
      status gridPosition { row column } metadata temperatureZone
      children { nodes { name status gridPosition { row column } } }
    } }"""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        body = await gql(client, query, id=tree["box"])
        fields = await _fields(client, "StorageContainer")
    assert "errors" not in body, body
    box = body["data"]["container"]
    assert box["status"] == "ACTIVE"
    assert box["gridPosition"] is None
    assert box["metadata"] == {}
    assert box["temperatureZone"] == tree["zone"]
    assert box["children"]["nodes"] == [
        {"name": f"A{n}", "status": "ACTIVE", "gridPosition": {"row": 1, "column": n}}
        for n in (1, 2, 3)
    ]
    status = fields["status"]["ofType"]
    assert (status["kind"], status["name"]) == ("ENUM", "StorageStatus")


async def test_assigned_by_is_the_person_who_placed_the_sample(sandbox: SandboxProcess) -> None:
    email, password, _ = DEMO_USERS[0]
    login = _post(f"{sandbox.urls['auth']}/auth/login", {"email": email, "password": password})
    token = str(login["access_token"])
    tree = _tree(sandbox)
    sample_id = _sample(sandbox)
    query = """query($id: ID!) { sample(id: $id) { storage {
      assignedBy { id fullName role } } } }"""
    async with gateway_client(sandbox_settings(sandbox), token=token) as client:
        await gql(client, ASSIGN, input={"sampleId": sample_id, "containerId": tree["box"]})
        body = await gql(client, query, id=sample_id)
    assert "errors" not in body, body
    detail = httpx.get(f"{_storage(sandbox)}/storage/samples/{sample_id}/location-detailed")
    by = body["data"]["sample"]["storage"]["assignedBy"]
    # the gateway records the caller as who assigned it, and the graph names that person
    assert by["id"] == detail.json()["data"]["assigned_by"]
    assert (by["fullName"], by["role"]) == ("Alex Morgan", "LAB_ADMINISTRATOR")


# -- item 4: order ------------------------------------------------------------------------------


async def test_storage_locations_take_an_order(sandbox: SandboxProcess) -> None:
    base = f"{_storage(sandbox)}/storage/locations"
    query = """query($order: StorageLocationOrder) {
      storageLocations(orderBy: $order, first: 100) { totalCount nodes { id name } } }"""
    created = _post(
        base,
        {
            "name": f"Gateway order test {uuid.uuid4().hex[:6]}x",
            "location_type": "cabinet",
            "temperature_zone": "RT",
            "max_capacity": 10,
        },
    )
    try:
        async with gateway_client(sandbox_settings(sandbox)) as client:
            default = await gql(client, query)
            by_name_desc = await gql(client, query, order={"field": "NAME", "direction": "DESC"})
            newest = await gql(client, query, order={"field": "CREATED_AT", "direction": "DESC"})
    finally:
        httpx.delete(f"{base}/{created['id']}").raise_for_status()
    names = [n["name"] for n in default["data"]["storageLocations"]["nodes"]]
    assert names == sorted(names)
    descending = [n["name"] for n in by_name_desc["data"]["storageLocations"]["nodes"]]
    assert descending == sorted(names, reverse=True)
    assert newest["data"]["storageLocations"]["nodes"][0]["id"] == created["id"]

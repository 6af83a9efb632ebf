"""Issue 12, item 7: samples are Nodes, refetched with `node(id:)` and `nodes(ids:)`."""

from __future__ import annotations

from typing import Any

from tests.conftest import SandboxControl, gateway_client, gql, sandbox_settings

UNKNOWN = "00000000-0000-4000-8000-00000000abcd"
NODES = """
query($id: ID!, $ids: [ID!]!) {
  node(id: $id) { __typename id ... on Sample { name status } }
  nodes(ids: $ids) { __typename id ... on Sample { barcode } }
}
"""


async def test_node_and_nodes_refetch_samples_and_answer_null_for_an_unknown_id(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role="lab_technician") as client:
        listed = await gql(client, "{ samples(first: 2) { nodes { id name status barcode } } }")
        one, two = listed["data"]["samples"]["nodes"]
        body = await gql(client, NODES, id=one["id"], ids=[two["id"], UNKNOWN, one["id"]])
        missing = await gql(client, "query($id: ID!) { node(id: $id) { id } }", id=UNKNOWN)
    assert "errors" not in body, body
    assert body["data"]["node"] == {
        "__typename": "Sample",
        "id": one["id"],
        "name": one["name"],
        "status": one["status"],
    }
    assert body["data"]["nodes"] == [
        {"__typename": "Sample", "id": two["id"], "barcode": two["barcode"]},
        None,
        {"__typename": "Sample", "id": one["id"], "barcode": one["barcode"]},
    ]
    assert missing == {"data": {"node": None}}


async def test_a_guest_cannot_refetch_a_sample_through_node(
    sandbox: Any, control: SandboxControl
) -> None:
    """Samples register with READ_LIMS, the rule of their own root fields."""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        listed = await gql(client, "{ samples(first: 1) { nodes { id } } }")
    sample_id = listed["data"]["samples"]["nodes"][0]["id"]
    async with gateway_client(sandbox_settings(sandbox), role="guest") as client:
        control.reset_stats()
        body = await gql(client, "query($id: ID!) { node(id: $id) { id } }", id=sample_id)
    assert body["data"] == {"node": None}
    assert control.requests("samples") == 0

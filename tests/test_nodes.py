"""`node(id:)` asks every node type the caller may read: a service that fails cannot be
taken for "there is no such object"."""

from __future__ import annotations

from typing import Any

from tests.conftest import SandboxControl, codes, gateway_client, gql, sandbox_settings

UNKNOWN = "00000000-0000-4000-8000-0000000000ab"
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"


async def test_an_unknown_id_while_a_service_fails_is_that_service_s_error_not_null(
    sandbox: Any, control: SandboxControl
) -> None:
    control.fault("templates", status=503, times=None)
    try:
        async with gateway_client(sandbox_settings(sandbox), role="lab_technician") as client:
            body = await gql(client, NODE, id=UNKNOWN)
    finally:
        control.clear_faults()
    assert body["data"] == {"node": None}
    assert codes(body) == ["UPSTREAM_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["service"] == "templates"


async def test_an_object_found_while_another_service_fails_is_answered(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role="lab_technician") as client:
        listed = await gql(client, "{ samples(first: 1) { nodes { id } } }")
        sample_id = listed["data"]["samples"]["nodes"][0]["id"]
        control.fault("templates", status=503, times=None)
        try:
            body = await gql(client, NODE, id=sample_id)
        finally:
            control.clear_faults()
    assert body == {"data": {"node": {"__typename": "Sample", "id": sample_id}}}


async def test_an_id_that_is_not_a_uuid_is_null_without_an_upstream_call(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role="lab_technician") as client:
        control.reset_stats()
        body = await gql(client, NODE, id="not-a-uuid")
    assert body == {"data": {"node": None}}
    assert control.requests() == 0

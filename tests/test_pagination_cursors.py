"""Issue 12, item 3: a cursor names its item, so the next page starts after that item even
when rows were added or removed before it (the release pages by offset only; the gateway
re-aligns within a window around the offset the cursor saw, and fails clearly when the
item is gone). Also `last`/`before` and `nodes`."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import SandboxControl, gateway_client, gql, sandbox_settings

PAGE = """
query($filter: SampleFilter, $first: Int, $after: String, $last: Int, $before: String) {
  samples(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id } }
    nodes { id }
  }
}
"""
CREATE = """
mutation($input: CreateSampleInput!) { createSample(input: $input) { sample { id } } }
"""
DELETE = """
mutation($input: DeleteSampleInput!) {
  deleteSample(input: $input) { deletedSampleId userErrors { code } }
}
"""
PENDING = {"statuses": ["PENDING"]}


def _ids(connection: dict[str, Any]) -> list[str]:
    return [e["node"]["id"] for e in connection["edges"]]


async def _page(client: httpx.AsyncClient, **arguments: Any) -> dict[str, Any]:
    body = await gql(client, PAGE, **arguments)
    assert "errors" not in body, body
    connection: dict[str, Any] = body["data"]["samples"]
    assert connection["nodes"] == [e["node"] for e in connection["edges"]]
    return connection


async def _create(client: httpx.AsyncClient, name: str) -> str:
    body = await gql(client, CREATE, input={"name": name, "sampleType": "DNA"})
    sample_id: str = body["data"]["createSample"]["sample"]["id"]
    return sample_id


async def test_an_insert_at_the_head_neither_repeats_nor_skips_on_the_next_page(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        before = _ids(await _page(client, first=10))
        first = await _page(client, first=5)
        await _create(client, "GW-cursor head insert")
        second = await _page(client, first=5, after=first["pageInfo"]["endCursor"])
        now = _ids(await _page(client, first=11))
    assert _ids(first) == before[:5]
    assert _ids(second) == before[5:10]
    # The insert did land at the head (an offset cursor would have repeated before[4]).
    assert now[1:] == before[:10]


async def test_a_delete_at_the_head_neither_repeats_nor_skips_on_the_next_page(
    sandbox: Any, control: SandboxControl
) -> None:
    """The samples service's delete is soft: a deleted sample keeps its place in the
    unfiltered list (status DELETED), so nothing leaves that list. The PENDING list is one
    the head really leaves: a deleted sample is no longer PENDING. An offset cursor would
    skip the first item of page 2 there."""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        for n in range(4):
            await _create(client, f"GW-cursor head delete {n}")
        before = _ids(await _page(client, filter=PENDING, first=6))
        first = await _page(client, filter=PENDING, first=2)
        deleted = await gql(client, DELETE, input={"id": before[0]})
        second = await _page(client, filter=PENDING, first=2, after=first["pageInfo"]["endCursor"])
        pending = _ids(await _page(client, filter=PENDING, first=6))
        everything = _ids(await _page(client, first=10))
    assert deleted["data"]["deleteSample"]["deletedSampleId"] == before[0]
    assert _ids(first) == before[:2]
    assert _ids(second) == before[2:4]
    assert pending[:5] == before[1:]
    assert before[0] in everything  # soft: still in the unfiltered list


async def test_a_cursor_whose_item_is_gone_is_bad_user_input_naming_after(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        await _create(client, "GW-cursor gone 1")
        await _create(client, "GW-cursor gone 2")
        first = await _page(client, filter=PENDING, first=1)
        (gone,) = _ids(first)
        await gql(client, DELETE, input={"id": gone})
        body = await gql(
            client, PAGE, filter=PENDING, first=1, after=first["pageInfo"]["endCursor"]
        )
    assert body["data"] == {"samples": None}
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "`after`" in error["message"]


async def test_last_and_before_walk_backward_and_meet_the_forward_pages(
    sandbox: Any, control: SandboxControl
) -> None:
    token = uuid.uuid4().hex[:12]
    mine = {"search": token}
    async with gateway_client(sandbox_settings(sandbox)) as client:
        for n in range(7):
            await _create(client, f"GW-walk {token} {n}")
        forward: list[dict[str, Any]] = []
        after = None
        while True:
            page = await _page(client, filter=mine, first=3, after=after)
            forward.append(page)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        backward: list[dict[str, Any]] = []
        before = None
        while True:
            page = await _page(client, filter=mine, last=3, before=before)
            backward.append(page)
            if not page["pageInfo"]["hasPreviousPage"]:
                break
            before = page["pageInfo"]["startCursor"]
        # The upstream-paged (unfiltered) list, walked both ways from a forward page.
        head = await _page(client, first=8)
        back = await _page(client, last=5, before=head["edges"][7]["cursor"])
        tail = await _page(client, last=2)
    walked = [i for page in forward for i in _ids(page)]
    assert [len(_ids(p)) for p in forward] == [3, 3, 1]
    assert len(set(walked)) == 7
    assert [i for page in reversed(backward) for i in _ids(page)] == walked
    assert [len(_ids(p)) for p in backward] == [3, 3, 1]
    assert forward[0]["pageInfo"]["hasPreviousPage"] is False
    assert backward[0]["pageInfo"]["hasNextPage"] is False
    assert _ids(back) == _ids(head)[2:7]
    assert back["pageInfo"]["hasPreviousPage"] is True
    assert back["pageInfo"]["hasNextPage"] is True
    assert len(_ids(tail)) == 2
    assert tail["pageInfo"]["hasNextPage"] is False
    assert tail["pageInfo"]["hasPreviousPage"] is True
    assert tail["totalCount"] == head["totalCount"]

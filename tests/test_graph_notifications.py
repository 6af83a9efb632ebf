"""Notifications in the graph: the list as a cursor connection over limit/offset, and sending
(which the release accepts without storing: an UPSTREAM_UNSUPPORTED error, unless the
sandbox's ``notifications-persist`` fix is on)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.options import Options
from sandbox.runner import SandboxProcess
from tests.conftest import (
    SandboxControl,
    codes,
    gateway_client,
    gql,
    sandbox_settings,
)


@pytest.fixture(scope="module")
def persisting() -> Iterator[SandboxProcess]:
    """A notifications service that stores what it is sent (the release does not)."""
    options = Options(fixes=frozenset({"notifications-persist"}))
    with SandboxProcess(["notifications"], options=options) as sb:
        yield sb


LIST = """
query($first: Int, $after: String) {
  notifications(first: $first, after: $after) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node {
      id title message notificationType priority status channels recipients
      createdAt updatedAt sentAt deliveryAttempts
    } }
  }
}
"""
COUNT = "query($first: Int) { notifications(first: $first) { totalCount edges { cursor } } }"
SEND = """
mutation($input: SendNotificationInput!) {
  sendNotification(input: $input) {
    notification {
      id title message notificationType priority status channels recipients scheduledAt sentAt
    }
    userErrors { field message code }
  }
}
"""


def message(**extra: Any) -> dict[str, Any]:
    return {
        "title": f"Graph test {uuid.uuid4().hex[:8]}",
        "message": "Freezer F-80-03 is back in range.",
        "notificationType": "ALERT",
        "priority": "HIGH",
        "channels": ["EMAIL", "IN_APP"],
        "recipients": ["tech@tracseq.lab"],
        **extra,
    }


async def test_notifications_in_pascal_case_page_forward_with_one_call_per_page(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        first = (await gql(client, LIST, first=5))["data"]["notifications"]
        after = first["pageInfo"]["endCursor"]
        second = (await gql(client, LIST, first=5, after=after))["data"]["notifications"]
        both = (await gql(client, LIST, first=10))["data"]["notifications"]
        assert control.requests() == control.requests("notifications") == 3
    ids = [e["node"]["id"] for e in first["edges"] + second["edges"]]
    assert ids == [e["node"]["id"] for e in both["edges"]]
    assert len(set(ids)) == 10
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert second["pageInfo"]["hasPreviousPage"] is True
    node = first["edges"][0]["node"]
    assert node["notificationType"].isupper()
    assert node["priority"].isupper()
    assert all(c.isupper() for c in node["channels"])
    created = [e["node"]["createdAt"] for e in both["edges"]]
    assert created == sorted(created, reverse=True)


async def test_total_count_is_free_on_the_last_page_and_one_call_otherwise(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        whole = (await gql(client, COUNT, first=999))["data"]["notifications"]
        assert control.requests("notifications") == 1
        control.reset_stats()
        window = (await gql(client, COUNT, first=2))["data"]["notifications"]
        assert control.requests("notifications") == 2  # the page, and one counting call
        control.reset_stats()
        empty = (await gql(client, COUNT, first=0))["data"]["notifications"]
        assert control.requests("notifications") == 2
    assert whole["totalCount"] == len(whole["edges"]) >= 30
    assert window["totalCount"] == whole["totalCount"]
    assert len(window["edges"]) == 2
    assert empty == {"totalCount": whole["totalCount"], "edges": []}


async def test_send_notification_that_the_release_does_not_store_is_unsupported(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        sent = await gql(client, SEND, input=message())
        # The send (accepted: the enums went PascalCase), then the read-back that tells.
        assert control.by_route("notifications") == {
            "POST /notifications": 1,
            "GET /notifications/{notification_id}": 1,
        }
    assert sent["data"] == {"sendNotification": None}
    [error] = sent["errors"]
    assert error["extensions"] == {"code": "UPSTREAM_UNSUPPORTED", "service": "notifications"}
    assert "accepted the notification but did not store it" in error["message"]


async def test_send_notification_answers_what_a_storing_service_stored(
    sandbox: Any, persisting: SandboxProcess
) -> None:
    urls = {**sandbox.urls, "notifications": persisting.urls["notifications"]}
    async with gateway_client(sandbox_settings(sandbox, upstream_urls=urls)) as client:
        sent = await gql(client, SEND, input=message())
        listed = await gql(client, LIST, first=1)
        scheduled = await gql(
            client,
            SEND,
            input=message(
                notificationType="REMINDER",
                priority="LOW",
                channels=["SLACK"],
                scheduledAt="2030-01-01T08:00:00Z",
            ),
        )
        defaults = await gql(
            client,
            SEND,
            input={
                "title": "Defaults",
                "message": "m",
                "notificationType": "INFO",
                "recipients": ["pi@tracseq.lab"],
            },
        )
    assert "errors" not in sent, sent
    assert sent["data"]["sendNotification"]["userErrors"] == []
    notification = sent["data"]["sendNotification"]["notification"]
    assert notification["notificationType"] == "ALERT"
    assert notification["priority"] == "HIGH"
    assert notification["status"] == "PENDING"
    assert notification["channels"] == ["EMAIL", "IN_APP"]
    assert notification["recipients"] == ["tech@tracseq.lab"]
    assert notification["sentAt"] is None
    assert listed["data"]["notifications"]["edges"][0]["node"]["id"] == notification["id"]
    later = scheduled["data"]["sendNotification"]["notification"]
    assert later["status"] == "SCHEDULED"
    assert later["sentAt"] is None
    assert later["scheduledAt"].startswith("2030-01-01T08:00:00")
    plain = defaults["data"]["sendNotification"]["notification"]
    assert (plain["priority"], plain["channels"]) == ("MEDIUM", ["IN_APP"])


async def test_bad_notifications_reach_no_upstream(sandbox: Any, control: SandboxControl) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        fixable = [
            await gql(client, SEND, input=message(title="  ")),
            await gql(client, SEND, input=message(recipients=[])),
            await gql(client, SEND, input=message(recipients=["ok@tracseq.lab", " "])),
            await gql(client, SEND, input=message(channels=[])),
        ]
        invalid = [
            await gql(client, SEND, input=message(priority="WHENEVER")),
            await gql(client, LIST, first=-1),
            await gql(client, LIST, first=1000),
            await gql(client, LIST, first=1, after="not a cursor"),
        ]
        assert control.requests() == 0
    fields = []
    for body in fixable:
        assert "errors" not in body, body
        payload = body["data"]["sendNotification"]
        assert payload["notification"] is None
        [error] = payload["userErrors"]
        assert error["code"] == "INVALID"
        fields.append(error["field"])
    assert fields == [
        ["input", "title"],
        ["input", "recipients"],
        ["input", "recipients", "1"],
        ["input", "channels"],
    ]
    for body in invalid:
        assert codes(body) == ["BAD_USER_INPUT"], body


async def test_notifications_down_nulls_only_the_notification_fields(
    sandbox: Any, control: SandboxControl
) -> None:
    query = (
        "{ notifications(first: 2) { edges { node { id } } } templates(first: 1) { totalCount } }"
    )
    control.fault("notifications", status=503, times=None)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        body = await gql(client, query)
        sent = await gql(client, SEND, input=message())
    assert body["data"]["notifications"] is None
    assert body["data"]["templates"]["totalCount"] >= 12
    for result in (body, sent):
        pairs = {(e["extensions"]["code"], e["extensions"]["service"]) for e in result["errors"]}
        assert pairs == {("UPSTREAM_UNAVAILABLE", "notifications")}
    assert sent["data"] == {"sendNotification": None}

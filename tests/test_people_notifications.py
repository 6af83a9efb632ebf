"""Notifications for the caller, filters and orders the release ignores (done by the gateway
over a bounded scan), refetching by id, and values the schema cannot represent."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.options import Options
from sandbox.runner import SandboxProcess
from sandbox.tokens import mint_token
from tests.conftest import SandboxControl, codes, gateway_client, gql, sandbox_settings
from tests.loopback import serve

RANK = ["LOW", "MEDIUM", "HIGH", "CRITICAL", "URGENT"]
LIST = """query(
  $recipient: NotificationRecipient, $statuses: [NotificationStatus!],
  $priorities: [NotificationPriority!], $channels: [NotificationChannel!],
  $createdAfter: DateTime, $orderBy: NotificationOrder, $first: Int, $after: String
) {
  notifications(
    recipient: $recipient, statuses: $statuses, priorities: $priorities, channels: $channels,
    createdAfter: $createdAfter, orderBy: $orderBy, first: $first, after: $after
  ) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id title status priority channels recipients createdAt }
  }
}"""
SEND = """mutation($input: SendNotificationInput!) {
  sendNotification(input: $input) { notification { id } userErrors { code } }
}"""


@pytest.fixture(scope="module")
def persisting() -> Iterator[SandboxProcess]:
    """A notifications service that stores what it is sent (the release does not)."""
    options = Options(fixes=frozenset({"notifications-persist"}))
    with SandboxProcess(["notifications"], options=options) as sb:
        yield sb


def wire(sandbox: Any) -> list[dict[str, Any]]:
    response = httpx.get(f"{sandbox.urls['notifications']}/notifications", params={"limit": 1000})
    records: list[dict[str, Any]] = response.json()
    return records


async def test_my_notifications_match_the_callers_id_and_email(
    sandbox: Any, persisting: SandboxProcess
) -> None:
    user_id = str(uuid.uuid4())
    email = f"picker-{user_id[:8]}@tests.tracseq.lab"
    tech = mint_token("lab_technician", user_id=user_id, email=email)
    marker = f"For-me {uuid.uuid4().hex[:8]}"
    urls = {**sandbox.urls, "notifications": persisting.urls["notifications"]}
    settings = sandbox_settings(sandbox, upstream_urls=urls)
    base = {"message": "m", "notificationType": "INFO"}
    async with gateway_client(settings) as admin:
        for title, recipients in (
            (f"{marker} by id", [user_id.upper()]),
            (f"{marker} by email", ["someone@tracseq.lab", email.upper()]),
            (f"{marker} not mine", ["someone@tracseq.lab"]),
        ):
            sent = await gql(admin, SEND, input={**base, "title": title, "recipients": recipients})
            assert sent["data"]["sendNotification"]["userErrors"] == [], sent
    async with gateway_client(settings, token=tech) as client:
        mine = await gql(client, LIST, recipient="ME", first=999)
    assert "errors" not in mine, mine
    titles = [n["title"] for n in mine["data"]["notifications"]["nodes"]]
    assert [t for t in titles if t.startswith(marker)] == [f"{marker} by email", f"{marker} by id"]
    assert mine["data"]["notifications"]["totalCount"] == len(titles)


async def test_status_priority_and_channel_filters_are_applied_by_the_gateway(
    sandbox: Any, control: SandboxControl
) -> None:
    records = wire(sandbox)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        failed = await gql(client, LIST, statuses=["FAILED"], first=2)
        rest = await gql(
            client,
            LIST,
            statuses=["FAILED"],
            first=50,
            after=failed["data"]["notifications"]["pageInfo"]["endCursor"],
        )
        # The release ignores filters: the list is read whole, one page of 1000 a time.
        assert control.by_route("notifications") == {"GET /notifications": 2}
        urgent_slack = await gql(client, LIST, priorities=["URGENT"], channels=["SLACK"], first=100)
    for body in (failed, rest, urgent_slack):
        assert "errors" not in body, body
    expected = [r["id"] for r in records if r["status"] == "Failed"]
    assert expected
    got = failed["data"]["notifications"]["nodes"] + rest["data"]["notifications"]["nodes"]
    assert [n["id"] for n in got] == expected
    assert failed["data"]["notifications"]["totalCount"] == len(expected)
    assert {n["status"] for n in got} == {"FAILED"}
    both = [r["id"] for r in records if r["priority"] == "Urgent" and "Slack" in r["channels"]]
    assert [n["id"] for n in urgent_slack["data"]["notifications"]["nodes"]] == both


async def test_order_by_priority_and_created_after(sandbox: Any) -> None:
    records = wire(sandbox)
    middle = sorted(r["created_at"] for r in records)[len(records) // 2]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        by_priority = await gql(
            client, LIST, orderBy={"field": "PRIORITY", "direction": "DESC"}, first=100
        )
        oldest = await gql(
            client, LIST, orderBy={"field": "CREATED_AT", "direction": "ASC"}, first=100
        )
        recent = await gql(client, LIST, createdAfter=middle, first=100)
    for body in (by_priority, oldest, recent):
        assert "errors" not in body, body
    ranks = [RANK.index(n["priority"]) for n in by_priority["data"]["notifications"]["nodes"]]
    assert ranks == sorted(ranks, reverse=True)
    assert len(ranks) == len(records)
    created = [n["createdAt"] for n in oldest["data"]["notifications"]["nodes"]]
    assert created == sorted(created)
    kept = recent["data"]["notifications"]["nodes"]
    assert len(kept) == len([r for r in records if r["created_at"] >= middle])


async def test_a_filter_over_more_than_the_scan_limit_is_unsupported(sandbox: Any) -> None:
    settings = sandbox_settings(sandbox, max_scan_items=10)
    async with gateway_client(settings) as client:
        filtered = await gql(client, LIST, statuses=["SENT"], first=5)
        plain = await gql(client, LIST, first=5)
    assert filtered["data"] == {"notifications": None}
    [error] = filtered["errors"]
    assert error["extensions"] == {"code": "UPSTREAM_UNSUPPORTED", "service": "notifications"}
    assert "TRACSEQ_MAX_SCAN_ITEMS" in error["message"]
    assert "errors" not in plain, plain


async def test_notifications_refetch_through_node(sandbox: Any) -> None:
    one = wire(sandbox)[0]
    query = """query($id: ID!) { node(id: $id) { __typename id ... on Notification { title } } }"""
    async with gateway_client(sandbox_settings(sandbox), role="data_analyst") as client:
        body = await gql(client, query, id=one["id"])
    assert body == {
        "data": {"node": {"__typename": "Notification", "id": one["id"], "title": one["title"]}}
    }


def _notification(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "6e2f8a0b-1111-4222-8333-444455556666",
        "title": "Contract breaker",
        "message": "m",
        "notification_type": "Info",
        "priority": "Low",
        "status": "Sent",
        "channels": ["Email"],
        "recipients": ["a@tracseq.lab"],
        "template_id": None,
        "template_data": None,
        "scheduled_at": None,
        "sent_at": None,
        "delivery_attempts": 1,
        "metadata": {},
        "created_by": "6e2f8a0b-9999-4222-8333-444455556666",
        "created_at": "2024-03-01T10:00:00.123456Z",
        "updated_at": "2024-03-01T10:00:00.123456Z",
    }
    return record | changes


@contextlib.asynccontextmanager
async def _notifications_service(records: list[dict[str, Any]]) -> AsyncIterator[str]:
    """A notifications service on a free loopback port that lists ``records``."""

    async def listing(request: Request) -> JSONResponse:
        return JSONResponse(records)

    app = Starlette(routes=[Route("/notifications", listing)])
    async with serve(app) as url:
        yield url


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"channels": ["Email", "Fax", "Pigeon"]}, "channels"),
        ({"priority": "Whenever"}, "priority"),
        ({"title": None}, "title"),
        ({"notification_type": None}, "notification_type"),
    ],
)
async def test_an_unrepresentable_notification_value_is_one_upstream_bad_response(
    sandbox: Any, changes: dict[str, Any], field: str
) -> None:
    query = """{
      notifications(first: 5) { nodes { title notificationType priority channels } }
      templates(first: 1) { totalCount }
    }"""
    async with _notifications_service([_notification(**changes)]) as url:
        settings = sandbox_settings(sandbox)
        settings = dataclasses.replace(
            settings, upstream_urls={**settings.upstream_urls, "notifications": url}
        )
        async with gateway_client(settings) as client:
            body = await gql(client, query)
    assert body["data"]["notifications"] is None
    assert body["data"]["templates"]["totalCount"] >= 12
    [error] = body["errors"]
    assert error["extensions"] == {
        "code": "UPSTREAM_BAD_RESPONSE",
        "service": "notifications",
        "field": field,
    }
    assert codes(body) == ["UPSTREAM_BAD_RESPONSE"]

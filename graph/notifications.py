"""Notifications: the notification list (with the caller's own), and sending one.

The release lists notifications newest first and ignores every filter it is sent
(UPSTREAMS.md, "## notifications"): without filters and in the default order the list is
paged by the service (one call per page); any filter or another order reads the list
whole (bounded by TRACSEQ_MAX_SCAN_ITEMS) and filters, sorts and pages it here.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.nodes import Node, register
from graph.ordering import OrderDirection, sort_records
from graph.pagination import (
    After,
    Before,
    Edge,
    First999,
    Last999,
    PageInfo,
    connection_args,
    edges_of,
    page_info_of,
)
from graph.payloads import UserError, attempt, user_errors_field
from graph.permissions import requires
from graph.values import member, required
from resolvers import notifications as notification_resolvers
from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.live import NOTIFICATIONS, Watch, changes
from resolvers.notifications import NotificationFilter
from resolvers.pagination import Slice
from security import rbac
from upstreams.errors import UpstreamBadResponse

if TYPE_CHECKING:
    from graph.users import Person

LazyPerson = Annotated["Person", strawberry.lazy("graph.users")]
SERVICE = "notifications"


@strawberry.enum(description="What a notification is about.")
class NotificationType(Enum):
    ALERT = strawberry.enum_value("alert", description="Something needs attention now.")
    INFO = strawberry.enum_value("info", description="For information.")
    WARNING = strawberry.enum_value("warning", description="Something may go wrong.")
    ERROR = strawberry.enum_value("error", description="Something went wrong.")
    SUCCESS = strawberry.enum_value("success", description="Something finished well.")
    REMINDER = strawberry.enum_value("reminder", description="A reminder of something due.")
    UPDATE = strawberry.enum_value("update", description="Something changed.")
    SYSTEM = strawberry.enum_value("system", description="About the LIMS itself.")


@strawberry.enum(
    description="How urgent a notification is, lowest first: LOW < MEDIUM < HIGH < CRITICAL "
    "< URGENT (the notifications service's order). Not the scale of sequencing jobs "
    "(`JobPriority`: LOW < NORMAL < HIGH < URGENT < CRITICAL): there URGENT is below "
    "CRITICAL, here above it, and MEDIUM stands where jobs have NORMAL."
)
class NotificationPriority(Enum):
    LOW = strawberry.enum_value("low", description="The lowest urgency.")
    MEDIUM = strawberry.enum_value("medium", description="The usual urgency (the default).")
    HIGH = strawberry.enum_value("high", description="Above the usual.")
    CRITICAL = strawberry.enum_value("critical", description="Second highest.")
    URGENT = strawberry.enum_value("urgent", description="The highest urgency.")


# Ranks for sorting by priority, lowest first.
_PRIORITY_RANK: dict[Any, int] = {str(p.value): i for i, p in enumerate(NotificationPriority)}


@strawberry.enum(description="Where a notification is in its delivery.")
class NotificationStatus(Enum):
    PENDING = strawberry.enum_value("pending", description="Queued, not sent yet.")
    SCHEDULED = strawberry.enum_value(
        "scheduled", description="Waiting for its `scheduledAt` time."
    )
    SENDING = strawberry.enum_value("sending", description="Being sent now.")
    SENT = strawberry.enum_value("sent", description="Handed to its channels.")
    DELIVERED = strawberry.enum_value("delivered", description="Its channels confirmed it.")
    FAILED = strawberry.enum_value("failed", description="Could not be sent.")
    CANCELLED = strawberry.enum_value("cancelled", description="Withdrawn before sending.")
    RETRYING = strawberry.enum_value("retrying", description="Being sent again after a failure.")


@strawberry.enum(description="A way a notification reaches its recipients.")
class NotificationChannel(Enum):
    EMAIL = strawberry.enum_value("email", description="Email.")
    SMS = strawberry.enum_value("sms", description="Text message.")
    SLACK = strawberry.enum_value("slack", description="A Slack message.")
    TEAMS = strawberry.enum_value("teams", description="A Microsoft Teams message.")
    DISCORD = strawberry.enum_value("discord", description="A Discord message.")
    WEBHOOK = strawberry.enum_value("webhook", description="An HTTP call to a webhook.")
    PUSH = strawberry.enum_value("push", description="A mobile push notification.")
    IN_APP = strawberry.enum_value("in_app", description="Shown inside the LIMS.")


@strawberry.enum(description="Whose notifications a list holds.")
class NotificationRecipient(Enum):
    ME = strawberry.enum_value(
        "me",
        description="Those addressed to the caller: a recipient that is the caller's user "
        "id or email (case-insensitive).",
    )


@strawberry.enum(description="What a notification list can be sorted by.")
class NotificationOrderField(Enum):
    CREATED_AT = strawberry.enum_value("created_at", description="When it was created.")
    SCHEDULED_AT = strawberry.enum_value(
        "scheduled_at", description="When it is to be sent (unscheduled ones last)."
    )
    PRIORITY = strawberry.enum_value(
        "priority", description="Its priority, on the scale of `NotificationPriority`."
    )


@strawberry.input(description="The order of a notification list.")
class NotificationOrder:
    field: NotificationOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(description="Which way.")


def _channels(values: Any) -> Any:
    if not isinstance(values, list):
        return UpstreamBadResponse.for_value(SERVICE, "channels", values)
    channels = [member(NotificationChannel, c, service=SERVICE, field="channels") for c in values]
    # One unknown channel fails the field once, not one error per item.
    return next((c for c in channels if isinstance(c, Exception)), channels)


def _recipients(values: Any) -> Any:
    if not isinstance(values, list):
        return UpstreamBadResponse.for_value(SERVICE, "recipients", values)
    return [str(x) for x in values]


@strawberry.type(description="A message sent to people of the lab over one or more channels.")
class Notification(Node):
    id: strawberry.ID = strawberry.field(description="The notification's id (a UUID).")
    title: str = strawberry.field(description="Its subject line.")
    message: str = strawberry.field(description="Its text.")
    notification_type: NotificationType = strawberry.field(description="What it is about.")
    priority: NotificationPriority = strawberry.field(
        description="How urgent it is (not the job priority scale: see `NotificationPriority`)."
    )
    status: NotificationStatus = strawberry.field(description="Where it is in its delivery.")
    channels: list[NotificationChannel] = strawberry.field(
        description="The ways it is sent, in the order given."
    )
    recipients: list[str] = strawberry.field(
        description="Who it is for, as the sender wrote them: emails or user ids."
    )
    metadata: JSON | None = strawberry.field(
        description="Caller-defined data sent with it (free-form JSON: the service does not "
        "interpret it)."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    scheduled_at: datetime | None = strawberry.field(
        description="When it is to be sent; null: at once."
    )
    sent_at: datetime | None = strawberry.field(description="When it was sent; null: not yet.")
    delivery_attempts: int = strawberry.field(description="How many times sending was tried.")
    _created_by: strawberry.Private[str | None]

    @strawberry.field(
        description="Who sent it, as a profile every lab role may read (one auth call per "
        "distinct sender); null when auth no longer knows the user."
    )
    async def created_by(self, info: Info[Context, None]) -> LazyPerson | None:
        from graph.users import person

        return await person(info, self._created_by)

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Notification:
        created_by = r.get("created_by")
        return cls(
            id=strawberry.ID(str(r["id"])),
            title=required(r, "title", service=SERVICE),
            message=required(r, "message", service=SERVICE),
            notification_type=member(
                NotificationType,
                required(r, "notification_type", service=SERVICE),
                service=SERVICE,
                field="notification_type",
            ),
            priority=member(
                NotificationPriority,
                required(r, "priority", service=SERVICE),
                service=SERVICE,
                field="priority",
            ),
            status=member(
                NotificationStatus,
                required(r, "status", service=SERVICE),
                service=SERVICE,
                field="status",
            ),
            channels=_channels(r.get("channels")),
            recipients=_recipients(r.get("recipients")),
            metadata=r.get("metadata"),
            created_at=required(r, "created_at", service=SERVICE),
            updated_at=required(r, "updated_at", service=SERVICE),
            scheduled_at=r.get("scheduled_at"),
            sent_at=r.get("sent_at"),
            delivery_attempts=required(r, "delivery_attempts", service=SERVICE),
            _created_by=None if created_by is None else str(created_by),
        )


async def _fetch(ctx: Context, ids: Sequence[str]) -> list[Notification | None]:
    records = await notification_resolvers.by_ids(ctx, ids)
    return [None if r is None else Notification.from_record(r) for r in records]


register("Notification", rbac.READ_LIMS, _fetch)


@strawberry.type(description="A page of notifications, with cursors to move on.")
class NotificationConnection:
    edges: list[Edge[Notification]] = strawberry.field(
        description="The page's items with their cursors."
    )
    nodes: list[Notification] = strawberry.field(description="The page's items, without cursors.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    _total: strawberry.Private[int | None]

    @strawberry.field(
        description="How many notifications the list holds (under the same filters); "
        "without filters, counting takes extra calls unless this is the last page."
    )
    async def total_count(self, info: Info[Context, None]) -> int:
        if self._total is not None:
            return self._total
        return await notification_resolvers.count(info.context)

    @classmethod
    def of(cls, page: Slice[dict[str, Any]]) -> NotificationConnection:
        nodes = [Notification.from_record(r) for r in page.items]
        return cls(
            edges=edges_of(page, nodes),
            nodes=nodes,
            page_info=page_info_of(page),
            _total=page.total,
        )


@strawberry.input(description="A notification to send now, or at `scheduledAt`.")
class SendNotificationInput:
    title: str = strawberry.field(description="Its subject line; not empty.")
    message: str = strawberry.field(description="Its text; not empty.")
    notification_type: NotificationType = strawberry.field(description="What it is about.")
    priority: NotificationPriority = strawberry.field(
        default=NotificationPriority.MEDIUM,
        description="How urgent it is (the notification scale, not the job one).",
    )
    channels: list[NotificationChannel] = strawberry.field(
        default_factory=lambda: [NotificationChannel.IN_APP],
        description="The ways to send it (at least one; repeats are sent once).",
    )
    recipients: list[str] = strawberry.field(
        description="Who it is for: emails or user ids (a `Person`'s id), at least one."
    )
    scheduled_at: datetime | None = strawberry.field(
        default=None, description="When to send it; null: at once."
    )


@strawberry.type(description="The outcome of `sendNotification`.")
class SendNotificationPayload:
    notification: Notification | None = strawberry.field(
        default=None,
        description="The notification as the service stored it; null when userErrors is not empty.",
    )
    user_errors: list[UserError] = user_errors_field()


def _validate(input: SendNotificationInput) -> dict[str, Any]:
    """The wire body; what is wrong is a user error naming the input's field."""
    for name, value in (("title", input.title), ("message", input.message)):
        if not value.strip():
            raise BadUserInput(f"`{name}` must not be empty", field=["input", name])
    if not input.recipients:
        raise BadUserInput(
            "`recipients` must name at least one recipient", field=["input", "recipients"]
        )
    for i, recipient in enumerate(input.recipients):
        if not recipient.strip():
            raise BadUserInput(
                f"`recipients[{i}]` must not be empty", field=["input", "recipients", str(i)]
            )
    if not input.channels:
        raise BadUserInput("`channels` must name at least one channel", field=["input", "channels"])
    body: dict[str, Any] = {
        "title": input.title.strip(),
        "message": input.message.strip(),
        "notification_type": input.notification_type.value,
        "priority": input.priority.value,
        "channels": list(dict.fromkeys(c.value for c in input.channels)),
        "recipients": [r.strip() for r in input.recipients],
    }
    if input.scheduled_at is not None:
        body["scheduled_at"] = input.scheduled_at.isoformat()
    return body


def _values(members: Sequence[Enum] | None) -> set[str] | None:
    """The wire values of a filter's enum members; None: no filter."""
    return None if members is None else {str(m.value) for m in members}


def _order_key(order: NotificationOrder) -> Any:
    if order.field is NotificationOrderField.PRIORITY:
        return lambda r: _PRIORITY_RANK.get(r.get("priority"))
    name = order.field.value
    return lambda r: r.get(name)


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Notifications, newest first unless `orderBy` says otherwise. The "
        "release ignores filters: with any filter or `orderBy` the gateway reads the whole "
        "list (at most TRACSEQ_MAX_SCAN_ITEMS notifications, else UPSTREAM_UNSUPPORTED) and "
        "filters, sorts and pages it itself. A page holds at most 999 (`first`/`last`): one less "
        "than the service answers in one call, which tells whether another page follows.",
    )
    async def notifications(
        self,
        info: Info[Context, None],
        recipient: Annotated[
            NotificationRecipient | None,
            strawberry.argument(description="`ME`: only those addressed to the caller."),
        ] = None,
        statuses: Annotated[
            list[NotificationStatus] | None,
            strawberry.argument(description="Only notifications in one of these statuses."),
        ] = None,
        notification_types: Annotated[
            list[NotificationType] | None,
            strawberry.argument(description="Only notifications of one of these types."),
        ] = None,
        priorities: Annotated[
            list[NotificationPriority] | None,
            strawberry.argument(description="Only notifications of one of these priorities."),
        ] = None,
        channels: Annotated[
            list[NotificationChannel] | None,
            strawberry.argument(description="Only notifications sent on any of these channels."),
        ] = None,
        created_after: Annotated[
            datetime | None,
            strawberry.argument(description="Only notifications created at or after this time."),
        ] = None,
        created_before: Annotated[
            datetime | None,
            strawberry.argument(description="Only notifications created before this time."),
        ] = None,
        order_by: Annotated[
            NotificationOrder | None,
            strawberry.argument(description="The order; default: newest first (the service's)."),
        ] = None,
        first: First999 = None,
        after: After = None,
        last: Last999 = None,
        before: Before = None,
    ) -> NotificationConnection | None:
        ctx = info.context
        request = connection_args(
            ctx, first, after, last, before, maximum=notification_resolvers.max_first(ctx)
        )
        filters = NotificationFilter(
            recipients=notification_resolvers.caller_addresses(ctx)
            if recipient is NotificationRecipient.ME
            else None,
            statuses=_values(statuses),
            types=_values(notification_types),
            priorities=_values(priorities),
            channels=_values(channels),
            created_after=created_after,
            created_before=created_before,
        )
        if filters.empty and order_by is None:
            page = await notification_resolvers.notifications_page(ctx, request)
        else:
            sort = None
            if order_by is not None:
                key, direction = _order_key(order_by), order_by.direction

                def sort(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
                    return sort_records(records, key, direction)

            page = await notification_resolvers.filtered_page(ctx, request, filters, sort)
        return NotificationConnection.of(page)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[requires(rbac.ADMINISTER)],
        description="Send a notification; the payload holds the notification as the "
        "service stored it. A service that accepts it without storing it (the TracSeq "
        "release) is an UPSTREAM_UNSUPPORTED error: nothing will be sent.",
    )
    async def send_notification(
        self,
        info: Info[Context, None],
        input: Annotated[
            SendNotificationInput, strawberry.argument(description="What to send, to whom.")
        ],
    ) -> SendNotificationPayload | None:
        async def work() -> SendNotificationPayload:
            record = await notification_resolvers.send(info.context, _validate(input))
            return SendNotificationPayload(notification=Notification.from_record(record))

        return await attempt(SendNotificationPayload, work())


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Each new notification addressed to the caller (a recipient that is its "
        "user id or email): one sent through any gateway replica at once, one the "
        "notifications service lists within TRACSEQ_SUBSCRIPTION_POLL_INTERVAL. (The TracSeq "
        "release stores no notification it is sent: there, only those it lists appear.)",
    )
    async def notification_received(
        self, info: Info[Context, None]
    ) -> AsyncGenerator[Notification, None]:
        ctx = info.context
        addressed = NotificationFilter(recipients=notification_resolvers.caller_addresses(ctx))
        watch = Watch(keeps=addressed.keeps)
        return (
            Notification.from_record({**c.record}) async for c in changes(ctx, NOTIFICATIONS, watch)
        )

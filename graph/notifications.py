"""Notifications: the notification list and sending one."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from graph.pagination import After, Before, Edge, First, Last, PageInfo, connection_args
from graph.permissions import requires
from graph.values import member
from resolvers import notifications as notification_resolvers
from resolvers import users as user_resolvers
from resolvers.context import Context
from security import rbac

if TYPE_CHECKING:
    from graph.users import User

LazyUser = Annotated["User", strawberry.lazy("graph.users")]


@strawberry.enum(description="What a notification is about.")
class NotificationType(Enum):
    ALERT = "alert"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    SUCCESS = "success"
    REMINDER = "reminder"
    UPDATE = "update"
    SYSTEM = "system"


@strawberry.enum(description="How urgent a notification is.")
class NotificationPriority(Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"
    URGENT = "urgent"


@strawberry.enum(description="Where a notification is in its delivery.")
class NotificationStatus(Enum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRYING = "retrying"


@strawberry.enum(description="A way a notification reaches its recipients.")
class NotificationChannel(Enum):
    EMAIL = "email"
    SMS = "sms"
    SLACK = "slack"
    TEAMS = "teams"
    DISCORD = "discord"
    WEBHOOK = "webhook"
    PUSH = "push"
    IN_APP = "in_app"


@strawberry.type(description="A message sent to people of the lab over one or more channels.")
class Notification:
    id: strawberry.ID
    title: str
    message: str
    notification_type: NotificationType
    priority: NotificationPriority
    status: NotificationStatus | None
    channels: list[NotificationChannel]
    recipients: list[str]
    created_at: datetime | None
    scheduled_at: datetime | None
    sent_at: datetime | None
    delivery_attempts: int
    created_by_id: strawberry.ID | None

    @strawberry.field(
        description="The user who sent it (administrators).",
        permission_classes=[requires(rbac.ADMINISTER)],
    )
    async def created_by(self, info: Info[Context, None]) -> LazyUser | None:
        from graph.users import User

        if self.created_by_id is None:
            return None
        record = await user_resolvers.user_by_id(info.context, str(self.created_by_id))
        return None if record is None else User.from_record(record)

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Notification:
        status, created_by = r.get("status"), r.get("created_by")
        return cls(
            id=strawberry.ID(str(r["id"])),
            title=r.get("title") or "",
            message=r.get("message") or "",
            notification_type=member(
                NotificationType,
                r.get("notification_type"),
                service="notifications",
                field="notification_type",
            ),
            priority=member(
                NotificationPriority, r.get("priority"), service="notifications", field="priority"
            ),
            status=member(NotificationStatus, status, service="notifications", field="status"),
            channels=[
                member(NotificationChannel, c, service="notifications", field="channels")
                for c in r.get("channels") or ()
            ],
            recipients=[str(x) for x in r.get("recipients") or ()],
            created_at=r.get("created_at"),
            scheduled_at=r.get("scheduled_at"),
            sent_at=r.get("sent_at"),
            delivery_attempts=int(r.get("delivery_attempts") or 0),
            created_by_id=None if created_by is None else strawberry.ID(str(created_by)),
        )


@strawberry.type(description="A page of notifications, newest first, with cursors to move on.")
class NotificationConnection:
    edges: list[Edge[Notification]] = strawberry.field(
        description="The page's items with their cursors."
    )
    nodes: list[Notification] = strawberry.field(description="The page's items, without cursors.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    _total: strawberry.Private[int | None]

    @strawberry.field(
        description="Every notification; counting may take extra calls unless this is the "
        "last page."
    )
    async def total_count(self, info: Info[Context, None]) -> int:
        if self._total is not None:
            return self._total
        return await notification_resolvers.count(info.context)


@strawberry.input(description="A notification to send now, or at `scheduledAt`.")
class SendNotificationInput:
    title: str
    message: str
    notification_type: NotificationType
    priority: NotificationPriority = NotificationPriority.MEDIUM
    channels: list[NotificationChannel] = strawberry.field(
        default_factory=lambda: [NotificationChannel.IN_APP]
    )
    recipients: list[str] = strawberry.field(description="Email addresses or user ids.")
    scheduled_at: datetime | None = None


def _wire(input: SendNotificationInput) -> dict[str, Any]:
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


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Notifications, newest first, as a cursor connection.",
    )
    async def notifications(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> NotificationConnection | None:
        ctx = info.context
        request = connection_args(
            ctx, first, after, last, before, maximum=notification_resolvers.max_first(ctx)
        )
        page = await notification_resolvers.notifications_page(ctx, request)
        nodes = [Notification.from_record(r) for r in page.items]
        edges = [Edge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)]
        page_info = PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        )
        return NotificationConnection(
            edges=edges, nodes=nodes, page_info=page_info, _total=page.total
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[requires(rbac.ADMINISTER)],
        description="Send a notification; answers the notification as the service stored "
        "it. A service that accepts it without storing it (the TracSeq release) is an "
        "UPSTREAM_UNSUPPORTED error.",
    )
    async def send_notification(
        self, info: Info[Context, None], input: SendNotificationInput
    ) -> Notification | None:
        record = await notification_resolvers.send(info.context, _wire(input))
        return Notification.from_record(record)

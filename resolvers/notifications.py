"""Root resolvers for notifications.

The service pages by ``limit``/``offset`` and answers a bare array without a total. A
window asks for one item more than it shows, which tells whether there is a next page; the
total is then known for free on the last page, and otherwise counted (in pages of the
service's maximum) only when a client asks for ``totalCount``.

Sending: the release answers a receipt for every valid notification but stores (and
sends) nothing, so the id it returns answers 404. The gateway reads the notification back
by id after the send: a 404 then is ``UPSTREAM_UNSUPPORTED`` (accepted but not stored),
never a success; where the service does store it, the mutation answers what was stored.

Filters and orders: the release parses ``status``, ``channel``, ``priority``, ``user_id``
and the dates but ignores them. A filtered or re-ordered list is read whole, a full page
(1000) at a time, at most ``TRACSEQ_MAX_SCAN_ITEMS`` notifications, then filtered, sorted
and paged here. Recipients are free strings (emails or user ids): "the caller's" matches
its user id and its email, case-insensitively.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from resolvers.context import Context
from resolvers.live import NOTIFICATIONS
from resolvers.pagination import PageRequest, Slice, paginate, paginate_list
from upstreams.errors import UpstreamNotFound, UpstreamUnsupported

Record = dict[str, Any]

# The service answers at most this many per call (UPSTREAMS.md).
MAX_LIMIT = 1000


def max_first(ctx: Context) -> int:
    """The largest ``first`` a window may ask for: one less than a call can answer."""
    return min(ctx.max_page_size, MAX_LIMIT - 1)


async def notifications_page(ctx: Context, request: PageRequest) -> Slice[Record]:
    """The page of notifications ``request`` asks for; its total only when it is known
    for free (the list ended within the calls made)."""

    async def read(start: int, end: int) -> tuple[list[Record], int | None]:
        if start == end:
            return [], await count(ctx)
        # One call answers at most MAX_LIMIT: a longer range takes more, since a short
        # answer would say the list ends there.
        records: list[Record] = []
        while start + len(records) < end:
            offset = start + len(records)
            chunk = await ctx.upstreams.notifications.list(
                ctx.call, limit=min(end - offset, MAX_LIMIT), offset=offset
            )
            records += chunk
            if len(chunk) < min(end - offset, MAX_LIMIT):
                break
        return records, None

    return await paginate(request, read, counted=False)


async def count(ctx: Context) -> int:
    """Every notification, counted a full page at a time."""
    total = 0
    while True:
        page = await ctx.upstreams.notifications.list(ctx.call, limit=MAX_LIMIT, offset=total)
        total += len(page)
        if len(page) < MAX_LIMIT:
            return total


@dataclass(frozen=True, slots=True)
class NotificationFilter:
    """What a filtered list keeps; None (or an empty set of recipients) keeps everything."""

    recipients: frozenset[str] | None = None  # lowercased emails / canonical ids
    statuses: set[str] | None = None
    types: set[str] | None = None
    priorities: set[str] | None = None
    channels: set[str] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    @property
    def empty(self) -> bool:
        return all(
            v is None
            for v in (
                self.recipients,
                self.statuses,
                self.types,
                self.priorities,
                self.channels,
                self.created_after,
                self.created_before,
            )
        )

    def keeps(self, r: Record) -> bool:
        if self.statuses is not None and r.get("status") not in self.statuses:
            return False
        if self.types is not None and r.get("notification_type") not in self.types:
            return False
        if self.priorities is not None and r.get("priority") not in self.priorities:
            return False
        if self.channels is not None and not self.channels.intersection(r.get("channels") or ()):
            return False
        created = r.get("created_at")
        if self.created_after is not None and not (
            isinstance(created, datetime) and created >= self.created_after
        ):
            return False
        if self.created_before is not None and not (
            isinstance(created, datetime) and created < self.created_before
        ):
            return False
        if self.recipients is not None:
            return any(_address(x) in self.recipients for x in r.get("recipients") or ())
        return True


def _address(recipient: Any) -> str:
    text = str(recipient).strip()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text.casefold()


def caller_addresses(ctx: Context) -> frozenset[str]:
    """The recipient strings that name the caller: its user id and its email."""
    principal = ctx.principal
    if principal is None:
        return frozenset()
    email = getattr(principal, "email", None)
    return frozenset(_address(a) for a in (principal.id, email) if a)


async def scan(ctx: Context) -> list[Record]:
    """Every notification, newest first, a full page at a time; beyond
    TRACSEQ_MAX_SCAN_ITEMS it is UPSTREAM_UNSUPPORTED."""
    service = ctx.upstreams.notifications
    limit = service.max_scan_items
    records: list[Record] = []
    while True:
        page = await service.list(ctx.call, limit=MAX_LIMIT, offset=len(records))
        records += page
        if len(records) > limit:
            raise UpstreamUnsupported(
                service.name,
                f"The {service.name} service cannot filter or sort its list, and it holds "
                f"more than {limit} notifications (TRACSEQ_MAX_SCAN_ITEMS) for the gateway "
                "to filter or sort itself",
            )
        if len(page) < MAX_LIMIT:
            return records


Sort = Callable[[list[Record]], list[Record]]


async def filtered_page(
    ctx: Context, request: PageRequest, filters: NotificationFilter, sort: Sort | None
) -> Slice[Record]:
    """The page ``request`` asks for of the notifications ``filters`` keeps, sorted by
    ``sort`` (None: the service's order, newest first)."""
    records = [r for r in await scan(ctx) if filters.keeps(r)]
    if sort is not None:
        records = sort(records)
    return await paginate_list(request, records)


async def by_ids(ctx: Context, ids: Sequence[str]) -> list[Record | None]:
    """Notifications by id through the request's loader (None where there is none)."""
    loader = ctx.loaders.of(ctx.upstreams.notifications.get_many)
    found: list[Record | None] = await loader.load_many(list(ids))
    return found


async def send(ctx: Context, data: Mapping[str, Any]) -> Record:
    service = ctx.upstreams.notifications
    receipt = await service.create(ctx.call, data)
    try:
        record: Record = await service.get(ctx.call, str(receipt["id"]))
    except UpstreamNotFound:
        raise UpstreamUnsupported(
            service.name,
            f"The {service.name} service accepted the notification but did not store it "
            f"(receipt {receipt['id']}): it will not be sent",
        ) from None
    await ctx.announce(NOTIFICATIONS, record)
    return record

"""Root resolvers for notifications.

The service pages by ``limit``/``offset`` and answers a bare array without a total. A
window asks for one item more than it shows, which tells whether there is a next page; the
total is then known for free on the last page, and otherwise counted (in pages of the
service's maximum) only when a client asks for ``totalCount``.

Sending: the release answers a receipt for every valid notification but stores (and
sends) nothing, so the id it returns answers 404. The gateway reads the notification back
by id after the send: a 404 then is ``UPSTREAM_UNSUPPORTED`` (accepted but not stored),
never a success; where the service does store it, the mutation answers what was stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.pagination import PageRequest, Slice, paginate
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
        records = await ctx.upstreams.notifications.list(
            ctx.call, limit=min(end - start, MAX_LIMIT), offset=start
        )
        return records, None

    return await paginate(request, read)


async def count(ctx: Context) -> int:
    """Every notification, counted a full page at a time."""
    total = 0
    while True:
        page = await ctx.upstreams.notifications.list(ctx.call, limit=MAX_LIMIT, offset=total)
        total += len(page)
        if len(page) < MAX_LIMIT:
            return total


async def send(ctx: Context, data: Mapping[str, Any]) -> Record:
    for name in ("title", "message"):
        if not str(data.get(name) or "").strip():
            raise BadUserInput(f"`{name}` must not be empty")
    if not data.get("recipients") or any(not str(r).strip() for r in data["recipients"]):
        raise BadUserInput("`recipients` must name at least one recipient, none empty")
    if not data.get("channels"):
        raise BadUserInput("`channels` must name at least one channel")
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
    return record

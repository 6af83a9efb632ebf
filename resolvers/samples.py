"""Root resolvers for samples."""

from __future__ import annotations

from typing import Any

from graph.errors import BadUserInput, parse_id
from graph.pagination import Window, plan_pages, slice_pages
from resolvers.context import Context
from upstreams.errors import UpstreamNotFound

Record = dict[str, Any]


async def sample(ctx: Context, *, id: str | None, barcode: str | None) -> Record | None:
    """One sample by id or by barcode (exactly one of them); None when there is none."""
    if (id is None) == (barcode is None):
        raise BadUserInput("Give exactly one of `id` or `barcode`")
    if id is not None:
        return await ctx.loaders.of(ctx.upstreams.samples.get_many).load(parse_id(id, "id"))
    try:
        record: Record = await ctx.upstreams.samples.get_by_barcode(ctx.call, str(barcode))
    except UpstreamNotFound:
        return None
    ctx.loaders.prime(ctx.upstreams.samples.get_many, [record])
    return record


async def samples_page(
    ctx: Context, win: Window, filters: dict[str, Any]
) -> tuple[list[Record], int]:
    """The window's samples and the total count, in as few upstream pages as possible."""
    plan = plan_pages(win, max_page_size=ctx.max_page_size)
    if not plan:
        # first: 0 still answers totalCount; one smallest page tells it.
        page = await ctx.upstreams.samples.list(ctx.call, page=1, page_size=1, **filters)
        return [], page.total_count
    pages = [
        await ctx.upstreams.samples.list(ctx.call, page=number, page_size=size, **filters)
        for number, size in plan
    ]
    items = slice_pages(win, [p.items for p in pages], page_size=plan[0][1])
    ctx.loaders.prime(ctx.upstreams.samples.get_many, items)
    return items, pages[0].total_count

"""Root resolvers for samples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resolvers.context import Context
from resolvers.errors import BAD_USER_INPUT, INTERNAL_SERVER_ERROR, BadUserInput, NotFound, parse_id
from resolvers.pagination import Window, plan_pages, slice_pages
from upstreams.errors import UpstreamNotFound, UpstreamStatusError
from upstreams.normalize import canonical

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


# The samples service's workflow (UPSTREAMS.md), in canonical status names. The service is
# the authority; the gateway uses this to tell a client where a sample may go next.
NEXT_STATUSES: dict[str, tuple[str, ...]] = {
    "pending": ("validated", "rejected", "deleted"),
    "validated": ("in_storage", "in_sequencing", "rejected", "deleted"),
    "in_storage": ("in_sequencing", "rejected", "deleted"),
    "in_sequencing": ("completed", "failed"),
    "completed": ("archived",),
    "failed": ("pending", "deleted"),
    "rejected": ("pending", "deleted"),
    "discarded": ("archived", "deleted"),
    "archived": (),
    "deleted": (),
}

MAX_BATCH = 1000


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """One item of a batch create: the created record, or why it failed."""

    index: int
    record: Record | None = None
    error: str | None = None
    error_code: str = BAD_USER_INPUT


async def create_sample(ctx: Context, data: Record) -> Record:
    if ctx.actor is not None:
        data = {**data, "created_by": ctx.actor}
    record = await ctx.upstreams.samples.create(ctx.call, data)
    ctx.loaders.prime(ctx.upstreams.samples.get_many, [record])
    return record


async def create_samples(
    ctx: Context, items: list[Record], *, template_id: str | None
) -> list[ItemOutcome]:
    """Create many samples in one upstream call; each item reports its own outcome."""
    if not 1 <= len(items) <= MAX_BATCH:
        raise BadUserInput(f"`input` must hold 1 to {MAX_BATCH} samples, got {len(items)}")
    if ctx.actor is not None:
        items = [{**item, "created_by": ctx.actor} for item in items]
    result = await ctx.upstreams.samples.create_batch(ctx.call, items, template_id=template_id)
    created = list(result.get("created_samples") or [])
    failed = {
        int(f["index"]): str(f.get("error") or "invalid sample")
        for f in result.get("failed_samples") or []
    }
    outcomes: list[ItemOutcome] = []
    created_iter = iter(created)
    for index in range(len(items)):
        if index in failed:
            outcomes.append(ItemOutcome(index=index, error=failed[index]))
        else:
            record = next(created_iter, None)
            if record is None:
                outcomes.append(
                    ItemOutcome(index=index, error="not created", error_code=INTERNAL_SERVER_ERROR)
                )
            else:
                outcomes.append(ItemOutcome(index=index, record=record))
    ctx.loaders.prime(ctx.upstreams.samples.get_many, created)
    return outcomes


async def update_sample(ctx: Context, sample_id: str, changes: Record) -> Record:
    if not changes:
        raise BadUserInput("`input` changes nothing: give at least one field")
    if ctx.actor is not None:
        changes = {**changes, "updated_by": ctx.actor}
    try:
        return await ctx.upstreams.samples.update(ctx.call, sample_id, changes)
    except UpstreamNotFound:
        raise NotFound(f"Sample {sample_id} does not exist") from None


async def change_status(
    ctx: Context,
    sample_id: str,
    status: str,
    *,
    reason: str | None,
    metadata: Any,
    notify: bool | None,
) -> Record:
    try:
        return await ctx.upstreams.samples.change_status(
            ctx.call, sample_id, status, reason=reason, metadata=metadata, notify=notify
        )
    except UpstreamNotFound:
        raise NotFound(f"Sample {sample_id} does not exist") from None
    except UpstreamStatusError as exc:
        if exc.code != "invalid_workflow_transition":
            raise
        current = exc.details.get("from") if isinstance(exc.details, dict) else None
        if current is None:
            current = (await ctx.upstreams.samples.get(ctx.call, sample_id))["status"]
        current = canonical(str(current))
        allowed = [s.upper() for s in NEXT_STATUSES.get(current, ())]
        raise BadUserInput(
            f"A {current.upper()} sample cannot move to {status.upper()}",
            currentStatus=current.upper(),
            allowedNextStatuses=allowed,
        ) from None


async def delete_sample(ctx: Context, sample_id: str) -> None:
    try:
        await ctx.upstreams.samples.delete(ctx.call, sample_id)
    except UpstreamNotFound:
        raise NotFound(f"Sample {sample_id} does not exist") from None

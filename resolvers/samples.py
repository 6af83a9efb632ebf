"""Root resolvers for samples."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from resolvers.context import Context
from resolvers.errors import BAD_USER_INPUT, INTERNAL_SERVER_ERROR, BadUserInput, NotFound, parse_id
from resolvers.pagination import (
    PageRequest,
    Slice,
    paginate,
    paginate_list,
    plan_range,
    slice_range,
)
from upstreams.errors import UpstreamNotFound, UpstreamStatusError, UpstreamUnsupported
from upstreams.normalize import canonical
from upstreams.samples import MAX_BATCH, MAX_PAGE_SIZE

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
    ctx: Context, request: PageRequest, filters: dict[str, Any]
) -> Slice[Record]:
    """The page of samples ``request`` asks for.

    Unfiltered, the upstream pages (as few pages as cover the range, one in the common
    case). Filtered, the release cannot answer at all (any filter is a 500), so every
    sample is read and the gateway filters and pages.
    """
    samples = ctx.upstreams.samples
    if filters:
        page = await paginate_list(request, await samples.matching(ctx.call, **filters))
    else:

        async def read(start: int, end: int) -> tuple[list[Record], int]:
            plan = plan_range(start, end, max_page_size=MAX_PAGE_SIZE)
            pages = await asyncio.gather(
                *(samples.page(ctx.call, page=number, page_size=size) for number, size in plan)
            )
            return slice_range(start, end, plan, [p.items for p in pages]), pages[0].total_count

        page = await paginate(request, read)
    ctx.loaders.prime(samples.get_many, page.items)
    return page


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

# Fields the release's update can set but never clear (COALESCE($n, column)).
_CLEARABLE_NOT = "the samples service never clears a field (null keeps the stored value)"
# Length limits the release's validator puts on a create body; an item breaking them would
# fail a whole batch, so the gateway fails it alone before sending the others.
_LENGTHS = {"name": (1, 255), "sample_type": (1, 50)}


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """One item of a batch create: the created record, or why it failed."""

    index: int
    record: Record | None = None
    error: str | None = None
    error_code: str = BAD_USER_INPUT


def collection_date(value: datetime | None, argument: str) -> str | None:
    """A collection date as the samples service stores it: a UTC instant.

    The service keeps what chrono can hold (years 0 to 10000 once in UTC) and prints it
    back with that year; the gateway reads only years 1 to 9999, so a date outside them
    once in UTC is refused here rather than stored unreadable.
    """
    if value is None:
        return None
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise BadUserInput(
            f"`{argument}` is outside the years 1 to 9999 once in UTC", argument=argument
        ) from None
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"


def _length_error(item: Record) -> str | None:
    for name, (low, high) in _LENGTHS.items():
        value = item.get(name)
        if isinstance(value, str) and not low <= len(value) <= high:
            return f"`{name}` must be between {low} and {high} characters"
    return None


async def create_sample(ctx: Context, data: Record) -> Record:
    problem = _length_error(data)
    if problem:
        raise BadUserInput(problem)
    if ctx.actor is not None:
        # Accepted by the release but not stored: kept for a release that stores it.
        data = {**data, "created_by": ctx.actor}
    record = await ctx.upstreams.samples.create(ctx.call, data)
    ctx.loaders.prime(ctx.upstreams.samples.get_many, [record])
    return record


async def create_samples(
    ctx: Context, items: list[Record], *, template_id: str | None
) -> list[ItemOutcome]:
    """Create many samples in one upstream call; each item reports its own outcome.

    The release ignores a batch-level template id (each item gets it here) and fails the
    whole call on the first item its validator rejects (such items fail alone here).
    """
    if not 1 <= len(items) <= MAX_BATCH:
        raise BadUserInput(f"`input` must hold 1 to {MAX_BATCH} samples, got {len(items)}")
    outcomes: dict[int, ItemOutcome] = {}
    sent: list[tuple[int, Record]] = []
    for index, item in enumerate(items):
        problem = _length_error(item)
        if problem:
            outcomes[index] = ItemOutcome(index=index, error=problem)
            continue
        if template_id is not None and item.get("template_id") is None:
            item = {**item, "template_id": template_id}
        if ctx.actor is not None:
            item = {**item, "created_by": ctx.actor}
        sent.append((index, item))
    created: list[Record] = []
    if sent:
        result = await ctx.upstreams.samples.create_batch(ctx.call, [item for _, item in sent])
        created = list(result.get("created_samples") or [])
        failed = {
            int(f["index"]): str(f.get("error") or "invalid sample")
            for f in result.get("failed_samples") or []
        }
        created_iter = iter(created)
        for position, (index, _) in enumerate(sent):
            if position in failed:
                outcomes[index] = ItemOutcome(index=index, error=failed[position])
                continue
            record = next(created_iter, None)
            outcomes[index] = (
                ItemOutcome(index=index, record=record)
                if record is not None
                else ItemOutcome(index=index, error="not created", error_code=INTERNAL_SERVER_ERROR)
            )
    ctx.loaders.prime(ctx.upstreams.samples.get_many, created)
    return [outcomes[index] for index in range(len(items))]


async def update_sample(ctx: Context, sample_id: str, changes: Record) -> Record:
    if not changes:
        raise BadUserInput("`input` changes nothing: give at least one field")
    cleared = sorted(name for name, value in changes.items() if value is None)
    if cleared:
        raise UpstreamUnsupported("samples", f"Cannot clear {', '.join(cleared)}: {_CLEARABLE_NOT}")
    if "template_id" in changes:
        raise UpstreamUnsupported(
            "samples", "The samples service cannot change a sample's template"
        )
    problem = _length_error(changes)
    if problem:
        raise BadUserInput(problem)
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
    # The release accepts both and does nothing with them.
    if metadata is not None:
        raise UpstreamUnsupported(
            "samples", "The samples service does not store metadata with a status change"
        )
    if notify:
        raise UpstreamUnsupported(
            "samples", "The samples service sends no notification on a status change"
        )
    if reason is not None and len(reason) > 500:
        raise BadUserInput("`reason` must be at most 500 characters")
    try:
        return await ctx.upstreams.samples.change_status(ctx.call, sample_id, status, reason=reason)
    except UpstreamNotFound:
        raise NotFound(f"Sample {sample_id} does not exist") from None
    except UpstreamStatusError as exc:
        if exc.code != "invalid_workflow_transition":
            raise
        # The release's error names neither status: read where the sample is.
        current = canonical(str((await ctx.upstreams.samples.get(ctx.call, sample_id))["status"]))
        allowed = [s.upper() for s in NEXT_STATUSES.get(current, ())]
        raise BadUserInput(
            f"A {current.upper()} sample cannot move to {status.upper()}",
            currentStatus=current.upper(),
            allowedNextStatuses=allowed,
        ) from None


async def delete_sample(ctx: Context, sample_id: str) -> None:
    """Soft delete: the sample stays readable with status DELETED."""
    try:
        await ctx.upstreams.samples.delete(ctx.call, sample_id)
    except UpstreamNotFound:
        raise NotFound(f"Sample {sample_id} does not exist") from None

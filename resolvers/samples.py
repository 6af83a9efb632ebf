"""Root resolvers for samples: reads, the list (paged by the upstream, or read whole and
filtered and sorted here when the release cannot), and the mutations.

What the caller can fix raises a user-facing error with the path of the input it is about
(``["input", "barcode"]``; a batch item's paths start ``["input", "samples", index]``), so
that the graph's payloads turn it into a userError. The release's own answers are mapped
the same way: a duplicate barcode (409) is TAKEN on the barcode, an illegal status move
is INVALID_TRANSITION on the status (with the sample as it is), deleting a sample being
sequenced is CONFLICT on the id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from resolvers import storage as storage_resolvers
from resolvers.context import Context
from resolvers.errors import (
    CONFLICT,
    INVALID,
    INVALID_TRANSITION,
    LIMIT_EXCEEDED,
    TAKEN,
    BadUserInput,
    NotFound,
    parse_id,
)
from resolvers.live import SAMPLES
from resolvers.pagination import (
    PageRequest,
    Slice,
    paged_read,
    paginate,
    paginate_list,
)
from upstreams.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamNotFound,
    UpstreamStatusError,
    UpstreamUnsupported,
)
from upstreams.normalize import canonical
from upstreams.samples import MAX_BATCH, MAX_PAGE_SIZE

Record = dict[str, Any]

log = structlog.get_logger("tracseq.resolvers")


async def sample(ctx: Context, sample_id: str) -> Record | None:
    """One sample by id; None when there is none."""
    record: Record | None = await ctx.loaders.of(ctx.upstreams.samples.get_many).load(
        parse_id(sample_id, "id")
    )
    return record


async def sample_by_barcode(ctx: Context, barcode: str) -> Record | None:
    """One sample by barcode; None when there is none."""
    try:
        record: Record = await ctx.upstreams.samples.get_by_barcode(ctx.call, barcode)
    except UpstreamNotFound:
        return None
    ctx.loaders.prime(ctx.upstreams.samples.get_many, [record])
    return record


async def samples_many(ctx: Context, ids: Sequence[str]) -> list[Record | None]:
    """Samples by id (canonical UUIDs), aligned with ``ids``; None where there is none."""
    records: list[Record | None] = await ctx.loaders.of(ctx.upstreams.samples.get_many).load_many(
        list(ids)
    )
    return records


# Who created a sample: the release's INSERT never writes ``created_by`` (the create body's
# value goes to an audit log no route serves); only rows written before it carry one. A
# creator filter would silently miss every sample created through the service.
CREATOR_UNSUPPORTED = (
    "The samples service does not record who creates a sample (its create accepts "
    "created_by and does not store it), so a creator filter would miss every sample created "
    "through it: samples cannot be filtered by creator"
)


@dataclass(frozen=True, slots=True)
class Where:
    """Where the samples sit, for a list filter: in a container (or beneath it), or at a
    storage location. Both come from the storage service."""

    container_id: str | None = None
    location_id: str | None = None


async def _stored_ids(ctx: Context, where: Where) -> set[str] | None:
    """The ids of the samples ``where`` admits; None when it admits any sample."""
    found: set[str] | None = None
    if where.container_id is not None:
        record = await storage_resolvers.container_of(ctx, where.container_id)
        if record is None:
            raise BadUserInput(
                f"No container has the id {where.container_id}",
                field=["filter", "containerId"],
            )
        found = set(await storage_resolvers.container_sample_ids(ctx, record))
    if where.location_id is not None:
        if await storage_resolvers.location_of(ctx, where.location_id) is None:
            raise BadUserInput(
                f"No storage location has the id {where.location_id}",
                field=["filter", "locationId"],
            )
        containers = await storage_resolvers.location_containers(ctx, where.location_id, None)
        # The tops of the location's trees hold every sample below them.
        tops = [c for c in containers if str(c.get("location_id")) == where.location_id]
        per_top = await asyncio.gather(
            *(storage_resolvers.container_sample_ids(ctx, top) for top in tops)
        )
        at_location = {i for ids in per_top for i in ids}
        found = at_location if found is None else found & at_location
    return found


async def samples_page(
    ctx: Context,
    request: PageRequest,
    filters: dict[str, Any],
    *,
    where: Where | None = None,
    created_by: str | None = None,
    arrange: Callable[[list[Record]], list[Record]] | None = None,
) -> Slice[Record]:
    """The page of samples ``request`` asks for.

    Unfiltered and in the upstream's order (newest first), the upstream pages (as few
    pages as cover the range, one in the common case). Filtered or sorted otherwise
    (``arrange``), the release cannot answer (any filter is a 500, and it has no sort), so
    every sample is read (``scan``, bounded by TRACSEQ_MAX_SCAN_ITEMS) and the gateway
    filters, sorts and pages.
    """
    if created_by is not None:
        raise UpstreamUnsupported("samples", CREATOR_UNSUPPORTED)
    samples = ctx.upstreams.samples
    ids = await _stored_ids(ctx, where) if where is not None else None
    if ids is not None:
        filters = {**filters, "ids": ids}
    if filters or arrange is not None:
        items = await samples.matching(ctx.call, **filters)
        if arrange is not None:
            items = arrange(items)
        page = await paginate_list(request, items)
    else:
        page = await paginate(
            request,
            paged_read(
                lambda number, size: samples.page(ctx.call, page=number, page_size=size),
                max_page_size=MAX_PAGE_SIZE,
            ),
        )
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
# The graph's names of the body's fields, for userErrors' paths.
_CAMEL = {
    "sample_type": "sampleType",
    "template_id": "templateId",
    "source_type": "sourceType",
    "source_identifier": "sourceIdentifier",
    "collection_date": "collectionDate",
    "collection_location": "collectionLocation",
    "quality_score": "qualityScore",
}
Path = list[str | int]


def input_field(prefix: Sequence[str | int], name: str) -> Path:
    """The userError path of a body field under ``prefix`` (``["input"]``, or
    ``["input", "samples", 3]`` for a batch item)."""
    return [*prefix, _CAMEL.get(name, name)]


class InvalidTransition(BadUserInput):
    """An illegal status move: the sample as it is (``record``) tells where it may go."""

    user_code = INVALID_TRANSITION

    def __init__(self, message: str, *, record: Record) -> None:
        super().__init__(message, field=["input", "status"])
        self.record = record


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """One item of a batch create: the created record, or why it failed (a userError's
    message, code and path)."""

    index: int
    record: Record | None = None
    error: str | None = None
    code: str = INVALID
    field: list[str] | None = None


def collection_date(value: datetime | None, path: Sequence[str | int]) -> str | None:
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
            "The collection date is outside the years 1 to 9999 once in UTC",
            field=[str(p) for p in path],
        ) from None
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"


def _length_error(item: Record, prefix: Sequence[str | int]) -> BadUserInput | None:
    for name, (low, high) in _LENGTHS.items():
        value = item.get(name)
        if isinstance(value, str) and not low <= len(value) <= high:
            return BadUserInput(
                f"`{_CAMEL.get(name, name)}` must be between {low} and {high} characters",
                field=_path(input_field(prefix, name)),
            )
    return None


def _path(path: Sequence[str | int]) -> list[str]:
    """A userError path as the graph spells it (list indexes as strings)."""
    return [str(p) for p in path]


def _taken(barcode: object, path: Sequence[str | int]) -> BadUserInput:
    return BadUserInput(
        f"The barcode {barcode} is already in use", field=_path(path), user_code=TAKEN
    )


def _duplicate(exc: UpstreamStatusError) -> bool:
    return exc.status == 409 or exc.code == "duplicate_barcode"


async def create_sample(ctx: Context, data: Record) -> Record:
    problem = _length_error(data, ["input"])
    if problem:
        raise problem
    if ctx.actor is not None:
        # Accepted by the release but not stored: kept for a release that stores it.
        data = {**data, "created_by": ctx.actor}
    try:
        record = await ctx.upstreams.samples.create(ctx.call, data)
    except UpstreamStatusError as exc:
        if not _duplicate(exc):
            raise
        raise _taken(data.get("barcode"), ["input", "barcode"]) from None
    ctx.loaders.prime(ctx.upstreams.samples.get_many, [record])
    return record


def _item_failure(index: int, text: str) -> ItemOutcome:
    """A batch item the release failed, from its display text (UPSTREAMS.md: ``Duplicate
    barcode: X``, ``Validation error: ...``)."""
    prefix = ["input", "samples", str(index)]
    if text.startswith("Duplicate barcode"):
        return ItemOutcome(index, error=text, code=TAKEN, field=[*prefix, "barcode"])
    if "sample type" in text.casefold():
        return ItemOutcome(index, error=text, field=[*prefix, "sampleType"])
    return ItemOutcome(index, error=text, field=prefix)


async def create_samples(
    ctx: Context, items: Sequence[Record | BadUserInput], *, template_id: str | None
) -> list[ItemOutcome]:
    """Create many samples in one upstream call; each item reports its own outcome (an
    item given as a ``BadUserInput`` failed before, in the graph, and fails alone).

    The release ignores a batch-level template id (each item gets it here) and fails the
    whole call on the first item its validator rejects (such items fail alone here).
    """
    if len(items) > MAX_BATCH:
        raise BadUserInput(
            f"`input.samples` holds {len(items)} samples: at most {MAX_BATCH} per call",
            field=["input", "samples"],
            user_code=LIMIT_EXCEEDED,
        )
    if not items:
        raise BadUserInput("`input.samples` is empty", field=["input", "samples"])
    outcomes: dict[int, ItemOutcome] = {}
    sent: list[tuple[int, Record]] = []
    for index, item in enumerate(items):
        if isinstance(item, BadUserInput):
            outcomes[index] = ItemOutcome(index, error=item.message, field=item.field)
            continue
        problem = _length_error(item, ["input", "samples", index])
        if problem:
            outcomes[index] = ItemOutcome(index, error=problem.message, field=problem.field)
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
        if len(created) + len(failed) != len(sent):
            raise UpstreamBadResponse(
                "samples",
                f"The samples service's batch answered {len(created)} created and "
                f"{len(failed)} failed for {len(sent)} samples",
            )
        created_iter = iter(created)
        for position, (index, _) in enumerate(sent):
            if position in failed:
                outcomes[index] = _item_failure(index, failed[position])
            else:
                outcomes[index] = ItemOutcome(index, record=next(created_iter))
    ctx.loaders.prime(ctx.upstreams.samples.get_many, created)
    return [outcomes[index] for index in range(len(items))]


async def update_sample(ctx: Context, sample_id: str, changes: Record) -> Record:
    if not changes:
        raise BadUserInput("The input changes nothing: give at least one field", field=["input"])
    cleared = sorted(name for name, value in changes.items() if value is None)
    if cleared:
        names = ", ".join(_CAMEL.get(n, n) for n in cleared)
        raise UpstreamUnsupported("samples", f"Cannot clear {names}: {_CLEARABLE_NOT}")
    problem = _length_error(changes, ["input"])
    if problem:
        raise problem
    try:
        return await ctx.upstreams.samples.update(ctx.call, sample_id, changes)
    except UpstreamNotFound:
        raise NotFound(f"Sample {sample_id} does not exist", field=["input", "id"]) from None
    except UpstreamStatusError as exc:
        if not _duplicate(exc):
            raise
        raise _taken(changes.get("barcode"), ["input", "barcode"]) from None


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
        raise BadUserInput("`reason` must be at most 500 characters", field=["input", "reason"])
    try:
        changed = await ctx.upstreams.samples.change_status(
            ctx.call, sample_id, status, reason=reason
        )
        await ctx.announce(SAMPLES, changed)
        return changed
    except UpstreamNotFound:
        raise NotFound(f"Sample {sample_id} does not exist", field=["input", "id"]) from None
    except UpstreamStatusError as exc:
        if exc.code != "invalid_workflow_transition":
            raise
    # The release's error names neither status: read where the sample is.
    record = await ctx.upstreams.samples.get(ctx.call, sample_id)
    current = canonical(str(record["status"]))
    allowed = [s.upper() for s in NEXT_STATUSES.get(current, ())]
    raise InvalidTransition(
        f"A {current.upper()} sample cannot move to {status.upper()}; it may move to "
        + (", ".join(allowed) if allowed else "no other status"),
        record=record,
    )


async def delete_sample(ctx: Context, sample_id: str) -> None:
    """Soft delete: the sample stays readable (and listed) with status DELETED."""
    try:
        await ctx.upstreams.samples.delete(ctx.call, sample_id)
    except UpstreamNotFound:
        raise NotFound(f"Sample {sample_id} does not exist", field=["input", "id"]) from None
    except UpstreamStatusError as exc:
        if exc.code != "business_rule_violation":
            raise
        raise BadUserInput(exc.message, field=["input", "id"], user_code=CONFLICT) from None
    if ctx.live is not None:
        # The delete answers no record: the soft-deleted sample is read for its event.
        try:
            deleted = await fresh(ctx, sample_id)
        except UpstreamError as exc:
            log.warning(
                "live.read_after_delete_failed", sample_id=sample_id, error=type(exc).__name__
            )
        else:
            if deleted is not None:
                await ctx.announce(SAMPLES, deleted)


async def fresh(ctx: Context, sample_id: str) -> Record | None:
    """The sample as the service holds it now (not the request's cached copy)."""
    try:
        record: Record = await ctx.upstreams.samples.get(ctx.call, sample_id)
    except UpstreamNotFound:
        return None
    return record

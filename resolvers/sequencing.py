"""Resolvers for sequencing: the job list and lookups, the jobs of a sample, a job's sample
sheet and samples, and the job mutations.

On the release (UPSTREAMS.md, "## sequencing"):

- the job list answers summaries and ignores its filters: unfiltered, a connection window
  pages at the upstream (``page``/``limit``, at most ``MAX_JOBS_PER_PAGE`` a page); filtered,
  the gateway reads every page (``scan``) and filters and pages itself;
- a job's detail is one ``GET /jobs/{id}`` each (``get_many``; ``?ids=`` [extension]);
- the only link from a job to its samples is ``job.sample_sheet_id`` → the sheet's entries'
  ``sample_id``. The jobs of samples are therefore, once per request: every job summary,
  every job's detail (for its sheet id), every distinct sheet; with the [extension]
  ``?sample_ids=`` one call, plus the matching jobs' sheets when several samples asked.

Sample sheets have no batch endpoint: their loader is a de-duplicated fan-out capped at the
bulkhead's width.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from resolvers.context import Context
from resolvers.errors import (
    INVALID_TRANSITION,
    BadUserInput,
    NotFound,
    parse_id,
)
from resolvers.live import JOBS
from resolvers.loaders import load_each
from resolvers.pagination import (
    PageRequest,
    Slice,
    paged_read,
    paginate,
    paginate_list,
    sorted_records,
)
from upstreams.config import CallContext
from upstreams.errors import UpstreamNotFound, UpstreamStatusError, UpstreamUnsupported
from upstreams.sequencing import (
    MAX_JOBS_PER_PAGE,
    MAX_SHEETS_PER_PAGE,
    MAX_WORKFLOWS_PER_PAGE,
    SequencingClient,
)
from upstreams.services import canonical_id, fan_out

__all__ = [
    "MAX_JOBS_FOR_SAMPLE_LINKS",
    "MAX_JOBS_PER_PAGE",
    "MAX_SHEETS_PER_PAGE",
    "MAX_WORKFLOWS_PER_PAGE",
    "PRIORITY_RANK",
    "JobQuery",
    "cancel",
    "change_status",
    "create",
    "create_sample_sheet",
    "is_detail",
    "job",
    "job_detail",
    "jobs_for_sample",
    "jobs_page",
    "sample_sheet",
    "sample_sheets_by_id",
    "sample_sheets_page",
    "submit",
    "workflows_by_id",
    "workflows_page",
]

Record = dict[str, Any]

# Without the [extension], linking samples to jobs reads every job's detail: past this many
# jobs that is refused (UPSTREAM_UNSUPPORTED) rather than thousands of calls per request.
MAX_JOBS_FOR_SAMPLE_LINKS = 1000


def is_detail(record: Mapping[str, Any]) -> bool:
    """Whether a job record is the full SequencingJob (a JobResponse summary has no
    ``created_by``, which every full job carries)."""
    return "created_by" in record


@dataclass(frozen=True, slots=True)
class _SampleSheets:
    """Sample sheets by id (no batch endpoint: a fan-out)."""

    sequencing: SequencingClient

    async def __call__(self, call: CallContext, ids: Sequence[str]) -> list[Record | None]:
        width = self.sequencing.client.config.bulkhead.max_concurrency
        return await fan_out(ids, lambda i: self.sequencing.sample_sheet(call, i), width=width)


@dataclass(frozen=True, slots=True)
class _SheetSamples:
    """Which samples each sheet lists, by sheet id (``SequencingClient.sheet_samples``:
    cached)."""

    sequencing: SequencingClient

    async def __call__(self, call: CallContext, ids: Sequence[str]) -> list[Record | None]:
        return await self.sequencing.sheet_samples(call, ids)


@dataclass(frozen=True, slots=True)
class _JobsForSamples:
    """The full jobs whose sample sheet lists each sample, aligned with the samples asked.

    One instance per request (equal by the request's identity), so the request's loaders
    share one DataLoader over it.
    """

    request: int
    ctx: Context = field(compare=False, hash=False)

    async def __call__(self, call: CallContext, sample_ids: Sequence[str]) -> list[list[Record]]:
        ctx = self.ctx
        if ctx.upstreams.sequencing.client.config.batch:
            index = await _index_by_extension(ctx, sample_ids)
        else:
            index = await ctx.loaders.of(_SampleIndex(id(ctx), ctx)).load("all")
        return [index.get(canonical_id(s) or str(s), []) for s in sample_ids]


@dataclass(frozen=True, slots=True)
class _SampleIndex:
    """Sample id → its jobs (newest first) over every job of the release: loaded once per
    request under the single key ``"all"``."""

    request: int
    ctx: Context = field(compare=False, hash=False)

    async def __call__(self, call: CallContext, keys: Sequence[str]) -> list[dict[str, Any]]:
        ctx = self.ctx
        summaries = await ctx.upstreams.sequencing.scan(call)
        if len(summaries) > MAX_JOBS_FOR_SAMPLE_LINKS:
            raise UpstreamUnsupported(
                "sequencing",
                f"The sequencing service holds more than {MAX_JOBS_FOR_SAMPLE_LINKS} jobs and "
                "cannot say which jobs hold a sample; configure its batch extension "
                "(GET /jobs?sample_ids=)",
            )
        loader = ctx.loaders.of(ctx.upstreams.sequencing.get_many)
        jobs = [j for j in await loader.load_many([str(s["id"]) for s in summaries]) if j]
        index = await _index_by_sheets(ctx, jobs)
        return [index for _ in keys]


async def _index_by_sheets(
    ctx: Context, jobs: Sequence[Record], wanted: Collection[str] | None = None
) -> dict[str, list[Record]]:
    """Sample id (canonical) → the jobs (in the given order) whose sheet lists it, from
    the sheets; only the samples ``wanted`` (canonical ids) when given. Each sheet's ids
    are made canonical once, however many jobs share the sheet."""
    sheet_ids = list(
        dict.fromkeys(str(j["sample_sheet_id"]) for j in jobs if j.get("sample_sheet_id"))
    )
    sheets = await ctx.loaders.of(_SheetSamples(ctx.upstreams.sequencing)).load_many(sheet_ids)
    samples_of: dict[str, list[str]] = {}
    for sheet_id, sheet in zip(sheet_ids, sheets, strict=True):
        entries = (sheet or {}).get("entries") or []
        listed = dict.fromkeys(str(e.get("sample_id")) for e in entries)
        canonical = (canonical_id(sample_id) or sample_id for sample_id in listed)
        samples_of[sheet_id] = [
            key for key in dict.fromkeys(canonical) if wanted is None or key in wanted
        ]
    index: dict[str, list[Record]] = {}
    for job_record in jobs:
        for sample_id in samples_of.get(str(job_record.get("sample_sheet_id")), ()):
            index.setdefault(sample_id, []).append(job_record)
    return index


async def _index_by_extension(ctx: Context, sample_ids: Sequence[str]) -> dict[str, list[Record]]:
    jobs = await ctx.upstreams.sequencing.jobs_with_samples(ctx.call, sample_ids)
    _prime(ctx, jobs)
    distinct = {key for s in sample_ids if (key := canonical_id(s)) is not None}
    if len(distinct) == 1:
        # One sample asked: every job answered holds it, no sheet needed to tell.
        return {str(next(iter(distinct))): jobs}
    # The keys _JobsForSamples looks its samples up by.
    return await _index_by_sheets(ctx, jobs, {canonical_id(s) or str(s) for s in sample_ids})


def _prime(ctx: Context, jobs: Sequence[Record]) -> None:
    """Seed the job loader with full jobs (never with list summaries)."""
    ctx.loaders.prime(ctx.upstreams.sequencing.get_many, [j for j in jobs if is_detail(j)])


async def job(ctx: Context, job_id: str) -> Record | None:
    """One job by id; None when there is none."""
    key = parse_id(job_id, "id")
    return await job_detail(ctx, key)


async def job_detail(ctx: Context, key: str) -> Record | None:
    """The full job through the request's batched job loader."""
    record: Record | None = await ctx.loaders.of(ctx.upstreams.sequencing.get_many).load(key)
    return record


PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3, "critical": 4}


@dataclass(frozen=True, slots=True)
class JobQuery:
    """What ``jobs_page`` narrows and sorts by (canonical lower snake_case enum values).

    ``order`` is None for the upstream's own order (newest first), else a key of
    ``ORDER_KEYS``; ``assigned_to_id`` and ``created_by_id`` are canonical UUIDs.
    """

    statuses: frozenset[str] | None = None
    priorities: frozenset[str] | None = None
    platforms: frozenset[str] | None = None
    sample_id: str | None = None
    created_by_id: str | None = None
    assigned_to_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    order: str | None = None
    descending: bool = True

    def narrows(self) -> bool:
        return any(
            v is not None
            for v in (
                self.statuses,
                self.priorities,
                self.platforms,
                self.sample_id,
                self.created_by_id,
                self.assigned_to_id,
                self.created_after,
                self.created_before,
            )
        )

    def needs_detail(self) -> bool:
        """Whether the list summaries lack what this query reads (creator, assignee, sheet,
        last update): then every remaining job's detail is loaded."""
        return (
            self.created_by_id is not None
            or self.assigned_to_id is not None
            or self.sample_id is not None
            or self.order == "updated_at"
        )


def _sort_key(order: str) -> Any:
    if order == "priority":
        return lambda r: PRIORITY_RANK.get(str(r.get("priority")))
    if order == "name":
        return lambda r: None if r.get("name") is None else str(r["name"]).casefold()
    return lambda r: r.get(order) if isinstance(r.get(order), datetime) else None


ORDER_KEYS = frozenset({"created_at", "updated_at", "priority", "name"})


def _summary_matches(r: Mapping[str, Any], q: JobQuery) -> bool:
    if q.statuses is not None and r.get("status") not in q.statuses:
        return False
    if q.priorities is not None and r.get("priority") not in q.priorities:
        return False
    if q.platforms is not None and r.get("platform_id") not in q.platforms:
        return False
    created = r.get("created_at")
    if q.created_after is not None or q.created_before is not None:
        if not isinstance(created, datetime):
            return False
        if q.created_after is not None and created < q.created_after:
            return False
        if q.created_before is not None and created >= q.created_before:
            return False
    return True


def _detail_matches(r: Mapping[str, Any], q: JobQuery) -> bool:
    if q.created_by_id is not None and canonical_id(r.get("created_by")) != q.created_by_id:
        return False
    return not (
        q.assigned_to_id is not None and canonical_id(r.get("assigned_to")) != q.assigned_to_id
    )


async def _details(ctx: Context, summaries: Sequence[Record]) -> list[Record]:
    """The full jobs of these summaries, in order (jobs gone meanwhile are left out)."""
    if len(summaries) > MAX_JOBS_FOR_SAMPLE_LINKS:
        raise UpstreamUnsupported(
            "sequencing",
            f"The job list's summaries lack the creator, assignee, sample sheet and last "
            f"update; {len(summaries)} jobs match the other conditions, more than the "
            f"{MAX_JOBS_FOR_SAMPLE_LINKS} whose details the gateway reads to filter or sort "
            "by those (narrow by status, priority, platform or date first)",
        )
    loader = ctx.loaders.of(ctx.upstreams.sequencing.get_many)
    found = await loader.load_many([str(s["id"]) for s in summaries])
    return [j for j in found if j is not None]


async def _holding(ctx: Context, jobs: Sequence[Record], sample_id: str) -> list[Record]:
    """Those of ``jobs`` (full) whose sample sheet lists the sample."""
    index = await _index_by_sheets(ctx, jobs)
    ids = {str(j["id"]) for j in index.get(sample_id, [])}
    return [j for j in jobs if str(j["id"]) in ids]


async def jobs_page(ctx: Context, request: PageRequest, query: JobQuery) -> Slice[Record]:
    """The page of jobs ``request`` asks for, under ``query``.

    The release ignores the list's filters and sort: without any (and in the upstream's
    own newest-first order) the range is paged at the upstream; otherwise every summary is
    read (``scan``, bounded by TRACSEQ_MAX_SCAN_ITEMS), filtered on what summaries hold,
    then, when the query reads the creator, assignee, sample sheet or last update, the
    remaining jobs' details (and for a sample, their sheets) are loaded through the request
    loaders, and the gateway filters, sorts and pages.
    """
    sequencing = ctx.upstreams.sequencing
    if not query.narrows() and query.order is None:
        return await paginate(
            request,
            paged_read(
                lambda number, size: sequencing.list(ctx.call, page=number, limit=size),
                max_page_size=MAX_JOBS_PER_PAGE,
            ),
        )
    records = [r for r in await sequencing.scan(ctx.call) if _summary_matches(r, query)]
    by_sheets = query.sample_id is not None
    if query.sample_id is not None and sequencing.client.config.batch:
        # [extension] one call names the sample's jobs (full, primed into the job loader).
        holding = await sequencing.jobs_with_samples(ctx.call, [query.sample_id])
        _prime(ctx, holding)
        ids = {str(j.get("id")) for j in holding}
        records = [r for r in records if str(r["id"]) in ids]
        by_sheets = False
    if query.needs_detail():
        records = [r for r in await _details(ctx, records) if _detail_matches(r, query)]
        if by_sheets and query.sample_id is not None:
            records = await _holding(ctx, records, query.sample_id)
    if query.order is not None:
        records = sorted_records(records, _sort_key(query.order), descending=query.descending)
    return await paginate_list(request, records)


async def jobs_for_samples(ctx: Context, sample_ids: Sequence[str]) -> dict[str, Any]:
    """``jobs_for_sample`` for each of these samples (one batch), or the error in its
    place."""
    loader = ctx.loaders.of(_JobsForSamples(id(ctx), ctx))
    return await load_each(loader, [str(i) for i in sample_ids])


async def jobs_for_sample(ctx: Context, sample_id: str) -> list[Record]:
    """The full jobs whose sample sheet lists this sample, newest first."""
    loader = ctx.loaders.of(_JobsForSamples(id(ctx), ctx))
    jobs: list[Record] = await loader.load(str(sample_id))
    return jobs


async def sample_sheet(ctx: Context, sheet_id: str) -> Record | None:
    """A job's sample sheet with its entries; None when it is gone."""
    loader = ctx.loaders.of(_SampleSheets(ctx.upstreams.sequencing))
    record: Record | None = await loader.load(str(sheet_id))
    return record


def _blank(value: Any) -> bool:
    return not isinstance(value, str) or not value.strip()


async def _sheet_exists(ctx: Context, sheet_id: str, argument: str) -> str:
    key = parse_id(sheet_id, argument)
    if await sample_sheet(ctx, key) is None:
        raise NotFound(f"No sample sheet with id {key}", field=argument.split("."))
    return key


async def create(ctx: Context, data: Mapping[str, Any]) -> Record:
    """Create a job; it stays DRAFT. Answers the service's summary (the graph loads the
    detail for fields only it has).

    The name and workflow must not be blank and the sample sheet, when given, must exist
    (the release does not check it): each is a user error on its input field. The release
    records a random creator whatever the request says, so none is sent.
    """
    body = {k: v for k, v in data.items() if v is not None}
    for key, name in (("name", "name"), ("workflow_id", "workflowName")):
        if _blank(body.get(key)):
            raise BadUserInput(f"`{name}` must not be blank", field=["input", name])
    if body.get("sample_sheet_id") is not None:
        body["sample_sheet_id"] = await _sheet_exists(
            ctx, str(body["sample_sheet_id"]), "input.sampleSheetId"
        )
    try:
        return await ctx.upstreams.sequencing.create(ctx.call, body)
    except UpstreamNotFound as exc:  # "Platform not found"
        raise NotFound(exc.message, field=["input", "platform"]) from exc
    except UpstreamStatusError as exc:
        if exc.status == 400:
            raise BadUserInput(exc.message, field=["input"]) from exc
        raise


async def _move(
    ctx: Context, key: str, status: str, *, notes: str | None, transition_field: list[str]
) -> Record:
    try:
        record = await ctx.upstreams.sequencing.change_status(ctx.call, key, status, notes=notes)
    except UpstreamNotFound as exc:
        raise NotFound(f"No sequencing job with id {key}", field=["input", "id"]) from exc
    except UpstreamStatusError as exc:
        if exc.status == 400:  # 'Invalid job status transition: from "Draft" to "Running"'
            raise BadUserInput(
                exc.message, field=transition_field, user_code=INVALID_TRANSITION
            ) from exc
        raise
    _prime(ctx, [record])
    await ctx.announce(JOBS, record)
    return record


async def submit(ctx: Context, job_id: str) -> Record:
    """Submit a DRAFT job (SUBMITTED); another status is INVALID_TRANSITION on the id."""
    key = parse_id(job_id, "input.id")
    return await _move(ctx, key, "submitted", notes=None, transition_field=["input", "id"])


async def change_status(ctx: Context, job_id: str, status: str, notes: str | None) -> Record:
    """Move a job along the release's transition table; an illegal move is
    INVALID_TRANSITION on ``["input", "status"]``."""
    key = parse_id(job_id, "input.id")
    return await _move(ctx, key, status, notes=notes, transition_field=["input", "status"])


async def cancel(ctx: Context, job_id: str) -> Record:
    """Cancel a job (whoever may: the graph has checked). A finished job is
    INVALID_TRANSITION on ``["input", "id"]``."""
    key = parse_id(job_id, "input.id")
    try:
        record = await ctx.upstreams.sequencing.cancel(ctx.call, key)
    except UpstreamNotFound as exc:
        raise NotFound(f"No sequencing job with id {key}", field=["input", "id"]) from exc
    except UpstreamStatusError as exc:
        if exc.status == 400:  # "Cannot cancel job <id> - job is already in terminal state"
            raise BadUserInput(
                exc.message, field=["input", "id"], user_code=INVALID_TRANSITION
            ) from exc
        raise
    _prime(ctx, [record])
    await ctx.announce(JOBS, record)
    return record


# -- sample sheets and workflows ----------------------------------------------------------


async def sample_sheets_by_id(ctx: Context, ids: Sequence[str]) -> list[Record | None]:
    """Full sample sheets (with entries) by id, aligned; None where there is none."""
    loader = ctx.loaders.of(_SampleSheets(ctx.upstreams.sequencing))
    found: list[Record | None] = await loader.load_many([str(i) for i in ids])
    return found


async def sample_sheets_page(ctx: Context, request: PageRequest) -> Slice[Record]:
    """The page of sample sheets (without entries), newest first, paged at the upstream."""
    sequencing = ctx.upstreams.sequencing
    return await paginate(
        request,
        paged_read(
            lambda number, size: sequencing.sample_sheets(ctx.call, page=number, page_size=size),
            max_page_size=MAX_SHEETS_PER_PAGE,
        ),
    )


async def create_sample_sheet(
    ctx: Context, name: str, platform: str, rows: Sequence[Mapping[str, Any]], run_parameters: Any
) -> Record:
    """Create a sample sheet (DRAFT) from rows keyed as the service wants them (``Sample_ID``,
    ``Sample_Name``, ...), recording the caller as its creator (the route reads
    ``created_by``). Every row's sample must exist in the samples service: one batched
    lookup; a missing one is NOT_FOUND on its row's ``sampleId``."""
    if _blank(name):
        raise BadUserInput("`name` must not be blank", field=["input", "name"])
    if not rows:
        raise BadUserInput("A sample sheet needs at least one sample", field=["input", "samples"])
    ids = [parse_id(str(r["Sample_ID"]), f"input.samples.{i}.sampleId") for i, r in enumerate(rows)]
    for i, row in enumerate(rows):
        if _blank(row.get("Sample_Name")):
            raise BadUserInput(
                "`sampleName` must not be blank", field=["input", "samples", str(i), "sampleName"]
            )
    found = await ctx.loaders.of(ctx.upstreams.samples.get_many).load_many(ids)
    for i, (key, record) in enumerate(zip(ids, found, strict=True)):
        if record is None:
            raise NotFound(
                f"No sample with id {key}", field=["input", "samples", str(i), "sampleId"]
            )
    principal = ctx.principal
    body: dict[str, Any] = {
        "name": name,
        "platform": platform,
        "run_parameters": {} if run_parameters is None else run_parameters,
        "samples": [{**row, "Sample_ID": key} for row, key in zip(rows, ids, strict=True)],
    }
    if principal is not None:
        body["created_by"] = principal.id
    try:
        return await ctx.upstreams.sequencing.create_sample_sheet(ctx.call, body)
    except UpstreamStatusError as exc:
        if exc.status in (400, 422):
            raise BadUserInput(exc.message, field=["input", "samples"]) from exc
        raise


@dataclass(frozen=True, slots=True)
class _Workflows:
    """Workflow records by id (no batch endpoint: a fan-out)."""

    sequencing: SequencingClient

    async def __call__(self, call: CallContext, ids: Sequence[str]) -> list[Record | None]:
        width = self.sequencing.client.config.bulkhead.max_concurrency
        return await fan_out(ids, lambda i: self.sequencing.workflow(call, i), width=width)


async def workflows_by_id(ctx: Context, ids: Sequence[str]) -> list[Record | None]:
    loader = ctx.loaders.of(_Workflows(ctx.upstreams.sequencing))
    found: list[Record | None] = await loader.load_many([str(i) for i in ids])
    return found


async def workflows_page(ctx: Context, request: PageRequest) -> Slice[Record]:
    """The page of workflow records, newest first, paged at the upstream."""
    sequencing = ctx.upstreams.sequencing
    return await paginate(
        request,
        paged_read(
            lambda number, size: sequencing.workflows(ctx.call, page=number, page_size=size),
            max_page_size=MAX_WORKFLOWS_PER_PAGE,
        ),
    )

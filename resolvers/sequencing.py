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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from resolvers.context import Context
from resolvers.errors import Forbidden, NotFound, Unauthenticated, parse_id
from resolvers.pagination import (
    PageRequest,
    Slice,
    paginate,
    paginate_list,
    plan_range,
    slice_range,
)
from upstreams.config import CallContext
from upstreams.errors import UpstreamUnsupported
from upstreams.sequencing import MAX_JOBS_PER_PAGE, SequencingClient
from upstreams.services import canonical_id, fan_out

__all__ = [
    "MAX_JOBS_FOR_SAMPLE_LINKS",
    "MAX_JOBS_PER_PAGE",
    "cancel",
    "change_status",
    "is_detail",
    "job",
    "job_detail",
    "jobs_for_sample",
    "jobs_page",
    "sample_sheet",
    "submit",
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


async def _index_by_sheets(ctx: Context, jobs: Sequence[Record]) -> dict[str, list[Record]]:
    """Sample id → the jobs (in the given order) whose sheet lists it, from the sheets."""
    sheet_ids = list(
        dict.fromkeys(str(j["sample_sheet_id"]) for j in jobs if j.get("sample_sheet_id"))
    )
    sheets = await ctx.loaders.of(_SampleSheets(ctx.upstreams.sequencing)).load_many(sheet_ids)
    samples_of: dict[str, list[str]] = {}
    for sheet_id, sheet in zip(sheet_ids, sheets, strict=True):
        entries = (sheet or {}).get("entries") or []
        samples_of[sheet_id] = list(dict.fromkeys(str(e.get("sample_id")) for e in entries))
    index: dict[str, list[Record]] = {}
    for job_record in jobs:
        for sample_id in samples_of.get(str(job_record.get("sample_sheet_id")), []):
            index.setdefault(canonical_id(sample_id) or sample_id, []).append(job_record)
    return index


async def _index_by_extension(ctx: Context, sample_ids: Sequence[str]) -> dict[str, list[Record]]:
    jobs = await ctx.upstreams.sequencing.jobs_with_samples(ctx.call, sample_ids)
    _prime(ctx, jobs)
    distinct = {canonical_id(s) for s in sample_ids} - {None}
    if len(distinct) == 1:
        # One sample asked: every job answered holds it, no sheet needed to tell.
        return {str(next(iter(distinct))): jobs}
    return await _index_by_sheets(ctx, jobs)


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


def _matches(record: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    for key, wanted in filters.items():
        field_name = "platform_id" if key == "platform" else key
        if record.get(field_name) != wanted:
            return False
    return True


async def jobs_page(
    ctx: Context, request: PageRequest, filters: Mapping[str, Any]
) -> Slice[Record]:
    """The page of jobs (summaries), newest first, ``request`` asks for.

    The release ignores the list's filters: with any, every page is read and the gateway
    filters and pages; without, the range is paged at the upstream.
    """
    sequencing = ctx.upstreams.sequencing
    if filters:
        matching = [r for r in await sequencing.scan(ctx.call) if _matches(r, filters)]
        return await paginate_list(request, matching)

    async def read(start: int, end: int) -> tuple[list[Record], int]:
        plan = plan_range(start, end, max_page_size=MAX_JOBS_PER_PAGE)
        pages = [await sequencing.list(ctx.call, page=number, limit=size) for number, size in plan]
        return slice_range(start, end, plan, [p.items for p in pages]), pages[0].total_count

    return await paginate(request, read)


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


async def submit(ctx: Context, data: Mapping[str, Any], *, draft: bool) -> Record:
    """Create a job (DRAFT) and, unless ``draft``, submit it (SUBMITTED).

    ``platform_id`` and ``workflow_id`` are names on the release (``illumina_novaseq``,
    ``standard_wgs``), passed as given; the service answers an unknown platform 404. The
    release records a random creator whatever the request says, so none is sent.
    """
    body = {k: v for k, v in data.items() if v is not None}
    if body.get("sample_sheet_id") is not None:
        body["sample_sheet_id"] = parse_id(str(body["sample_sheet_id"]), "input.sampleSheetId")
    created = await ctx.upstreams.sequencing.create(ctx.call, body)
    if draft:
        return created  # a summary: the graph loads the detail for fields only it has
    submitted = await ctx.upstreams.sequencing.change_status(
        ctx.call, str(created["id"]), "submitted"
    )
    _prime(ctx, [submitted])
    return submitted


async def change_status(ctx: Context, job_id: str, status: str, notes: str | None) -> Record:
    key = parse_id(job_id, "input.id")
    record = await ctx.upstreams.sequencing.change_status(ctx.call, key, status, notes=notes)
    _prime(ctx, [record])
    return record


async def cancel(ctx: Context, job_id: str, *, any_job: bool) -> Record:
    """Cancel a job. ``any_job``: the caller's role may cancel any job (the graph decides,
    from the security rule); otherwise only a job the caller created."""
    key = parse_id(job_id, "id")
    principal = ctx.principal
    if principal is None:
        raise Unauthenticated("Log in first: cancelling a job needs a bearer token")
    if not any_job:
        existing = await job(ctx, key)
        if existing is None:
            raise NotFound(f"No sequencing job with id {key}")
        if str(existing.get("created_by")) != principal.id:
            raise Forbidden(
                "Only the job's creator, a principal investigator or an administrator may cancel it"
            )
    record = await ctx.upstreams.sequencing.cancel(ctx.call, key)
    _prime(ctx, [record])
    return record

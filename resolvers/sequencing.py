"""Resolvers for sequencing: the job list and lookups, the jobs of a sample, a job's sample
sheet and samples, and the job mutations.

The job list pages with ``page``/``limit`` and at most ``MAX_JOBS_PER_PAGE`` a page, so a
connection window asks for at most that many (``first`` above it is BAD_USER_INPUT, like
any other out-of-range ``first``). Sample sheets have no batch endpoint: their loader is a
de-duplicated fan-out capped at the bulkhead's width.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from resolvers.context import Context
from resolvers.errors import Forbidden, NotFound, Unauthenticated, parse_id
from resolvers.pagination import Window, plan_pages, slice_pages
from upstreams.config import CallContext
from upstreams.sequencing import SequencingClient
from upstreams.services import fan_out

Record = dict[str, Any]

# GET /jobs answers at most this many jobs a page.
MAX_JOBS_PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class _SampleSheets:
    """Sample sheets by id (no batch endpoint: a fan-out)."""

    sequencing: SequencingClient

    async def __call__(self, call: CallContext, ids: Sequence[str]) -> list[Record | None]:
        width = self.sequencing.client.config.bulkhead.max_concurrency
        return await fan_out(ids, lambda i: self.sequencing.sample_sheet(call, i), width=width)


def _prime(ctx: Context, jobs: Sequence[Record]) -> None:
    ctx.loaders.prime(ctx.upstreams.sequencing.get_many, jobs)


async def job(ctx: Context, job_id: str) -> Record | None:
    """One job by id; None when there is none."""
    key = parse_id(job_id, "id")
    record: Record | None = await ctx.loaders.of(ctx.upstreams.sequencing.get_many).load(key)
    return record


async def jobs_page(
    ctx: Context, win: Window, filters: Mapping[str, Any]
) -> tuple[list[Record], int]:
    """The window's jobs, newest first, and the total, in as few upstream pages as possible."""
    plan = plan_pages(win, max_page_size=MAX_JOBS_PER_PAGE)
    if not plan:
        # first: 0 still answers totalCount; one smallest page tells it.
        page = await ctx.upstreams.sequencing.list(ctx.call, page=1, limit=1, **filters)
        return [], page.total_count
    pages = [
        await ctx.upstreams.sequencing.list(ctx.call, page=number, limit=size, **filters)
        for number, size in plan
    ]
    items = slice_pages(win, [p.items for p in pages], page_size=plan[0][1])
    _prime(ctx, items)
    return items, pages[0].total_count


async def jobs_for_sample(ctx: Context, sample_id: str) -> list[Record]:
    """The jobs whose sample sheet holds this sample."""
    loader = ctx.loaders.of(ctx.upstreams.sequencing.jobs_for_samples)
    jobs: list[Record] = await loader.load(str(sample_id))
    _prime(ctx, jobs)
    return jobs


async def sample_sheet(ctx: Context, sheet_id: str) -> Record | None:
    """A job's sample sheet with its entries; None when it is gone."""
    record: Record | None = await ctx.loaders.of(_SampleSheets(ctx.upstreams.sequencing)).load(
        str(sheet_id)
    )
    return record


async def submit(ctx: Context, data: Mapping[str, Any], *, draft: bool) -> Record:
    """Create a job (DRAFT) and, unless ``draft``, submit it (SUBMITTED)."""
    body = dict(data)
    for key in ("platform_id", "workflow_id", "sample_sheet_id"):
        if body.get(key) is not None:
            body[key] = parse_id(str(body[key]), f"input.{_camel(key)}")
    body = {k: v for k, v in body.items() if v is not None}
    if ctx.actor is not None:
        body["created_by"] = ctx.actor
    created = await ctx.upstreams.sequencing.create(ctx.call, body)
    if not draft:
        created = await ctx.upstreams.sequencing.change_status(
            ctx.call, str(created["id"]), "submitted"
        )
    _prime(ctx, [created])
    return created


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


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)

"""Root resolvers for templates, and the loader of template fields.

The templates service has no batch route for fields: ``TemplateFields`` is the batch
function of a per-request DataLoader that fans out one ``GET /templates/{id}/fields`` per
distinct template, at most the bulkhead's width at a time. The templates service answers
errors with a bare status and an empty body, so the gateway checks what it can before
calling (empty names), and its own message says what was wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from resolvers.context import Context
from resolvers.errors import BadUserInput, NotFound, parse_id
from resolvers.pagination import Window, plan_pages, slice_pages
from upstreams.config import CallContext
from upstreams.errors import UpstreamNotFound
from upstreams.services import fan_out
from upstreams.templates import TemplatesClient

Record = dict[str, Any]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class TemplateFields:
    """Batch function: the fields of each template id (None for an unknown template).

    A frozen dataclass, so equal instances key the same loader in ``ctx.loaders.of``."""

    templates: TemplatesClient

    async def __call__(self, call: CallContext, template_ids: Sequence[str]) -> list[Any]:
        return await fan_out(
            list(template_ids),
            lambda i: self.templates.fields(call, i),
            width=self.templates.client.config.bulkhead.max_concurrency,
        )


async def template(ctx: Context, id: str) -> Record | None:
    record: Record | None = await ctx.loaders.of(ctx.upstreams.templates.get_many).load(
        parse_id(id, "id")
    )
    return record


async def template_fields(ctx: Context, template_id: str) -> list[Record] | None:
    fields: list[Record] | None = await ctx.loaders.of(
        TemplateFields(ctx.upstreams.templates)
    ).load(str(template_id))
    return fields


async def templates_page(
    ctx: Context, win: Window, filters: Mapping[str, Any]
) -> tuple[list[Record], int]:
    """The window's templates and the total count, in as few upstream pages as possible."""
    client = ctx.upstreams.templates
    plan = plan_pages(win, max_page_size=ctx.max_page_size)
    if not plan:
        page = await client.list(ctx.call, page=1, page_size=1, **filters)
        return [], page.total_count
    pages = await asyncio.gather(
        *(client.list(ctx.call, page=n, page_size=size, **filters) for n, size in plan)
    )
    items = slice_pages(win, [p.items for p in pages], page_size=plan[0][1])
    ctx.loaders.prime(client.get_many, items)
    return items, pages[0].total_count


def _check_name(data: Mapping[str, Any]) -> None:
    if "name" in data and not str(data["name"]).strip():
        raise BadUserInput("`name` must not be empty")


async def create(ctx: Context, data: Mapping[str, Any]) -> Record:
    _check_name(data)
    if ctx.actor is not None:
        data = {**data, "created_by": ctx.actor}
    record: Record = await ctx.upstreams.templates.create(ctx.call, data)
    return record


async def update(ctx: Context, id: str, data: Mapping[str, Any]) -> Record:
    template_id = parse_id(id, "id")
    _check_name(data)
    if not data:
        raise BadUserInput("Give at least one field to change")
    try:
        record: Record = await ctx.upstreams.templates.update(ctx.call, template_id, data)
    except UpstreamNotFound as exc:
        raise _not_found(exc, template_id) from None
    return record


async def clone(ctx: Context, id: str, name: str | None) -> Record:
    template_id = parse_id(id, "id")
    data = {} if name is None else {"name": name}
    _check_name(data)
    try:
        record: Record = await ctx.upstreams.templates.clone(ctx.call, template_id, data)
    except UpstreamNotFound as exc:
        raise _not_found(exc, template_id) from None
    return record


async def archive(ctx: Context, id: str) -> Record:
    return await update(ctx, id, {"status": "archived"})


def _not_found(exc: UpstreamNotFound, template_id: str) -> NotFound:
    # The service's 404 has an empty body: say what was not found.
    return NotFound(f"No template with id {template_id}", service=exc.service)

"""The schema object: root types plus the schema-level extensions, in execution order."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from graph.enums import SampleStatus
from graph.errors import ErrorCodes
from graph.pagination import Connection, window
from graph.types import Sample
from resolvers import samples as sample_resolvers
from resolvers.context import Context

SampleConnection = Connection[Sample]


@strawberry.input(description="Narrows a sample list; every given condition must hold.")
class SampleFilter:
    status: SampleStatus | None = None
    sample_type: str | None = None
    template_id: strawberry.ID | None = None
    search: str | None = strawberry.field(
        default=None, description="Matches name, barcode or notes."
    )
    created_after: datetime | None = None
    created_before: datetime | None = None


def _filters(f: SampleFilter | None) -> dict[str, object]:
    if f is None:
        return {}
    values = {
        "status": f.status.value if f.status else None,
        "sample_type": f.sample_type,
        "template_id": str(f.template_id) if f.template_id else None,
        "search": f.search,
        "created_after": f.created_after.isoformat() if f.created_after else None,
        "created_before": f.created_before.isoformat() if f.created_before else None,
    }
    return {k: v for k, v in values.items() if v is not None}


@strawberry.type
class Query:
    @strawberry.field(description="One sample by id or by barcode; null when there is none.")
    async def sample(
        self,
        info: Info[Context, None],
        id: strawberry.ID | None = None,
        barcode: str | None = None,
    ) -> Sample | None:
        record = await sample_resolvers.sample(info.context, id=id, barcode=barcode)
        return None if record is None else Sample.from_record(record)

    @strawberry.field(description="Samples, newest first, as a cursor connection.")
    async def samples(
        self,
        info: Info[Context, None],
        filter: SampleFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> SampleConnection:
        ctx = info.context
        win = window(first, after, default=ctx.default_page_size, maximum=ctx.max_page_size)
        items, total = await sample_resolvers.samples_page(ctx, win, _filters(filter))
        return SampleConnection.build([Sample.from_record(r) for r in items], win, total)


def create_schema(*, cache_size: int = 1000) -> strawberry.Schema:
    """The gateway's schema; extensions are schema-level hooks only (none per field)."""
    return strawberry.Schema(
        query=Query,
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[
            # Factories: both caches live at module level, shared by every request.
            partial(ParserCache, maxsize=cache_size),
            partial(ValidationCache, maxsize=cache_size),
            ErrorCodes,
        ],
    )

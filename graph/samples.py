"""Samples: the Sample type, its relations to the other services, and the sample root fields.

Scalars are plain attributes (no resolver per field); relations to other services resolve
through the request's DataLoaders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.enums import SampleStatus
from graph.pagination import Connection, window
from graph.templates import Template
from resolvers import samples as sample_resolvers
from resolvers.context import Context


@strawberry.type(description="A biological sample registered in the lab.")
class Sample:
    id: strawberry.ID
    name: str
    barcode: str
    sample_type: str
    status: SampleStatus
    template_id: strawberry.ID | None
    source_type: str | None
    source_identifier: str | None
    collection_date: datetime | None
    collection_location: str | None
    collector: str | None
    concentration: float | None
    volume: float | None
    unit: str | None
    quality_score: float | None
    metadata: JSON | None
    notes: str | None
    created_at: datetime
    updated_at: datetime
    created_by_id: strawberry.ID | None

    @strawberry.field(description="The template the sample was recorded with.")
    async def template(self, info: Info[Context, None]) -> Template | None:
        if self.template_id is None:
            return None
        ctx = info.context
        record = await ctx.loaders.of(ctx.upstreams.templates.get_many).load(str(self.template_id))
        return None if record is None else Template.from_record(record)

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Sample:
        return cls(
            id=strawberry.ID(r["id"]),
            name=r.get("name") or "",
            barcode=r.get("barcode") or "",
            sample_type=r.get("sample_type") or "",
            status=SampleStatus(r["status"]),
            template_id=r.get("template_id"),
            source_type=r.get("source_type"),
            source_identifier=r.get("source_identifier"),
            collection_date=r.get("collection_date"),
            collection_location=r.get("collection_location"),
            collector=r.get("collector"),
            concentration=r.get("concentration"),
            volume=r.get("volume"),
            unit=r.get("unit"),
            quality_score=r.get("quality_score"),
            metadata=r.get("metadata"),
            notes=r.get("notes"),
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            created_by_id=r.get("created_by"),
        )


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

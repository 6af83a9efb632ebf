"""Object types of the graph. Scalars are plain attributes (no resolver per field); relations
to other services resolve through the request's DataLoaders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.enums import SampleStatus, TemplateStatus
from resolvers.context import Context


def _enum(enum: type[Any], value: Any) -> Any:
    return None if value is None else enum(value)


@strawberry.type(description="A sample template: the form a sample of some kind is recorded with.")
class Template:
    id: strawberry.ID
    name: str
    description: str | None
    template_type: str | None
    status: TemplateStatus | None
    version: str | None
    category: str | None
    tags: list[str]
    is_public: bool
    is_system: bool
    field_count: int | None
    usage_count: int | None
    created_by: str | None = strawberry.field(description="Free text: who created it.")
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Template:
        return cls(
            id=strawberry.ID(r["id"]),
            name=r.get("name") or "",
            description=r.get("description"),
            template_type=r.get("template_type"),
            status=_enum(TemplateStatus, r.get("status")),
            version=None if r.get("version") is None else str(r["version"]),
            category=r.get("category"),
            tags=list(r.get("tags") or ()),
            is_public=bool(r.get("is_public")),
            is_system=bool(r.get("is_system")),
            field_count=r.get("field_count"),
            usage_count=r.get("usage_count"),
            created_by=None if r.get("created_by") is None else str(r["created_by"]),
            created_at=r.get("created_at"),
            updated_at=r.get("updated_at"),
        )


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

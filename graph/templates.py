"""Templates: the forms samples are recorded with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from graph.enums import TemplateStatus


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

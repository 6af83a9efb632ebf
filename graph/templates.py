"""Templates: the forms samples are recorded with, their fields, and the samples recorded
with each; create, update, clone and archive.

``Template.fields`` and ``Template.fieldCount`` load through a per-request DataLoader (one
call per distinct template: the service has no batch route for fields);
``Template.metadata`` through another (``GET /templates/{id}/data``, the only route that
shows it); ``Template.samples`` and ``Template.usageCount`` come from one read of the whole
samples list per request (the release's list cannot filter), grouped by template. The
release never reads a template's form config back, and has no publishing record:
``formConfig``, ``publishedAt`` and ``publishedBy`` are null there.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.enums import TemplateFieldType, TemplateStatus
from graph.pagination import After, Before, Connection, First, Last, connection_args
from graph.permissions import requires
from graph.values import member
from resolvers import templates as template_resolvers
from resolvers.context import Context
from security import rbac

if TYPE_CHECKING:
    from graph.samples import Sample

LazySample = Annotated["Sample", strawberry.lazy("graph.samples")]


def _strings(values: Any) -> list[str] | None:
    if values is None:
        return None
    return [v if isinstance(v, str) else str(v) for v in values]


@strawberry.type(description="One input of a template's form.")
class TemplateField:
    id: strawberry.ID
    template_id: strawberry.ID
    name: str
    label: str
    field_type: TemplateFieldType
    is_required: bool
    default_value: JSON | None
    options: list[str] | None = strawberry.field(description="The choices of SELECT fields.")
    validation_rules: JSON | None
    sort_order: int
    help_text: str | None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> TemplateField:
        """A FieldResponse of the templates service (field_name, field_label, ...)."""
        return cls(
            id=strawberry.ID(r["id"]),
            template_id=strawberry.ID(r.get("template_id") or ""),
            name=r.get("field_name") or "",
            label=r.get("field_label") or r.get("field_name") or "",
            field_type=member(
                TemplateFieldType, r.get("field_type"), service="templates", field="field_type"
            ),
            is_required=bool(r.get("is_required")),
            default_value=r.get("default_value"),
            options=_strings(r.get("field_options")),
            validation_rules=r.get("validation_rules"),
            sort_order=int(r.get("field_order") or 0),
            help_text=r.get("field_description"),
        )


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
    form_config: JSON | None = strawberry.field(
        description="Null on the release: no route of the templates service reads it back."
    )
    created_by: str | None = strawberry.field(description="Free text: who created it.")
    created_at: datetime | None
    updated_at: datetime | None
    published_at: datetime | None
    published_by: str | None = strawberry.field(description="Free text: who published it.")

    record: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="The form's fields, in display order.")
    async def fields(self, info: Info[Context, None]) -> list[TemplateField] | None:
        records = await template_resolvers.template_fields(info.context, str(self.id))
        if records is None:
            return None
        ordered = sorted(records, key=lambda r: int(r.get("field_order") or 0))
        return [TemplateField.from_record(r) for r in ordered]

    @strawberry.field(description="How many fields the form has.")
    async def field_count(self, info: Info[Context, None]) -> int | None:
        # The service's own field_count is always 0: count the fields.
        records = await template_resolvers.template_fields(info.context, str(self.id))
        return None if records is None else len(records)

    @strawberry.field(description="The caller's metadata of the template.")
    async def metadata(self, info: Info[Context, None]) -> JSON | None:
        return await template_resolvers.template_metadata(info.context, self.record)

    @strawberry.field(
        description="How many samples were recorded with this template.",
        permission_classes=[requires(rbac.READ_LIMS)],
    )
    async def usage_count(self, info: Info[Context, None]) -> int | None:
        # The service's own usage_count is always 0: count the samples.
        return len(await template_resolvers.template_samples(info.context, str(self.id)))

    @strawberry.field(
        description="Samples recorded with this template, newest first.",
        permission_classes=[requires(rbac.READ_LIMS)],
    )
    async def samples(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[LazySample] | None:
        from graph.samples import Sample, SampleConnection

        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        page = await template_resolvers.template_samples_page(ctx, str(self.id), request)
        return SampleConnection.build(page, Sample.from_record)

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Template:
        return cls(
            id=strawberry.ID(r["id"]),
            name=r.get("name") or "",
            description=r.get("description"),
            template_type=r.get("template_type"),
            status=member(TemplateStatus, r.get("status"), service="templates", field="status"),
            version=None if r.get("version") is None else str(r["version"]),
            category=r.get("category"),
            tags=list(r.get("tags") or ()),
            is_public=bool(r.get("is_public")),
            is_system=bool(r.get("is_system")),
            form_config=r.get("form_config"),
            record=r,
            created_by=None if r.get("created_by") is None else str(r["created_by"]),
            created_at=r.get("created_at"),
            updated_at=r.get("updated_at"),
            published_at=r.get("published_at"),
            published_by=None if r.get("published_by") is None else str(r["published_by"]),
        )


TemplateConnection = Connection[Template]


@strawberry.input(description="Narrows the template list; every given condition must hold.")
class TemplateFilter:
    status: TemplateStatus | None = None
    search: str | None = strawberry.field(default=None, description="Matches the name.")


@strawberry.input(description="One field of a new template's form.")
class TemplateFieldInput:
    name: str
    field_type: TemplateFieldType
    label: str | None = None
    is_required: bool = False
    default_value: JSON | None = None
    options: list[str] | None = None
    validation_rules: JSON | None = None
    sort_order: int | None = None
    help_text: str | None = None


@strawberry.input(
    description="A new template; it starts as DRAFT (on the release, the only status it can "
    "be created with)."
)
class CreateTemplateInput:
    name: str
    description: str | None = None
    template_type: str | None = None
    category: str | None = None
    tags: list[str] | None = None
    is_public: bool | None = None
    status: TemplateStatus | None = None
    form_config: JSON | None = None
    metadata: JSON | None = None
    fields: list[TemplateFieldInput] | None = None


@strawberry.input(description="The changes to a template; fields left out stay as they are.")
class UpdateTemplateInput:
    name: str | None = None
    description: str | None = None
    template_type: str | None = None
    category: str | None = None
    tags: list[str] | None = None
    is_public: bool | None = None
    status: TemplateStatus | None = None
    form_config: JSON | None = None
    metadata: JSON | None = None


@strawberry.input(description="How to name the copy; the default is the source's name + (copy).")
class CloneTemplateInput:
    name: str | None = None


def _wire(input: Any) -> dict[str, Any]:
    """An input object as the upstream client takes it: snake_case keys, enums by value,
    fields that were not given left out."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(input):
        value = getattr(input, field.name)
        if value is None or value is strawberry.UNSET:
            continue
        if isinstance(value, TemplateStatus | TemplateFieldType):
            value = value.value
        elif isinstance(value, list) and value and isinstance(value[0], TemplateFieldInput):
            value = [_wire(v) for v in value]
        out[field.name] = value
    return out


def _filters(f: TemplateFilter | None) -> dict[str, Any]:
    return {} if f is None else _wire(f)


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.READ_TEMPLATES)],
        description="One template by id; null when there is none.",
    )
    async def template(self, info: Info[Context, None], id: strawberry.ID) -> Template | None:
        record = await template_resolvers.template(info.context, id)
        return None if record is None else Template.from_record(record)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_TEMPLATES)],
        description="Templates, newest first, as a cursor connection.",
    )
    async def templates(
        self,
        info: Info[Context, None],
        filter: TemplateFilter | None = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> TemplateConnection | None:
        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        page = await template_resolvers.templates_page(ctx, request, _filters(filter))
        return TemplateConnection.build(page, Template.from_record)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[requires(rbac.MANAGE_TEMPLATES)],
        description="Create a template with its fields.",
    )
    async def create_template(
        self, info: Info[Context, None], input: CreateTemplateInput
    ) -> Template | None:
        record = await template_resolvers.create(info.context, _wire(input))
        return Template.from_record(record)

    @strawberry.mutation(
        permission_classes=[requires(rbac.MANAGE_TEMPLATES)],
        description="Change a template's attributes. On the release a status or form config "
        "change is UPSTREAM_UNSUPPORTED (nothing is written).",
    )
    async def update_template(
        self, info: Info[Context, None], id: strawberry.ID, input: UpdateTemplateInput
    ) -> Template | None:
        record = await template_resolvers.update(info.context, id, _wire(input))
        return Template.from_record(record)

    @strawberry.mutation(
        permission_classes=[requires(rbac.MANAGE_TEMPLATES)],
        description="Copy a template and its fields into a new DRAFT (the form config is not "
        "copied on the release: it cannot be read back).",
    )
    async def clone_template(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        input: CloneTemplateInput | None = None,
    ) -> Template | None:
        name = None if input is None else input.name
        record = await template_resolvers.clone(info.context, id, name)
        return Template.from_record(record)

    @strawberry.mutation(
        permission_classes=[requires(rbac.MANAGE_TEMPLATES)],
        description="Set a template's status to ARCHIVED; UPSTREAM_UNSUPPORTED on the release "
        "(it cannot change a status) unless the template is archived already.",
    )
    async def archive_template(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> Template | None:
        record = await template_resolvers.archive(info.context, id)
        return Template.from_record(record)

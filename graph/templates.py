"""Templates: the forms samples are recorded with, their fields, and the samples recorded
with each; create, update, clone, delete and field edits (publish and archive are status
changes the release cannot make).

``Template.fields`` and ``Template.fieldCount`` load through a per-request DataLoader (one
call per distinct template: the service has no batch route for fields);
``Template.metadata`` through another (``GET /templates/{id}/data``, the only route that
shows it); ``Template.samples`` and ``Template.usageCount`` come from one read of the whole
samples list per request (the release's list cannot filter), grouped by template. Those
are nullable: each needs a call beyond the template's own record. What TemplateResponse
always carries (UPSTREAMS.md, "## templates") is non-null.

The release never reads a template's form config back and keeps no publishing record, so
the graph shows neither (``formConfig`` is write-only in ``createTemplate``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.enums import TemplateFieldType, TemplateStatus
from graph.nodes import Node, register
from graph.ordering import OrderDirection, sort_records
from graph.pagination import After, Before, Connection, First, Last, connection_args
from graph.payloads import UserError, attempt, user_errors_field
from graph.permissions import requires
from graph.values import member
from resolvers import templates as template_resolvers
from resolvers.context import Context
from security import rbac
from upstreams.errors import UpstreamBadResponse

if TYPE_CHECKING:
    from graph.samples import Sample

LazySample = Annotated["Sample", strawberry.lazy("graph.samples")]
SERVICE = "templates"
_WHOLE_NUMBER = re.compile(r"^\d+(\.0+)?$")


def _revision(value: Any) -> Any:
    """The service's integer version, which it sends as a string ("1" on reads, "1.0" in a
    create response)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _WHOLE_NUMBER.match(value):
        return int(value.split(".")[0])
    return UpstreamBadResponse.for_value(SERVICE, "version", value)


def _options(value: Any) -> Any:
    """field_options: a list of strings ([] when the field has none)."""
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return UpstreamBadResponse.for_value(SERVICE, "field_options", value)


@strawberry.type(
    description="One input of a template's form. Its `id` is stable (a UUID), but it is not "
    "a Node: the templates service reads a field only under its template "
    "(`GET /templates/{templateId}/fields/{fieldId}`), so `node(id:)` could not find it."
)
class TemplateField:
    id: strawberry.ID = strawberry.field(description="The field's UUID.")
    template_id: strawberry.ID = strawberry.field(description="The template it belongs to.")
    name: str = strawberry.field(
        description="The field's key in recorded data (`field_name`), unique within its template."
    )
    label: str = strawberry.field(description="What a form shows beside the input.")
    field_type: TemplateFieldType = strawberry.field(description="The kind of input.")
    is_required: bool = strawberry.field(description="Whether a sample must give a value.")
    default_value: str | None = strawberry.field(
        description="The value the input starts with, as text (the service stores text); "
        "null when there is none."
    )
    options: list[str] = strawberry.field(
        description="The choices of SELECT and MULTISELECT fields; empty for other kinds."
    )
    validation_rules: JSON = strawberry.field(
        description="Caller-defined validation rules, returned as they were written (`{}` "
        "when none): the templates service stores them without reading them, so their shape "
        "is the caller's."
    )
    sort_order: int = strawberry.field(
        description="The field's place in the form, ascending (ties: by name)."
    )
    help_text: str | None = strawberry.field(
        description="A hint shown with the input (`field_description`); null when none."
    )

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> TemplateField:
        """A FieldResponse of the templates service (field_name, field_label, ...): every
        key but field_description and default_value is always sent."""
        rules = r.get("validation_rules")
        return cls(
            id=strawberry.ID(r["id"]),
            template_id=strawberry.ID(str(r["template_id"])),
            name=r["field_name"],
            label=r["field_label"],
            field_type=member(
                TemplateFieldType, r.get("field_type"), service=SERVICE, field="field_type"
            ),
            is_required=bool(r.get("is_required")),
            default_value=r.get("default_value"),
            options=_options(r.get("field_options")),
            validation_rules={} if rules is None else rules,
            sort_order=int(r.get("field_order") or 0),
            help_text=r.get("field_description"),
        )


def _fields(records: Sequence[dict[str, Any]]) -> list[TemplateField]:
    return [TemplateField.from_record(r) for r in template_resolvers.in_order(records)]


@strawberry.type(description="A sample template: the form a sample of some kind is recorded with.")
class Template(Node):
    name: str = strawberry.field(description="The template's name.")
    description: str | None = strawberry.field(description="What it is for; null when none.")
    template_type: str = strawberry.field(
        description='Free text naming the kind of template ("collection", "form", ...); '
        '"form" when none was given.'
    )
    status: TemplateStatus = strawberry.field(description="Where it is in its life cycle.")
    revision: int = strawberry.field(
        description="The template's revision number, 1 when created (the service's integer "
        "`version`; the release's update does not count revisions). Not a format version "
        "like `SampleSheet.version`."
    )
    category: str | None = strawberry.field(
        description='A free-text grouping; "general" when none was given.'
    )
    tags: list[str] = strawberry.field(description="Free-text labels; empty when none.")
    is_public: bool = strawberry.field(description="Whether every lab may use it.")
    is_system: bool = strawberry.field(
        description="Whether it is one of the service's own templates."
    )
    created_by_name: str = strawberry.field(
        description="Free text the templates service records as the creator, not a user id: "
        '"system" for every template on the release (it takes no identity from the caller).'
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When its attributes last changed.")

    record: strawberry.Private[dict[str, Any]]

    @strawberry.field(
        description="The form's fields, in display order (`sortOrder`, then name). Null "
        "when they could not be loaded (one more call)."
    )
    async def fields(self, info: Info[Context, None]) -> list[TemplateField] | None:
        records = await template_resolvers.template_fields(info.context, str(self.id))
        return None if records is None else _fields(records)

    @strawberry.field(
        description="How many fields the form has (counted from `fields`: the service's own "
        "count is always 0)."
    )
    async def field_count(self, info: Info[Context, None]) -> int | None:
        records = await template_resolvers.template_fields(info.context, str(self.id))
        return None if records is None else len(records)

    @strawberry.field(
        description="Caller-defined data kept with the template (an object), as it was "
        "written, without the keys the service keeps there itself. JSON because its shape "
        "is the caller's."
    )
    async def metadata(self, info: Info[Context, None]) -> JSON | None:
        return await template_resolvers.template_metadata(info.context, self.record)

    @strawberry.field(
        description="How many samples were recorded with this template (counted over the "
        "whole samples list: the service's own count is always 0).",
        permission_classes=[requires(rbac.READ_LIMS)],
    )
    async def usage_count(self, info: Info[Context, None]) -> int | None:
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
        """A TemplateResponse: every key but description and category is always sent."""
        return cls(
            id=strawberry.ID(r["id"]),
            name=r["name"],
            description=r.get("description"),
            template_type=r.get("template_type") or template_resolvers.DEFAULT_TEMPLATE_TYPE,
            status=member(TemplateStatus, r.get("status"), service=SERVICE, field="status"),
            revision=_revision(r.get("version")),
            category=r.get("category"),
            tags=list(r.get("tags") or ()),
            is_public=bool(r.get("is_public")),
            is_system=bool(r.get("is_system")),
            created_by_name=str(r.get("created_by") or "system"),
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            record=r,
        )


async def _fetch_templates(ctx: Context, ids: Sequence[str]) -> list[Template | None]:
    loader = ctx.loaders.of(ctx.upstreams.templates.get_many)
    records = await loader.load_many(list(ids))
    return [None if r is None else Template.from_record(r) for r in records]


register("Template", rbac.READ_TEMPLATES, _fetch_templates)

TemplateConnection = Connection[Template]


# -------------------------------------------------------------------------- list inputs


@strawberry.input(description="Narrows the template list; every given condition must hold.")
class TemplateFilter:
    statuses: list[TemplateStatus] | None = strawberry.field(
        default=None, description="Templates with any of these statuses."
    )
    category: str | None = strawberry.field(
        default=None, description="Templates of this category (exact, case-sensitive)."
    )
    search: str | None = strawberry.field(
        default=None, description="Templates whose name holds this text (case-insensitive)."
    )


@strawberry.enum(description="What the template list can be sorted by.")
class TemplateOrderField(Enum):
    CREATED_AT = strawberry.enum_value("created_at", description="When it was created.")
    UPDATED_AT = strawberry.enum_value("updated_at", description="When it last changed.")
    NAME = strawberry.enum_value("name", description="Its name, case-insensitive.")


@strawberry.input(description="An order of the template list.")
class TemplateOrder:
    field: TemplateOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(description="Which way.")


def _sort_key(field: TemplateOrderField) -> Any:
    if field is TemplateOrderField.NAME:
        return lambda r: str(r.get("name") or "").casefold()
    key = field.value
    return lambda r: r.get(key) if isinstance(r.get(key), datetime) else None


def _arrange(order: TemplateOrder | None) -> template_resolvers.Arrange | None:
    """The gateway-side sort of an `orderBy`; None for the list's own order (newest
    first), which costs nothing."""
    if order is None or (
        order.field is TemplateOrderField.CREATED_AT and order.direction is OrderDirection.DESC
    ):
        return None
    key = _sort_key(order.field)
    return lambda records: sort_records(records, key, order.direction)


# ------------------------------------------------------------------------ write inputs


@strawberry.input(description="One field of a template's form, as it is written.")
class TemplateFieldInput:
    name: str = strawberry.field(
        description="The field's key in recorded data; unique within the template."
    )
    field_type: TemplateFieldType = strawberry.field(description="The kind of input.")
    label: str | None = strawberry.field(
        default=None, description="What a form shows beside the input; the name when left out."
    )
    is_required: bool = strawberry.field(
        default=False, description="Whether a sample must give a value."
    )
    default_value: str | None = strawberry.field(
        default=None, description="The value the input starts with, as text."
    )
    options: list[str] | None = strawberry.field(
        default=None, description="The choices of a SELECT or MULTISELECT field."
    )
    validation_rules: JSON | None = strawberry.field(
        default=None,
        description="Caller-defined validation rules, stored as given (JSON: the service does "
        "not read them, their shape is the caller's).",
    )
    sort_order: int | None = strawberry.field(
        default=None,
        description="The field's place in the form; by default its position in the list "
        "given (createTemplate) or after the last field (addTemplateField).",
    )
    help_text: str | None = strawberry.field(
        default=None, description="A hint shown with the input."
    )


@strawberry.input(
    description="A new template; it starts as DRAFT (the only status the release creates)."
)
class CreateTemplateInput:
    name: str = strawberry.field(description="The template's name; not empty.")
    description: str | None = strawberry.field(default=None, description="What it is for.")
    template_type: str | None = strawberry.field(
        default=None, description='Free text naming the kind of template; "form" by default.'
    )
    category: str | None = strawberry.field(
        default=None, description='A free-text grouping; "general" by default.'
    )
    tags: list[str] | None = strawberry.field(default=None, description="Free-text labels.")
    is_public: bool | None = strawberry.field(
        default=None, description="Whether every lab may use it; false by default."
    )
    form_config: JSON | None = strawberry.field(
        default=None,
        description="Caller-defined form layout (JSON: its shape is the caller's), stored as "
        "given. Write-only: no route of the release reads it back, so Template does not show "
        "it, cloneTemplate cannot copy it and updateTemplate cannot change it.",
    )
    metadata: JSON | None = strawberry.field(
        default=None,
        description="Caller-defined data kept with the template: an object, without the keys "
        "template_type, tags, is_public or is_system (the service keeps those there itself).",
    )
    fields: list[TemplateFieldInput] | None = strawberry.field(
        default=None, description="The form's fields, in display order."
    )


UNSET: Any = strawberry.UNSET


@strawberry.input(
    description="The changes to a template; attributes left out stay as they are. A null "
    "cannot clear `description` or `category` on the release (UPSTREAM_UNSUPPORTED). The "
    "status changes with publishTemplate and archiveTemplate."
)
class UpdateTemplateInput:
    id: strawberry.ID = strawberry.field(description="The template's UUID.")
    name: str | None = strawberry.field(default=UNSET, description="A new name; not empty.")
    description: str | None = strawberry.field(default=UNSET, description="A new description.")
    template_type: str | None = strawberry.field(
        default=UNSET, description="A new kind of template (free text)."
    )
    category: str | None = strawberry.field(default=UNSET, description="A new category.")
    tags: list[str] | None = strawberry.field(
        default=UNSET, description="The new labels (they replace the old ones)."
    )
    is_public: bool | None = strawberry.field(
        default=UNSET, description="Whether every lab may use it."
    )
    metadata: JSON | None = strawberry.field(
        default=UNSET,
        description="The new caller-defined data (replaces the old object; same rules as in "
        "createTemplate).",
    )


@strawberry.input(description="Which template to copy, and the copy's name.")
class CloneTemplateInput:
    id: strawberry.ID = strawberry.field(description="The UUID of the template to copy.")
    name: str | None = strawberry.field(
        default=None, description="The copy's name; the source's name + ' (copy)' by default."
    )


@strawberry.input(description="The template to publish.")
class PublishTemplateInput:
    id: strawberry.ID = strawberry.field(description="The template's UUID.")


@strawberry.input(description="The template to archive.")
class ArchiveTemplateInput:
    id: strawberry.ID = strawberry.field(description="The template's UUID.")


@strawberry.input(description="The template to delete.")
class DeleteTemplateInput:
    id: strawberry.ID = strawberry.field(description="The template's UUID.")


@strawberry.input(description="A field to add to a template's form.")
class AddTemplateFieldInput:
    template_id: strawberry.ID = strawberry.field(description="The template's UUID.")
    template_field: TemplateFieldInput = strawberry.field(description="The new field.")


@strawberry.input(
    description="The changes to one field of a template; attributes left out stay as they "
    "are. A null cannot clear `defaultValue` or `helpText` on the release "
    "(UPSTREAM_UNSUPPORTED)."
)
class UpdateTemplateFieldInput:
    template_id: strawberry.ID = strawberry.field(description="The template's UUID.")
    field_id: strawberry.ID = strawberry.field(description="The field's UUID.")
    name: str | None = strawberry.field(
        default=UNSET, description="A new key; unique within the template."
    )
    label: str | None = strawberry.field(default=UNSET, description="A new label; not empty.")
    field_type: TemplateFieldType | None = strawberry.field(
        default=UNSET, description="A new kind of input."
    )
    is_required: bool | None = strawberry.field(
        default=UNSET, description="Whether a sample must give a value."
    )
    default_value: str | None = strawberry.field(
        default=UNSET, description="A new starting value, as text."
    )
    options: list[str] | None = strawberry.field(
        default=UNSET, description="The new choices (they replace the old ones)."
    )
    validation_rules: JSON | None = strawberry.field(
        default=UNSET, description="New caller-defined validation rules (replace the old)."
    )
    sort_order: int | None = strawberry.field(default=UNSET, description="A new place in the form.")
    help_text: str | None = strawberry.field(default=UNSET, description="A new hint.")


@strawberry.input(description="A field to remove from a template's form.")
class RemoveTemplateFieldInput:
    template_id: strawberry.ID = strawberry.field(description="The template's UUID.")
    field_id: strawberry.ID = strawberry.field(description="The field's UUID.")


@strawberry.input(description="A template's fields in their new order.")
class ReorderTemplateFieldsInput:
    template_id: strawberry.ID = strawberry.field(description="The template's UUID.")
    field_ids: list[strawberry.ID] = strawberry.field(
        description="Every field of the template, once, in the new order: the i-th gets "
        "sortOrder i."
    )


def _value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_value(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _wire(value)
    return value


def _wire(input: Any, skip: Sequence[str] = ()) -> dict[str, Any]:
    """An input object as the resolvers take it: snake_case keys, enums by value; fields
    left out (UNSET, or None where null means "not given") are not in it."""
    return {
        f.name: _value(getattr(input, f.name))
        for f in dataclasses.fields(input)
        if f.name not in skip and _given(getattr(input, f.name))
    }


def _given(value: Any) -> bool:
    return value is not None and value is not UNSET


def _changes(input: Any, skip: Sequence[str]) -> dict[str, Any]:
    """The attributes an update input gives, an explicit null included."""
    return {
        f.name: _value(getattr(input, f.name))
        for f in dataclasses.fields(input)
        if f.name not in skip and getattr(input, f.name) is not UNSET
    }


def _filters(f: TemplateFilter | None) -> dict[str, Any]:
    return {} if f is None else _wire(f)


# ----------------------------------------------------------------------------- payloads


@strawberry.type(description="The outcome of `createTemplate`.")
class CreateTemplatePayload:
    template: Template | None = strawberry.field(
        default=None, description="The new template; null when userErrors is not empty."
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of `updateTemplate`.")
class UpdateTemplatePayload:
    template: Template | None = strawberry.field(
        default=None, description="The template as changed; null when userErrors is not empty."
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of `cloneTemplate`.")
class CloneTemplatePayload:
    template: Template | None = strawberry.field(
        default=None, description="The copy; null when userErrors is not empty."
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of `publishTemplate`.")
class PublishTemplatePayload:
    template: Template | None = strawberry.field(
        default=None, description="The published template; null when userErrors is not empty."
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of `archiveTemplate`.")
class ArchiveTemplatePayload:
    template: Template | None = strawberry.field(
        default=None, description="The archived template; null when userErrors is not empty."
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of `deleteTemplate`.")
class DeleteTemplatePayload:
    deleted_template_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The id of the deleted template, for a client to drop from its cache; "
        "null when userErrors is not empty.",
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of `addTemplateField`.")
class AddTemplateFieldPayload:
    template_field: TemplateField | None = strawberry.field(
        default=None, description="The new field; null when userErrors is not empty."
    )
    template: Template | None = strawberry.field(
        default=None,
        description="The template, whose `fields` now hold the new one; null when userErrors "
        "is not empty.",
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of `updateTemplateField`.")
class UpdateTemplateFieldPayload:
    template_field: TemplateField | None = strawberry.field(
        default=None, description="The field as changed; null when userErrors is not empty."
    )
    template: Template | None = strawberry.field(
        default=None,
        description="The template with its fields as they are now; null when userErrors is "
        "not empty.",
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of `removeTemplateField`.")
class RemoveTemplateFieldPayload:
    removed_field_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The id of the removed field; null when userErrors is not empty.",
    )
    template: Template | None = strawberry.field(
        default=None,
        description="The template with its remaining fields; null when userErrors is not empty.",
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of `reorderTemplateFields`.")
class ReorderTemplateFieldsPayload:
    template: Template | None = strawberry.field(
        default=None,
        description="The template with its fields in the new order; null when userErrors is "
        "not empty.",
    )
    user_errors: list[UserError] = user_errors_field()


# ---------------------------------------------------------------------------- root fields


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.READ_TEMPLATES)],
        description="One template by id; null when there is none.",
    )
    async def template(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The template's UUID.")],
    ) -> Template | None:
        record = await template_resolvers.template(info.context, id)
        return None if record is None else Template.from_record(record)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_TEMPLATES)],
        description="Templates, newest first unless `orderBy` says otherwise. The release "
        "lists only its 50 newest templates: when it holds more, a page past those, a filter "
        "and an order other than newest first are UPSTREAM_UNSUPPORTED (they would be "
        "applied to an incomplete list).",
    )
    async def templates(
        self,
        info: Info[Context, None],
        filter: Annotated[
            TemplateFilter | None,
            strawberry.argument(description="Only the templates that match; all by default."),
        ] = None,
        order_by: Annotated[
            TemplateOrder | None,
            strawberry.argument(
                description="The order; newest first (CREATED_AT DESC) by default."
            ),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> TemplateConnection | None:
        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        page = await template_resolvers.templates_page(
            ctx, request, _filters(filter), _arrange(order_by)
        )
        return TemplateConnection.build(page, Template.from_record)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[requires(rbac.MANAGE_TEMPLATES)],
        description="Create a DRAFT template with its fields (one call per field on the "
        "release; if one fails, the new template is deleted again and the error names it).",
    )
    async def create_template(
        self,
        info: Info[Context, None],
        input: Annotated[
            CreateTemplateInput, strawberry.argument(description="The template to create.")
        ],
    ) -> CreateTemplatePayload | None:
        async def work() -> CreateTemplatePayload:
            record = await template_resolvers.create(info.context, _wire(input))
            return CreateTemplatePayload(template=Template.from_record(record))

        return await attempt(CreateTemplatePayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.MANAGE_TEMPLATES)],
        description="Change a template's attributes.",
    )
    async def update_template(
        self,
        info: Info[Context, None],
        input: Annotated[
            UpdateTemplateInput, strawberry.argument(description="The template and its changes.")
        ],
    ) -> UpdateTemplatePayload | None:
        async def work() -> UpdateTemplatePayload:
            changes = _changes(input, skip=("id",))
            record = await template_resolvers.update(info.context, input.id, changes)
            return UpdateTemplatePayload(template=Template.from_record(record))

        return await attempt(UpdateTemplatePayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.MANAGE_TEMPLATES)],
        description="Copy a template and its fields into a new DRAFT (composed by the gateway: "
        "the release's clone route is a stub; the form config is not copied, no route reads "
        "it back).",
    )
    async def clone_template(
        self,
        info: Info[Context, None],
        input: Annotated[
            CloneTemplateInput,
            strawberry.argument(description="The template to copy and the copy's name."),
        ],
    ) -> CloneTemplatePayload | None:
        async def work() -> CloneTemplatePayload:
            record = await template_resolvers.clone(info.context, input.id, input.name)
            return CloneTemplatePayload(template=Template.from_record(record))

        return await attempt(CloneTemplatePayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.MANAGE_TEMPLATES)],
        description="Set a template's status to PUBLISHED. UPSTREAM_UNSUPPORTED on the "
        "release, which has no publish (or status) route and whose PUT /templates/{id} "
        "ignores `status`; nothing is written. A template that is published already is "
        "returned as it is.",
    )
    async def publish_template(
        self,
        info: Info[Context, None],
        input: Annotated[
            PublishTemplateInput, strawberry.argument(description="The template to publish.")
        ],
    ) -> PublishTemplatePayload | None:
        async def work() -> PublishTemplatePayload:
            record = await template_resolvers.change_status(
                info.context, input.id, str(TemplateStatus.PUBLISHED.value)
            )
            return PublishTemplatePayload(template=Template.from_record(record))

        return await attempt(PublishTemplatePayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.MANAGE_TEMPLATES)],
        description="Set a template's status to ARCHIVED. UPSTREAM_UNSUPPORTED on the "
        "release, which has no status route and whose PUT /templates/{id} ignores `status`; "
        "nothing is written. A template that is archived already is returned as it is.",
    )
    async def archive_template(
        self,
        info: Info[Context, None],
        input: Annotated[
            ArchiveTemplateInput, strawberry.argument(description="The template to archive.")
        ],
    ) -> ArchiveTemplatePayload | None:
        async def work() -> ArchiveTemplatePayload:
            record = await template_resolvers.change_status(
                info.context, input.id, str(TemplateStatus.ARCHIVED.value)
            )
            return ArchiveTemplatePayload(template=Template.from_record(record))

        return await attempt(ArchiveTemplatePayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.MANAGE_TEMPLATES)],
        description="Delete a template (the release's soft delete: it leaves the template "
        "list and can no longer be read; samples recorded with it keep its id).",
    )
    async def delete_template(
        self,
        info: Info[Context, None],
        input: Annotated[
            DeleteTemplateInput, strawberry.argument(description="The template to delete.")
        ],
    ) -> DeleteTemplatePayload | None:
        async def work() -> DeleteTemplatePayload:
            deleted = await template_resolvers.delete(info.context, input.id)
            return DeleteTemplatePayload(deleted_template_id=strawberry.ID(deleted))

        return await attempt(DeleteTemplatePayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.MANAGE_TEMPLATES)],
        description="Add a field to a template's form (after its last field unless "
        "`sortOrder` is given).",
    )
    async def add_template_field(
        self,
        info: Info[Context, None],
        input: Annotated[
            AddTemplateFieldInput,
            strawberry.argument(description="The template and the new field."),
        ],
    ) -> AddTemplateFieldPayload | None:
        async def work() -> AddTemplateFieldPayload:
            field, record, _ = await template_resolvers.add_field(
                info.context, input.template_id, _wire(input.template_field)
            )
            return AddTemplateFieldPayload(
                template_field=TemplateField.from_record(field),
                template=Template.from_record(record),
            )

        return await attempt(AddTemplateFieldPayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.MANAGE_TEMPLATES)],
        description="Change one field of a template's form.",
    )
    async def update_template_field(
        self,
        info: Info[Context, None],
        input: Annotated[
            UpdateTemplateFieldInput, strawberry.argument(description="The field and its changes.")
        ],
    ) -> UpdateTemplateFieldPayload | None:
        async def work() -> UpdateTemplateFieldPayload:
            changes = _changes(input, skip=("template_id", "field_id"))
            field, record, _ = await template_resolvers.update_field(
                info.context, input.template_id, input.field_id, changes
            )
            return UpdateTemplateFieldPayload(
                template_field=TemplateField.from_record(field),
                template=Template.from_record(record),
            )

        return await attempt(UpdateTemplateFieldPayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.MANAGE_TEMPLATES)],
        description="Remove a field from a template's form, for good (values samples "
        "recorded for it stay in their data).",
    )
    async def remove_template_field(
        self,
        info: Info[Context, None],
        input: Annotated[
            RemoveTemplateFieldInput, strawberry.argument(description="The field to remove.")
        ],
    ) -> RemoveTemplateFieldPayload | None:
        async def work() -> RemoveTemplateFieldPayload:
            record, _ = await template_resolvers.remove_field(
                info.context, input.template_id, input.field_id
            )
            return RemoveTemplateFieldPayload(
                removed_field_id=strawberry.ID(str(input.field_id)),
                template=Template.from_record(record),
            )

        return await attempt(RemoveTemplateFieldPayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.MANAGE_TEMPLATES)],
        description="Put a template's fields in a new order. The release has no reorder "
        "route: one call per field that moves; if one fails, the error says how many moved.",
    )
    async def reorder_template_fields(
        self,
        info: Info[Context, None],
        input: Annotated[
            ReorderTemplateFieldsInput,
            strawberry.argument(description="The template and its fields' new order."),
        ],
    ) -> ReorderTemplateFieldsPayload | None:
        async def work() -> ReorderTemplateFieldsPayload:
            record, _ = await template_resolvers.reorder_fields(
                info.context, input.template_id, [str(i) for i in input.field_ids]
            )
            return ReorderTemplateFieldsPayload(template=Template.from_record(record))

        return await attempt(ReorderTemplateFieldsPayload, work())

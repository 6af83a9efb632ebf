"""Templates on the release's templates service (UPSTREAMS.md, "## templates").

What the release cannot do in one call, the gateway composes, and what it cannot do at all
fails with ``UPSTREAM_UNSUPPORTED`` before anything is written:

- **The list** ignores its query: always the 50 newest active templates, with the count of
  all of them. The gateway pages, filters and sorts over those. When the count says there
  are more, a window that reaches past what the list returns, any filter and any order but
  the list's own (they would be applied to an incomplete set) are ``UPSTREAM_UNSUPPORTED``.
- **Create** takes no fields: the template is created, then each field is POSTed in order;
  if one fails the new template is deleted again and the error names the field.
- **Update** applies only name, description and category and *replaces* the stored
  metadata, where template_type, tags and is_public live: the gateway reads the stored
  metadata (``GET /templates/{id}/data``) and sends it back merged with the changes. A
  null cannot clear a value (the PUT's COALESCE keeps the stored one).
- **Publish and archive** are status changes: the release has no route for them and its
  PUT ignores ``status``, so both are ``UPSTREAM_UNSUPPORTED`` (a template that has the
  status already is returned).
- **Delete** is the release's soft delete: the template leaves the list, reads answer 404.
- **Fields** are edited one by one with the release's field routes (POST, PUT, DELETE
  ``/templates/{id}/fields/{fieldId}``); the gateway checks the template and the names
  first (the service answers a bare 500 for an unknown template or a taken name). Reorder
  has no route: one PUT of ``field_order`` per field that moves.
- **Clone** is a stub upstream (200 "not yet implemented"): the gateway reads the source and
  its fields and creates the copy itself. The source's form config cannot be copied: no
  route of the release reads it back.

Writes cannot tell a fixed deployment from the release without writing first, so the
gateway assumes the release everywhere (a status change stays unsupported even where the
service would apply it).

User errors name the input they are about (``["input", "fields", "0", "name"]``).

Errors of this service are bare statuses with empty bodies: the gateway checks what it can
before calling, and its own messages say what was wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from resolvers.context import Context
from resolvers.errors import (
    BAD_USER_INPUT,
    TAKEN,
    UPSTREAM_TIMEOUT,
    UPSTREAM_UNAVAILABLE,
    BadUserInput,
    GraphError,
    NotFound,
    parse_id,
)
from resolvers.pagination import PageRequest, Slice, paginate, paginate_list
from upstreams.config import CallContext
from upstreams.errors import (
    UpstreamError,
    UpstreamNotFound,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnsupported,
)
from upstreams.samples import SamplesClient

Record = dict[str, Any]
# Sorts the whole list (an `orderBy` the release cannot apply).
Arrange = Callable[[list[Record]], list[Record]]
SERVICE = "templates"
# Kept by the release inside the stored metadata, shown as the template's own fields.
RESERVED_METADATA = ("template_type", "tags", "is_public", "is_system")
# What the release shows when the stored metadata has no template_type.
DEFAULT_TEMPLATE_TYPE = "form"


class TemplateWriteFailed(GraphError):
    """A step of a composed write failed; the code follows the upstream failure."""

    def __init__(self, message: str, cause: UpstreamError, **extensions: Any) -> None:
        super().__init__(message, service=cause.service, **extensions)
        if isinstance(cause, UpstreamTimeout):
            self.code = UPSTREAM_TIMEOUT
        elif isinstance(cause, UpstreamStatusError) and cause.status in (400, 409, 422):
            self.code = BAD_USER_INPUT
        else:
            self.code = UPSTREAM_UNAVAILABLE


# -------------------------------------------------------------------------------- reads


async def template(ctx: Context, id: str) -> Record | None:
    record: Record | None = await ctx.loaders.of(ctx.upstreams.templates.get_many).load(
        parse_id(id, "id")
    )
    return record


async def template_fields(ctx: Context, template_id: str) -> list[Record] | None:
    """The template's fields, in the service's order (field_order, then field_name)."""
    fields: list[Record] | None = await ctx.loaders.of(ctx.upstreams.templates.fields_many).load(
        str(template_id)
    )
    return fields


async def template_metadata(ctx: Context, record: Record) -> Any:
    """The caller's metadata of a template: only ``GET /templates/{id}/data`` shows it
    (a batched loader, one call per distinct template), without the keys the service keeps
    there for itself."""
    if "metadata" in record:
        return caller_metadata(record["metadata"])
    detail: Record | None = await ctx.loaders.of(ctx.upstreams.templates.data_many).load(
        str(record["id"])
    )
    return None if detail is None else caller_metadata(detail.get("metadata"))


@dataclass(frozen=True, slots=True)
class SamplesByTemplate:
    """Batch function: the samples recorded with each template id, newest first.

    The release's samples list cannot filter (any filter is a 500), so one read of every
    sample (``SamplesClient.matching``, all pages) serves every template of the request.
    A frozen dataclass, so equal instances key the same loader in ``ctx.loaders.of``."""

    samples: SamplesClient

    async def __call__(self, call: CallContext, template_ids: Sequence[str]) -> list[Any]:
        grouped: dict[str, list[Record]] = {}
        for record in await self.samples.matching(call):
            grouped.setdefault(str(record.get("template_id")), []).append(record)
        return [grouped.get(t, []) for t in template_ids]


async def template_samples(ctx: Context, template_id: str) -> list[Record]:
    """Every sample recorded with the template (see ``SamplesByTemplate``)."""
    samples: list[Record] = await ctx.loaders.of(SamplesByTemplate(ctx.upstreams.samples)).load(
        str(template_id)
    )
    return samples


async def template_samples_page(
    ctx: Context, template_id: str, request: PageRequest
) -> Slice[Record]:
    page = await paginate_list(request, await template_samples(ctx, template_id))
    ctx.loaders.prime(ctx.upstreams.samples.get_many, page.items)
    return page


def caller_metadata(metadata: Any) -> Any:
    if not isinstance(metadata, dict):
        return metadata
    return {k: v for k, v in metadata.items() if k not in RESERVED_METADATA}


def _list_limit_error(held: int, returned: int, what: str) -> UpstreamUnsupported:
    return UpstreamUnsupported(
        SERVICE,
        f"The templates service lists only its {returned} newest templates and holds "
        f"{held}: {what}",
    )


async def templates_page(
    ctx: Context,
    request: PageRequest,
    filters: Mapping[str, Any],
    arrange: Arrange | None = None,
) -> Slice[Record]:
    """The page of templates ``request`` asks for, filtered and (``arrange``) sorted by the
    gateway over the one list the release returns (see the module docstring)."""
    listed = await ctx.upstreams.templates.list(ctx.call)
    items = listed.items
    complete = listed.total_count <= len(items)
    if (filters or arrange is not None) and not complete:
        what = "a filter" if filters else "another order"
        raise _list_limit_error(
            listed.total_count, len(items), f"{what} cannot be applied to all of them"
        )
    total = listed.total_count
    if filters:
        items = [r for r in items if _matches(r, filters)]
        total = len(items)
    if arrange is not None:
        items = arrange(items)

    async def read(start: int, end: int) -> tuple[list[Record], int]:
        if min(end, total) > len(items):
            raise _list_limit_error(total, len(items), "the templates past those cannot be listed")
        return items[start:end], total

    page = await paginate(request, read, total=total)
    ctx.loaders.prime(ctx.upstreams.templates.get_many, page.items)
    return page


def _matches(record: Record, filters: Mapping[str, Any]) -> bool:
    statuses = filters.get("statuses")
    if statuses is not None and record.get("status") not in statuses:
        return False
    category = filters.get("category")
    if category is not None and record.get("category") != category:
        return False
    search = filters.get("search")
    return not search or str(search).casefold() in str(record.get("name") or "").casefold()


# ------------------------------------------------------------------------------- writes

# Input paths of userErrors start at the mutation's one argument.
INPUT = ("input",)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _check_name(data: Mapping[str, Any], path: Sequence[str] = INPUT) -> None:
    if "name" in data and not str(data["name"] or "").strip():
        raise BadUserInput("`name` must not be empty", field=[*path, "name"])


def _check_metadata(data: Mapping[str, Any]) -> None:
    if "metadata" not in data:
        return
    metadata = data["metadata"]
    where = [*INPUT, "metadata"]
    if not isinstance(metadata, dict):
        raise BadUserInput("`metadata` must be an object", field=where)
    reserved = sorted(k for k in RESERVED_METADATA if k in metadata)
    if reserved:
        raise BadUserInput(
            f"`metadata` must not hold {', '.join(reserved)}: the templates service keeps "
            "those there itself; give them as the template's own fields",
            field=where,
        )


def _check_nulls(
    data: Mapping[str, Any], path: Sequence[str], required: Sequence[str], route: str
) -> None:
    """An explicit null: for a value that must exist, a user error; for one that may be
    absent, the release cannot clear it (its PUT keeps the stored value for a null)."""
    for key, value in data.items():
        if value is not None:
            continue
        if key in required:
            raise BadUserInput(
                f"`{_camel(key)}` cannot be null: leave it out to keep it",
                field=[*path, _camel(key)],
            )
        raise UpstreamUnsupported(
            SERVICE,
            f"The templates service cannot clear `{_camel(key)}`: {route} keeps the stored "
            "value for a null (COALESCE); nothing was written",
        )


def _field_body(field: Mapping[str, Any], path: Sequence[str], order: int) -> Record:
    """The POST body of a new field, checked before anything is written (the service
    answers a bare 500 for a duplicate name)."""
    name = str(field.get("name") or "").strip()
    if not name:
        raise BadUserInput("`name` must not be empty", field=[*path, "name"])
    label = field.get("label")
    if label is not None and not str(label).strip():
        raise BadUserInput("`label` must not be empty", field=[*path, "label"])
    sort_order = field.get("sort_order")
    body: Record = {
        "field_name": name,
        "field_label": label or name,
        "field_type": field["field_type"],
        "is_required": bool(field.get("is_required")),
        "field_order": order if sort_order is None else sort_order,
    }
    optional = {
        "field_description": field.get("help_text"),
        "default_value": field.get("default_value"),
        "validation_rules": field.get("validation_rules"),
        "field_options": field.get("options"),
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def _field_bodies(fields: Sequence[Mapping[str, Any]]) -> list[Record]:
    bodies: list[Record] = []
    seen: set[str] = set()
    for index, field in enumerate(fields):
        path = [*INPUT, "fields", str(index)]
        body = _field_body(field, path, index)
        name = body["field_name"]
        if name in seen:
            raise BadUserInput(
                f"`fields[{index}].name` repeats the field name {name!r}",
                field=[*path, "name"],
                user_code=TAKEN,
            )
        seen.add(name)
        bodies.append(body)
    return bodies


def _copied_field(field: Mapping[str, Any]) -> Record:
    """A field of the source template as the POST body of the clone's field."""
    keys = (
        "field_name",
        "field_label",
        "field_type",
        "field_description",
        "is_required",
        "field_order",
        "validation_rules",
        "default_value",
        "field_options",
        "field_metadata",
    )
    return {k: field[k] for k in keys if field.get(k) is not None}


def in_order(fields: Sequence[Record]) -> list[Record]:
    """Fields in the service's own order: field_order, then field_name."""
    return sorted(fields, key=lambda f: (int(f.get("field_order") or 0), str(f.get("field_name"))))


def _fresh_fields(ctx: Context, template_id: str, fields: Sequence[Record]) -> list[Record]:
    """The template's fields after a write, for ``Template.fields`` of the same request
    (replacing what its loader may hold from before the write)."""
    ordered = in_order(fields)
    loader = ctx.loaders.of(ctx.upstreams.templates.fields_many)
    loader.clear(template_id)
    loader.prime(template_id, ordered)
    return ordered


async def _create_with_fields(
    ctx: Context, body: Mapping[str, Any], fields: Sequence[Mapping[str, Any]]
) -> Record:
    """POST the template, then its fields one by one (in order, so that the first failure
    stops the rest); on a failure the new template is deleted and the error names the
    field. Returns the template as reads show it, with its metadata."""
    client = ctx.upstreams.templates
    created = await client.create(ctx.call, body)
    template_id = str(created["id"])
    written: list[Record] = []
    for index, field in enumerate(fields):
        try:
            written.append(await client.create_field(ctx.call, template_id, field))
        except UpstreamError as exc:
            raise await _field_failed(ctx, template_id, index, len(fields), field, exc) from None
    record = await client.data(ctx.call, template_id)
    _fresh_fields(ctx, template_id, written)
    return record


async def _field_failed(
    ctx: Context,
    template_id: str,
    index: int,
    count: int,
    field: Mapping[str, Any],
    exc: UpstreamError,
) -> TemplateWriteFailed:
    name = field["field_name"]
    try:
        await ctx.upstreams.templates.delete(ctx.call, template_id)
    except UpstreamError:
        kept = (
            f"the new template {template_id} and the {index} field(s) before this one "
            "were written and could not be deleted"
        )
    else:
        kept = "the new template was deleted again, nothing was kept"
    return TemplateWriteFailed(
        f"Field {name!r} ({index + 1} of {count}) could not be created; {kept}",
        exc,
        field=name,
        templateId=template_id,
    )


async def create(ctx: Context, data: Mapping[str, Any]) -> Record:
    _check_name(data)
    _check_metadata(data)
    fields = _field_bodies(data.get("fields") or [])
    body: Record = {
        "name": data["name"],
        "template_type": data.get("template_type") or DEFAULT_TEMPLATE_TYPE,
    }
    for key in ("description", "category", "tags", "is_public", "form_config", "metadata"):
        if data.get(key) is not None:
            body[key] = data[key]
    return await _create_with_fields(ctx, body, fields)


async def update(ctx: Context, id: str, data: Mapping[str, Any]) -> Record:
    """``data``: the keys the caller gave (a null is an explicit null)."""
    template_id = parse_id(id, "input.id")
    _check_nulls(
        data,
        INPUT,
        required=("name", "template_type", "tags", "is_public", "metadata"),
        route="PUT /templates/{id}",
    )
    _check_name(data)
    _check_metadata(data)
    if not data:
        raise BadUserInput("Give at least one field to change", field=list(INPUT))
    client = ctx.upstreams.templates
    try:
        current = await client.data(ctx.call, template_id)
    except UpstreamNotFound as exc:
        raise _not_found(exc, template_id, "id") from None
    # The PUT replaces the stored metadata: send it whole, changed where asked.
    stored = current.get("metadata")
    base: Record = stored if isinstance(stored, dict) else {}
    metadata = {k: base[k] for k in RESERVED_METADATA if k in base}
    metadata.update(data["metadata"] if "metadata" in data else caller_metadata(base))
    body: Record = {k: data[k] for k in ("name", "description", "category") if k in data}
    for key in ("template_type", "tags", "is_public"):
        if key in data:
            metadata[key] = body[key] = data[key]
    body["metadata"] = metadata
    try:
        record: Record = await client.update(ctx.call, template_id, body)
    except UpstreamNotFound as exc:
        raise _not_found(exc, template_id, "id") from None
    record["metadata"] = metadata
    return record


async def change_status(ctx: Context, id: str, status: str) -> Record:
    """Publish or archive. The release has no route for either and its PUT ignores
    ``status``: unsupported, unless the template has that status already."""
    template_id = parse_id(id, "input.id")
    try:
        record: Record = await ctx.upstreams.templates.get(ctx.call, template_id)
    except UpstreamNotFound as exc:
        raise _not_found(exc, template_id, "id") from None
    if record.get("status") == status:
        return record
    raise UpstreamUnsupported(
        SERVICE,
        "The templates service cannot change a template's status: it has no publish or "
        "status route, and PUT /templates/{id} ignores `status`; nothing was written",
    )


async def delete(ctx: Context, id: str) -> str:
    """Soft-delete a template (it leaves the list; its reads answer 404); its id."""
    template_id = parse_id(id, "input.id")
    try:
        await ctx.upstreams.templates.delete(ctx.call, template_id)
    except UpstreamNotFound as exc:
        raise _not_found(exc, template_id, "id") from None
    ctx.loaders.of(ctx.upstreams.templates.get_many).clear(template_id)
    return template_id


async def clone(ctx: Context, id: str, name: str | None) -> Record:
    template_id = parse_id(id, "input.id")
    if name is not None:
        _check_name({"name": name})
    client = ctx.upstreams.templates
    try:
        source = await client.data(ctx.call, template_id)
    except UpstreamNotFound as exc:
        raise _not_found(exc, template_id, "id") from None
    fields = await client.fields(ctx.call, template_id)
    stored = source.get("metadata")
    base: Record = stored if isinstance(stored, dict) else {}
    # The stored template_type, as written (the top-level one is read as an enum).
    template_type = base.get("template_type")
    body: Record = {
        "name": name or f"{source['name']} (copy)",
        "template_type": template_type if isinstance(template_type, str) else "form",
        "tags": list(source.get("tags") or []),
        "is_public": bool(source.get("is_public")),
        "metadata": caller_metadata(base),
    }
    for key in ("description", "category"):
        if source.get(key) is not None:
            body[key] = source[key]
    return await _create_with_fields(ctx, body, [_copied_field(f) for f in fields])


# ------------------------------------------------------------------------ field writes


async def _template_and_fields(ctx: Context, template_id: str) -> tuple[Record, list[Record]]:
    """The template (404: a user error on ``input.templateId``) and its fields, read fresh:
    the service answers a bare 500 for a field of an unknown template or a taken name, so
    the gateway checks both before writing."""
    client = ctx.upstreams.templates
    try:
        record: Record = await client.get(ctx.call, template_id)
    except UpstreamNotFound as exc:
        raise _not_found(exc, template_id, "templateId") from None
    return record, in_order(await client.fields(ctx.call, template_id))


def _named(fields: Sequence[Record], field_id: str) -> Record:
    for field in fields:
        if str(field.get("id")) == field_id:
            return field
    raise NotFound(
        f"The template has no field with id {field_id}", field=[*INPUT, "fieldId"], service=SERVICE
    )


def _taken(fields: Sequence[Record], name: str, path: Sequence[str], but: str = "") -> None:
    if any(f.get("field_name") == name and str(f.get("id")) != but for f in fields):
        raise BadUserInput(
            f"The template has a field named {name!r} already",
            field=[*path, "name"],
            user_code=TAKEN,
        )


async def add_field(
    ctx: Context, id: str, field: Mapping[str, Any]
) -> tuple[Record, Record, list[Record]]:
    """Add one field (at the end of the form unless ``sort_order`` is given): the new
    field, the template and all its fields."""
    template_id = parse_id(id, "input.templateId")
    path = [*INPUT, "templateField"]
    template, fields = await _template_and_fields(ctx, template_id)
    last = max((int(f.get("field_order") or 0) for f in fields), default=-1)
    body = _field_body(field, path, last + 1)
    _taken(fields, body["field_name"], path)
    written = await ctx.upstreams.templates.create_field(ctx.call, template_id, body)
    return written, template, _fresh_fields(ctx, template_id, [*fields, written])


# Input names of a field's attributes -> the service's keys.
FIELD_KEYS = {
    "name": "field_name",
    "label": "field_label",
    "field_type": "field_type",
    "is_required": "is_required",
    "default_value": "default_value",
    "options": "field_options",
    "validation_rules": "validation_rules",
    "sort_order": "field_order",
    "help_text": "field_description",
}


async def update_field(
    ctx: Context, id: str, field_id: str, changes: Mapping[str, Any]
) -> tuple[Record, Record, list[Record]]:
    """Change a field's attributes (``changes``: the keys the caller gave): the field, the
    template and all its fields."""
    template_id = parse_id(id, "input.templateId")
    field_key = parse_id(field_id, "input.fieldId")
    _check_nulls(
        changes,
        INPUT,
        required=[k for k in FIELD_KEYS if k not in ("default_value", "help_text")],
        route="PUT /templates/{id}/fields/{fieldId}",
    )
    for key in ("name", "label"):
        if key in changes and not str(changes[key]).strip():
            raise BadUserInput(f"`{key}` must not be empty", field=[*INPUT, key])
    if not changes:
        raise BadUserInput("Give at least one attribute to change", field=list(INPUT))
    template, fields = await _template_and_fields(ctx, template_id)
    current = _named(fields, field_key)
    if "name" in changes:
        _taken(fields, str(changes["name"]).strip(), INPUT, but=field_key)
    body = {FIELD_KEYS[k]: v for k, v in changes.items()}
    if "field_name" in body:
        body["field_name"] = str(body["field_name"]).strip()
    try:
        written = await ctx.upstreams.templates.update_field(ctx.call, template_id, field_key, body)
    except UpstreamNotFound as exc:
        raise _field_gone(exc, field_key) from None
    rest = [f for f in fields if f is not current]
    return written, template, _fresh_fields(ctx, template_id, [*rest, written])


async def remove_field(ctx: Context, id: str, field_id: str) -> tuple[Record, list[Record]]:
    """Delete a field for good: the template and its remaining fields."""
    template_id = parse_id(id, "input.templateId")
    field_key = parse_id(field_id, "input.fieldId")
    template, fields = await _template_and_fields(ctx, template_id)
    current = _named(fields, field_key)
    try:
        await ctx.upstreams.templates.delete_field(ctx.call, template_id, field_key)
    except UpstreamNotFound as exc:
        raise _field_gone(exc, field_key) from None
    rest = [f for f in fields if f is not current]
    return template, _fresh_fields(ctx, template_id, rest)


async def reorder_fields(
    ctx: Context, id: str, field_ids: Sequence[str]
) -> tuple[Record, list[Record]]:
    """Put the fields in the order of ``field_ids`` (every field of the template, once):
    field i gets sort order i. The release has no reorder route: one PUT per field whose
    sort order changes, in order; a failure stops the rest and says how many were moved."""
    template_id = parse_id(id, "input.templateId")
    wanted = [parse_id(f, f"input.fieldIds.{i}") for i, f in enumerate(field_ids)]
    where = [*INPUT, "fieldIds"]
    if len(set(wanted)) != len(wanted):
        raise BadUserInput("`fieldIds` names a field more than once", field=where)
    template, fields = await _template_and_fields(ctx, template_id)
    have = {str(f["id"]): f for f in fields}
    unknown = [f for f in wanted if f not in have]
    missing = [f for f in have if f not in set(wanted)]
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"names no field of the template: {', '.join(unknown)}")
        if missing:
            parts.append(f"leaves out the template's fields {', '.join(missing)}")
        raise BadUserInput(
            f"`fieldIds` must name every field of the template once; it {'; it '.join(parts)}",
            field=where,
        )
    moves = [
        (index, have[f]) for index, f in enumerate(wanted) if have[f].get("field_order") != index
    ]
    written = dict(have)
    client = ctx.upstreams.templates
    for done, (index, field) in enumerate(moves):
        try:
            written[str(field["id"])] = await client.update_field(
                ctx.call, template_id, str(field["id"]), {"field_order": index}
            )
        except UpstreamError as exc:
            _fresh_fields(ctx, template_id, list(written.values()))
            raise TemplateWriteFailed(
                f"Field {field.get('field_name')!r} could not be moved; {done} of "
                f"{len(moves)} moves were written before it, so the form is in neither the "
                "old nor the new order: run reorderTemplateFields again",
                exc,
                templateId=template_id,
            ) from None
    return template, _fresh_fields(ctx, template_id, list(written.values()))


def _not_found(exc: UpstreamNotFound, template_id: str, argument: str) -> NotFound:
    # The service's 404 has an empty body: say what was not found.
    return NotFound(
        f"No template with id {template_id}", field=[*INPUT, argument], service=exc.service
    )


def _field_gone(exc: UpstreamNotFound, field_id: str) -> NotFound:
    return NotFound(
        f"The template has no field with id {field_id}",
        field=[*INPUT, "fieldId"],
        service=exc.service,
    )

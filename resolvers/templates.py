"""Templates on the release's templates service (UPSTREAMS.md, "## templates").

What the release cannot do in one call, the gateway composes, and what it cannot do at all
fails with ``UPSTREAM_UNSUPPORTED`` before anything is written:

- **The list** ignores its query: always the 50 newest active templates, with the count of
  all of them. The gateway pages and filters over those. When the count says there are
  more, a window that reaches past what the list returns, and any filter (it would be
  applied to an incomplete set), are ``UPSTREAM_UNSUPPORTED``.
- **Create** takes no fields: the template is created, then each field is POSTed in order;
  if one fails the new template is deleted again and the error names the field.
- **Update** applies only name, description and category and *replaces* the stored
  metadata, where template_type, tags and is_public live: the gateway reads the stored
  metadata (``GET /templates/{id}/data``) and sends it back merged with the changes. A
  status change or a form config cannot be applied at all.
- **Archive** is a status change: ``UPSTREAM_UNSUPPORTED`` (an archived one is returned).
- **Clone** is a stub upstream (200 "not yet implemented"): the gateway reads the source and
  its fields and creates the copy itself. The source's form config cannot be copied: no
  route of the release reads it back.

Writes cannot tell a fixed deployment from the release without writing first, so the
gateway assumes the release everywhere (a status change stays unsupported even where the
service would apply it).

Errors of this service are bare statuses with empty bodies: the gateway checks what it can
before calling, and its own messages say what was wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from resolvers.context import Context
from resolvers.errors import (
    BAD_USER_INPUT,
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
    ctx: Context, request: PageRequest, filters: Mapping[str, Any]
) -> Slice[Record]:
    """The page of templates ``request`` asks for, paged and filtered by the gateway over
    the one list the release returns (see the module docstring)."""
    listed = await ctx.upstreams.templates.list(ctx.call)
    items = listed.items
    complete = listed.total_count <= len(items)
    if filters:
        if not complete:
            raise _list_limit_error(
                listed.total_count, len(items), "a filter cannot be applied to all of them"
            )
        items = [r for r in items if _matches(r, filters)]
        total = len(items)
    else:
        total = listed.total_count

    async def read(start: int, end: int) -> tuple[list[Record], int]:
        if min(end, total) > len(items):
            raise _list_limit_error(total, len(items), "the templates past those cannot be listed")
        return items[start:end], total

    page = await paginate(request, read, total=total)
    ctx.loaders.prime(ctx.upstreams.templates.get_many, page.items)
    return page


def _matches(record: Record, filters: Mapping[str, Any]) -> bool:
    status = filters.get("status")
    if status is not None and record.get("status") != status:
        return False
    search = filters.get("search")
    return not search or str(search).casefold() in str(record.get("name") or "").casefold()


# ------------------------------------------------------------------------------- writes


def _check_name(data: Mapping[str, Any]) -> None:
    if "name" in data and not str(data["name"]).strip():
        raise BadUserInput("`name` must not be empty")


def _check_metadata(data: Mapping[str, Any]) -> None:
    if "metadata" not in data:
        return
    metadata = data["metadata"]
    if not isinstance(metadata, dict):
        raise BadUserInput("`metadata` must be an object")
    reserved = sorted(k for k in RESERVED_METADATA if k in metadata)
    if reserved:
        raise BadUserInput(
            f"`metadata` must not hold {', '.join(reserved)}: the templates service keeps "
            "those there itself; give them as the template's own fields"
        )


def _field_bodies(fields: Sequence[Mapping[str, Any]]) -> list[Record]:
    """The POST bodies of a new template's fields, checked before anything is written
    (the service answers a bare 500 for a duplicate name)."""
    bodies: list[Record] = []
    seen: set[str] = set()
    for index, field in enumerate(fields):
        name = str(field.get("name") or "").strip()
        if not name:
            raise BadUserInput(f"`fields[{index}].name` must not be empty")
        if name in seen:
            raise BadUserInput(f"`fields[{index}].name` repeats the field name {name!r}")
        seen.add(name)
        default = field.get("default_value")
        if default is not None and not isinstance(default, str):
            raise BadUserInput(
                f"`fields[{index}].defaultValue` must be a string: the templates service "
                "stores it as text"
            )
        sort_order = field.get("sort_order")
        body: Record = {
            "field_name": name,
            "field_label": field.get("label") or name,
            "field_type": field["field_type"],
            "is_required": bool(field.get("is_required")),
            "field_order": index if sort_order is None else sort_order,
        }
        optional = {
            "field_description": field.get("help_text"),
            "default_value": default,
            "validation_rules": field.get("validation_rules"),
            "field_options": field.get("options"),
        }
        body.update({k: v for k, v in optional.items() if v is not None})
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
    written.sort(key=lambda f: (int(f.get("field_order") or 0), str(f.get("field_name"))))
    ctx.loaders.of(client.fields_many).prime(template_id, written)
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
    status = data.get("status")
    if status is not None and status != "draft":
        raise UpstreamUnsupported(
            SERVICE,
            "The templates service creates every template as a draft and cannot change its "
            "status afterwards; nothing was written",
        )
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
    template_id = parse_id(id, "id")
    _check_name(data)
    _check_metadata(data)
    if not data:
        raise BadUserInput("Give at least one field to change")
    if "form_config" in data:
        raise UpstreamUnsupported(
            SERVICE, "The templates service does not change a form config; nothing was written"
        )
    client = ctx.upstreams.templates
    try:
        current = await client.data(ctx.call, template_id)
    except UpstreamNotFound as exc:
        raise _not_found(exc, template_id) from None
    status = data.get("status")
    if status is not None and status != current.get("status"):
        raise UpstreamUnsupported(
            SERVICE,
            "The templates service cannot change a template's status (its update ignores "
            "it); nothing was written",
        )
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
        raise _not_found(exc, template_id) from None
    record["metadata"] = metadata
    return record


async def archive(ctx: Context, id: str) -> Record:
    template_id = parse_id(id, "id")
    try:
        record: Record = await ctx.upstreams.templates.get(ctx.call, template_id)
    except UpstreamNotFound as exc:
        raise _not_found(exc, template_id) from None
    if record.get("status") == "archived":
        return record
    raise UpstreamUnsupported(
        SERVICE,
        "The templates service cannot change a template's status (its update ignores it); "
        "nothing was written",
    )


async def clone(ctx: Context, id: str, name: str | None) -> Record:
    template_id = parse_id(id, "id")
    if name is not None:
        _check_name({"name": name})
    client = ctx.upstreams.templates
    try:
        source = await client.data(ctx.call, template_id)
    except UpstreamNotFound as exc:
        raise _not_found(exc, template_id) from None
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


def _not_found(exc: UpstreamNotFound, template_id: str) -> NotFound:
    # The service's 404 has an empty body: say what was not found.
    return NotFound(f"No template with id {template_id}", service=exc.service)

"""The templates service as the release answers (UPSTREAMS.md, "## templates").

Bodies are built with ``json!`` in the release, so every key is sorted at every level.
Every service error is a bare status with an empty body: 400 for a malformed id, 404 for a
missing or soft-deleted template, 500 for anything the database refuses. The stored row
keeps ``template_type``, ``tags``, ``is_public`` and ``is_system`` inside ``metadata``
(the release's schema has no columns for them), ``version`` as an integer and
``form_config`` as ``template_data``, which no route ever reads back.

Release defects kept unless a fix is on (``sandbox/options.py``): the list ignores its query
(``templates-list-query``), PUT applies only name/description/category and replaces the
metadata (``templates-update``), clone is a stub (``templates-clone``). ``GET /templates?ids=``
is the [extension] batch filter.
"""

from __future__ import annotations

import email.parser
import email.policy
import math
import time
import uuid
from typing import Any

import orjson

from sandbox.options import RELEASE, Options
from sandbox.store import Store
from sandbox.web import (
    ApiError,
    Rejection,
    Request,
    Response,
    Route,
    _drop_connection,
    empty_response,
    json_kind,
    opt_bool,
    opt_enum,
    opt_number,
    opt_str,
    parse_uuid,
    query_int,
    query_list,
    raw_json,
    req_str,
)

STATUSES = ("Draft", "Published", "Archived", "Deprecated")
FIELD_TYPES = ("Text", "Number", "Date", "Boolean", "Select", "Multiselect", "File")
# The release's list: LIMIT 50 (its default) of at most 100, newest first, active only.
LIST_LIMIT = 50
MAX_LIST_LIMIT = 100
MAX_BATCH_IDS = 1000
RESERVED_METADATA = ("template_type", "tags", "is_public", "is_system")
_ACTIVE = "json_extract(doc, '$.is_active') = 1"


def render_error(exc: ApiError) -> Response:
    return empty_response(exc.status)


def _malformed_path(name: str, value: str) -> Response:
    # The handlers take the id as a String and answer a bare 400 when it is not a UUID.
    return empty_response(400)


def _status(code: int) -> ApiError:
    return ApiError(code, "status", "")


def _json(obj: Any, status: int = 200) -> Response:
    return raw_json(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS), status)


def _now() -> tuple[str, str]:
    """(stored, answered): PostgreSQL keeps microseconds; a fresh ``Utc::now()`` printed in
    a create response has nanoseconds."""
    ns = time.time_ns()
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{fraction // 1000:06d}Z", _auto_si(f"{stamp}.{fraction:09d}Z")


def _auto_si(stamp: str) -> str:
    """chrono's RFC 3339 printing: 0, 3, 6 or 9 fraction digits, as few as the value needs."""
    if "." not in stamp:
        return stamp
    head, fraction = stamp[:-1].split(".")
    digits = fraction.rstrip("0")
    if not digits:
        return f"{head}Z"
    width = 3 if len(digits) <= 3 else 6 if len(digits) <= 6 else 9
    return f"{head}.{fraction.ljust(9, '0')[:width]}Z"


# ----------------------------------------------------------------------------------- bodies


def _rejected(message: str) -> Rejection:
    return Rejection(422, f"Failed to deserialize the JSON body into the target type: {message}")


def _opt_strings(body: dict[str, Any], name: str) -> list[str] | None:
    """An ``Option<Vec<String>>`` body field."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list):
        raise _rejected(f"{name}: invalid type: {json_kind(value)}, expected a sequence")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _rejected(f"{name}[{index}]: invalid type: {json_kind(item)}, expected a string")
    return list(value)


def _opt_i32(body: dict[str, Any], name: str) -> int | None:
    value = opt_number(body, name, integer=True)
    return None if value is None else int(value)


async def _any_json(req: Request) -> Any:
    """A ``Json<Value>`` body: any JSON value, with axum's content-type and syntax rejections."""
    content_type = (req.header(b"content-type") or "").split(";")[0].strip().lower()
    if not (content_type == "application/json" or content_type.endswith("+json")):
        raise Rejection(415, "Expected request with `Content-Type: application/json`")
    try:
        return orjson.loads(await req.body())
    except orjson.JSONDecodeError as exc:
        raise Rejection(400, f"Failed to parse the request body as JSON: {exc}") from exc


# --------------------------------------------------------------------------------- records


def _metadata_of(row: dict[str, Any]) -> Any:
    metadata = row.get("metadata")
    return {} if metadata is None else metadata


def _response(row: dict[str, Any], *, updated_by: str | None = None) -> dict[str, Any]:
    """TemplateResponse as every read builds it from the stored row."""
    metadata = _metadata_of(row)
    md = metadata if isinstance(metadata, dict) else {}
    template_type = md.get("template_type")
    tags = md.get("tags")
    is_public = md.get("is_public")
    is_system = md.get("is_system")
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row.get("description"),
        "template_type": template_type if isinstance(template_type, str) else "form",
        "status": row["status"],
        "version": str(row["version"]),
        "category": row.get("category"),
        "tags": [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
        "is_public": is_public if isinstance(is_public, bool) else False,
        "is_system": is_system if isinstance(is_system, bool) else False,
        "created_at": _auto_si(row["created_at"]),
        "updated_at": _auto_si(row["updated_at"]),
        "created_by": row.get("created_by") or "system",
        "updated_by": updated_by,
        "field_count": 0,
        "usage_count": 0,
    }


def _field(raw: dict[str, Any], template_id: str) -> dict[str, Any]:
    """A CreateFieldRequest body → the stored FieldResponse (defaults applied)."""
    field_name = req_str(raw, "field_name")
    field_label = req_str(raw, "field_label")
    field_type = opt_enum(raw, "field_type", FIELD_TYPES, required=True)
    field_description = opt_str(raw, "field_description")
    is_required = opt_bool(raw, "is_required")
    field_order = _opt_i32(raw, "field_order")
    default_value = opt_str(raw, "default_value")
    validation_rules = raw.get("validation_rules")
    field_options = raw.get("field_options")
    field_metadata = raw.get("field_metadata")
    return {
        "id": str(uuid.uuid4()),
        "template_id": template_id,
        "field_name": field_name,
        "field_type": field_type,
        "field_label": field_label,
        "field_description": field_description,
        "is_required": bool(is_required),
        "field_order": field_order or 0,
        "validation_rules": {} if validation_rules is None else validation_rules,
        "default_value": default_value,
        "field_options": [] if field_options is None else field_options,
        "field_metadata": {} if field_metadata is None else field_metadata,
    }


class TemplatesService:
    def __init__(self, store: Store, options: Options = RELEASE) -> None:
        self.options = options
        self.store = store

    malformed_path = staticmethod(_malformed_path)

    def routes(self) -> list[Route]:
        # Static segments first: they win over the id parameter (``GET /templates/upload``
        # is a 405). Clone, download and export take any string as the id.
        return [
            Route("GET", "/health", self.health),
            Route("GET", "/health/ready", self.ready),
            Route("GET", "/health/metrics", self.metrics),
            Route("POST", "/templates/upload", self.upload),
            Route("POST", "/templates/import", self.import_templates),
            Route("GET", "/templates", self.list_templates),
            Route("POST", "/templates", self.create),
            Route("GET", "/templates/{id:uuid}", self.get),
            Route("PUT", "/templates/{id:uuid}", self.update),
            Route("DELETE", "/templates/{id:uuid}", self.delete),
            Route("GET", "/templates/{id:uuid}/data", self.data),
            Route("POST", "/templates/{id}/clone", self.clone),
            Route("GET", "/templates/{id}/download", self.download),
            Route("GET", "/templates/{id}/export", self.export),
            Route("GET", "/templates/{id:uuid}/fields", self.list_fields),
            Route("POST", "/templates/{id:uuid}/fields", self.create_field),
            Route("GET", "/templates/{id:uuid}/fields/{field_id:uuid}", self.get_field),
            Route("PUT", "/templates/{id:uuid}/fields/{field_id:uuid}", self.update_field),
            Route("DELETE", "/templates/{id:uuid}/fields/{field_id:uuid}", self.delete_field),
        ]

    async def health(self, req: Request) -> Response:
        return _json({"status": "healthy", "service": "template_service"})

    async def ready(self, req: Request) -> Response:
        return _json({"status": "ready", "service": "template_service"})

    async def metrics(self, req: Request) -> Response:
        return _json({"metrics": {}})

    # ------------------------------------------------------------------------- storage

    def _row(self, template_id: str, *, active: bool = True) -> dict[str, Any] | None:
        found = self.store.one("SELECT doc FROM templates WHERE id = ?", (template_id,))
        if found is None:
            return None
        row: dict[str, Any] = orjson.loads(found[0])
        if active and not row.get("is_active"):
            return None
        return row

    def _active(self, template_id: str) -> dict[str, Any]:
        row = self._row(template_id)
        if row is None:
            raise _status(404)
        return row

    def _insert(self, row: dict[str, Any]) -> None:
        self.store.run(
            "INSERT INTO templates (id, name, status, created_at, doc) VALUES (?, ?, ?, ?, ?)",
            (row["id"], row["name"], row["status"], row["created_at"], _text(row)),
        )

    def _save(self, row: dict[str, Any]) -> None:
        self.store.run(
            "UPDATE templates SET name = ?, status = ?, doc = ? WHERE id = ?",
            (row["name"], row["status"], _text(row), row["id"]),
        )

    def _fields(self, template_id: str) -> list[dict[str, Any]]:
        rows = self.store.all(
            "SELECT doc FROM template_fields WHERE template_id = ?", (template_id,)
        )
        fields = [orjson.loads(r[0]) for r in rows]
        fields.sort(key=lambda f: (f["field_order"], f["field_name"]))
        return fields

    def _insert_field(self, field: dict[str, Any]) -> None:
        # The release's foreign key and UNIQUE (template_id, field_name): both a bare 500.
        if self._row(field["template_id"], active=False) is None:
            raise _status(500)
        taken = self.store.value(
            "SELECT count(*) FROM template_fields WHERE template_id = ? "
            "AND json_extract(doc, '$.field_name') = ?",
            (field["template_id"], field["field_name"]),
        )
        if taken:
            raise _status(500)
        self.store.run(
            "INSERT INTO template_fields (id, template_id, sort_order, doc) VALUES (?, ?, ?, ?)",
            (field["id"], field["template_id"], field["field_order"], _text(field)),
        )

    # ------------------------------------------------------------------------ templates

    async def list_templates(self, req: Request) -> Response:
        if self.options.extension("templates") and "ids" in req.query:
            return self._by_ids(query_list(req, "ids") or [])
        where = [_ACTIVE]
        params: list[Any] = []
        page, limit = 1, LIST_LIMIT
        if self.options.fixed("templates-list-query"):
            status = req.query.get("status")
            if status:
                if status not in STATUSES:
                    raise Rejection(
                        400, f"Failed to deserialize query string: unknown variant `{status}`"
                    )
                where.append("status = ?")
                params.append(status)
            search = req.query.get("search")
            if search:
                where.append("name LIKE ?")
                params.append(f"%{search}%")
            page = query_int(req, "page", 1)
            limit = query_int(req, "page_size", LIST_LIMIT, high=MAX_LIST_LIMIT)
        clause = " AND ".join(where)
        total = int(self.store.value(f"SELECT count(*) FROM templates WHERE {clause}", params))
        rows = self.store.all(
            f"SELECT doc FROM templates WHERE {clause} "
            "ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            [*params, limit, (page - 1) * limit],
        )
        templates = [_response(orjson.loads(r[0])) for r in rows]
        return _page(templates, total, page, limit)

    def _by_ids(self, ids: list[str]) -> Response:
        canonical = [parse_uuid(i) for i in ids]
        if any(c is None for c in canonical) or len(ids) > MAX_BATCH_IDS:
            raise _status(400)
        wanted = list(dict.fromkeys(c for c in canonical if c is not None))
        found: dict[str, dict[str, Any]] = {}
        if wanted:
            rows = self.store.all(
                f"SELECT id, doc FROM templates WHERE id IN ({','.join('?' * len(wanted))}) "
                f"AND {_ACTIVE}",
                wanted,
            )
            found = {r[0]: orjson.loads(r[1]) for r in rows}
        templates = [_response(found[i]) for i in wanted if i in found]
        return _page(templates, len(templates), 1, max(len(wanted), 1))

    async def get(self, req: Request) -> Response:
        row = self._active(req.params["id"])
        return _json({"success": True, "template": _response(row)})

    async def data(self, req: Request) -> Response:
        row = self._active(req.params["id"])
        template = {**_response(row), "metadata": _metadata_of(row)}
        # No spreadsheet is kept on disk here: the parsed view is always empty.
        return _json({"data": {"sheet_names": [], "sheets": []}, "template": template})

    def _create(self, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(stored row, create response) for a CreateTemplateRequest; None when the release
        would panic (a ``metadata`` that is neither an object nor null)."""
        name = req_str(body, "name")
        description = opt_str(body, "description")
        template_type = req_str(body, "template_type")
        category = opt_str(body, "category")
        tags = _opt_strings(body, "tags") or []
        is_public = bool(opt_bool(body, "is_public"))
        form_config = body.get("form_config")
        metadata = body.get("metadata")
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict):
            return None
        metadata = {
            **metadata,
            "template_type": template_type,
            "tags": tags,
            "is_public": is_public,
            "is_system": False,
        }
        stored, answered = _now()
        row = {
            "id": str(uuid.uuid4()),
            "name": name,
            "description": description,
            "category": category or "general",
            "status": "Draft",
            "version": 1,
            "template_data": {} if form_config is None else form_config,
            "metadata": metadata,
            "is_active": True,
            "created_by": None,
            "created_at": stored,
            "updated_at": stored,
        }
        self._insert(row)
        response = {
            **_response(row),
            "version": "1.0",
            "category": category,
            "created_at": answered,
            "updated_at": answered,
        }
        return row, response

    async def create(self, req: Request) -> Response:
        created = self._create(await req.json())
        if created is None:
            await _drop_connection(req.receive)
            return empty_response(500)
        return _json(
            {"message": "Template created successfully", "success": True, "template": created[1]}
        )

    async def update(self, req: Request) -> Response:
        body = await req.json()
        name = opt_str(body, "name")
        description = opt_str(body, "description")
        template_type = opt_str(body, "template_type")
        status = opt_enum(body, "status", STATUSES)
        category = opt_str(body, "category")
        tags = _opt_strings(body, "tags")
        is_public = opt_bool(body, "is_public")
        form_config = body.get("form_config")
        metadata = body.get("metadata")
        row = self._active(req.params["id"])
        for key, value in (("name", name), ("description", description), ("category", category)):
            if value is not None:
                row[key] = value
        if self.options.fixed("templates-update"):
            stored = _metadata_of(row)
            kept = stored if isinstance(stored, dict) else {}
            merged = dict(kept) if metadata is None else metadata
            if isinstance(merged, dict):
                merged = {**{k: kept[k] for k in RESERVED_METADATA if k in kept}, **merged}
                explicit: dict[str, Any] = {
                    "template_type": template_type,
                    "tags": tags,
                    "is_public": is_public,
                }
                merged.update({k: v for k, v in explicit.items() if v is not None})
            row["metadata"] = merged
            if status is not None:
                row["status"] = status
            if form_config is not None:
                row["template_data"] = form_config
        else:
            # COALESCE($5, metadata) with $5 = metadata.unwrap_or({}): always replaced.
            row["metadata"] = {} if metadata is None else metadata
        row["updated_at"] = _now()[0]
        self._save(row)
        return _json(
            {
                "message": "Template updated successfully",
                "success": True,
                "template": _response(row, updated_by="system"),
            }
        )

    async def delete(self, req: Request) -> Response:
        row = self._active(req.params["id"])
        row["is_active"] = False
        self._save(row)
        return _json({"message": "Template deleted successfully", "success": True})

    async def clone(self, req: Request) -> Response:
        if not self.options.fixed("templates-clone"):
            return _json({"message": "Template cloning not yet implemented"})
        template_id = parse_uuid(req.params["id"])
        if template_id is None:
            raise _status(400)
        source = self._active(template_id)
        raw = await req.body()
        body = orjson.loads(raw) if raw.strip() else {}
        name = body.get("name") if isinstance(body, dict) else None
        metadata = _metadata_of(source)
        stored, _ = _now()
        row = {
            **source,
            "id": str(uuid.uuid4()),
            "name": name if isinstance(name, str) and name else f"{source['name']} (copy)",
            "status": "Draft",
            "version": 1,
            "metadata": {**metadata, "is_system": False} if isinstance(metadata, dict) else {},
            "created_at": stored,
            "updated_at": stored,
        }
        with self.store.transaction():
            self._insert(row)
            for field in self._fields(template_id):
                self._insert_field({**field, "id": str(uuid.uuid4()), "template_id": row["id"]})
        return _json(
            {"message": "Template cloned successfully", "success": True, "template": _response(row)}
        )

    # ---------------------------------------------------------------------------- fields

    async def list_fields(self, req: Request) -> Response:
        # No check of the template: an unknown (or deleted) one lists what it has, or [].
        fields = self._fields(req.params["id"])
        return _json({"count": len(fields), "fields": fields, "success": True})

    async def create_field(self, req: Request) -> Response:
        field = _field(await req.json(), req.params["id"])
        self._insert_field(field)
        return _json({"field": field, "message": "Field created successfully", "success": True})

    def _field_row(self, req: Request) -> dict[str, Any]:
        found = self.store.one(
            "SELECT doc FROM template_fields WHERE id = ? AND template_id = ?",
            (req.params["field_id"], req.params["id"]),
        )
        if found is None:
            raise _status(404)
        field: dict[str, Any] = orjson.loads(found[0])
        return field

    async def get_field(self, req: Request) -> Response:
        return _json({"field": self._field_row(req), "success": True})

    async def update_field(self, req: Request) -> Response:
        body = await req.json()
        changes: dict[str, Any] = {
            "field_name": opt_str(body, "field_name"),
            "field_label": opt_str(body, "field_label"),
            "field_description": opt_str(body, "field_description"),
            "field_type": opt_enum(body, "field_type", FIELD_TYPES),
            "is_required": opt_bool(body, "is_required"),
            "field_order": _opt_i32(body, "field_order"),
            "validation_rules": body.get("validation_rules"),
            "default_value": opt_str(body, "default_value"),
            "field_options": body.get("field_options"),
            "field_metadata": body.get("field_metadata"),
        }
        field = self._field_row(req)
        new_name = changes["field_name"]
        if new_name is not None and new_name != field["field_name"]:
            taken = self.store.value(
                "SELECT count(*) FROM template_fields WHERE template_id = ? "
                "AND json_extract(doc, '$.field_name') = ?",
                (field["template_id"], new_name),
            )
            if taken:
                raise _status(500)
        field.update({k: v for k, v in changes.items() if v is not None})
        self.store.run(
            "UPDATE template_fields SET sort_order = ?, doc = ? WHERE id = ?",
            (field["field_order"], _text(field), field["id"]),
        )
        return _json({"field": field, "message": "Field updated successfully", "success": True})

    async def delete_field(self, req: Request) -> Response:
        field = self._field_row(req)
        self.store.run("DELETE FROM template_fields WHERE id = ?", (field["id"],))
        return _json({"message": "Field deleted successfully", "success": True})

    # ----------------------------------------------------------------------------- files

    async def upload(self, req: Request) -> Response:
        content_type = req.header(b"content-type") or ""
        if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in (
            content_type
        ):
            raise Rejection(400, "Invalid `boundary` for `multipart/form-data` request")
        parts = _multipart(content_type, await req.body())
        file_part = parts.get("file")
        if file_part is None or file_part[0] is None:
            raise _status(400)
        assert file_part[0] is not None
        file_name, data = file_part[0], file_part[1]
        extension = file_name.rsplit(".", 1)[1] if "." in file_name else "xlsx"
        file_type = {"xlsx": "spreadsheet", "xls": "spreadsheet", "csv": "csv"}.get(
            extension, "document" if extension in ("docx", "doc") else extension
        )
        if file_type not in ("spreadsheet", "csv", "document", "pdf"):
            file_type = "other"
        file_path = f"uploads/templates/{uuid.uuid4()}.{extension}"
        body: Any = None
        if "template" in parts:
            try:
                body = orjson.loads(parts["template"][1])
            except orjson.JSONDecodeError:
                body = None
        if not isinstance(body, dict) or "name" not in body or "template_type" not in body:
            body = {
                "name": file_name,
                "description": f"Uploaded file: {file_name}",
                "template_type": file_type,
                "category": "uploaded",
                "tags": [file_type],
                "is_public": False,
                "metadata": {
                    "original_filename": file_name,
                    "file_path": file_path,
                    "file_type": file_type,
                    "file_size": len(data),
                    "uploaded_at": _now()[1],
                },
            }
        elif body.get("metadata") is not None:
            if not isinstance(body["metadata"], dict):
                await _drop_connection(req.receive)
                return empty_response(500)
            body["metadata"] = {**body["metadata"], "file_path": file_path, "file_type": file_type}
        try:
            created = self._create(body)
        except Rejection:
            # The template part is parsed leniently (``.ok()``): a bad one is a 500 later.
            raise _status(500) from None
        if created is None:
            await _drop_connection(req.receive)
            return empty_response(500)
        return _json(
            {"message": "Template uploaded successfully", "success": True, "template": created[1]}
        )

    async def download(self, req: Request) -> Response:
        return _json({"message": "Template downloaded"})

    async def export(self, req: Request) -> Response:
        return _json({"message": "Template exported"})

    async def import_templates(self, req: Request) -> Response:
        await _any_json(req)
        return _json({"message": "Templates imported"})


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The parts of a multipart/form-data body by name: (file name or None, content)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    parts: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        return parts
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        parts[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return parts


def _text(doc: dict[str, Any]) -> str:
    return orjson.dumps(doc).decode()


def _page(templates: list[dict[str, Any]], total: int, page: int, page_size: int) -> Response:
    return _json(
        {
            "success": True,
            "data": templates,
            "pagination": {
                "total_count": total,
                "page": page,
                "page_size": page_size,
                "total_pages": math.ceil(total / page_size) if page_size else 0,
            },
        }
    )

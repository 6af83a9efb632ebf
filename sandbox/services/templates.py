"""The templates service: lists ``{"success", "data", "pagination"}``, a single template under
``"template"``, PascalCase statuses and field types, and errors with an empty body."""

from __future__ import annotations

import math
import uuid
from typing import Any

import orjson

from sandbox.options import RELEASE, Options
from sandbox.store import Store
from sandbox.web import (
    ApiError,
    Request,
    Response,
    Route,
    empty_response,
    json_response,
    now_iso,
    opt_bool,
    opt_enum,
    opt_list,
    opt_number,
    opt_object,
    opt_str,
    parse_uuid,
    query_int,
    query_list,
    raw_json,
    req_str,
)

STATUSES = ("Draft", "Published", "Archived", "Deprecated")
FIELD_TYPES = ("Text", "Number", "Date", "Boolean", "Select", "Multiselect", "File")
MAX_PAGE_SIZE = 1000


def render_error(exc: ApiError) -> Response:
    return empty_response(exc.status)


def _malformed_path(name: str, value: str) -> Response:
    return empty_response(400)


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "Template not found")


class TemplatesService:
    def __init__(self, store: Store, options: Options = RELEASE) -> None:
        self.options = options
        self.store = store

    malformed_path = staticmethod(_malformed_path)

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/health", self.health),
            Route("GET", "/templates", self.list_templates),
            Route("POST", "/templates", self.create),
            Route("GET", "/templates/{id:uuid}", self.get),
            Route("PUT", "/templates/{id:uuid}", self.update),
            Route("DELETE", "/templates/{id:uuid}", self.delete),
            Route("POST", "/templates/{id:uuid}/clone", self.clone),
            Route("GET", "/templates/{id:uuid}/fields", self.fields),
        ]

    async def health(self, req: Request) -> Response:
        return json_response({"status": "healthy", "service": "template-service", "database": "ok"})

    def _usage(self, ids: list[str]) -> dict[str, int]:
        if not ids:
            return {}
        rows = self.store.all(
            f"SELECT template_id, count(*) FROM samples "
            f"WHERE template_id IN ({','.join('?' * len(ids))}) GROUP BY 1",
            ids,
        )
        return dict(rows)

    def _with_counts(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        usage = self._usage([d["id"] for d in docs])
        for doc in docs:
            doc["usage_count"] = usage.get(doc["id"], 0)
        return docs

    def _load(self, template_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT doc FROM templates WHERE id = ?", (template_id,))
        if row is None:
            raise _not_found()
        doc: dict[str, Any] = orjson.loads(row[0])
        return doc

    def _save(self, doc: dict[str, Any], *, insert: bool = False) -> None:
        if insert:
            self.store.run(
                "INSERT INTO templates (id, name, status, created_at, doc) VALUES (?, ?, ?, ?, ?)",
                (doc["id"], doc["name"], doc["status"], doc["created_at"], _text(doc)),
            )
        else:
            self.store.run(
                "UPDATE templates SET name = ?, status = ?, doc = ? WHERE id = ?",
                (doc["name"], doc["status"], _text(doc), doc["id"]),
            )

    async def list_templates(self, req: Request) -> Response:
        where: list[str] = []
        params: list[Any] = []
        ids = query_list(req, "ids")
        if ids is not None:
            canonical = [parse_uuid(i) for i in ids]
            if any(c is None for c in canonical) or len(ids) > MAX_PAGE_SIZE:
                raise ApiError(400, "validation_error", "Malformed ids")
            wanted = list(dict.fromkeys(c for c in canonical if c is not None))
            if not wanted:
                return _page([], 0, 1, 1)
            rows = self.store.all(
                f"SELECT id, doc FROM templates WHERE id IN ({','.join('?' * len(wanted))})",
                wanted,
            )
            found = {r[0]: orjson.loads(r[1]) for r in rows}
            docs = [found[i] for i in wanted if i in found]
            return _page(self._with_counts(docs), len(docs), 1, max(len(wanted), 1))
        status = req.query.get("status")
        if status:
            where.append("status = ?")
            params.append(status)
        search = req.query.get("search")
        if search:
            where.append("name LIKE ?")
            params.append(f"%{search}%")
        page = query_int(req, "page", 1)
        page_size = query_int(req, "page_size", query_int(req, "limit", 20), high=MAX_PAGE_SIZE)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        total = self.store.value(f"SELECT count(*) FROM templates{clause}", params)
        rows = self.store.all(
            f"SELECT doc FROM templates{clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            [*params, page_size, (page - 1) * page_size],
        )
        docs = self._with_counts([orjson.loads(r[0]) for r in rows])
        return _page(docs, total, page, page_size)

    async def get(self, req: Request) -> Response:
        doc = self._with_counts([self._load(req.params["id"])])[0]
        return json_response({"success": True, "template": doc})

    def _insert_fields(self, template_id: str, fields: list[Any]) -> int:
        now = now_iso()
        for order, raw in enumerate(fields):
            if not isinstance(raw, dict):
                raise ApiError(400, "validation_error", "field must be an object")
            field = {
                "id": str(uuid.uuid4()),
                "template_id": template_id,
                "name": req_str(raw, "name"),
                "label": opt_str(raw, "label") or raw["name"],
                "field_type": opt_enum(raw, "field_type", FIELD_TYPES, required=True),
                "is_required": bool(opt_bool(raw, "is_required") or opt_bool(raw, "required")),
                "default_value": raw.get("default_value"),
                "options": opt_list(raw, "options"),
                "validation_rules": opt_object(raw, "validation_rules") or {},
                "sort_order": int(opt_number(raw, "sort_order", integer=True) or order),
                "help_text": opt_str(raw, "help_text"),
                "created_at": now,
            }
            self.store.run(
                "INSERT INTO template_fields (id, template_id, sort_order, doc) "
                "VALUES (?, ?, ?, ?)",
                (field["id"], template_id, field["sort_order"], _text(field)),
            )
        return len(fields)

    async def create(self, req: Request) -> Response:
        body = await req.json()
        name = req_str(body, "name").strip()
        if not name:
            raise ApiError(400, "validation_error", "name must not be empty")
        now = now_iso()
        status = opt_enum(body, "status", STATUSES) or "Draft"
        doc = {
            "id": str(uuid.uuid4()),
            "name": name,
            "description": opt_str(body, "description"),
            "template_type": opt_str(body, "template_type") or "sample",
            "status": status,
            "version": 1,
            "category": opt_str(body, "category") or "general",
            "tags": opt_list(body, "tags") or [],
            "is_public": bool(opt_bool(body, "is_public")),
            "is_system": False,
            "form_config": opt_object(body, "form_config") or {},
            "metadata": opt_object(body, "metadata") or {},
            "created_at": now,
            "updated_at": now,
            "created_by": opt_str(body, "created_by") or "system",
            "published_at": now if status == "Published" else None,
            "published_by": None,
            "field_count": 0,
            "usage_count": 0,
        }
        fields = opt_list(body, "fields") or []
        with self.store.transaction():
            doc["field_count"] = self._insert_fields(str(doc["id"]), fields)
            self._save(doc, insert=True)
        return json_response({"success": True, "template": doc}, 201)

    async def update(self, req: Request) -> Response:
        body = await req.json()
        doc = self._load(req.params["id"])
        for name in ("name", "description", "template_type", "category"):
            value = opt_str(body, name)
            if value is not None:
                doc[name] = value
        for name in ("form_config", "metadata"):
            obj = opt_object(body, name)
            if obj is not None:
                doc[name] = obj
        tags = opt_list(body, "tags")
        if tags is not None:
            doc["tags"] = tags
        is_public = opt_bool(body, "is_public")
        if is_public is not None:
            doc["is_public"] = is_public
        status = opt_enum(body, "status", STATUSES)
        if status is not None and status != doc["status"]:
            doc["status"] = status
            if status == "Published":
                doc["published_at"] = now_iso()
                doc["published_by"] = opt_str(body, "updated_by")
        if not str(doc["name"]).strip():
            raise ApiError(400, "validation_error", "name must not be empty")
        doc["version"] = int(doc.get("version") or 1) + 1
        doc["updated_at"] = now_iso()
        self._save(doc)
        return json_response({"success": True, "template": self._with_counts([doc])[0]})

    async def delete(self, req: Request) -> Response:
        template_id = req.params["id"]
        with self.store.transaction():
            if not self.store.run("DELETE FROM templates WHERE id = ?", (template_id,)):
                raise _not_found()
            self.store.run("DELETE FROM template_fields WHERE template_id = ?", (template_id,))
        return empty_response(204)

    async def clone(self, req: Request) -> Response:
        source = self._load(req.params["id"])
        body: dict[str, Any] = {}
        if await req.body():
            body = await req.json()
        now = now_iso()
        doc = {
            **source,
            "id": str(uuid.uuid4()),
            "name": opt_str(body, "name") or f"{source['name']} (copy)",
            "status": "Draft",
            "version": 1,
            "is_system": False,
            "created_at": now,
            "updated_at": now,
            "created_by": opt_str(body, "created_by") or source["created_by"],
            "published_at": None,
            "published_by": None,
            "usage_count": 0,
        }
        fields = [
            {**orjson.loads(r[0]), "required": None}
            for r in self.store.all(
                "SELECT doc FROM template_fields WHERE template_id = ? ORDER BY sort_order",
                (source["id"],),
            )
        ]
        with self.store.transaction():
            doc["field_count"] = self._insert_fields(doc["id"], fields)
            self._save(doc, insert=True)
        return json_response({"success": True, "template": doc}, 201)

    async def fields(self, req: Request) -> Response:
        template_id = req.params["id"]
        self._load(template_id)
        rows = self.store.all(
            "SELECT doc FROM template_fields WHERE template_id = ? ORDER BY sort_order, id",
            (template_id,),
        )
        return raw_json(b'{"success":true,"data":[' + ",".join(r[0] for r in rows).encode() + b"]}")


def _text(doc: dict[str, Any]) -> str:
    return orjson.dumps(doc).decode()


def _page(docs: list[dict[str, Any]], total: int, page: int, page_size: int) -> Response:
    return json_response(
        {
            "success": True,
            "data": docs,
            "pagination": {
                "total_count": total,
                "page": page,
                "page_size": page_size,
                "total_pages": math.ceil(total / page_size) if page_size else 0,
            },
        }
    )

"""The samples service: envelope ``{"success", "data"}``, PascalCase statuses, the workflow
transition table, and errors ``{"error": "<snake_code>", "message", "details", ...}``."""

from __future__ import annotations

import math
import uuid
from typing import Any

import orjson

from sandbox.options import RELEASE, Options
from sandbox.seed import barcode_for
from sandbox.store import Store
from sandbox.web import (
    ApiError,
    Request,
    Response,
    Route,
    json_response,
    now_iso,
    opt_bool,
    opt_enum,
    opt_list,
    opt_number,
    opt_object,
    opt_str,
    opt_time,
    opt_uuid,
    parse_time,
    parse_uuid,
    query_int,
    query_list,
    query_time,
    raw_json,
    req_str,
)

STATUSES = (
    "Pending",
    "Validated",
    "InStorage",
    "InSequencing",
    "Completed",
    "Failed",
    "Discarded",
    "Rejected",
    "Archived",
    "Deleted",
)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "Pending": ("Validated", "Rejected", "Deleted"),
    "Validated": ("InStorage", "InSequencing", "Rejected", "Deleted"),
    "InStorage": ("InSequencing", "Rejected", "Deleted"),
    "InSequencing": ("Completed", "Failed"),
    "Completed": ("Archived",),
    "Failed": ("Pending", "Deleted"),
    "Rejected": ("Pending", "Deleted"),
    "Discarded": ("Archived", "Deleted"),
    "Archived": (),
    "Deleted": (),
}
MAX_PAGE_SIZE = 1000
MAX_BATCH = 1000
_SORTS = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "name": "name",
    "barcode": "barcode",
    "status": "status",
    "sample_type": "sample_type",
}
_OPTIONAL_TEXT = (
    "source_type",
    "source_identifier",
    "collection_location",
    "collector",
    "unit",
    "notes",
)
_PREFIX = b'{"success":true,"data":'


def render_error(exc: ApiError) -> Response:
    return json_response(
        {
            "error": exc.code,
            "message": exc.message,
            "details": exc.details,
            "timestamp": now_iso(),
            "request_id": None,
        },
        exc.status,
    )


def _ok(data: Any, status: int = 200, message: str | None = None) -> Response:
    body: dict[str, Any] = {"success": True, "data": data}
    if message is not None:
        body["message"] = message
    return json_response(body, status)


def _not_found(what: str) -> ApiError:
    return ApiError(404, "sample_not_found", f"Sample not found: {what}")


class SamplesService:
    def __init__(self, store: Store, options: Options = RELEASE) -> None:
        self.options = options
        self.store = store

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/health", self.health),
            Route("GET", "/samples", self.list_samples),
            Route("POST", "/samples", self.create),
            Route("POST", "/samples/batch", self.create_batch),
            Route("GET", "/samples/barcode/{barcode}", self.get_by_barcode),
            Route("GET", "/samples/{id:uuid}", self.get),
            Route("PUT", "/samples/{id:uuid}", self.update),
            Route("DELETE", "/samples/{id:uuid}", self.delete),
            Route("PUT", "/samples/{id:uuid}/status", self.update_status),
        ]

    async def health(self, req: Request) -> Response:
        count = self.store.value("SELECT count(*) FROM samples")
        return json_response(
            {"status": "healthy", "service": "sample-service", "database": "ok", "samples": count}
        )

    async def get(self, req: Request) -> Response:
        row = self.store.one("SELECT doc FROM samples WHERE id = ?", (req.params["id"],))
        if row is None:
            raise _not_found(req.params["id"])
        return raw_json(_PREFIX + row[0].encode() + b"}")

    async def get_by_barcode(self, req: Request) -> Response:
        barcode = req.params["barcode"]
        row = self.store.one("SELECT doc FROM samples WHERE barcode = ?", (barcode,))
        if row is None:
            raise _not_found(barcode)
        return raw_json(_PREFIX + row[0].encode() + b"}")

    async def list_samples(self, req: Request) -> Response:
        query = req.query
        ids = query_list(req, "ids")
        where: list[str] = []
        params: list[Any] = []
        if ids is not None:
            if len(ids) > MAX_BATCH:
                raise ApiError(
                    400, "validation_error", f"At most {MAX_BATCH} ids per request", None
                )
            canonical = [parse_uuid(i) for i in ids]
            bad = [i for i, c in zip(ids, canonical, strict=True) if c is None]
            if bad:
                raise ApiError(400, "validation_error", "Malformed sample id", {"ids": bad[:10]})
            ids = list(dict.fromkeys(c for c in canonical if c is not None))
            if not ids:
                return self._page([], 0, 1, 0)
            where.append(f"id IN ({','.join('?' * len(ids))})")
            params.extend(ids)
        for name in ("status", "sample_type", "template_id"):
            value = query.get(name)
            if value:
                where.append(f"{name} = ?")
                params.append(value)
        search = query.get("search")
        if search:
            where.append("(name LIKE ? OR barcode LIKE ?)")
            params.extend([f"%{search}%", f"%{search}%"])
        after = query_time(req, "created_after")
        if after:
            where.append("created_at >= ?")
            params.append(after)
        before = query_time(req, "created_before")
        if before:
            where.append("created_at <= ?")
            params.append(before)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        if ids is not None:
            rows = self.store.all(f"SELECT id, doc FROM samples{clause}", params)
            by_id = {row[0]: row[1] for row in rows}
            docs = [by_id[i] for i in ids if i in by_id]
            return self._page(docs, len(docs), 1, max(len(ids), 1))
        page = query_int(req, "page", 1)
        page_size = query_int(req, "page_size", 50, high=MAX_PAGE_SIZE)
        order = _order(query.get("sort_by"), query.get("sort_order"))
        total = self.store.value(f"SELECT count(*) FROM samples{clause}", params)
        rows = self.store.all(
            f"SELECT doc FROM samples{clause} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, page_size, (page - 1) * page_size],
        )
        return self._page([row[0] for row in rows], total, page, page_size)

    def _page(self, docs: list[str], total: int, page: int, page_size: int) -> Response:
        pages = math.ceil(total / page_size) if page_size else 0
        body = (
            b'{"success":true,"data":{"samples":['
            + ",".join(docs).encode()
            + b'],"total_count":%d,"page":%d,"page_size":%d,"total_pages":%d}}'
            % (total, page, page_size, pages)
        )
        return raw_json(body)

    def _insert(
        self, body: dict[str, Any], defaults: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Validate one sample body and insert it; ApiError/Rejection on bad input."""
        merged = {**(defaults or {}), **{k: v for k, v in body.items() if v is not None}}
        name = req_str(merged, "name").strip()
        sample_type = req_str(merged, "sample_type").strip()
        if not name:
            raise ApiError(
                400, "validation_error", "Sample name must not be empty", {"field": "name"}
            )
        if len(name) > 255:
            raise ApiError(400, "validation_error", "Sample name is too long", {"field": "name"})
        if not sample_type:
            raise ApiError(
                400, "validation_error", "Sample type must not be empty", {"field": "sample_type"}
            )
        doc = _sample_fields(merged)
        now = now_iso()
        barcode = opt_str(merged, "barcode")
        if barcode is None or not barcode.strip():
            sequence = self.store.next_counter("barcode_seq")
            barcode = barcode_for(sample_type.lower(), parse_time(now), sequence)
        barcode = barcode.strip()
        if self.store.value("SELECT 1 FROM samples WHERE barcode = ?", (barcode,)):
            raise ApiError(
                409, "duplicate_barcode", f"Barcode already exists: {barcode}", {"barcode": barcode}
            )
        sample_id = str(uuid.uuid4())
        sample = {
            "id": sample_id,
            "name": name,
            "barcode": barcode,
            "sample_type": sample_type,
            "status": "Pending",
            "template_id": doc.get("template_id"),
            "source_type": doc.get("source_type"),
            "source_identifier": doc.get("source_identifier"),
            "collection_date": doc.get("collection_date"),
            "collection_location": doc.get("collection_location"),
            "collector": doc.get("collector"),
            "concentration": doc.get("concentration"),
            "volume": doc.get("volume"),
            "unit": doc.get("unit"),
            "quality_score": doc.get("quality_score"),
            "metadata": doc.get("metadata") or {},
            "notes": doc.get("notes"),
            "created_at": now,
            "updated_at": now,
            "created_by": doc.get("created_by"),
            "updated_by": doc.get("created_by"),
        }
        self.store.run(
            "INSERT INTO samples (id, name, barcode, sample_type, status, template_id, "
            "created_at, updated_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sample_id,
                name,
                barcode,
                sample_type,
                "Pending",
                sample["template_id"],
                now,
                now,
                orjson.dumps(sample).decode(),
            ),
        )
        return sample

    async def create(self, req: Request) -> Response:
        body = await req.json()
        return _ok(self._insert(body), 201, "Sample created successfully")

    async def create_batch(self, req: Request) -> Response:
        body = await req.json()
        items = opt_list(body, "samples", required=True) or []
        template_id = opt_uuid(body, "template_id")
        opt_str(body, "batch_name")
        auto = opt_bool(body, "auto_generate_barcodes")
        if not 1 <= len(items) <= MAX_BATCH:
            raise ApiError(
                400,
                "validation_error",
                f"A batch holds 1 to {MAX_BATCH} samples",
                {"count": len(items)},
            )
        created: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        defaults = {"template_id": template_id} if template_id else {}
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                failed.append({"index": index, "sample_data": item, "error": "not an object"})
                continue
            data = dict(item)
            if auto:
                data.pop("barcode", None)
            try:
                created.append(self._insert(data, defaults))
            except ApiError as exc:
                failed.append({"index": index, "sample_data": item, "error": exc.message})
            except Exception as exc:  # a Rejection of one item fails that item only
                failed.append({"index": index, "sample_data": item, "error": str(exc)})
        return _ok(
            {
                "created_samples": created,
                "failed_samples": failed,
                "total_created": len(created),
                "total_failed": len(failed),
            },
            201 if created else 200,
            f"Created {len(created)} samples, {len(failed)} failed",
        )

    def _load(self, sample_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT doc FROM samples WHERE id = ?", (sample_id,))
        if row is None:
            raise _not_found(sample_id)
        doc: dict[str, Any] = orjson.loads(row[0])
        return doc

    def _save(self, doc: dict[str, Any]) -> None:
        self.store.run(
            "UPDATE samples SET name = ?, barcode = ?, sample_type = ?, status = ?, "
            "template_id = ?, updated_at = ?, doc = ? WHERE id = ?",
            (
                doc["name"],
                doc["barcode"],
                doc["sample_type"],
                doc["status"],
                doc["template_id"],
                doc["updated_at"],
                orjson.dumps(doc).decode(),
                doc["id"],
            ),
        )

    async def update(self, req: Request) -> Response:
        body = await req.json()
        doc = self._load(req.params["id"])
        changes = _sample_fields(body)
        name = opt_str(body, "name")
        if name is not None:
            if not name.strip():
                raise ApiError(
                    400, "validation_error", "Sample name must not be empty", {"field": "name"}
                )
            changes["name"] = name.strip()
        sample_type = opt_str(body, "sample_type")
        if sample_type is not None:
            changes["sample_type"] = sample_type.strip()
        barcode = opt_str(body, "barcode")
        if barcode is not None and barcode.strip() != doc["barcode"]:
            barcode = barcode.strip()
            if self.store.value("SELECT 1 FROM samples WHERE barcode = ?", (barcode,)):
                raise ApiError(
                    409,
                    "duplicate_barcode",
                    f"Barcode already exists: {barcode}",
                    {"barcode": barcode},
                )
            changes["barcode"] = barcode
        updated_by = opt_str(body, "updated_by")
        changes.pop("created_by", None)
        doc.update(changes)
        if updated_by is not None:
            doc["updated_by"] = updated_by
        doc["updated_at"] = now_iso()
        self._save(doc)
        return _ok(doc, message="Sample updated successfully")

    async def update_status(self, req: Request) -> Response:
        body = await req.json()
        new_status = opt_enum(body, "new_status", STATUSES, required=True)
        reason = opt_str(body, "reason")
        metadata = opt_object(body, "metadata")
        opt_bool(body, "notify")
        doc = self._load(req.params["id"])
        current = doc["status"]
        allowed = TRANSITIONS.get(current, ())
        if new_status not in allowed:
            raise ApiError(
                400,
                "invalid_workflow_transition",
                f"Invalid status transition from {current} to {new_status}",
                {"from": current, "to": new_status, "allowed": list(allowed)},
            )
        doc["status"] = new_status
        doc["updated_at"] = now_iso()
        if reason or metadata:
            doc_metadata = dict(doc.get("metadata") or {})
            history = list(doc_metadata.get("status_history") or [])
            history.append(
                {"from": current, "to": new_status, "reason": reason, "at": doc["updated_at"]}
            )
            doc_metadata["status_history"] = history
            if metadata:
                doc_metadata.update(metadata)
            doc["metadata"] = doc_metadata
        self._save(doc)
        return _ok(doc, message=f"Sample status updated to {new_status}")

    async def delete(self, req: Request) -> Response:
        sample_id = req.params["id"]
        if not self.store.run("DELETE FROM samples WHERE id = ?", (sample_id,)):
            raise _not_found(sample_id)
        return _ok({"id": sample_id, "deleted": True}, message="Sample deleted successfully")


def _order(sort_by: str | None, sort_order: str | None) -> str:
    descending = True
    column = "created_at"
    if sort_by:
        key = sort_by.strip()
        if key.startswith("-"):
            key, descending = key[1:], True
        elif key.endswith(("_desc", "_asc")):
            key, _, direction = key.rpartition("_")
            descending = direction == "desc"
        else:
            descending = key in ("created_at", "updated_at")
        if key not in _SORTS:
            raise ApiError(
                400,
                "validation_error",
                f"Unknown sort_by: {sort_by}",
                {"allowed": sorted(_SORTS)},
            )
        column = _SORTS[key]
    if sort_order:
        descending = sort_order.lower() == "desc"
    return f"{column} {'DESC' if descending else 'ASC'}, id ASC"


def _sample_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The optional sample fields present in ``body``, type-checked like serde would."""
    out: dict[str, Any] = {}
    for name in _OPTIONAL_TEXT:
        if name in body:
            out[name] = opt_str(body, name)
    if "template_id" in body:
        out["template_id"] = opt_uuid(body, "template_id")
    if "created_by" in body:
        out["created_by"] = opt_str(body, "created_by")
    if "collection_date" in body:
        out["collection_date"] = opt_time(body, "collection_date")
    for name in ("concentration", "volume", "quality_score"):
        if name in body:
            out[name] = opt_number(body, name)
    if "metadata" in body:
        out["metadata"] = opt_object(body, "metadata")
    return out

"""The sequencing service: bare JSON jobs and sample sheets, PascalCase status and priority,
errors ``{"error": {"message", "timestamp"}}``."""

from __future__ import annotations

import math
import uuid
from typing import Any

import orjson

from sandbox.options import RELEASE, Options
from sandbox.seed import PRIORITIES, PRIORITY_RANK
from sandbox.store import Store
from sandbox.web import (
    ApiError,
    Request,
    Response,
    Route,
    empty_response,
    json_response,
    now_iso,
    opt_enum,
    opt_object,
    opt_str,
    opt_time,
    opt_uuid,
    parse_uuid,
    query_int,
    query_list,
    raw_json,
    req_str,
    req_uuid,
)

STATUSES = (
    "Draft",
    "Submitted",
    "Validated",
    "Queued",
    "Running",
    "Completed",
    "Failed",
    "Cancelled",
    "OnHold",
)
FINAL = ("Completed", "Cancelled")
MAX_LIMIT = 100
MAX_BATCH = 1000
_SORTS = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "name": "name",
    "status": "status",
    "priority": "priority_rank",
}


def render_error(exc: ApiError) -> Response:
    return json_response({"error": {"message": exc.message, "timestamp": now_iso()}}, exc.status)


def _not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found: {ident}")


class SequencingService:
    def __init__(self, store: Store, options: Options = RELEASE) -> None:
        self.options = options
        self.store = store

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/health", self.health),
            Route("GET", "/jobs", self.list_jobs),
            Route("POST", "/jobs", self.create),
            Route("GET", "/jobs/{id:uuid}", self.get),
            Route("PUT", "/jobs/{id:uuid}", self.update),
            Route("DELETE", "/jobs/{id:uuid}", self.delete),
            Route("PUT", "/jobs/{id:uuid}/status", self.update_status),
            Route("POST", "/jobs/{id:uuid}/cancel", self.cancel),
            Route("GET", "/sample-sheets/{id:uuid}", self.get_sheet),
        ]

    async def health(self, req: Request) -> Response:
        return json_response(
            {"status": "healthy", "service": "sequencing-service", "database": "ok"}
        )

    def _load(self, job_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT doc FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise _not_found("Sequencing job", job_id)
        doc: dict[str, Any] = orjson.loads(row[0])
        return doc

    def _save(self, doc: dict[str, Any], *, insert: bool = False) -> None:
        values = (
            doc["name"],
            doc["status"],
            doc["priority"],
            PRIORITY_RANK[doc["priority"]],
            doc["platform_id"],
            (doc.get("metadata") or {}).get("platform_name"),
            doc.get("sample_sheet_id"),
            doc["created_at"],
            doc["updated_at"],
            orjson.dumps(doc).decode(),
            doc["id"],
        )
        if insert:
            self.store.run(
                "INSERT INTO jobs (name, status, priority, priority_rank, platform_id, "
                "platform_name, sample_sheet_id, created_at, updated_at, doc, id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
        else:
            self.store.run(
                "UPDATE jobs SET name = ?, status = ?, priority = ?, priority_rank = ?, "
                "platform_id = ?, platform_name = ?, sample_sheet_id = ?, created_at = ?, "
                "updated_at = ?, doc = ? WHERE id = ?",
                values,
            )

    async def list_jobs(self, req: Request) -> Response:
        ids = _uuid_list(req, "ids")
        sample_ids = _uuid_list(req, "sample_ids")
        where: list[str] = []
        params: list[Any] = []
        if ids is not None:
            where.append(f"id IN ({','.join('?' * len(ids))})" if ids else "0")
            params.extend(ids)
        if sample_ids is not None:
            where.append(
                "sample_sheet_id IN (SELECT sheet_id FROM sheet_samples "
                f"WHERE sample_id IN ({','.join('?' * len(sample_ids))}))"
                if sample_ids
                else "0"
            )
            params.extend(sample_ids)
        for name, column in (("status", "status"), ("priority", "priority")):
            value = req.query.get(name)
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        platform = req.query.get("platform") or req.query.get("platform_id")
        if platform:
            where.append("(platform_id = ? OR platform_name = ?)")
            params.extend([platform, platform])
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        sort = req.query.get("sort") or "created_at"
        if sort not in _SORTS:
            raise ApiError(400, "validation_error", f"Unknown sort field: {sort}")
        order = "ASC" if (req.query.get("order") or "desc").lower() == "asc" else "DESC"
        batch = ids is not None or sample_ids is not None
        page = 1 if batch else query_int(req, "page", 1)
        limit = MAX_BATCH if batch else query_int(req, "limit", 50, high=MAX_LIMIT)
        total = self.store.value(f"SELECT count(*) FROM jobs{clause}", params)
        rows = self.store.all(
            f"SELECT doc FROM jobs{clause} ORDER BY {_SORTS[sort]} {order}, id LIMIT ? OFFSET ?",
            [*params, limit, (page - 1) * limit],
        )
        if batch:
            limit = max(total, 1)
        pages = math.ceil(total / limit)
        body = (
            b'{"jobs":['
            + ",".join(r[0] for r in rows).encode()
            + b'],"pagination":{"page":%d,"limit":%d,"total":%d,"pages":%d}'
            % (
                page,
                limit,
                total,
                pages,
            )
        )
        if sample_ids:
            links = self.store.all(
                "SELECT s.sample_id, j.id FROM sheet_samples s JOIN jobs j "
                "ON j.sample_sheet_id = s.sheet_id "
                f"WHERE s.sample_id IN ({','.join('?' * len(sample_ids))}) ORDER BY j.created_at",
                sample_ids,
            )
            by_sample: dict[str, list[str]] = {}
            for sample_id, job_id in links:
                by_sample.setdefault(sample_id, []).append(job_id)
            body += b',"sample_jobs":' + orjson.dumps(by_sample)
        return raw_json(body + b"}")

    async def get(self, req: Request) -> Response:
        row = self.store.one("SELECT doc FROM jobs WHERE id = ?", (req.params["id"],))
        if row is None:
            raise _not_found("Sequencing job", req.params["id"])
        return raw_json(row[0].encode())

    async def create(self, req: Request) -> Response:
        body = await req.json()
        name = req_str(body, "name").strip()
        priority = opt_enum(body, "priority", PRIORITIES, required=True)
        platform_id = req_uuid(body, "platform_id")
        workflow_id = req_uuid(body, "workflow_id")
        sheet_id = opt_uuid(body, "sample_sheet_id")
        if not name:
            raise ApiError(400, "validation_error", "Job name must not be empty")
        if sheet_id and not self.store.value(
            "SELECT 1 FROM sample_sheets WHERE id = ?", (sheet_id,)
        ):
            raise ApiError(400, "validation_error", f"Sample sheet not found: {sheet_id}")
        platform_name = self.store.value(
            "SELECT platform_name FROM jobs WHERE platform_id = ? LIMIT 1", (platform_id,)
        )
        metadata = dict(opt_object(body, "metadata") or {})
        if platform_name and "platform_name" not in metadata:
            metadata["platform_name"] = platform_name
        now = now_iso()
        doc = {
            "id": str(uuid.uuid4()),
            "name": name,
            "description": opt_str(body, "description"),
            "status": "Draft",
            "priority": priority,
            "platform_id": platform_id,
            "workflow_id": workflow_id,
            "sample_sheet_id": sheet_id,
            "run_id": None,
            "created_by": opt_str(body, "created_by") or "00000000-0000-0000-0000-000000000000",
            "assigned_to": opt_uuid(body, "assigned_to"),
            "estimated_start": opt_time(body, "estimated_start"),
            "estimated_completion": opt_time(body, "estimated_completion"),
            "actual_start": None,
            "actual_completion": None,
            "metadata": metadata,
            "created_at": now,
            "updated_at": now,
        }
        self._save(doc, insert=True)
        return json_response(doc, 201)

    async def update(self, req: Request) -> Response:
        body = await req.json()
        doc = self._load(req.params["id"])
        name = opt_str(body, "name")
        if name is not None:
            if not name.strip():
                raise ApiError(400, "validation_error", "Job name must not be empty")
            doc["name"] = name.strip()
        for key in ("description",):
            value = opt_str(body, key)
            if value is not None:
                doc[key] = value
        priority = opt_enum(body, "priority", PRIORITIES)
        if priority is not None:
            doc["priority"] = priority
        for key in ("platform_id", "workflow_id", "sample_sheet_id", "assigned_to"):
            ident = opt_uuid(body, key)
            if ident is not None:
                doc[key] = ident
        for key in ("estimated_start", "estimated_completion"):
            moment = opt_time(body, key)
            if moment is not None:
                doc[key] = moment
        metadata = opt_object(body, "metadata")
        if metadata is not None:
            doc["metadata"] = {**(doc.get("metadata") or {}), **metadata}
        doc["updated_at"] = now_iso()
        self._save(doc)
        return json_response(doc)

    async def delete(self, req: Request) -> Response:
        if not self.store.run("DELETE FROM jobs WHERE id = ?", (req.params["id"],)):
            raise _not_found("Sequencing job", req.params["id"])
        return empty_response(204)

    def _transition(self, doc: dict[str, Any], status: str, notes: str | None) -> Response:
        current = doc["status"]
        if current in FINAL or current == status:
            raise ApiError(
                400, "invalid_transition", f"Cannot change job status from {current} to {status}"
            )
        now = now_iso()
        doc["status"] = status
        if status == "Running" and not doc.get("actual_start"):
            doc["actual_start"] = now
            doc["run_id"] = doc.get("run_id") or f"RUN-{now[2:10].replace('-', '')}-{doc['id'][:4]}"
        if status in ("Completed", "Failed"):
            doc["actual_completion"] = now
        if notes:
            metadata = dict(doc.get("metadata") or {})
            history = list(metadata.get("status_notes") or [])
            history.append({"status": status, "notes": notes, "at": now})
            metadata["status_notes"] = history
            doc["metadata"] = metadata
        doc["updated_at"] = now
        self._save(doc)
        return json_response(doc)

    async def update_status(self, req: Request) -> Response:
        body = await req.json()
        status = opt_enum(body, "status", STATUSES, required=True)
        notes = opt_str(body, "notes")
        return self._transition(self._load(req.params["id"]), str(status), notes)

    async def cancel(self, req: Request) -> Response:
        doc = self._load(req.params["id"])
        if doc["status"] in ("Completed", "Failed", "Cancelled"):
            raise ApiError(400, "invalid_transition", f"Cannot cancel a {doc['status']} job")
        return self._transition(doc, "Cancelled", None)

    async def get_sheet(self, req: Request) -> Response:
        row = self.store.one("SELECT doc FROM sample_sheets WHERE id = ?", (req.params["id"],))
        if row is None:
            raise _not_found("Sample sheet", req.params["id"])
        return raw_json(row[0].encode())


def _uuid_list(req: Request, name: str) -> list[str] | None:
    values = query_list(req, name)
    if values is None:
        return None
    if len(values) > MAX_BATCH:
        raise ApiError(400, "validation_error", f"At most {MAX_BATCH} values in {name}")
    canonical = [parse_uuid(v) for v in values]
    if any(c is None for c in canonical):
        raise ApiError(400, "validation_error", f"Malformed UUID in {name}")
    return list(dict.fromkeys(c for c in canonical if c is not None))

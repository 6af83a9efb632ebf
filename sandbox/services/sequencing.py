"""The sequencing service as the release answers (UPSTREAMS.md, "## sequencing").

Jobs travel as bare objects: a ``SequencingJob`` in struct order (with its alias keys) from
the GET by id, PUT, status change and cancel; a ``JobResponse`` summary (sorted keys) from
the list, create and clone. Sample sheets and workflows answer a sorted
``{data, message?, success}``. Errors are ``{"error": {"message", "timestamp"}}``.

Release defects kept here: the job list ignores every filter (``jobs-list-filters`` makes
status, priority, platform and created_by apply); the sample-sheet and workflow lists answer
500 to any filter; ``created_by`` is a random UUID per create. The job create, status and
cancel routes of the release also POST to the notifications service, whose 422 is only
logged: the sandbox leaves that call out (nothing a client sees depends on it).
[extension] ``GET /jobs?ids=`` and ``GET /jobs?sample_ids=`` answer full jobs, only with
the ``sequencing`` extension on.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import orjson

from sandbox.options import RELEASE, Options
from sandbox.seed import PRIORITIES, PRIORITY_RANK, job_document, sheet_entries
from sandbox.store import Store
from sandbox.web import (
    ApiError,
    Rejection,
    Request,
    Response,
    Route,
    _drop_connection,
    empty_response,
    json_response,
    now_iso,
    opt_enum,
    opt_str,
    opt_time,
    opt_uuid,
    parse_uuid,
    query_list,
    raw_json,
    req_str,
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
SHEET_STATUSES = (
    "Draft",
    "Validating",
    "Validated",
    "Valid",
    "Invalid",
    "InUse",
    "Generated",
    "Archived",
)
PLATFORMS = ("illumina_novaseq", "illumina_hiseq", "ion_torrent", "nanopore")
TRANSITIONS = {
    "Draft": ("Submitted",),
    "Submitted": ("Validated", "Cancelled"),
    "Validated": ("Queued", "OnHold", "Cancelled"),
    "Queued": ("Running", "OnHold", "Cancelled"),
    "Running": ("Completed", "Failed", "Cancelled"),
    "OnHold": ("Queued", "Cancelled"),
    "Failed": ("Queued", "Cancelled"),
    "Completed": (),
    "Cancelled": (),
}
PROGRESS = {
    "Draft": 0.0,
    "Submitted": 10.0,
    "Validated": 20.0,
    "Queued": 30.0,
    "OnHold": 25.0,
    "Running": 50.0,
    "Completed": 100.0,
    "Failed": 0.0,
    "Cancelled": 0.0,
}
TERMINAL = ("Completed", "Failed", "Cancelled")
ACTIVE = ("Queued", "Running")
MAX_LIMIT = 100
MAX_BATCH = 1000
U32_MAX = 4294967295
_SORTED = orjson.OPT_SORT_KEYS


def render_error(exc: ApiError) -> Response:
    return json_response({"error": {"message": exc.message, "timestamp": now_iso()}}, exc.status)


def _sorted(obj: Any, status: int = 200) -> Response:
    """A body built with ``json!``: keys sorted at every level."""
    return raw_json(orjson.dumps(obj, option=_SORTED), status)


def _validation(message: str) -> ApiError:
    return ApiError(400, "validation", f"Validation error: {message}")


def _invalid_operation(message: str) -> ApiError:
    return ApiError(400, "invalid_operation", f"Invalid operation: {message}")


def _database_error(required: int) -> ApiError:
    # The release builds `$n` placeholders for its list filters and never binds them.
    return ApiError(
        500,
        "database",
        "Database error: error returned from database: bind message supplies "
        f'{required + 1} parameters, but prepared statement "sqlx_s_1" requires {required + 2}',
    )


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """The JobResponse of a job (sorted keys)."""
    return {
        "created_at": doc["created_at"],
        "estimated_completion": doc.get("estimated_completion"),
        "id": doc["id"],
        "name": doc["name"],
        "platform_id": doc["platform_id"],
        "priority": doc["priority"],
        "progress_percentage": PROGRESS[doc["status"]],
        "status": doc["status"],
        "workflow_id": doc["workflow_id"],
    }


def _query_u32(req: Request, name: str) -> int | None:
    """A ``u32`` query parameter as serde_urlencoded reads it (plain digits)."""
    raw = req.query.get(name)
    if raw is None:
        return None
    if raw == "":
        raise Rejection(
            400, "Failed to deserialize query string: cannot parse integer from empty string"
        )
    if not raw.isdigit() or not raw.isascii():
        raise Rejection(400, "Failed to deserialize query string: invalid digit found in string")
    value = int(raw)
    if value > U32_MAX:
        raise Rejection(
            400, "Failed to deserialize query string: number too large to fit in target type"
        )
    return value


def _query_i64(req: Request, name: str) -> int | None:
    raw = req.query.get(name)
    if raw is None:
        return None
    body = raw[1:] if raw.startswith("-") else raw
    if not body.isdigit() or not body.isascii():
        raise Rejection(400, "Failed to deserialize query string: invalid digit found in string")
    return int(raw)


def _query_uuid(req: Request, name: str) -> str | None:
    raw = req.query.get(name)
    if raw is None:
        return None
    canonical = parse_uuid(raw)
    if canonical is None:
        raise Rejection(400, f"Failed to deserialize query string: UUID parsing failed: {raw}")
    return canonical


def _any_json(body: dict[str, Any], name: str) -> Any:
    """An ``Option<serde_json::Value>`` field: any JSON, null meaning absent."""
    return body.get(name)


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
            Route("POST", "/jobs/{id:uuid}/clone", self.clone),
            Route("POST", "/jobs/{id:uuid}/cancel", self.cancel),
            Route("GET", "/sample-sheets", self.list_sheets),
            Route("POST", "/sample-sheets", self.create_sheet),
            Route("GET", "/sample-sheets/{id:uuid}", self.get_sheet),
            Route("PUT", "/sample-sheets/{id:uuid}", self.update_sheet),
            Route("DELETE", "/sample-sheets/{id:uuid}", self.delete_sheet),
            Route("POST", "/sample-sheets/{id:uuid}/validate", self.validate_sheet),
            Route("GET", "/workflows", self.list_workflows),
            Route("GET", "/workflows/{id:uuid}", self.get_workflow),
            Route("POST", "/workflows/{id:uuid}/execute", self.execute_workflow),
        ]

    async def health(self, req: Request) -> Response:
        return _sorted(
            {
                "database": "connected",
                "service": "sequencing-service",
                "status": "healthy",
                "timestamp": now_iso(),
            }
        )

    # -- jobs ---------------------------------------------------------------------------------

    def _load(self, job_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT doc FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise ApiError(404, "not_found", f"Job not found: {job_id}")
        doc: dict[str, Any] = orjson.loads(row[0])
        return doc

    def _save(self, doc: dict[str, Any], *, insert: bool = False) -> dict[str, Any]:
        doc = job_document(doc)
        values = (
            doc["name"],
            doc["status"],
            doc["priority"],
            PRIORITY_RANK[doc["priority"]],
            doc["platform_id"],
            doc["platform_id"],
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
        return doc

    async def list_jobs(self, req: Request) -> Response:
        page = _query_u32(req, "page")
        limit = _query_u32(req, "limit")
        created_by = _query_uuid(req, "created_by")
        if self.options.extension("sequencing"):
            batch = self._batch(req)
            if batch is not None:
                return batch
        page = 1 if page is None else page
        limit = min(50 if limit is None else limit, MAX_LIMIT)
        where: list[str] = []
        params: list[Any] = []
        if self.options.fixed("jobs-list-filters"):
            for name in ("status", "priority", "platform"):
                value = req.query.get(name)
                if value is not None:
                    where.append(f"{'platform_id' if name == 'platform' else name} = ?")
                    params.append(value)
            if created_by is not None:
                where.append("json_extract(doc, '$.created_by') = ?")
                params.append(created_by)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        total = self.store.value(f"SELECT count(*) FROM jobs{clause}", params)
        rows = self.store.all(
            f"SELECT doc FROM jobs{clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            [*params, limit, max(page - 1, 0) * limit],
        )
        # limit=0: total / 0 is f64 inf (or NaN for 0 / 0), cast to u32
        pages = math.ceil(total / limit) if limit else U32_MAX if total else 0
        return _sorted(
            {
                "jobs": [summary(orjson.loads(r[0])) for r in rows],
                "pagination": {"limit": limit, "page": page, "pages": pages, "total": total},
            }
        )

    def _batch(self, req: Request) -> Response | None:
        """[extension] full jobs by id or by the samples on their sheets; no paging."""
        ids = _uuid_list(req, "ids")
        sample_ids = _uuid_list(req, "sample_ids")
        if ids is None and sample_ids is None:
            return None
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
        rows = self.store.all(
            f"SELECT doc FROM jobs WHERE {' AND '.join(where)} ORDER BY created_at DESC, id",
            params,
        )
        total = len(rows)
        pagination = b'{"limit":%d,"page":1,"pages":1,"total":%d}' % (max(total, 1), total)
        body = b'{"jobs":[' + ",".join(r[0] for r in rows).encode() + b'],"pagination":'
        return raw_json(body + pagination + b"}")

    async def get(self, req: Request) -> Response:
        row = self.store.one("SELECT doc FROM jobs WHERE id = ?", (req.params["id"],))
        if row is None:
            raise ApiError(404, "not_found", f"Job not found: {req.params['id']}")
        return raw_json(row[0].encode())

    async def create(self, req: Request) -> Response:
        body = await req.json()
        name = req_str(body, "name")
        description = opt_str(body, "description")
        priority = str(opt_enum(body, "priority", PRIORITIES, required=True))
        platform_id = req_str(body, "platform_id")
        workflow_id = req_str(body, "workflow_id")
        sheet_id = opt_uuid(body, "sample_sheet_id")
        estimated_start = opt_time(body, "estimated_start")
        metadata = _any_json(body, "metadata")
        if not name.strip():
            raise _validation("Job name cannot be empty")
        if not platform_id.strip():
            raise _validation("Platform ID cannot be empty")
        if not workflow_id.strip():
            raise _validation("Workflow ID cannot be empty")
        if platform_id not in PLATFORMS:
            raise ApiError(404, "platform_not_found", "Platform not found")
        now = now_iso()
        doc = {
            "id": str(uuid.uuid4()),
            "name": name,
            "description": description,
            "status": "Draft",
            "priority": priority,
            "platform_id": platform_id,
            "workflow_id": workflow_id,
            "sample_sheet_id": sheet_id,
            "run_id": None,
            "created_by": str(uuid.uuid4()),  # the release's "TODO: Get from auth context"
            "assigned_to": None,
            "estimated_start": estimated_start,
            "estimated_completion": None,
            "actual_start": None,
            "actual_completion": None,
            "metadata": {} if metadata is None else metadata,
            "created_at": now,
            "updated_at": now,
        }
        doc = self._save(doc, insert=True)
        return _sorted(summary(doc), 201)

    async def update(self, req: Request) -> Response:
        body = await req.json()
        changes = {
            "name": opt_str(body, "name"),
            "description": opt_str(body, "description"),
            "priority": opt_enum(body, "priority", PRIORITIES),
            "assigned_to": opt_uuid(body, "assigned_to"),
            "estimated_start": opt_time(body, "estimated_start"),
            "metadata": _any_json(body, "metadata"),
        }
        doc = self._load(req.params["id"])
        doc.update({k: v for k, v in changes.items() if v is not None})
        doc["updated_at"] = now_iso()
        return json_response(self._save(doc))

    async def delete(self, req: Request) -> Response:
        doc = self._load(req.params["id"])
        if doc["status"] in ACTIVE:
            raise _invalid_operation(
                f'Cannot delete job {doc["id"]} - job is currently "{doc["status"]}"'
            )
        self.store.run("DELETE FROM jobs WHERE id = ?", (doc["id"],))
        return empty_response(204)

    async def update_status(self, req: Request) -> Response:
        body = await req.json()
        status = str(opt_enum(body, "status", STATUSES, required=True))
        opt_str(body, "notes")  # read and ignored, as the release does
        doc = self._load(req.params["id"])
        current = doc["status"]
        if status not in TRANSITIONS[current]:
            raise ApiError(
                400,
                "invalid_transition",
                f'Invalid job status transition: from "{current}" to "{status}"',
            )
        now = now_iso()
        if status == "Running":
            doc["actual_start"], doc["actual_completion"] = now, None
        elif status in TERMINAL:
            doc["actual_completion"] = now
        doc["status"] = status
        doc["updated_at"] = now
        return json_response(self._save(doc))

    async def clone(self, req: Request) -> Response:
        original = self._load(req.params["id"])
        now = now_iso()
        doc = {
            "id": str(uuid.uuid4()),
            "name": f"{original['name']} (Copy)",
            "description": original.get("description"),
            "status": "Draft",
            "priority": original["priority"],
            "platform_id": original["platform_id"],
            "workflow_id": original["workflow_id"],
            "sample_sheet_id": original.get("sample_sheet_id"),
            "run_id": None,
            "created_by": original["created_by"],
            "assigned_to": None,
            "estimated_start": None,
            "estimated_completion": None,
            "actual_start": None,
            "actual_completion": None,
            "metadata": original.get("metadata"),
            "created_at": now,
            "updated_at": now,
        }
        return _sorted(summary(self._save(doc, insert=True)), 201)

    async def cancel(self, req: Request) -> Response:
        doc = self._load(req.params["id"])
        if doc["status"] in TERMINAL:
            raise _invalid_operation(
                f"Cannot cancel job {doc['id']} - job is already in terminal state: {doc['status']}"
            )
        now = now_iso()
        doc["status"] = "Cancelled"
        doc["actual_completion"] = now
        doc["updated_at"] = now
        return json_response(self._save(doc))

    # -- sample sheets ------------------------------------------------------------------------

    def _sheet(self, sheet_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT doc FROM sample_sheets WHERE id = ?", (sheet_id,))
        if row is None:
            raise ApiError(404, "not_found", f"Sample sheet not found: {sheet_id}")
        stored: dict[str, Any] = orjson.loads(row[0])
        return stored

    def _store_sheet(self, stored: dict[str, Any], *, insert: bool = False) -> None:
        sheet_id = stored["sample_sheet"]["id"]
        text = orjson.dumps(stored, option=_SORTED).decode()
        if insert:
            self.store.run("INSERT INTO sample_sheets (id, doc) VALUES (?, ?)", (sheet_id, text))
        else:
            self.store.run("UPDATE sample_sheets SET doc = ? WHERE id = ?", (text, sheet_id))
        self.store.run("DELETE FROM sheet_samples WHERE sheet_id = ?", (sheet_id,))
        for entry in stored["entries"]:
            self.store.run(
                "INSERT OR IGNORE INTO sheet_samples (sheet_id, sample_id) VALUES (?, ?)",
                (sheet_id, entry["sample_id"]),
            )

    async def get_sheet(self, req: Request) -> Response:
        row = self.store.one("SELECT doc FROM sample_sheets WHERE id = ?", (req.params["id"],))
        if row is None:
            raise ApiError(404, "not_found", f"Sample sheet not found: {req.params['id']}")
        stored: dict[str, Any] = orjson.loads(row[0])
        stored["entry_count"] = len(stored["entries"])
        return _sorted({"data": stored, "success": True})

    async def list_sheets(self, req: Request) -> Response:
        page = _query_i64(req, "page")
        page_size = _query_i64(req, "page_size")
        status = req.query.get("status")
        if status is not None and status not in SHEET_STATUSES:
            raise Rejection(
                400,
                f"Failed to deserialize query string: unknown variant `{status}`, expected one of "
                + ", ".join(f"`{s}`" for s in SHEET_STATUSES),
            )
        filters = sum(1 for name in ("platform", "status", "created_by") if name in req.query)
        return await self._list_sheets(req, page, page_size, filters)

    async def _list_sheets(
        self, req: Request, page: int | None, page_size: int | None, filters: int
    ) -> Response:
        page = max(1 if page is None else page, 1)
        size = min(20 if page_size is None else page_size, 100)
        if filters:
            raise _database_error(filters)
        if size == 0:
            await _drop_connection(req.receive)  # integer division by zero: a handler panic
            return empty_response(500)
        if size < 0:
            raise ApiError(
                500,
                "database",
                "Database error: error returned from database: LIMIT must not be negative",
            )
        rows = self.store.all("SELECT doc FROM sample_sheets")
        sheets = sorted(
            (orjson.loads(r[0])["sample_sheet"] for r in rows),
            key=lambda s: s["created_at"],
            reverse=True,
        )
        total = len(sheets)
        return _sorted(
            {
                "data": {
                    "pagination": {
                        "page": page,
                        "page_size": size,
                        "total_count": total,
                        "total_pages": (total + size - 1) // size,
                    },
                    "sample_sheets": sheets[(page - 1) * size : page * size],
                },
                "success": True,
            }
        )

    async def create_sheet(self, req: Request) -> Response:
        body = await req.json()
        name = req_str(body, "name")
        platform = req_str(body, "platform")
        if "run_parameters" not in body:
            raise Rejection(
                422,
                "Failed to deserialize the JSON body into the target type: "
                "missing field `run_parameters`",
            )
        if "samples" not in body:
            raise Rejection(
                422,
                "Failed to deserialize the JSON body into the target type: missing field `samples`",
            )
        created_by = opt_str(body, "created_by")
        samples = body["samples"]
        _check_rows(samples)
        now = now_iso()
        sheet_id = str(uuid.uuid4())
        sheet = {
            "created_at": now,
            "created_by": parse_uuid(created_by or "") or str(uuid.uuid4()),
            "file_path": None,
            "id": sheet_id,
            "metadata": {},
            "name": name,
            "platform_id": platform,
            "sample_count": len(samples),
            "samples_data": samples,
            "status": "Draft",
            "updated_at": now,
            "validation_errors": None,
            "version": "1.0",
        }
        stored = {
            "entries": sheet_entries(sheet_id, samples),
            "sample_sheet": sheet,
            "validation": None,
        }
        self._store_sheet(stored, insert=True)
        return _sorted(
            {"data": sheet, "message": "Sample sheet created successfully", "success": True}
        )

    async def update_sheet(self, req: Request) -> Response:
        body = await req.json()
        name = opt_str(body, "name")
        status = opt_enum(body, "status", SHEET_STATUSES)
        stored = self._sheet(req.params["id"])
        sheet = stored["sample_sheet"]
        if name is not None:
            sheet["name"] = name
        if status is not None:
            sheet["status"] = status
        if body.get("samples") is not None:
            sheet["samples_data"] = body["samples"]
            stored["entries"] = sheet_entries(sheet["id"], body["samples"])
        sheet["updated_at"] = now_iso()
        self._store_sheet(stored)
        return _sorted(
            {"data": sheet, "message": "Sample sheet updated successfully", "success": True}
        )

    async def delete_sheet(self, req: Request) -> Response:
        sheet_id = req.params["id"]
        in_use = self.store.value(
            "SELECT count(*) FROM jobs WHERE sample_sheet_id = ? "
            "AND status IN ('Running', 'Queued', 'Validated')",
            (sheet_id,),
        )
        if in_use:
            raise ApiError(409, "in_use", "Sample sheet in use")
        stored = self._sheet(sheet_id)
        self.store.run("DELETE FROM sample_sheets WHERE id = ?", (sheet_id,))
        self.store.run("DELETE FROM sheet_samples WHERE sheet_id = ?", (sheet_id,))
        return _sorted(
            {
                "data": stored["sample_sheet"],
                "message": "Sample sheet deleted successfully",
                "success": True,
            }
        )

    async def validate_sheet(self, req: Request) -> Response:
        stored = self._sheet(req.params["id"])
        sheet = stored["sample_sheet"]
        errors, warnings = _validate(sheet["platform_id"], sheet["samples_data"])
        valid = not errors
        now = now_iso()
        validation = {
            "created_at": now,
            "errors": errors,
            "id": str(uuid.uuid4()),
            "sample_sheet_id": sheet["id"],
            "status": "valid" if valid else "invalid",
            "validated_at": now,
            "validated_by": None,
            "validation_type": "format",
            "warnings": warnings,
        }
        new_status = "Validated" if valid else "Invalid"
        sheet["status"] = new_status
        sheet["updated_at"] = now
        stored["validation"] = validation
        self._store_sheet(stored)
        return _sorted(
            {
                "data": {
                    "summary": {
                        "error_count": len(errors),
                        "is_valid": valid,
                        "new_status": new_status,
                        "warning_count": len(warnings),
                    },
                    "validation": validation,
                },
                "message": "Sample sheet is valid" if valid else "Sample sheet validation failed",
                "success": True,
            }
        )

    # -- workflows (the release's table holds none here) --------------------------------------

    async def list_workflows(self, req: Request) -> Response:
        page = _query_i64(req, "page")
        page_size = _query_i64(req, "page_size")
        if "is_active" in req.query and req.query["is_active"] not in ("true", "false"):
            raise Rejection(
                400, "Failed to deserialize query string: provided string was not `true` or `false`"
            )
        filters = sum(1 for n in ("workflow_type", "platform", "is_active") if n in req.query)
        page = max(1 if page is None else page, 1)
        size = min(20 if page_size is None else page_size, 100)
        if filters:
            raise _database_error(filters)
        if size == 0:
            await _drop_connection(req.receive)
            return empty_response(500)
        pagination = {"page": page, "page_size": size, "total_count": 0, "total_pages": 0}
        return _sorted({"data": {"pagination": pagination, "workflows": []}, "success": True})

    async def get_workflow(self, req: Request) -> Response:
        raise ApiError(404, "not_found", f"Workflow not found: {req.params['id']}")

    async def execute_workflow(self, req: Request) -> Response:
        body = await req.json()
        if "parameters" not in body:
            raise Rejection(
                422,
                "Failed to deserialize the JSON body into the target type: "
                "missing field `parameters`",
            )
        opt_uuid(body, "job_id")
        opt_str(body, "executed_by")
        raise ApiError(404, "not_found", f"Workflow not found: {req.params['id']}")


def _check_rows(samples: Any) -> None:
    """The release's sample-sheet format check (create only)."""
    if not isinstance(samples, list):
        raise _validation("Samples data must be an array")
    for index, row in enumerate(samples):
        if not isinstance(row, dict):
            raise _validation(f"Sample at index {index} must be an object")
        for field in ("Sample_Name", "Sample_ID"):
            if field not in row:
                raise _validation(f"Sample at index {index} missing required field: {field}")


def _validate(platform: str, rows: Any) -> tuple[list[str], list[str]]:
    """The release's validation: (errors, warnings)."""
    errors: list[str] = []
    warnings: list[str] = []
    try:
        _check_rows(rows)
    except ApiError as exc:
        errors.append(f"Format validation failed: {exc.message}")
    items = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    if platform in ("illumina_novaseq", "illumina_miseq"):
        warnings.extend(
            "Missing I7_Index_ID for Illumina platform" for r in items if "I7_Index_ID" not in r
        )
    else:
        warnings.append(f"Unknown platform: {platform}")
    seen_index: dict[str, int] = {}
    for position, row in enumerate(items):
        index = row.get("index")
        if not isinstance(index, str):
            continue
        if index in seen_index:
            errors.append(
                f"Duplicate index sequence '{index}' found at positions "
                f"{seen_index[index]} and {position}"
            )
        else:
            seen_index[index] = position
        if any(c not in "ATGCN" for c in index):
            errors.append(
                f"Invalid index sequence '{index}' at position {position} - "
                "must contain only A, T, G, C, N"
            )
    seen_name: dict[str, int] = {}
    for position, row in enumerate(items):
        name = row.get("Sample_Name")
        if not isinstance(name, str):
            continue
        if name in seen_name:
            warnings.append(
                f"Duplicate sample name '{name}' found at positions "
                f"{seen_name[name]} and {position}"
            )
        else:
            seen_name[name] = position
        if " " in name:
            warnings.append(f"Sample name '{name}' contains spaces - consider using underscores")
    return errors, warnings


def _uuid_list(req: Request, name: str) -> list[str] | None:
    values = query_list(req, name)
    if values is None:
        return None
    if len(values) > MAX_BATCH:
        raise ApiError(400, "validation", f"Validation error: at most {MAX_BATCH} values in {name}")
    canonical = [parse_uuid(v) for v in values]
    if any(c is None for c in canonical):
        raise Rejection(400, f"Failed to deserialize query string: UUID parsing failed: {name}")
    return list(dict.fromkeys(c for c in canonical if c is not None))

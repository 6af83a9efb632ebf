"""The samples service as the release answers (UPSTREAMS.md, "## samples").

Bodies built with ``json!`` in the release have sorted keys, so documents are stored with
sorted keys and a GET by id is the stored document wrapped in ``{"data": ..., "success"}``.
Timestamps print as chrono does (RFC 3339 UTC, ``Z``, a 4-digit zero-padded year, 0/3/6
fraction digits for values read back from PostgreSQL, 9 for ``Utc::now()``).
"""

from __future__ import annotations

import random
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

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
    json_response,
    opt_bool,
    opt_enum,
    opt_list,
    opt_number,
    opt_str,
    parse_uuid,
    raw_json,
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
SAMPLE_TYPES = (
    "DNA",
    "RNA",
    "Protein",
    "Cell Culture",
    "Tissue",
    "Blood",
    "Serum",
    "Plasma",
    "Urine",
    "Saliva",
    "Swab",
    "Environmental",
    "Other",
)
MAX_PAGE_SIZE = 1000
MAX_BATCH = 100  # SAMPLE_MAX_BATCH_SIZE
MAX_IDS = 1000  # the [extension] ids= filter
BARCODE_PREFIX = "LAB"

# The list's filters: any one of them makes the release's count query fail.
_FILTERS = ("status", "sample_type", "template_id", "search", "created_after", "created_before")
_TEXT_FIELDS = (
    "source_type",
    "source_identifier",
    "collection_location",
    "collector",
    "unit",
    "notes",
)
_NUMBER_FIELDS = ("concentration", "volume", "quality_score")
_UPDATABLE = (
    "name",
    "barcode",
    "sample_type",
    "source_type",
    "source_identifier",
    "collection_date",
    "collection_location",
    "collector",
    "concentration",
    "volume",
    "unit",
    "quality_score",
    "metadata",
    "notes",
)
_SORTED = orjson.OPT_SORT_KEYS
_INTEGER = re.compile(r"[+-]?[0-9]+")
_UUID_CHARS = re.compile(r"[^0-9a-fA-F-]")


# ---------------------------------------------------------------------------------------------
# chrono's timestamp printing


def rfc3339(moment: datetime) -> str:
    """A stored timestamp as chrono prints a ``DateTime<Utc>`` read from PostgreSQL.

    ``datetime.strftime("%Y")`` does not pad years below 1000 on Linux; chrono does.
    """
    moment = moment.astimezone(UTC)
    return _stamp(moment.year, moment)


def _stamp(year: int, m: datetime) -> str:
    head = f"{year:04d}" if 0 <= year <= 9999 else f"{year:+05d}"
    micros = m.microsecond
    if micros == 0:
        fraction = ""
    elif micros % 1000 == 0:
        fraction = f".{micros // 1000:03d}"
    else:
        fraction = f".{micros:06d}"
    return f"{head}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}{fraction}Z"


def now_ns() -> str:
    """``Utc::now()`` as serde prints it: nanoseconds."""
    ns = time.time_ns()
    moment = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ns % 1_000_000_000:09d}Z"


def sortable(moment: datetime) -> str:
    """The column form of a timestamp: fixed width, so that text order is time order."""
    m = moment.astimezone(UTC)
    return f"{m.year:04d}-{m:%m-%dT%H:%M:%S}.{m.microsecond:06d}Z"


def parse_chrono(value: str) -> tuple[str, str]:
    """An RFC 3339 string as chrono reads a ``DateTime<Utc>``: (printed form, column form).

    chrono holds years 0 and 10000, which a UTC offset can reach from 0001 or 9999; Python
    cannot, so such a moment is converted 400 years (one Gregorian cycle) away and the
    year is put back when printing. ValueError carries chrono's message.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("input contains invalid characters") from None
    if parsed.tzinfo is None:
        raise ValueError("premature end of input")
    try:
        utc = parsed.astimezone(UTC)
        return _stamp(utc.year, utc), sortable(utc)
    except OverflowError:
        shift = 400 if parsed.year < 5000 else -400
        utc = parsed.replace(year=parsed.year + shift).astimezone(UTC)
        year = utc.year - shift
        column = f"{year:04d}" if year >= 0 else f"{year:05d}"
        return _stamp(year, utc), column + sortable(utc)[4:]


# ---------------------------------------------------------------------------------------------
# Responses


def render_error(exc: ApiError) -> Response:
    # ErrorResponse is a struct: declaration order, not sorted.
    return json_response(
        {
            "error": exc.code,
            "message": exc.message,
            "details": exc.details,
            "timestamp": now_ns(),
            "request_id": None,
        },
        exc.status,
    )


def _ok(data: Any, message: str | None = None, success: bool = True) -> Response:
    body: dict[str, Any] = {"data": data}
    if message is not None:
        body["message"] = message
    body["success"] = success
    return raw_json(orjson.dumps(body, option=_SORTED))


def _not_found() -> ApiError:
    return ApiError(404, "sample_not_found", "Sample not found")


def _validation(message: str) -> ApiError:
    return ApiError(400, "validation_error", message)


def _database_error() -> ApiError:
    return ApiError(500, "database_error", "A database error occurred")


def _type_error(sample_type: str) -> str:
    return f"Invalid sample type '{sample_type}'. Valid types are: {', '.join(SAMPLE_TYPES)}"


# ---------------------------------------------------------------------------------------------
# Query strings and bodies, as serde reads them


def _query_error(message: str) -> Rejection:
    return Rejection(400, f"Failed to deserialize query string: {message}")


def _query(req: Request) -> dict[str, str]:
    raw = req.scope.get("query_string", b"").decode("latin-1")
    out: dict[str, str] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if key in out and key in _KNOWN_QUERY:
            raise _query_error(f"duplicate field `{key}`")
        out[key] = value
    return out


_KNOWN_QUERY = frozenset(
    {
        "limit",
        "offset",
        "status",
        "sample_type",
        "template_id",
        "created_after",
        "created_before",
        "created_by",
        "barcode_prefix",
        "search",
        "page",
        "page_size",
        "sort_by",
    }
)


def _i64(query: dict[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if raw == "":
        raise _query_error("cannot parse integer from empty string")
    if not _INTEGER.fullmatch(raw):
        raise _query_error("invalid digit found in string")
    value = int(raw)
    if not -(2**63) <= value < 2**63:
        raise _query_error("number too large to fit in target type")
    return value


def _uuid_message(value: str) -> str:
    bad = _UUID_CHARS.search(value.removeprefix("urn:uuid:").strip("{}"))
    if bad is not None:
        return (
            "UUID parsing failed: invalid character: expected an optional prefix of "
            f"`urn:uuid:` followed by [0-9a-fA-F-], found `{bad.group()}` at {bad.start() + 1}"
        )
    return (
        "UUID parsing failed: invalid length: expected length 32 for simple format, "
        f"found {len(value)}"
    )


def _status_message(value: str) -> str:
    expected = ", ".join(f"`{s}`" for s in STATUSES)
    return f"unknown variant `{value}`, expected one of {expected}"


def _unprocessable(message: str) -> Rejection:
    return Rejection(422, f"Failed to deserialize the JSON body into the target type: {message}")


def _body_uuid(body: dict[str, Any], name: str, path: str = "") -> str | None:
    value = opt_str(body, name)
    if value is None:
        return None
    canonical = parse_uuid(value)
    if canonical is None:
        raise _unprocessable(f"{path}{name}: {_uuid_message(value)}")
    return canonical


def _body_time(body: dict[str, Any], name: str, path: str = "") -> tuple[str, str] | None:
    value = opt_str(body, name)
    if value is None:
        return None
    try:
        return parse_chrono(value)
    except ValueError as exc:
        raise _unprocessable(f"{path}{name}: {exc}") from None


def _sample_body(body: Any, *, create: bool, path: str = "") -> dict[str, Any]:
    """A create or update body with serde's types: every field present, None when absent."""
    if not isinstance(body, dict):
        raise _unprocessable(f"{path.rstrip('.')}: invalid type: expected struct")
    out: dict[str, Any] = {}
    if create:
        for name in ("name", "sample_type"):
            if body.get(name) is None:
                where = f"{path.rstrip('.')}: " if path else ""
                raise _unprocessable(f"{where}missing field `{name}`")
    for name in ("name", "sample_type", "barcode", *_TEXT_FIELDS):
        try:
            out[name] = opt_str(body, name)
        except Rejection as exc:
            raise _prefixed(exc, path) from None
    if create:
        out["template_id"] = _body_uuid(body, "template_id", path)
        try:
            out["created_by"] = opt_str(body, "created_by")
        except Rejection as exc:
            raise _prefixed(exc, path) from None
    when = _body_time(body, "collection_date", path)
    out["collection_date"] = when[0] if when else None
    for name in _NUMBER_FIELDS:
        try:
            number = opt_number(body, name)
        except Rejection as exc:
            raise _prefixed(exc, path) from None
        out[name] = None if number is None else float(number)
    out["metadata"] = body.get("metadata")
    return out


def _prefixed(exc: Rejection, path: str) -> Rejection:
    if not path:
        return exc
    head = "Failed to deserialize the JSON body into the target type: "
    return Rejection(exc.status, head + path + exc.text.removeprefix(head))


def _validator_errors(fields: dict[str, Any]) -> str | None:
    """The ``validator`` crate's text for a create/update body, or None when it passes."""
    problems = []
    name = fields.get("name")
    if name is not None and not 1 <= len(name) <= 255:
        problems.append("name: Sample name must be between 1 and 255 characters")
    sample_type = fields.get("sample_type")
    if sample_type is not None and not 1 <= len(sample_type) <= 50:
        problems.append("sample_type: Sample type must be between 1 and 50 characters")
    return "\n".join(problems) or None


# ---------------------------------------------------------------------------------------------
# The service


class SamplesService:
    def __init__(self, store: Store, options: Options = RELEASE) -> None:
        self.options = options
        self.store = store
        self._rng = random.Random()

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/health", self.health),
            Route("GET", "/samples", self.list_samples),
            Route("POST", "/samples", self.create),
            Route("POST", "/samples/batch", self.create_batch),
            Route("POST", "/samples/batch/validate", self.validate_batch),
            Route("GET", "/samples/barcode/{barcode}", self.get_by_barcode),
            Route("GET", "/samples/{id:uuid}", self.get),
            Route("PUT", "/samples/{id:uuid}", self.update),
            Route("DELETE", "/samples/{id:uuid}", self.delete),
            Route("POST", "/samples/{id:uuid}/validate", self.validate),
            Route("PUT", "/samples/{id:uuid}/status", self.update_status),
        ]

    async def health(self, req: Request) -> Response:
        started = time.perf_counter()
        self.store.value("SELECT 1")
        return _ok_plain(
            {
                "checks": {
                    "database": {
                        "response_time_ms": int((time.perf_counter() - started) * 1000),
                        "status": "healthy",
                    }
                },
                "service": "sample_service",
                "status": "healthy",
                "timestamp": now_ns(),
                "version": "1.0.0",
            }
        )

    # -- reads

    async def get(self, req: Request) -> Response:
        row = self.store.one("SELECT doc FROM samples WHERE id = ?", (req.params["id"],))
        if row is None:
            raise _not_found()
        return raw_json(b'{"data":' + row[0].encode() + b',"success":true}')

    async def get_by_barcode(self, req: Request) -> Response:
        row = self.store.one("SELECT doc FROM samples WHERE barcode = ?", (req.params["barcode"],))
        if row is None:
            raise ApiError(404, "barcode_not_found", "Barcode not found")
        return raw_json(b'{"data":' + row[0].encode() + b',"success":true}')

    async def list_samples(self, req: Request) -> Response:
        query = _query(req)
        page = _i64(query, "page")
        page_size = _i64(query, "page_size")
        _i64(query, "limit")
        _i64(query, "offset")
        where: list[str] = []
        params: list[Any] = []
        status = query.get("status")
        if status is not None:
            if status not in STATUSES:
                raise _query_error(_status_message(status))
            where.append("status = ?")
            params.append(status)
        if "sample_type" in query:
            where.append("sample_type = ?")
            params.append(query["sample_type"])
        template_id = query.get("template_id")
        if template_id is not None:
            canonical = parse_uuid(template_id)
            if canonical is None:
                raise _query_error(_uuid_message(template_id))
            where.append("template_id = ?")
            params.append(canonical)
        if "search" in query:
            where.append("(name LIKE ? OR barcode LIKE ?)")
            params += [f"%{query['search']}%"] * 2
        for name, op in (("created_after", ">="), ("created_before", "<=")):
            if name in query:
                try:
                    _, column = parse_chrono(query[name])
                except ValueError as exc:
                    raise _query_error(str(exc)) from None
                where.append(f"created_at {op} ?")
                params.append(column)
        if self.options.extension("samples") and "ids" in query:
            return self._by_ids(query["ids"])
        if where and not self.options.fixed("samples-list-filters"):
            # The release builds its count query with $n placeholders and binds nothing.
            raise _database_error()
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        total = int(self.store.value(f"SELECT count(*) FROM samples{clause}", params))
        page = max(1, page if page is not None else 1)
        size = min(page_size if page_size is not None else 50, MAX_PAGE_SIZE)
        if size == 0:
            # total_pages divides by page_size: the handler panics.
            await _drop_connection(req.receive)
            return Response(500)
        if size < 0:
            raise _database_error()  # LIMIT must not be negative
        total_pages = (total + size - 1) // size
        rows = self.store.all(
            f"SELECT doc FROM samples{clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            [*params, size, (page - 1) * size],
        )
        return _page([r[0] for r in rows], total, page, size, total_pages)

    def _by_ids(self, raw: str) -> Response:
        """[extension] ``ids=a,b``: those samples in the list's shape, unknown ids absent."""
        asked = [part.strip() for part in raw.split(",") if part.strip()]
        if len(asked) > MAX_IDS:
            raise _validation(f"At most {MAX_IDS} ids per request")
        canonical = []
        for value in asked:
            parsed = parse_uuid(value)
            if parsed is None:
                raise _query_error(_uuid_message(value))
            canonical.append(parsed)
        ids = list(dict.fromkeys(canonical))
        found: dict[str, str] = {}
        if ids:
            marks = ",".join("?" * len(ids))
            rows = self.store.all(f"SELECT id, doc FROM samples WHERE id IN ({marks})", ids)
            found = {r[0]: r[1] for r in rows}
        docs = [found[i] for i in ids if i in found]
        return _page(docs, len(docs), 1, max(len(ids), 1), 1 if docs else 0)

    # -- writes

    def _load(self, sample_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT doc FROM samples WHERE id = ?", (sample_id,))
        if row is None:
            raise _not_found()
        doc: dict[str, Any] = orjson.loads(row[0])
        return doc

    def _barcode_taken(self, barcode: str) -> bool:
        return bool(self.store.value("SELECT 1 FROM samples WHERE barcode = ?", (barcode,)))

    def _new_barcode(self, moment: datetime) -> str:
        stamp = moment.strftime("%Y%m%d%H%M%S")
        for _ in range(10):
            barcode = f"{BARCODE_PREFIX}-{stamp}-{self._rng.randrange(10000):04d}"
            if not self._barcode_taken(barcode):
                return barcode
        raise ApiError(
            500,
            "barcode_generation_error",
            "Failed to generate unique barcode after 10 attempts",
        )

    def _insert(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The release's create_sample after validation: barcode, then type, then insert.
        ApiError carries the error's display text as its ``details``-free message."""
        moment = datetime.now(UTC)
        barcode = fields["barcode"]
        if barcode is not None:
            if self._barcode_taken(barcode):
                raise _Failure(409, "duplicate_barcode", "Duplicate barcode", barcode)
        else:
            barcode = self._new_barcode(moment)
        if fields["sample_type"] not in SAMPLE_TYPES:
            raise _Failure(
                400, "validation_error", _type_error(fields["sample_type"]), fields["sample_type"]
            )
        stamp = rfc3339(moment)
        doc = {
            "id": str(uuid.uuid4()),
            "name": fields["name"],
            "barcode": barcode,
            "sample_type": fields["sample_type"],
            "status": "Pending",
            "template_id": fields["template_id"],
            **{name: fields[name] for name in _TEXT_FIELDS},
            "collection_date": fields["collection_date"],
            **{name: fields[name] for name in _NUMBER_FIELDS},
            "metadata": fields["metadata"],
            "created_at": stamp,
            "updated_at": stamp,
            # created_by is accepted in the body but the INSERT never writes it.
            "created_by": None,
            "updated_by": None,
        }
        self.store.run(
            "INSERT INTO samples (id, name, barcode, sample_type, status, template_id, "
            "created_at, updated_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc["id"],
                doc["name"],
                barcode,
                doc["sample_type"],
                "Pending",
                doc["template_id"],
                sortable(moment),
                sortable(moment),
                orjson.dumps(doc, option=_SORTED).decode(),
            ),
        )
        return doc

    def _save(self, doc: dict[str, Any], moment: datetime) -> None:
        doc["updated_at"] = rfc3339(moment)
        doc["updated_by"] = "user"
        self.store.run(
            "UPDATE samples SET name = ?, barcode = ?, sample_type = ?, status = ?, "
            "updated_at = ?, doc = ? WHERE id = ?",
            (
                doc["name"],
                doc["barcode"],
                doc["sample_type"],
                doc["status"],
                sortable(moment),
                orjson.dumps(doc, option=_SORTED).decode(),
                doc["id"],
            ),
        )

    async def create(self, req: Request) -> Response:
        fields = _sample_body(await req.json(), create=True)
        problems = _validator_errors(fields)
        if problems:
            raise _validation(problems)
        try:
            doc = self._insert(fields)
        except _Failure as failure:
            raise failure.api_error() from None
        return _ok(doc, "Sample created successfully")

    async def create_batch(self, req: Request) -> Response:
        body = await req.json()
        items = opt_list(body, "samples", required=True) or []
        requests = [
            _sample_body(item, create=True, path=f"samples[{i}].") for i, item in enumerate(items)
        ]
        _body_uuid(body, "template_id")
        opt_str(body, "batch_name")
        opt_bool(body, "auto_generate_barcodes")
        for fields in requests:
            problems = _validator_errors(fields)
            if problems:
                raise _validation(problems)
        if len(requests) > MAX_BATCH:
            raise ApiError(
                429,
                "resource_limit_exceeded",
                f"Batch size {len(requests)} exceeds maximum allowed size of {MAX_BATCH}",
            )
        created: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for index, fields in enumerate(requests):
            try:
                created.append(self._insert(fields))
            except _Failure as failure:
                failed.append({"error": failure.display, "index": index, "sample_data": fields})
        return _ok(
            {
                "created_samples": created,
                "failed_samples": failed,
                "total_created": len(created),
                "total_failed": len(failed),
            },
            f"Batch processing completed: {len(created)} created, {len(failed)} failed",
        )

    async def update(self, req: Request) -> Response:
        fields = _sample_body(await req.json(), create=False)
        problems = _validator_errors(fields)
        if problems:
            raise _validation(problems)
        doc = self._load(req.params["id"])
        barcode = fields["barcode"]
        if barcode is not None and barcode != doc["barcode"] and self._barcode_taken(barcode):
            raise ApiError(409, "duplicate_barcode", "Duplicate barcode")
        sample_type = fields["sample_type"]
        if sample_type is not None and sample_type not in SAMPLE_TYPES:
            raise _validation(_type_error(sample_type))
        for name in _UPDATABLE:
            # COALESCE($n, column): null never clears.
            if fields[name] is not None:
                doc[name] = fields[name]
        self._save(doc, datetime.now(UTC))
        return _ok(doc, "Sample updated successfully")

    async def update_status(self, req: Request) -> Response:
        body = await req.json()
        new_status = opt_enum(body, "new_status", STATUSES, required=True)
        reason = opt_str(body, "reason")
        opt_bool(body, "notify")
        if reason is not None and len(reason) > 500:
            raise _validation("reason: Reason must be at most 500 characters")
        doc = self._load(req.params["id"])
        if new_status not in TRANSITIONS[doc["status"]]:
            raise ApiError(400, "invalid_workflow_transition", "Invalid workflow transition")
        doc["status"] = new_status
        self._save(doc, datetime.now(UTC))
        return _ok(doc, "Sample status updated successfully")

    async def delete(self, req: Request) -> Response:
        doc = self._load(req.params["id"])
        if doc["status"] == "InSequencing":
            raise ApiError(
                400,
                "business_rule_violation",
                "Cannot delete sample that is currently being sequenced",
            )
        # Soft: the sample stays readable; deleting it again succeeds again.
        doc["status"] = "Deleted"
        self._save(doc, datetime.now(UTC))
        return _ok_plain({"message": "Sample deleted successfully", "success": True})

    # -- validation

    def _validation_result(self, sample_id: str, doc: dict[str, Any] | None) -> dict[str, Any]:
        errors: list[str] = []
        warnings: list[str] = []
        if doc is None:
            errors.append(f"Sample not found: {sample_id}")
        else:
            if not doc["name"].strip():
                errors.append("Sample name cannot be empty")
            if not doc["barcode"].strip():
                errors.append("Barcode cannot be empty")
            if not doc["sample_type"].strip():
                errors.append("Sample type cannot be empty")
            concentration, volume = doc.get("concentration"), doc.get("volume")
            if concentration is not None and volume is not None:
                if concentration <= 0:
                    warnings.append("Concentration should be greater than 0")
                if volume <= 0:
                    warnings.append("Volume should be greater than 0")
            if doc.get("template_id") is not None and doc.get("metadata") is None:
                errors.append(
                    "Template validation failed: Template validation failed: "
                    "Template requires metadata but none provided"
                )
        return {
            "error_message": errors[0] if doc is None else None,
            "errors": errors,
            "id": 0,
            "is_valid": not errors,
            "rule_id": None,
            "sample_id": sample_id,
            "validated_at": now_ns(),
            "validated_by": None,
            "validation_passed": doc is not None,
            "warnings": warnings,
        }

    async def validate(self, req: Request) -> Response:
        result = self._validation_result(req.params["id"], self._load(req.params["id"]))
        valid = result["is_valid"]
        message = "Sample validation successful" if valid else "Sample validation failed"
        return _ok(result, message, success=valid)

    async def validate_batch(self, req: Request) -> Response:
        body = await req.json()
        raw_ids = opt_list(body, "sample_ids", required=True) or []
        ids = []
        for index, value in enumerate(raw_ids):
            if not isinstance(value, str):
                raise _unprocessable(f"sample_ids[{index}]: invalid type: expected a UUID string")
            canonical = parse_uuid(value)
            if canonical is None:
                raise _unprocessable(f"sample_ids[{index}]: {_uuid_message(value)}")
            ids.append(canonical)
        opt_list(body, "validation_rules")
        opt_bool(body, "force_validation")
        results = []
        for sample_id in ids:
            row = self.store.one("SELECT doc FROM samples WHERE id = ?", (sample_id,))
            results.append(
                self._validation_result(sample_id, orjson.loads(row[0]) if row else None)
            )
        valid = sum(1 for r in results if r["is_valid"])
        overall = valid == len(results)
        return _ok(
            {
                "invalid_samples": len(results) - valid,
                "overall_valid": overall,
                "total_samples": len(results),
                "valid_samples": valid,
                "validation_results": results,
            },
            "All samples are valid" if overall else "Some samples have validation errors",
            success=overall,
        )


class _Failure(Exception):
    """One create's error: the HTTP error of a single create, the display text in a batch."""

    def __init__(self, status: int, code: str, message: str, subject: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        if code == "duplicate_barcode":
            self.display = f"Duplicate barcode: {subject}"
        else:
            self.display = f"Validation error: {message}"

    def api_error(self) -> ApiError:
        return ApiError(self.status, self.code, self.message)


def _ok_plain(body: dict[str, Any]) -> Response:
    return raw_json(orjson.dumps(body, option=_SORTED))


def _page(docs: list[str], total: int, page: int, size: int, total_pages: int) -> Response:
    return raw_json(
        b'{"data":{"page":%d,"page_size":%d,"samples":[' % (page, size)
        + ",".join(docs).encode()
        + b'],"total_count":%d,"total_pages":%d},"success":true}' % (total, total_pages)
    )


def release_doc(doc: dict[str, Any]) -> str:
    """A sample document as stored (sorted keys), for the seed."""
    return orjson.dumps(doc, option=_SORTED).decode()

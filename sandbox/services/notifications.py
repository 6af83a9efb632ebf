"""The notifications service as the release answers (UPSTREAMS.md, "## notifications").

Bare JSON in struct order, PascalCase enums (the only spelling accepted in bodies and query
strings), errors ``{"error": {"code", "message", "retryable", "timestamp"}}``.

Release defects, each turned off by a ``--fix``:

- ``notifications-persist``: ``POST /notifications`` (and ``/bulk``) answers a receipt but
  stores nothing, so the id it returns answers 404 and the list never shows it;
- ``notifications-list-filters``: ``GET /notifications`` parses ``status``, ``channel``,
  ``priority`` and ``notification_type`` (and more) and ignores them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
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
    iso,
    json_response,
    now_iso,
    opt_time,
    opt_uuid,
    parse_time,
    parse_uuid,
    raw_json,
)

TYPES = ("Alert", "Info", "Warning", "Error", "Success", "Reminder", "Update", "System")
PRIORITIES = ("Low", "Medium", "High", "Critical", "Urgent")
STATUSES = (
    "Pending",
    "Scheduled",
    "Sending",
    "Sent",
    "Delivered",
    "Failed",
    "Cancelled",
    "Retrying",
)
CHANNELS = ("Email", "Sms", "Slack", "Teams", "Discord", "Webhook", "Push", "InApp")
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
# The release's codes whose errors it calls retryable.
_RETRYABLE = {"DATABASE_ERROR", "SERVICE_UNAVAILABLE"}
_RECEIPT_MESSAGE = "Notification created and queued for sending"
# The filters of ``GET /notifications`` that the release parses, and what each one holds.
_QUERY_ENUMS = {
    "status": STATUSES,
    "channel": CHANNELS,
    "priority": PRIORITIES,
    "notification_type": TYPES,
}


def render_error(exc: ApiError) -> Response:
    code = exc.code.upper()
    return json_response(
        {
            "error": {
                "code": code,
                "message": exc.message,
                "retryable": code in _RETRYABLE or exc.status >= 500,
                "timestamp": now_iso(),
            }
        },
        exc.status,
    )


def _body_rejection(message: str) -> Rejection:
    return Rejection(422, f"Failed to deserialize the JSON body into the target type: {message}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int | float):
        return f"integer `{value}`" if isinstance(value, int) else f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    return "sequence" if isinstance(value, list) else "map"


def _variant(path: str, value: Any, variants: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise _body_rejection(f"{path}: invalid type: {_kind(value)}, expected a string")
    if value not in variants:
        expected = ", ".join(f"`{v}`" for v in variants)
        raise _body_rejection(f"{path}: unknown variant `{value}`, expected one of {expected}")
    return value


def _sequence(body: dict[str, Any], name: str) -> list[Any]:
    if name not in body:
        raise _body_rejection(f"missing field `{name}`")
    value = body[name]
    if not isinstance(value, list):
        raise _body_rejection(f"{name}: invalid type: {_kind(value)}, expected a sequence")
    return value


def _send_request(body: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A SendNotificationRequest, with serde's rejections (``prefix`` for bulk items)."""

    def at(name: str) -> str:
        return f"{prefix}{name}"

    for name in ("title", "message", "notification_type", "priority"):
        if name not in body:
            raise _body_rejection(f"missing field `{name}`")
    title = body["title"]
    message = body["message"]
    for name, value in (("title", title), ("message", message)):
        if not isinstance(value, str):
            raise _body_rejection(f"{at(name)}: invalid type: {_kind(value)}, expected a string")
    kind = _variant(at("notification_type"), body["notification_type"], TYPES)
    priority = _variant(at("priority"), body["priority"], PRIORITIES)
    channels = [
        _variant(at(f"channels[{i}]"), c, CHANNELS)
        for i, c in enumerate(_sequence(body, "channels"))
    ]
    recipients = _sequence(body, "recipients")
    for i, recipient in enumerate(recipients):
        if not isinstance(recipient, str):
            raise _body_rejection(
                f"{at(f'recipients[{i}]')}: invalid type: {_kind(recipient)}, expected a string"
            )
    return {
        "title": title,
        "message": message,
        "notification_type": kind,
        "priority": priority,
        "channels": channels,
        "recipients": recipients,
        "template_id": opt_uuid(body, "template_id"),
        "template_data": body.get("template_data"),
        "scheduled_at": opt_time(body, "scheduled_at"),
        "metadata": body.get("metadata"),
    }


def _validation(request: dict[str, Any]) -> str | None:
    if not request["title"].strip():
        return "Title cannot be empty"
    if not request["message"].strip():
        return "Message cannot be empty"
    if not request["recipients"]:
        return "At least one recipient is required"
    if not request["channels"]:
        return "At least one channel is required"
    return None


def _receipt(doc: dict[str, Any], message: str) -> dict[str, Any]:
    return {
        "id": doc["id"],
        "status": doc["status"],
        "message": message,
        "created_at": doc["created_at"],
        "scheduled_at": doc["scheduled_at"],
        "sent_at": doc["sent_at"],
    }


class NotificationsService:
    def __init__(self, store: Store, options: Options = RELEASE) -> None:
        self.options = options
        self.store = store

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/health", self.health),
            Route("GET", "/notifications", self.list_notifications),
            Route("POST", "/notifications", self.send),
            Route("POST", "/notifications/bulk", self.bulk),
            Route("GET", "/notifications/{notification_id:uuid}", self.get),
            Route("GET", "/notifications/{notification_id:uuid}/status", self.status),
            Route("POST", "/notifications/{notification_id:uuid}/retry", self.retry),
        ]

    async def health(self, req: Request) -> Response:
        return json_response(
            {
                "status": "healthy",
                "service": "notification-service",
                "version": "0.1.0",
                "timestamp": now_iso(),
                "database": {"status": "healthy", "response_time_ms": 1},
                "channels": {},
            }
        )

    # -- reads -----------------------------------------------------------------------------

    def _query_int(self, req: Request, name: str, default: int) -> int:
        raw = req.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError as exc:
            raise Rejection(
                400, "Failed to deserialize query string: invalid digit found in string"
            ) from exc

    def _filters(self, req: Request) -> dict[str, str]:
        """Every filter the release parses (a bad one is axum's 400), the enums kept."""
        found: dict[str, str] = {}
        for name, variants in _QUERY_ENUMS.items():
            value = req.query.get(name)
            if value is None:
                continue
            if value not in variants:
                expected = ", ".join(f"`{v}`" for v in variants)
                raise Rejection(
                    400,
                    f"Failed to deserialize query string: unknown variant `{value}`, "
                    f"expected one of {expected}",
                )
            found[name] = value
        user_id = req.query.get("user_id")
        if user_id is not None and parse_uuid(user_id) is None:
            raise Rejection(400, "Failed to deserialize query string: UUID parsing failed")
        for name in ("created_after", "created_before"):
            value = req.query.get(name)
            if value is None:
                continue
            try:
                parse_time(value)
            except ValueError as exc:
                raise Rejection(
                    400, "Failed to deserialize query string: input contains invalid characters"
                ) from exc
        return found

    async def list_notifications(self, req: Request) -> Response:
        limit = min(self._query_int(req, "limit", DEFAULT_LIMIT), MAX_LIMIT)
        offset = self._query_int(req, "offset", 0)
        filters = self._filters(req)
        if limit < 0 or offset < 0:
            name, value = ("LIMIT", limit) if limit < 0 else ("OFFSET", offset)
            raise ApiError(
                500,
                "DATABASE_ERROR",
                f"Database error: error returned from database: {name} must not be negative "
                f"({value})",
            )
        if not self.options.fixed("notifications-list-filters"):
            filters = {}
        if not filters:
            rows = self.store.all(
                "SELECT doc FROM notifications ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
                (limit, offset),
            )
            return raw_json(b"[" + ",".join(r[0] for r in rows).encode() + b"]")
        rows = self.store.all("SELECT doc FROM notifications ORDER BY created_at DESC, id")
        docs = [d for d in (orjson.loads(r[0]) for r in rows) if _matches(d, filters)]
        return json_response(docs[offset : offset + limit])

    def _doc(self, notification_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT doc FROM notifications WHERE id = ?", (notification_id,))
        if row is None:
            raise ApiError(
                404, "NOTIFICATION_NOT_FOUND", f"Notification not found: {notification_id}"
            )
        doc: dict[str, Any] = orjson.loads(row[0])
        return doc

    async def get(self, req: Request) -> Response:
        notification_id = req.params["notification_id"]
        row = self.store.one("SELECT doc FROM notifications WHERE id = ?", (notification_id,))
        if row is None:
            raise ApiError(
                404, "NOTIFICATION_NOT_FOUND", f"Notification not found: {notification_id}"
            )
        return raw_json(row[0].encode())

    async def status(self, req: Request) -> Response:
        doc = self._doc(req.params["notification_id"])
        return json_response(
            {
                "id": doc["id"],
                "status": doc["status"],
                "delivery_attempts": doc["delivery_attempts"],
                "sent_at": doc["sent_at"],
                "channels": doc["channels"],
                "delivery_status": [],
                "error_message": None,
            }
        )

    # -- writes ----------------------------------------------------------------------------

    def _create(self, request: dict[str, Any]) -> dict[str, Any]:
        """The release's create_notification: validate, build, and 'save' (a stub unless
        ``notifications-persist`` is fixed)."""
        problem = _validation(request)
        if problem is not None:
            raise ApiError(400, "VALIDATION_ERROR", f"Validation error: {problem}")
        now = datetime.now(UTC)
        scheduled = request["scheduled_at"]
        later = scheduled is not None and parse_time(scheduled) > now
        doc = {
            "id": str(uuid.uuid4()),
            "title": request["title"],
            "message": request["message"],
            "notification_type": request["notification_type"],
            "priority": request["priority"],
            "status": "Scheduled" if later else "Pending",
            "channels": request["channels"],
            "recipients": request["recipients"],
            "template_id": request["template_id"],
            "template_data": request["template_data"],
            "scheduled_at": scheduled,
            "sent_at": None,
            "delivery_attempts": 0,
            "metadata": request["metadata"] if request["metadata"] is not None else {},
            # The release records a fresh placeholder id, not the caller.
            "created_by": str(uuid.uuid4()),
            "created_at": iso(now),
            "updated_at": iso(now),
        }
        if self.options.fixed("notifications-persist"):
            self.store.run(
                "INSERT INTO notifications (id, created_at, doc) VALUES (?, ?, ?)",
                (doc["id"], doc["created_at"], orjson.dumps(doc).decode()),
            )
        return doc

    async def send(self, req: Request) -> Response:
        request = _send_request(await req.json())
        return json_response(_receipt(self._create(request), _RECEIPT_MESSAGE))

    async def bulk(self, req: Request) -> Response:
        body = await req.json()
        items = _sequence(body, "notifications")
        requests = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise _body_rejection(
                    f"notifications[{i}]: invalid type: {_kind(item)}, expected a struct"
                )
            requests.append(_send_request(item, f"notifications[{i}]."))
        batch_id = body.get("batch_id")
        if batch_id is not None and not isinstance(batch_id, str):
            raise _body_rejection(f"batch_id: invalid type: {_kind(batch_id)}, expected a string")
        receipts = []
        for request in requests:
            try:
                receipts.append(_receipt(self._create(request), "Notification created and queued"))
            except ApiError as exc:
                receipts.append(
                    {
                        "id": str(uuid.uuid4()),
                        "status": "Failed",
                        "message": f"Failed to create notification: {exc.message}",
                        "created_at": now_iso(),
                        "scheduled_at": None,
                        "sent_at": None,
                    }
                )
        failed = sum(1 for r in receipts if r["status"] == "Failed")
        return json_response(
            {
                "batch_id": batch_id or str(uuid.uuid4()),
                "total_notifications": len(receipts),
                "successful": len(receipts) - failed,
                "failed": failed,
                "notifications": receipts,
            }
        )

    async def retry(self, req: Request) -> Response:
        doc = self._doc(req.params["notification_id"])
        if doc["status"] != "Failed":
            raise ApiError(
                400,
                "INVALID_OPERATION",
                "Invalid operation: Only failed notifications can be retried",
            )
        # The release's update is a stub: the stored row keeps its status.
        return json_response(_receipt({**doc, "status": "Pending"}, "Notification retry initiated"))


def _matches(doc: dict[str, Any], filters: dict[str, str]) -> bool:
    for name, value in filters.items():
        if name == "channel":
            if value not in doc.get("channels", ()):
                return False
        elif doc.get(name) != value:
            return False
    return True

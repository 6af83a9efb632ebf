"""The notifications service: bare JSON, snake_case enums, errors
``{"error": {"code", "message", "retryable", "timestamp"}}``. Unlike the current real
release, a created notification can be read back."""

from __future__ import annotations

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
    json_response,
    now_iso,
    opt_enum,
    opt_list,
    opt_str,
    opt_time,
    query_int,
    raw_json,
    req_str,
)

TYPES = ("alert", "info", "warning", "error", "success", "reminder", "update", "system")
PRIORITIES = ("low", "medium", "high", "critical", "urgent")
CHANNELS = ("email", "sms", "slack", "teams", "discord", "webhook", "push", "in_app")
MAX_LIMIT = 1000
_RETRYABLE = {408, 429, 500, 502, 503, 504}


def render_error(exc: ApiError) -> Response:
    return json_response(
        {
            "error": {
                "code": exc.code.upper(),
                "message": exc.message,
                "retryable": exc.status in _RETRYABLE,
                "timestamp": now_iso(),
            }
        },
        exc.status,
    )


class NotificationsService:
    def __init__(self, store: Store, options: Options = RELEASE) -> None:
        self.options = options
        self.store = store

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/health", self.health),
            Route("GET", "/notifications", self.list_notifications),
            Route("POST", "/notifications", self.create),
            Route("GET", "/notifications/{id:uuid}", self.get),
        ]

    async def health(self, req: Request) -> Response:
        return json_response(
            {"status": "healthy", "service": "notification-service", "database": "ok"}
        )

    async def list_notifications(self, req: Request) -> Response:
        limit = query_int(req, "limit", 50, high=MAX_LIMIT)
        offset = query_int(req, "offset", 0, low=0)
        rows = self.store.all(
            "SELECT doc FROM notifications ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return raw_json(b"[" + ",".join(r[0] for r in rows).encode() + b"]")

    async def get(self, req: Request) -> Response:
        row = self.store.one("SELECT doc FROM notifications WHERE id = ?", (req.params["id"],))
        if row is None:
            raise ApiError(404, "NOTIFICATION_NOT_FOUND", "Notification not found")
        return raw_json(row[0].encode())

    async def create(self, req: Request) -> Response:
        body = await req.json()
        title = req_str(body, "title")
        message = req_str(body, "message")
        kind = opt_enum(body, "notification_type", TYPES, required=True)
        priority = opt_enum(body, "priority", PRIORITIES, required=True)
        channels = opt_list(body, "channels", required=True) or []
        recipients = opt_list(body, "recipients", required=True) or []
        for channel in channels:
            opt_enum({"channels": channel}, "channels", CHANNELS, required=True)
        for recipient in recipients:
            req_str({"recipients": recipient}, "recipients")
        if not title.strip() or not message.strip():
            raise ApiError(400, "VALIDATION_ERROR", "title and message must not be empty")
        if not recipients:
            raise ApiError(400, "VALIDATION_ERROR", "at least one recipient is required")
        scheduled = opt_time(body, "scheduled_at")
        now = now_iso()
        doc: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "title": title,
            "message": message,
            "notification_type": kind,
            "priority": priority,
            "status": "scheduled" if scheduled else "sent",
            "channels": channels,
            "recipients": recipients,
            "created_at": now,
            "scheduled_at": scheduled,
            "sent_at": None if scheduled else now,
            "delivery_attempts": 0 if scheduled else 1,
            "created_by": opt_str(body, "created_by"),
        }
        self.store.run(
            "INSERT INTO notifications (id, created_at, doc) VALUES (?, ?, ?)",
            (doc["id"], now, orjson.dumps(doc).decode()),
        )
        return json_response(doc, 201)

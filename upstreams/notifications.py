"""The notifications service's client (UPSTREAMS.md, "## notifications").

Enums travel in PascalCase both ways (``"InApp"``, ``"Medium"``): writes are spelled so
here, and reads come back canonical (snake_case), channels included (a list of enum
values that the shared normaliser does not know as an enum key).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from upstreams.config import CallContext
from upstreams.normalize import canonical, to_pascal
from upstreams.services import MaybeRecords, Record, Records, Service, fan_out_ids, list_of, seg

_ENUMS = ("notification_type", "priority", "status")


def _read(record: Any) -> Any:
    if isinstance(record, dict) and isinstance(record.get("channels"), list):
        record["channels"] = [canonical(c) if isinstance(c, str) else c for c in record["channels"]]
    return record


def _write(data: Mapping[str, Any]) -> dict[str, Any]:
    body = dict(data)
    for key in _ENUMS:
        if isinstance(body.get(key), str):
            body[key] = to_pascal(body[key])
    if isinstance(body.get("channels"), list):
        body["channels"] = [to_pascal(c) for c in body["channels"]]
    return body


class NotificationsClient(Service):
    async def list(self, ctx: CallContext, *, limit: int = 50, offset: int = 0) -> Records:
        """Newest first; the release honours only ``limit`` (≤ 1000) and ``offset``."""
        params = {"limit": limit, "offset": offset}
        payload = await self.client.request(ctx, "GET", "/notifications", params=params)
        return [_read(r) for r in list_of(payload, "notifications")]

    async def create(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
        """The receipt ``{id, status, message, created_at, scheduled_at, sent_at}``; the
        release stores nothing behind it (read it back with ``get`` to know)."""
        record: Record = await self.client.request(ctx, "POST", "/notifications", json=_write(data))
        return record

    async def get(self, ctx: CallContext, notification_id: str) -> Record:
        path = f"/notifications/{seg(notification_id)}"
        record: Record = _read(await self.client.request(ctx, "GET", path))
        return record

    async def get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        # The service has no batch route: a de-duplicated fan-out of single GETs.
        return await fan_out_ids(self.client, ids, lambda i: self.get(ctx, i))

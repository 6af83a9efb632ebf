"""The notifications service's client (UPSTREAMS.md, "## notifications")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from upstreams.config import CallContext
from upstreams.services import Record, Records, Service, list_of, seg


class NotificationsClient(Service):
    async def list(self, ctx: CallContext, *, limit: int = 50, offset: int = 0) -> Records:
        params = {"limit": limit, "offset": offset}
        payload = await self.client.request(ctx, "GET", "/notifications", params=params)
        return list_of(payload, "notifications")

    async def create(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
        return await self.client.request(ctx, "POST", "/notifications", json=dict(data))

    async def get(self, ctx: CallContext, notification_id: str) -> Record:
        path = f"/notifications/{seg(notification_id)}"
        return await self.client.request(ctx, "GET", path)

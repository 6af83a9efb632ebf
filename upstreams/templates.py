"""The templates service's client (UPSTREAMS.md, "## templates")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from upstreams.config import CallContext
from upstreams.normalize import to_pascal
from upstreams.services import (
    Ids,
    MaybeRecords,
    Page,
    Record,
    Records,
    Service,
    batched,
    fan_out_ids,
    list_of,
    pascal,
    seg,
)


class TemplatesClient(Service):
    _ENUMS = frozenset({"status", "field_type"})

    async def list(
        self, ctx: CallContext, *, page: int = 1, page_size: int = 50, **filters: Any
    ) -> Page:
        params: dict[str, Any] = {**filters, "page": page, "page_size": page_size}
        if isinstance(params.get("status"), str):
            params["status"] = to_pascal(params["status"])
        payload = await self.client.request(ctx, "GET", "/templates", params=params)
        pagination = payload.get("pagination", {}) if isinstance(payload, dict) else {}
        items = list_of(payload, "templates")
        return Page(
            items=items,
            total_count=int(pagination.get("total_count", len(items))),
            page=int(pagination.get("page", page)),
            page_size=int(pagination.get("page_size", page_size)),
        )

    async def get(self, ctx: CallContext, template_id: str) -> Record:
        return await self.client.request(ctx, "GET", f"/templates/{seg(template_id)}")

    async def get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        if not self.client.config.batch:
            return await fan_out_ids(self.client, ids, lambda i: self.get(ctx, i))

        async def fetch(chunk: Ids) -> Records:
            params = {"ids": ",".join(chunk), "page": 1, "page_size": len(chunk)}
            payload = await self.client.request(ctx, "GET", "/templates", params=params)
            return list_of(payload, "templates")

        return await batched(self.client, ids, fetch)

    async def fields(self, ctx: CallContext, template_id: str) -> Records:
        path = f"/templates/{seg(template_id)}/fields"
        return list_of(await self.client.request(ctx, "GET", path), "fields")

    async def create(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
        body = pascal(dict(data), self._ENUMS)
        return await self.client.request(ctx, "POST", "/templates", json=body)

    async def update(self, ctx: CallContext, template_id: str, data: Mapping[str, Any]) -> Record:
        body = pascal(dict(data), self._ENUMS)
        path = f"/templates/{seg(template_id)}"
        return await self.client.request(ctx, "PUT", path, json=body)

    async def clone(
        self, ctx: CallContext, template_id: str, data: Mapping[str, Any] | None = None
    ) -> Record:
        path = f"/templates/{seg(template_id)}/clone"
        return await self.client.request(ctx, "POST", path, json=dict(data or {}))

    async def delete(self, ctx: CallContext, template_id: str) -> Any:
        return await self.client.request(ctx, "DELETE", f"/templates/{seg(template_id)}")

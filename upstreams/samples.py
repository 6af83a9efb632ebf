"""The samples service's client (UPSTREAMS.md, "## samples")."""

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


class SamplesClient(Service):
    _ENUMS = frozenset({"status", "new_status"})

    async def get(self, ctx: CallContext, sample_id: str) -> Record:
        return await self.client.request(ctx, "GET", f"/samples/{seg(sample_id)}")

    async def get_by_barcode(self, ctx: CallContext, barcode: str) -> Record:
        path = f"/samples/barcode/{seg(barcode)}"
        return await self.client.request(ctx, "GET", path)

    async def list(
        self, ctx: CallContext, *, page: int = 1, page_size: int = 50, **filters: Any
    ) -> Page:
        params: dict[str, Any] = {**filters, "page": page, "page_size": page_size}
        if isinstance(params.get("status"), str):
            params["status"] = to_pascal(params["status"])
        payload = await self.client.request(ctx, "GET", "/samples", params=params)
        return Page(
            items=list_of(payload, "samples"),
            total_count=int(payload.get("total_count", 0)),
            page=int(payload.get("page", page)),
            page_size=int(payload.get("page_size", page_size)),
        )

    async def get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        if not self.client.config.batch:
            return await fan_out_ids(self.client, ids, lambda i: self.get(ctx, i))

        async def fetch(chunk: Ids) -> Records:
            params = {"ids": ",".join(chunk), "page": 1, "page_size": len(chunk)}
            return list_of(
                await self.client.request(ctx, "GET", "/samples", params=params), "samples"
            )

        return await batched(self.client, ids, fetch)

    async def create(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
        body = pascal(dict(data), self._ENUMS)
        return await self.client.request(ctx, "POST", "/samples", json=body)

    async def update(self, ctx: CallContext, sample_id: str, data: Mapping[str, Any]) -> Record:
        body = pascal(dict(data), self._ENUMS)
        path = f"/samples/{seg(sample_id)}"
        return await self.client.request(ctx, "PUT", path, json=body)

    async def change_status(
        self,
        ctx: CallContext,
        sample_id: str,
        new_status: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        notify: bool | None = None,
    ) -> Record:
        body: dict[str, Any] = {"new_status": to_pascal(new_status)}
        optional = {"reason": reason, "metadata": metadata, "notify": notify}
        body.update({k: v for k, v in optional.items() if v is not None})
        path = f"/samples/{seg(sample_id)}/status"
        return await self.client.request(ctx, "PUT", path, json=body)

    async def delete(self, ctx: CallContext, sample_id: str) -> Any:
        return await self.client.request(ctx, "DELETE", f"/samples/{seg(sample_id)}")

    async def create_batch(
        self,
        ctx: CallContext,
        samples: Sequence[Mapping[str, Any]],
        *,
        template_id: str | None = None,
        batch_name: str | None = None,
        auto_generate_barcodes: bool | None = None,
    ) -> Record:
        body: dict[str, Any] = {"samples": pascal([dict(s) for s in samples], self._ENUMS)}
        optional = {
            "template_id": template_id,
            "batch_name": batch_name,
            "auto_generate_barcodes": auto_generate_barcodes,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return await self.client.request(ctx, "POST", "/samples/batch", json=body)

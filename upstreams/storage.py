"""The storage service's client (UPSTREAMS.md, "## storage")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from upstreams.config import CallContext
from upstreams.services import (
    MAX_BATCH_IDS,
    Ids,
    MaybeRecords,
    Page,
    Record,
    Records,
    Service,
    batched,
    canonical_id,
    chunks,
    fan_out_ids,
    list_of,
    seg,
    unique_ids,
)


class StorageClient(Service):
    async def locations(self, ctx: CallContext) -> Records:
        return list_of(await self.client.request(ctx, "GET", "/storage/locations"), "locations")

    async def location(self, ctx: CallContext, location_id: str) -> Record:
        path = f"/storage/locations/{seg(location_id)}"
        return await self.client.request(ctx, "GET", path)

    async def capacity(self, ctx: CallContext, location_id: str) -> Record:
        path = f"/storage/locations/{seg(location_id)}/capacity"
        return await self.client.request(ctx, "GET", path)

    async def containers(
        self, ctx: CallContext, *, page: int = 1, per_page: int = 50, **filters: Any
    ) -> Page:
        params: dict[str, Any] = {**filters, "page": page, "per_page": per_page}
        payload = await self.client.request(ctx, "GET", "/storage/containers", params=params)
        pagination = payload.get("pagination", {}) if isinstance(payload, dict) else {}
        items = list_of(payload, "containers")
        return Page(
            items=items,
            total_count=int(pagination.get("total_items", len(items))),
            page=int(pagination.get("page", page)),
            page_size=int(pagination.get("per_page", per_page)),
        )

    async def container(self, ctx: CallContext, container_id: str) -> Record:
        path = f"/storage/containers/{seg(container_id)}"
        return await self.client.request(ctx, "GET", path)

    async def hierarchy(self, ctx: CallContext, container_id: str) -> Record:
        path = f"/storage/containers/{seg(container_id)}/hierarchy"
        return await self.client.request(ctx, "GET", path)

    async def assign(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
        body = dict(data)
        return await self.client.request(ctx, "POST", "/storage/samples/assign", json=body)

    async def move(self, ctx: CallContext, sample_id: str, data: Mapping[str, Any]) -> Record:
        path = f"/storage/samples/{seg(sample_id)}/move"
        return await self.client.request(ctx, "PUT", path, json=dict(data))

    async def sample_location(self, ctx: CallContext, sample_id: str) -> Record:
        path = f"/storage/samples/{seg(sample_id)}/location-detailed"
        return await self.client.request(ctx, "GET", path)

    async def sample_locations_many(
        self, ctx: CallContext, sample_ids: Sequence[str]
    ) -> MaybeRecords:
        if not self.client.config.batch:
            return await fan_out_ids(
                self.client, sample_ids, lambda i: self.sample_location(ctx, i)
            )

        async def fetch(chunk: Ids) -> Records:
            params = {"sample_ids": ",".join(chunk)}
            payload = await self.client.request(
                ctx, "GET", "/storage/samples/locations", params=params
            )
            return list_of(payload, "locations")

        return await batched(self.client, sample_ids, fetch, key="sample_id")

    async def samples_in_containers(
        self, ctx: CallContext, container_ids: Sequence[str]
    ) -> list[Records]:
        """The detailed locations (as ``sample_locations_many``) of the samples in each
        container or anywhere beneath it, aligned with ``container_ids``: the [extension]
        filter ``/storage/samples/locations?container_ids=``, one call per chunk of ids."""
        distinct = unique_ids(container_ids)
        held: dict[str, Records] = {k: [] for k in distinct}
        for chunk in chunks(distinct, min(self.client.config.batch_size, MAX_BATCH_IDS)):
            params = {"container_ids": ",".join(chunk)}
            payload = await self.client.request(
                ctx, "GET", "/storage/samples/locations", params=params
            )
            for record in list_of(payload, "locations"):
                above = [record.get("position") or {}, *(record.get("container_chain") or [])]
                for container in above:
                    key = canonical_id(container.get("id"))
                    if key in held:
                        held[key].append(record)
        return [held.get(canonical_id(i) or "", []) for i in container_ids]

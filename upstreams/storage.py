"""The storage service's client (UPSTREAMS.md, "## storage").

The location list, locations by id and containers' own records (the lab's storage
structure) are reference reads, through the response cache; a container's children and
samples are read live.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from upstreams.config import CallContext
from upstreams.normalize import normalize
from upstreams.services import (
    Ids,
    MaybeRecords,
    Page,
    RawRead,
    Record,
    Records,
    Service,
    batched,
    cached,
    cached_many,
    canonical_id,
    fan_out_ids,
    list_of,
    paged,
    scan,
    seg,
)

# The page size of the gateway's own reads of the whole container list: the release has no
# upper bound on per_page, and larger pages mean fewer, heavier calls.
SCAN_PAGE_SIZE = 1000
# The release answers no route for a location's containers or a container's subtree: the
# gateway reads the container table whole (the lab's storage structure, not a list a
# client filters: TRACSEQ_MAX_SCAN_ITEMS bounds those), up to this many containers.
MAX_CONTAINERS = 10_000


class StorageClient(Service):
    async def locations(self, ctx: CallContext) -> Records:
        """Every location, by name (the release ignores page, per_page and the filters)."""

        async def read(call: CallContext) -> Any:
            payload = await self.client.request(call, "GET", "/storage/locations", raw=True)
            return list_of(payload, "locations")

        return await cached(self.client, ctx, "locations", "all", read)

    async def location(self, ctx: CallContext, location_id: str) -> Record:
        return await cached(
            self.client, ctx, "location", canonical_id(location_id), self._raw_location(location_id)
        )

    def _raw_location(self, location_id: str) -> RawRead:
        async def read(call: CallContext) -> Any:
            path = f"/storage/locations/{seg(location_id)}"
            return await self.client.request(call, "GET", path, raw=True)

        return read

    async def capacity(self, ctx: CallContext, location_id: str) -> Record:
        """CapacityInfo of a location."""
        path = f"/storage/locations/{seg(location_id)}/capacity"
        return await self.client.request(ctx, "GET", path)

    async def containers(
        self, ctx: CallContext, *, page: int = 1, per_page: int = 50, **filters: Any
    ) -> Page:
        """One page of containers, newest first. The filters (``container_type``,
        ``temperature_zone``, ``parent_id``, ``status``) apply to the page, but the release's
        ``total_items`` counts every container whatever the filters."""
        params: dict[str, Any] = {**filters, "page": page, "per_page": per_page}
        payload = await self.client.request(ctx, "GET", "/storage/containers", params=params)
        return paged(
            payload,
            "containers",
            total="total_items",
            size="per_page",
            page=page,
            page_size=per_page,
        )

    async def all_containers(self, ctx: CallContext) -> Records:
        """Every container (``UpstreamUnsupported`` past ``MAX_CONTAINERS``)."""
        return await scan(
            self.name,
            lambda page: self.containers(ctx, page=page, per_page=SCAN_PAGE_SIZE),
            max_items=MAX_CONTAINERS,
        )

    async def containers_where(self, ctx: CallContext, **filters: Any) -> Records:
        """Every container matching the filters: pages until a short one, since the
        release's totals ignore the filters and cannot say where the matches end."""
        items: Records = []
        page = 1
        while True:
            found = await self.containers(ctx, page=page, per_page=SCAN_PAGE_SIZE, **filters)
            items.extend(found.items)
            if len(found.items) < SCAN_PAGE_SIZE or len(items) > MAX_CONTAINERS:
                return items
            page += 1

    async def container(self, ctx: CallContext, container_id: str) -> Record:
        """ContainerWithChildren: ``{container, children (by name), samples (the active
        SamplePositions in this very container), capacity_info}``."""
        return await self.client.request(ctx, "GET", _container_path(container_id))

    async def records(
        self,
        ctx: CallContext,
        ids: Sequence[str],
        read: Callable[[str, Record], None] | None = None,
    ) -> MaybeRecords:
        """Containers' own records (the ``container`` of each detail: name, kind, parent,
        location), aligned with ``ids``, None for an unknown one: the storage structure,
        through the response cache (no batch route: one detail read per missing id). Their
        children and samples are not in them: ``container`` reads those live. ``read`` is
        handed each detail read on the way (normalised), for the caller to keep."""

        async def fetch(call: CallContext, distinct: Ids) -> Sequence[Any]:
            return await fan_out_ids(
                self.client, distinct, lambda i: self._raw_record(call, i, read)
            )

        return await cached_many(self.client, ctx, "container", ids, fetch)

    async def _raw_record(
        self, ctx: CallContext, container_id: str, read: Callable[[str, Record], None] | None
    ) -> Any:
        payload = await self.client.request(ctx, "GET", _container_path(container_id), raw=True)
        if not isinstance(payload, dict):
            return None
        record = payload.get("container")
        if read is not None:
            # The raw record goes to the cache as it is: the caller's copy is its own.
            own = orjson.loads(orjson.dumps(record))
            read(container_id, normalize({**payload, "container": own}, self.name))
        return record

    async def hierarchy(
        self, ctx: CallContext, container_id: str, *, max_depth: int | None = None
    ) -> Records:
        """The container and its descendants (level 1 is the container), by level and name;
        ``[]`` for an unknown id."""
        path = f"/storage/containers/{seg(container_id)}/hierarchy"
        params = None if max_depth is None else {"max_depth": max_depth}
        return list_of(await self.client.request(ctx, "GET", path, params=params), "hierarchy")

    async def grid(self, ctx: CallContext, container_id: str) -> Record:
        """StorageGridView: the position children of a container, each with its sample."""
        path = f"/storage/containers/{seg(container_id)}/grid"
        return await self.client.request(ctx, "GET", path)

    async def assign(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
        """Place a sample in a position-type container; the new SamplePosition."""
        body = dict(data)
        return await self.client.request(ctx, "POST", "/storage/samples/assign", json=body)

    async def move(self, ctx: CallContext, sample_id: str, data: Mapping[str, Any]) -> Record:
        """Move a stored sample to another position; the new SamplePosition."""
        path = f"/storage/samples/{seg(sample_id)}/move"
        return await self.client.request(ctx, "PUT", path, json=dict(data))

    async def remove(
        self,
        ctx: CallContext,
        sample_id: str,
        *,
        removed_by: str | None = None,
        reason: str | None = None,
    ) -> Any:
        """Take a stored sample out of its position (the release sets ``removed_at``,
        ``removed_by`` and ``notes`` = ``reason``); 404 when the sample is not stored."""
        path = f"/storage/samples/{seg(sample_id)}/position"
        params = {k: v for k, v in (("removed_by", removed_by), ("reason", reason)) if v}
        return await self.client.request(ctx, "DELETE", path, params=params or None)

    async def sample_location(self, ctx: CallContext, sample_id: str) -> Record | None:
        """SampleLocationDetailed (flat), or None when the sample is not in storage."""
        path = f"/storage/samples/{seg(sample_id)}/location-detailed"
        found = await self.client.request(ctx, "GET", path)
        return found if isinstance(found, dict) else None

    async def sample_locations_many(
        self, ctx: CallContext, sample_ids: Sequence[str]
    ) -> MaybeRecords:
        """``sample_location`` for many samples, aligned: one call per sample on the
        release, one per chunk through the [extension] ``/storage/samples/locations``."""
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


def _container_path(container_id: str) -> str:
    return f"/storage/containers/{seg(container_id)}"

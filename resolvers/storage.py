"""Resolvers for storage: locations, the container tree, where samples sit, and the two
placement mutations.

Every relation loads through the request's DataLoaders. The storage service has no batch
endpoint for containers or locations, so their loaders are de-duplicated fan-outs capped at
the bulkhead's width; a container's samples come from the [extension] filter
``/storage/samples/locations?container_ids=``, one call for every container asked for in the
same tick (``StorageClient.samples_in_containers``). The batch functions below are frozen
dataclasses: equal arguments make equal keys, so sibling fields asking the same question
share one loader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resolvers.context import Context
from resolvers.errors import NotFound, parse_id
from resolvers.pagination import Window, plan_pages, slice_pages
from upstreams.config import CallContext
from upstreams.services import fan_out
from upstreams.storage import StorageClient

Record = dict[str, Any]

# GET /storage/containers pages at most this many per request.
MAX_CONTAINERS_PER_PAGE = 100


def _width(storage: StorageClient) -> int:
    return storage.client.config.bulkhead.max_concurrency


@dataclass(frozen=True, slots=True)
class _Containers:
    """Containers by id (no batch endpoint: a fan-out)."""

    storage: StorageClient

    async def __call__(self, call: CallContext, ids: Sequence[str]) -> list[Record | None]:
        return await fan_out(
            ids, lambda i: self.storage.container(call, i), width=_width(self.storage)
        )


@dataclass(frozen=True, slots=True)
class _Locations:
    """Locations by id (no batch endpoint: a fan-out)."""

    storage: StorageClient

    async def __call__(self, call: CallContext, ids: Sequence[str]) -> list[Record | None]:
        return await fan_out(
            ids, lambda i: self.storage.location(call, i), width=_width(self.storage)
        )


@dataclass(frozen=True, slots=True)
class _ContainerPages:
    """One window of the containers whose ``by`` field (``location_id`` or
    ``parent_container_id``) is each key: ``(items, total)`` per key."""

    storage: StorageClient
    by: str
    container_type: str | None
    pages: tuple[tuple[int, int], ...]

    async def __call__(
        self, call: CallContext, keys: Sequence[str]
    ) -> list[tuple[list[Record], int] | None]:
        async def one(key: str) -> tuple[list[Record], int]:
            filters = {self.by: key}
            if self.container_type is not None:
                filters["container_type"] = self.container_type
            pages = [
                await self.storage.containers(call, page=page, per_page=size, **filters)
                for page, size in self.pages
            ]
            return [r for p in pages for r in p.items], pages[0].total_count

        return await fan_out(keys, one, width=_width(self.storage))


def _prime_containers(ctx: Context, records: Sequence[Record]) -> None:
    ctx.loaders.prime(_Containers(ctx.upstreams.storage), [r for r in records if r.get("id")])


def _prime_placements(ctx: Context, placements: Sequence[Record]) -> None:
    """Seed the sample-location loader (and the container and location loaders) with
    placements an upstream call already returned."""
    ctx.loaders.prime(ctx.upstreams.storage.sample_locations_many, placements, key="sample_id")
    containers: list[Record] = []
    locations: list[Record] = []
    for p in placements:
        containers.extend(c for c in [p.get("position"), *(p.get("container_chain") or [])] if c)
        if p.get("location"):
            locations.append(p["location"])
    _prime_containers(ctx, containers)
    ctx.loaders.prime(_Locations(ctx.upstreams.storage), locations)


# -- locations ----------------------------------------------------------------------------------


async def locations(ctx: Context) -> list[Record]:
    """Every storage location (the service answers the whole array)."""
    records = await ctx.upstreams.storage.locations(ctx.call)
    ctx.loaders.prime(_Locations(ctx.upstreams.storage), records)
    return records


async def location(ctx: Context, location_id: str) -> Record | None:
    """One location by id; None when there is none."""
    key = parse_id(location_id, "id")
    record: Record | None = await ctx.loaders.of(_Locations(ctx.upstreams.storage)).load(key)
    return record


async def location_of(ctx: Context, location_id: str) -> Record | None:
    """The location a container or placement names (an id from the upstream)."""
    loader = ctx.loaders.of(_Locations(ctx.upstreams.storage))
    record: Record | None = await loader.load(str(location_id))
    return record


# -- containers ---------------------------------------------------------------------------------


async def container(ctx: Context, container_id: str) -> Record | None:
    """One container by id; None when there is none."""
    return await container_of(ctx, parse_id(container_id, "id"))


async def container_of(ctx: Context, container_id: str) -> Record | None:
    loader = ctx.loaders.of(_Containers(ctx.upstreams.storage))
    record: Record | None = await loader.load(str(container_id))
    return record


async def containers_page(
    ctx: Context, *, by: str, key: str, container_type: str | None, win: Window
) -> tuple[list[Record], int]:
    """A window of the containers at a location (``by="location_id"``) or under a parent
    (``by="parent_container_id"``), and their total."""
    plan = plan_pages(win, max_page_size=MAX_CONTAINERS_PER_PAGE)
    # first: 0 still answers totalCount; one smallest page tells it.
    fetch = _ContainerPages(ctx.upstreams.storage, by, container_type, tuple(plan) or ((1, 1),))
    found = await ctx.loaders.of(fetch).load(str(key))
    items, total = found if found is not None else ([], 0)
    items = slice_pages(win, [items], page_size=plan[0][1]) if plan else []
    _prime_containers(ctx, items)
    return items, total


async def container_samples(ctx: Context, container_id: str) -> list[Record]:
    """The placements of the samples in a container or anywhere beneath it."""
    loader = ctx.loaders.of(ctx.upstreams.storage.samples_in_containers)
    placements: list[Record] = await loader.load(str(container_id))
    _prime_placements(ctx, placements)
    return placements


# -- samples ------------------------------------------------------------------------------------


async def sample_storage(ctx: Context, sample_id: str) -> Record | None:
    """Where one sample sits (position, container chain, location); None when not stored."""
    loader = ctx.loaders.of(ctx.upstreams.storage.sample_locations_many)
    record: Record | None = await loader.load(str(sample_id))
    return record


async def samples_by_id(ctx: Context, ids: Sequence[str]) -> list[Record]:
    """The samples with these ids, in order, through the request's sample loader; ids the
    samples service does not know are skipped."""
    if not ids:
        return []
    records = await ctx.loaders.of(ctx.upstreams.samples.get_many).load_many([str(i) for i in ids])
    return [r for r in records if r is not None]


async def _placed(ctx: Context, sample_id: str) -> Record:
    """The detailed placement of a sample just written (read fresh, then primed)."""
    placement = await ctx.upstreams.storage.sample_location(ctx.call, sample_id)
    _prime_placements(ctx, [placement])
    return placement


async def assign_sample(
    ctx: Context,
    *,
    sample_id: str,
    container_id: str,
    position_identifier: str | None,
    storage_conditions: Any,
    notes: str | None,
) -> Record:
    """Place a sample (in a position, or in a box: a named or the first free position)."""
    sample_key = parse_id(sample_id, "input.sampleId")
    container_key = parse_id(container_id, "input.containerId")
    # storage takes any UUID as a sample id: check that the sample exists first.
    if not await samples_by_id(ctx, [sample_key]):
        raise NotFound(f"Sample not found: {sample_key}")
    body: dict[str, Any] = {"sample_id": sample_key, "container_id": container_key}
    optional = {
        "position_identifier": position_identifier,
        "storage_conditions": storage_conditions,
        "notes": notes,
        "assigned_by": ctx.actor,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    await ctx.upstreams.storage.assign(ctx.call, body)
    return await _placed(ctx, sample_key)


async def move_sample(
    ctx: Context,
    *,
    sample_id: str,
    container_id: str,
    position_identifier: str | None,
    reason: str | None,
    notes: str | None,
) -> Record:
    """Move a stored sample to another position (or box)."""
    sample_key = parse_id(sample_id, "input.sampleId")
    body: dict[str, Any] = {"new_container_id": parse_id(container_id, "input.containerId")}
    optional = {
        "new_position_identifier": position_identifier,
        "reason": reason,
        "notes": notes,
        "moved_by": ctx.actor,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    await ctx.upstreams.storage.move(ctx.call, sample_key, body)
    return await _placed(ctx, sample_key)

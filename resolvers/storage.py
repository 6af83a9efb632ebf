"""Resolvers for storage: locations, the container tree, where samples sit, and the two
placement mutations, over the release's routes (UPSTREAMS.md, "## storage").

What the release offers, and how each relation uses it:

- A container by id is only served as ContainerWithChildren (``{container, children,
  samples, capacity_info}``): one detail call per distinct container gives its record, its
  children (all of them, by name) and the samples directly in it. The record alone (name,
  kind, parent, location: the storage structure) is a reference read through the response
  cache (``StorageClient.records``); children and samples are always read live.
- Only the top of a container tree carries ``location_id``: a nested container's location is
  found by walking ``parent_container_id`` up through the same detail loader.
- The container list has no location filter and its totals ignore its filters: a location's
  freezers come from the ``container_type=freezer`` list (a freezer is always the top of its
  tree), any other kind from one read of the whole list, grouped in the gateway.
- Samples sit only in position-type containers: a box's samples are its grid (one call), a
  rack's or freezer's the grids of the boxes its hierarchy lists, a position's the grid of
  its box.
- Where a sample sits is the flat SampleLocationDetailed; assign and move answer the new
  SamplePosition. The graph builds position, chain and location from either through the
  loaders, so a failed follow-up read is a field error and never hides a write that happened.
- Free space is read from the grids (``GET .../grid`` joins the live placements): the
  containers' ``occupied_count`` is never decremented by a move or a removal (with the
  migration's trigger) or never changes at all (without it), so neither it nor the
  ``/storage/containers/available`` route built on it can say which positions are free.
- A container by barcode: the release has no barcode route nor filter; the gateway reads
  the container list whole (the lab's structure, ``MAX_CONTAINERS``) and matches exactly.
- The release's 400s and 404s on the placement writes become user errors that name the
  input they are about (an occupied position is CONFLICT on the position).

Every batch function is a frozen dataclass: equal arguments make equal keys, so sibling
fields asking the same question share one loader.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from resolvers.context import Context
from resolvers.errors import CONFLICT, BadUserInput, NotFound, UserFacing, parse_id
from resolvers.loaders import load_each
from resolvers.pagination import PageRequest, Slice, paginate_list
from upstreams.config import CallContext
from upstreams.errors import UpstreamNotFound, UpstreamStatusError, UpstreamUnsupported
from upstreams.services import fan_out
from upstreams.storage import StorageClient

Record = dict[str, Any]

# The deepest a hierarchy must go to reach the boxes below a freezer or a rack.
_DEPTH_TO_BOXES = {"freezer": 3, "rack": 2}
# The most boxes `available_boxes` reads a grid for (one call each): the release has no
# free-space count that holds after a move or a removal.
MAX_BOX_GRIDS = 1000


def _width(storage: StorageClient) -> int:
    return storage.client.config.bulkhead.max_concurrency


@dataclass(frozen=True, slots=True)
class _Details:
    """ContainerWithChildren by container id, read live (no batch endpoint: a fan-out).
    Each record read also serves the request's reads of that container's own record."""

    storage: StorageClient
    ctx: Context = field(compare=False, hash=False)

    async def __call__(self, call: CallContext, ids: Sequence[str]) -> list[Record | None]:
        details = await fan_out(
            ids, lambda i: self.storage.container(call, i), width=_width(self.storage)
        )
        records = [
            (i, d["container"])
            for i, d in zip(ids, details, strict=True)
            if d is not None and isinstance(d.get("container"), dict)
        ]
        if records:
            self.ctx.loaders.of(_records(self.ctx)).waiting.append(records)
        return details


@dataclass(frozen=True, slots=True)
class _Records:
    """Containers' own records by id, through the response cache. A detail read for a miss
    also serves the request's other reads of that container (its children, its samples)."""

    storage: StorageClient
    ctx: Context = field(compare=False, hash=False)

    async def __call__(self, call: CallContext, ids: Sequence[str]) -> list[Record | None]:
        details: list[tuple[Any, Record]] = []
        records = await self.storage.records(
            call, ids, lambda i, detail: details.append((i, detail))
        )
        if details:
            self.ctx.loaders.of(_details(self.ctx)).waiting.append(details)
        return records


@dataclass(frozen=True, slots=True)
class _Locations:
    """Locations by id: one ``GET /storage/locations/{id}`` for one id; for several, the
    location list, which the release answers whole and unpaged (a lab has few locations),
    in one call instead of one per id."""

    storage: StorageClient

    async def __call__(self, call: CallContext, ids: Sequence[str]) -> list[Record | None]:
        if len(ids) == 1:
            return await fan_out(ids, lambda i: self.storage.location(call, i), width=1)
        found = {_key(r.get("id")): r for r in await self.storage.locations(call)}
        return [found.get(i) for i in ids]


@dataclass(frozen=True, slots=True)
class _Grids:
    """StorageGridView by container id (a fan-out)."""

    storage: StorageClient

    async def __call__(self, call: CallContext, ids: Sequence[str]) -> list[Record | None]:
        return await fan_out(ids, lambda i: self.storage.grid(call, i), width=_width(self.storage))


@dataclass(frozen=True, slots=True)
class _Hierarchies:
    """The hierarchy rows below each container, ``max_depth`` levels deep (a fan-out)."""

    storage: StorageClient
    max_depth: int

    async def __call__(self, call: CallContext, ids: Sequence[str]) -> list[list[Record] | None]:
        return await fan_out(
            ids,
            lambda i: self.storage.hierarchy(call, i, max_depth=self.max_depth),
            width=_width(self.storage),
        )


@dataclass(frozen=True, slots=True)
class _ContainerLists:
    """Whole container lists, read once per request: key ``"freezer"`` is every freezer
    (through the list's ``container_type`` filter), key ``""`` every container."""

    storage: StorageClient

    async def __call__(self, call: CallContext, kinds: Sequence[str]) -> list[list[Record]]:
        async def one(kind: str) -> list[Record]:
            if kind:
                return await self.storage.containers_where(call, container_type=kind)
            return await self.storage.all_containers(call)

        found = await fan_out(kinds, one, width=_width(self.storage))
        return [f or [] for f in found]


def _key(value: Any) -> str:
    return str(value)


# -- locations ----------------------------------------------------------------------------------


async def locations(ctx: Context) -> list[Record]:
    """Every storage location, by name (the service answers the whole array)."""
    records = await ctx.upstreams.storage.locations(ctx.call)
    ctx.loaders.prime(_Locations(ctx.upstreams.storage), records)
    return records


async def location(ctx: Context, location_id: str) -> Record | None:
    """One location by id; None when there is none."""
    return await location_of(ctx, parse_id(location_id, "id"))


async def location_of(ctx: Context, location_id: str) -> Record | None:
    """The location a container names (an id from the upstream)."""
    loader = ctx.loaders.of(_Locations(ctx.upstreams.storage))
    record: Record | None = await loader.load(_key(location_id))
    return record


async def locations_by_id(ctx: Context, ids: Sequence[str]) -> list[Record | None]:
    """Locations by id, aligned with ``ids`` (None where there is none), for ``nodes``."""
    loader = ctx.loaders.of(_Locations(ctx.upstreams.storage))
    found: list[Record | None] = await loader.load_many([_key(i) for i in ids])
    return found


async def location_containers(
    ctx: Context, location_id: str, container_type: str | None
) -> list[Record]:
    """The containers of the trees at a location, optionally of one kind: tops first, then
    by level, name and id."""
    loader = ctx.loaders.of(_ContainerLists(ctx.upstreams.storage))
    if container_type == "freezer":
        freezers: list[Record] = await loader.load("freezer")
        found = [c for c in freezers if _key(c.get("location_id")) == location_id]
        return sorted(found, key=lambda c: (c.get("name") or "", c["id"]))
    everything: list[Record] = await loader.load("")
    by_id = {c["id"]: c for c in everything}
    placed: list[tuple[int, str, str, Record]] = []
    for record in everything:
        if container_type is not None and record.get("container_type") != container_type:
            continue
        top, level = record, 1
        while top.get("parent_container_id") and level <= len(by_id):
            parent = by_id.get(top["parent_container_id"])
            if parent is None:
                break
            top, level = parent, level + 1
        if _key(top.get("location_id")) == location_id:
            placed.append((level, record.get("name") or "", record["id"], record))
    placed.sort(key=lambda p: p[:3])
    return [p[3] for p in placed]


# -- containers ---------------------------------------------------------------------------------


async def detail_of(ctx: Context, container_id: str) -> Record | None:
    """ContainerWithChildren of one container (read live); None when there is none."""
    detail: Record | None = await ctx.loaders.of(_details(ctx)).load(_key(container_id))
    return detail


def _details(ctx: Context) -> _Details:
    return _Details(ctx.upstreams.storage, ctx)


def _records(ctx: Context) -> _Records:
    return _Records(ctx.upstreams.storage, ctx)


async def container(ctx: Context, container_id: str) -> Record | None:
    """One container by id (the ``container`` of its detail); None when there is none."""
    return await container_of(ctx, parse_id(container_id, "id"))


async def container_of(ctx: Context, container_id: str) -> Record | None:
    """A container's own record (``StorageClient.records``: cached); None when none."""
    record: Record | None = await ctx.loaders.of(_records(ctx)).load(_key(container_id))
    return record


async def containers_by_id(ctx: Context, ids: Sequence[str]) -> list[Record | None]:
    """Containers by id, aligned with ``ids`` (None where there is none), for ``nodes``:
    their records through the cache, one detail call per missing id (the release has no
    batch look-up)."""
    loader = ctx.loaders.of(_records(ctx))
    return list(await loader.load_many([_key(i) for i in ids]))


async def container_by_barcode(ctx: Context, barcode: str) -> Record | None:
    """The container with exactly this barcode; None when there is none. The release has
    no barcode route nor filter: the whole container list (read once per request, shared
    with the location trees) is matched in the gateway. Barcodes are unique (the release's
    unique index)."""
    wanted = barcode.strip()
    if not wanted:
        raise BadUserInput("`barcode` is empty", field=["barcode"])
    everything: list[Record] = await ctx.loaders.of(_ContainerLists(ctx.upstreams.storage)).load("")
    return next((c for c in everything if c.get("barcode") == wanted), None)


async def children(ctx: Context, container_id: str) -> list[Record]:
    """The containers directly inside one, by name (from its detail)."""
    detail = await detail_of(ctx, container_id)
    return list(detail.get("children") or []) if detail else []


async def chain(ctx: Context, record: Record) -> list[Record]:
    """A container and those above it, outermost first (one detail load per level)."""
    found = [record]
    seen = {record.get("id")}
    while (parent_id := found[-1].get("parent_container_id")) and parent_id not in seen:
        seen.add(parent_id)
        parent = await container_of(ctx, _key(parent_id))
        if parent is None:
            break
        found.append(parent)
    return list(reversed(found))


async def location_id_of(ctx: Context, record: Record) -> str | None:
    """The location of a container's tree: its own ``location_id`` at the top, else its
    top's; None when the tree is at no location."""
    if record.get("location_id"):
        return _key(record["location_id"])
    top = (await chain(ctx, record))[0]
    return _key(top["location_id"]) if top.get("location_id") else None


async def _grid_positions(ctx: Context, record: Record) -> list[Record]:
    """The grid entries (StorageGridView positions) of the positions in a container or
    anywhere beneath it, in grid order: a position's from its box's grid, a box's from its
    own, a rack's or freezer's from the grids of the boxes its hierarchy lists."""
    storage = ctx.upstreams.storage
    grids = ctx.loaders.of(_Grids(storage))
    kind = record.get("container_type")
    if kind == "position":
        if record.get("parent_container_id"):
            grid = await grids.load(_key(record["parent_container_id"]))
            return [
                p
                for p in (grid or {}).get("positions") or []
                if _key(p.get("container_id")) == _key(record["id"])
            ]
        # A position at the top of a tree has no grid: its detail lists what it holds.
        detail = await detail_of(ctx, _key(record["id"]))
        held = [s for s in (detail or {}).get("samples") or [] if s.get("sample_id")]
        return [
            {
                "container_id": record["id"],
                "sample_id": held[0]["sample_id"] if held else None,
                "is_occupied": bool(held),
            }
        ]
    if kind == "box":
        boxes = [_key(record["id"])]
    else:
        depth = _DEPTH_TO_BOXES.get(str(kind), 10)
        rows = await ctx.loaders.of(_Hierarchies(storage, depth)).load(_key(record["id"]))
        boxes = [_key(r["id"]) for r in rows or [] if r.get("container_type") == "box"]
    views = await grids.load_many(boxes)
    return [p for view in views for p in (view or {}).get("positions") or []]


async def container_sample_ids(ctx: Context, record: Record) -> list[str]:
    """The ids of the samples in a container or anywhere beneath it, in grid order."""
    return [_key(p["sample_id"]) for p in await _grid_positions(ctx, record) if p.get("sample_id")]


async def free_positions(ctx: Context, record: Record) -> int:
    """How many positions in a container or beneath it hold no sample (from the grids,
    which join the live placements)."""
    return sum(1 for p in await _grid_positions(ctx, record) if not p.get("is_occupied"))


async def available_boxes(ctx: Context, temperature_zone: str, min_free: int) -> list[Record]:
    """The boxes of a temperature zone with at least ``min_free`` free positions, most
    free first (ties in the list's order, newest first). The zone's boxes come from the
    container list's ``container_type`` and ``temperature_zone`` filters (which the
    release applies); free positions from each box's grid (one call per box)."""
    if min_free < 1:
        raise BadUserInput("`minFreePositions` must be at least 1", field=["minFreePositions"])
    storage = ctx.upstreams.storage
    boxes = await storage.containers_where(
        ctx.call, container_type="box", temperature_zone=temperature_zone
    )
    if len(boxes) > MAX_BOX_GRIDS:
        raise UpstreamUnsupported(
            storage.name,
            f"The storage service counts no free positions that hold after a move or a "
            f"removal, and the zone {temperature_zone!r} has {len(boxes)} boxes: more than "
            f"the {MAX_BOX_GRIDS} the gateway reads a grid for",
        )
    # One batch of grid reads, then each box's count from the loader.
    await ctx.loaders.of(_Grids(storage)).load_many([_key(b["id"]) for b in boxes])
    free = [await free_positions(ctx, b) for b in boxes]
    placed = [(n, b) for n, b in zip(free, boxes, strict=True) if n >= min_free]
    placed.sort(key=lambda p: -p[0])
    return [b for _, b in placed]


# -- samples ------------------------------------------------------------------------------------


async def samples_storage(ctx: Context, sample_ids: Sequence[str]) -> dict[str, Any]:
    """Where each of these samples sits (``sample_storage`` for each, one batch), or the
    error in its place."""
    loader = ctx.loaders.of(ctx.upstreams.storage.sample_locations_many)
    return await load_each(loader, [str(i) for i in sample_ids])


async def sample_storage(ctx: Context, sample_id: str) -> Record | None:
    """Where one sample sits (the flat SampleLocationDetailed); None when not stored."""
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


async def samples_of_ids(ctx: Context, ids: Sequence[str], request: PageRequest) -> Slice[Record]:
    """The page of the samples with these ids (in this order) ``request`` asks for; the
    cursors name the ids, and ids the samples service does not know are left out."""
    page = await paginate_list(request, list(ids), key=str)
    records = await ctx.loaders.of(ctx.upstreams.samples.get_many).load_many(page.items)
    kept = [(c, r) for c, r in zip(page.cursors, records, strict=True) if r is not None]
    return Slice(
        items=[r for _, r in kept],
        cursors=[c for c, _ in kept],
        total=page.total,
        has_previous=page.has_previous,
        has_next=page.has_next,
        start=page.start,
    )


def _uuid_or_none(value: str | None) -> str | None:
    """The release records who did it as a UUID and rejects anything else."""
    try:
        return None if value is None else str(uuid.UUID(value))
    except ValueError:
        return None


CONTAINER_FIELD = ["input", "containerId"]
POSITION_FIELD = ["input", "positionIdentifier"]
SAMPLE_FIELD = ["input", "sampleId"]


async def _target_position(
    ctx: Context, container_id: str, position_identifier: str | None
) -> Record:
    """The position-type container a sample goes to: the container itself, or in a box the
    position named ``position_identifier`` (any case) or else its first free one."""
    target = await container_of(ctx, container_id)
    if target is None:
        raise NotFound(f"Container not found: {container_id}", field=CONTAINER_FIELD)
    kind = target.get("container_type")
    if kind == "position":
        return target
    if kind != "box":
        raise BadUserInput(
            f"Samples go into a position or a box, and {target.get('name')!r} is a {kind}",
            field=CONTAINER_FIELD,
        )
    grid = await ctx.loaders.of(_Grids(ctx.upstreams.storage)).load(container_id)
    positions = (grid or {}).get("positions") or []
    if position_identifier is not None:
        wanted = position_identifier.strip().upper()
        named = [p for p in positions if str(p.get("position_identifier")).upper() == wanted]
        if not named:
            raise NotFound(
                f"Box {target.get('name')!r} has no position {position_identifier}",
                field=POSITION_FIELD,
            )
        chosen = named[0]
        if chosen.get("is_occupied"):
            raise BadUserInput(
                f"Position {chosen.get('position_identifier')} of box {target.get('name')!r} "
                "is already occupied",
                field=POSITION_FIELD,
                user_code=CONFLICT,
            )
    else:
        free = [p for p in positions if not p.get("is_occupied")]
        if not free:
            raise BadUserInput(
                f"Box {target.get('name')!r} has no free position",
                field=CONTAINER_FIELD,
                user_code=CONFLICT,
            )
        chosen = free[0]
    position = await container_of(ctx, _key(chosen["container_id"]))
    if position is None:
        raise NotFound(f"Container not found: {chosen['container_id']}", field=CONTAINER_FIELD)
    return position


def _placement_error(
    exc: UpstreamStatusError, *, position_given: bool
) -> UpstreamStatusError | UserFacing:
    """The user error one of the release's placement refusals amounts to (UPSTREAMS.md:
    assign's and move's 400s and 404s), naming the input it is about; anything else as
    it came."""
    message = exc.message
    position_field = POSITION_FIELD if position_given else CONTAINER_FIELD
    if isinstance(exc, UpstreamNotFound):
        if "Sample not found" in message:
            return NotFound("The sample is not in storage", field=SAMPLE_FIELD)
        return NotFound(message, field=CONTAINER_FIELD)
    if exc.status != 400:
        return exc
    if "already occupied" in message:
        return BadUserInput(message, field=position_field, user_code=CONFLICT)
    if "already assigned" in message:
        return BadUserInput(message, field=SAMPLE_FIELD, user_code=CONFLICT)
    if "position-type" in message:
        return BadUserInput(message, field=CONTAINER_FIELD)
    return exc


def _forget_reads(ctx: Context) -> None:
    """After a write, the occupancy and placements read before it are stale."""
    storage = ctx.upstreams.storage
    reads = (_details(ctx), _records(ctx), _Grids(storage), storage.sample_locations_many)
    for fetch in reads:
        ctx.loaders.of(fetch).clear_all()


async def _sample_exists(ctx: Context, sample_key: str) -> None:
    """storage takes any UUID as a sample id: the sample must exist in samples."""
    if not await samples_by_id(ctx, [sample_key]):
        raise NotFound(f"Sample not found: {sample_key}", field=SAMPLE_FIELD)


async def assign_sample(
    ctx: Context,
    *,
    sample_id: str,
    container_id: str,
    position_identifier: str | None,
    storage_conditions: Any,
    notes: str | None,
) -> Record:
    """Place a sample in a position (or in a box: a named or its first free position); the
    new SamplePosition."""
    sample_key = parse_id(sample_id, "input.sampleId")
    container_key = parse_id(container_id, "input.containerId")
    await _sample_exists(ctx, sample_key)
    position = await _target_position(ctx, container_key, position_identifier)
    body: dict[str, Any] = {
        "sample_id": sample_key,
        "container_id": _key(position["id"]),
        "position_identifier": position.get("name"),
    }
    optional = {
        "storage_conditions": storage_conditions,
        "notes": notes,
        "assigned_by": _uuid_or_none(ctx.actor),
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    try:
        placed = await ctx.upstreams.storage.assign(ctx.call, body)
    except UpstreamStatusError as exc:
        raise _placement_error(exc, position_given=position_identifier is not None) from exc
    _forget_reads(ctx)
    return placed


async def move_sample(
    ctx: Context,
    *,
    sample_id: str,
    container_id: str,
    position_identifier: str | None,
    reason: str | None,
    notes: str | None,
) -> Record:
    """Move a stored sample to another position (or box); the new SamplePosition."""
    sample_key = parse_id(sample_id, "input.sampleId")
    container_key = parse_id(container_id, "input.containerId")
    position = await _target_position(ctx, container_key, position_identifier)
    body: dict[str, Any] = {
        "new_container_id": _key(position["id"]),
        "new_position_identifier": position.get("name"),
    }
    optional = {"reason": reason, "notes": notes, "moved_by": _uuid_or_none(ctx.actor)}
    body.update({k: v for k, v in optional.items() if v is not None})
    try:
        placed = await ctx.upstreams.storage.move(ctx.call, sample_key, body)
    except UpstreamStatusError as exc:
        raise _placement_error(exc, position_given=position_identifier is not None) from exc
    _forget_reads(ctx)
    return placed


async def remove_sample(ctx: Context, *, sample_id: str, reason: str | None) -> Record:
    """Take a sample out of storage (``DELETE /storage/samples/{id}/position``: the
    release marks the placement removed, with who and why); the placement it had, as the
    flat location view read just before."""
    sample_key = parse_id(sample_id, "input.sampleId")
    storage = ctx.upstreams.storage
    before = await storage.sample_location(ctx.call, sample_key)
    if before is None:
        raise NotFound("The sample is not in storage", field=SAMPLE_FIELD)
    try:
        await storage.remove(
            ctx.call, sample_key, removed_by=_uuid_or_none(ctx.actor), reason=reason
        )
    except UpstreamStatusError as exc:
        raise _placement_error(exc, position_given=False) from exc
    _forget_reads(ctx)
    return before

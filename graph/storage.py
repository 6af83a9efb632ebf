"""Storage: locations, the container tree (freezer > rack > box > position), where samples sit.

Scalars are plain attributes; relations (parent, children, location, samples) resolve through
the request's DataLoaders (see ``resolvers.storage``). Capacity and utilisation come from the
records themselves, never from an extra call per location.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.pagination import Connection, window
from graph.permissions import requires
from resolvers import storage as storage_resolvers
from resolvers.context import Context
from security import rbac

if TYPE_CHECKING:
    from graph.samples import Sample

LazySample = Annotated["Sample", strawberry.lazy("graph.samples")]

# Utilisation at or above these percentages is WARNING and CRITICAL (the storage service's
# own thresholds for its capacity summary).
WARNING_PERCENT = 80.0
CRITICAL_PERCENT = 95.0


@strawberry.enum(description="The kind of a storage container, outermost first.")
class ContainerType(Enum):
    FREEZER = "freezer"
    RACK = "rack"
    BOX = "box"
    POSITION = "position"


@strawberry.enum(description="Whether a storage location is in service.")
class StorageLocationStatus(Enum):
    ACTIVE = "active"
    MAINTENANCE = "maintenance"
    OFFLINE = "offline"
    DECOMMISSIONED = "decommissioned"


@strawberry.enum(description="How full a location or container is.")
class CapacityLevel(Enum):
    NORMAL = "normal"
    WARNING = "warning"
    CRITICAL = "critical"


def _enum(enum: type[Enum], value: Any) -> Any:
    """The member for a record's value, or None when the service sent one we do not know."""
    try:
        return None if value is None else enum(value)
    except ValueError:
        return None


def _page(ctx: Context, first: int | None, after: str | None) -> Any:
    return window(
        first,
        after,
        default=ctx.default_page_size,
        maximum=min(ctx.max_page_size, storage_resolvers.MAX_CONTAINERS_PER_PAGE),
    )


async def _containers(
    ctx: Context,
    by: str,
    key: str,
    container_type: ContainerType | None,
    first: int | None,
    after: str | None,
) -> StorageContainerConnection:
    """A page of the containers whose ``by`` field (location or parent) is ``key``."""
    win = _page(ctx, first, after)
    items, total = await storage_resolvers.containers_page(
        ctx,
        by=by,
        key=key,
        container_type=container_type.value if container_type else None,
        win=win,
    )
    return StorageContainerConnection.build(
        [StorageContainer.from_record(r) for r in items], win, total
    )


@strawberry.type(description="Capacity of a location or container, in sample positions.")
class StorageCapacity:
    total: int
    used: int
    available: int
    utilization_percentage: float = strawberry.field(description="0-100, two decimals.")
    level: CapacityLevel

    @classmethod
    def of(cls, total: Any, used: Any) -> StorageCapacity:
        total, used = int(total or 0), int(used or 0)
        percent = round(100.0 * used / total, 2) if total else 0.0
        level = (
            CapacityLevel.CRITICAL
            if percent >= CRITICAL_PERCENT
            else CapacityLevel.WARNING
            if percent >= WARNING_PERCENT
            else CapacityLevel.NORMAL
        )
        return cls(
            total=total,
            used=used,
            available=max(total - used, 0),
            utilization_percentage=percent,
            level=level,
        )


@strawberry.type(description="A room-level place that holds containers: a freezer, a cabinet...")
class StorageLocation:
    id: strawberry.ID
    name: str
    description: str | None
    location_type: str | None
    temperature_zone: str | None = strawberry.field(description="-80C, -20C, 4C, RT, 37C, ...")
    status: StorageLocationStatus | None
    capacity: StorageCapacity
    coordinates: JSON | None
    metadata: JSON | None
    created_at: datetime | None
    updated_at: datetime | None

    @strawberry.field(
        description="The containers at this location, optionally of one type "
        "(FREEZER gives the tops of its container trees)."
    )
    async def containers(
        self,
        info: Info[Context, None],
        container_type: ContainerType | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> StorageContainerConnection | None:
        return await _containers(
            info.context, "location_id", str(self.id), container_type, first, after
        )

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> StorageLocation:
        return cls(
            id=strawberry.ID(r["id"]),
            name=r.get("name") or "",
            description=r.get("description"),
            location_type=r.get("location_type"),
            temperature_zone=r.get("temperature_zone"),
            status=_enum(StorageLocationStatus, r.get("status")),
            capacity=StorageCapacity.of(r.get("max_capacity"), r.get("current_capacity")),
            coordinates=r.get("coordinates"),
            metadata=r.get("metadata"),
            created_at=r.get("created_at"),
            updated_at=r.get("updated_at"),
        )


@strawberry.type(description="A freezer unit, rack, box or box position.")
class StorageContainer:
    id: strawberry.ID
    name: str
    container_type: ContainerType | None
    barcode: str | None
    position_identifier: str | None = strawberry.field(description="A position's label: A1...")
    temperature_zone: str | None
    status: str | None
    capacity: StorageCapacity = strawberry.field(
        description="Of a box: its positions; of a rack or freezer: its direct children; "
        "`used` counts the samples anywhere beneath."
    )
    location_id: strawberry.ID
    parent_id: strawberry.ID | None
    created_at: datetime | None
    updated_at: datetime | None

    @strawberry.field(description="The container this one sits in; null at the top.")
    async def parent(self, info: Info[Context, None]) -> StorageContainer | None:
        if self.parent_id is None:
            return None
        record = await storage_resolvers.container_of(info.context, str(self.parent_id))
        return None if record is None else StorageContainer.from_record(record)

    @strawberry.field(description="The containers directly inside this one.")
    async def children(
        self,
        info: Info[Context, None],
        container_type: ContainerType | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> StorageContainerConnection | None:
        return await _containers(
            info.context, "parent_container_id", str(self.id), container_type, first, after
        )

    @strawberry.field(description="The location that holds this container.")
    async def location(self, info: Info[Context, None]) -> StorageLocation | None:
        record = await storage_resolvers.location_of(info.context, str(self.location_id))
        return None if record is None else StorageLocation.from_record(record)

    @strawberry.field(description="The samples in this container or anywhere beneath it.")
    async def samples(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[LazySample] | None:
        from graph.samples import Sample

        ctx = info.context
        # All the placements come in one answer: the window is cut here, up to the graph's max.
        win = window(first, after, default=ctx.default_page_size, maximum=ctx.max_page_size)
        placements = await storage_resolvers.container_samples(ctx, str(self.id))
        ids = [str(p["sample_id"]) for p in placements[win.offset : win.offset + win.first]]
        records = await storage_resolvers.samples_by_id(ctx, ids)
        nodes = [Sample.from_record(r) for r in records]
        return Connection.build(nodes, win, len(placements))

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> StorageContainer:
        return cls(
            id=strawberry.ID(r["id"]),
            name=r.get("name") or "",
            container_type=_enum(ContainerType, r.get("container_type")),
            barcode=r.get("barcode"),
            position_identifier=r.get("position_identifier"),
            temperature_zone=r.get("temperature_zone"),
            status=r.get("status"),
            capacity=StorageCapacity.of(r.get("capacity"), r.get("occupied_count")),
            location_id=strawberry.ID(str(r.get("location_id"))),
            parent_id=r.get("parent_container_id"),
            created_at=r.get("created_at"),
            updated_at=r.get("updated_at"),
        )


StorageContainerConnection = Connection[StorageContainer]
StorageLocationConnection = Connection[StorageLocation]


@strawberry.type(
    description="Where one sample sits: its position, the containers above it and the location."
)
class SampleStorage:
    sample_id: strawberry.ID
    position: StorageContainer
    container_chain: list[StorageContainer] = strawberry.field(
        description="From the outermost container (the freezer) down to the position."
    )
    location: StorageLocation
    path: str = strawberry.field(description="Human-readable: location > freezer > ... > A1.")
    temperature_zone: str | None
    position_identifier: str | None
    assigned_at: datetime | None
    assigned_by: str | None
    storage_conditions: JSON | None
    notes: str | None

    @strawberry.field(description="The sample stored here.")
    async def sample(self, info: Info[Context, None]) -> LazySample | None:
        from graph.samples import Sample

        records = await storage_resolvers.samples_by_id(info.context, [str(self.sample_id)])
        return Sample.from_record(records[0]) if records else None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> SampleStorage:
        """From one item of ``sample_locations_many`` / ``sample_location``."""
        position = StorageContainer.from_record(r["position"])
        above = [StorageContainer.from_record(c) for c in r.get("container_chain") or ()]
        location = StorageLocation.from_record(r["location"])
        assignment = r.get("assignment") or {}
        return cls(
            sample_id=strawberry.ID(str(r["sample_id"])),
            position=position,
            container_chain=[*reversed(above), position],
            location=location,
            path=r.get("storage_path") or "",
            temperature_zone=r.get("temperature_zone") or location.temperature_zone,
            position_identifier=assignment.get("position_identifier") or position.name,
            assigned_at=assignment.get("assigned_at"),
            assigned_by=assignment.get("assigned_by"),
            storage_conditions=assignment.get("storage_conditions"),
            notes=assignment.get("notes"),
        )


@strawberry.input(description="Place a sample in storage.")
class AssignSampleToStorageInput:
    sample_id: strawberry.ID
    container_id: strawberry.ID = strawberry.field(
        description="A position, or a box (then `positionIdentifier` or its first free one)."
    )
    position_identifier: str | None = strawberry.field(
        default=None, description="A position of the box: A1..E5."
    )
    storage_conditions: JSON | None = None
    notes: str | None = None


@strawberry.input(description="Move a stored sample to another position.")
class MoveSampleInput:
    sample_id: strawberry.ID
    container_id: strawberry.ID = strawberry.field(
        description="A position, or a box (then `positionIdentifier` or its first free one)."
    )
    position_identifier: str | None = None
    reason: str | None = None
    notes: str | None = None


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Every storage location, by name.",
    )
    async def storage_locations(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> StorageLocationConnection | None:
        ctx = info.context
        win = window(first, after, default=ctx.default_page_size, maximum=ctx.max_page_size)
        records = await storage_resolvers.locations(ctx)
        return StorageLocationConnection.from_list(
            [StorageLocation.from_record(r) for r in records], win
        )

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="One storage location by id; null when there is none.",
    )
    async def storage_location(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> StorageLocation | None:
        record = await storage_resolvers.location(info.context, id)
        return None if record is None else StorageLocation.from_record(record)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="One storage container by id; null when there is none.",
    )
    async def container(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> StorageContainer | None:
        record = await storage_resolvers.container(info.context, id)
        return None if record is None else StorageContainer.from_record(record)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[requires(rbac.WRITE_SAMPLES)],
        description="Place a sample in a free storage position.",
    )
    async def assign_sample_to_storage(
        self, info: Info[Context, None], input: AssignSampleToStorageInput
    ) -> SampleStorage:
        record = await storage_resolvers.assign_sample(
            info.context,
            sample_id=input.sample_id,
            container_id=input.container_id,
            position_identifier=input.position_identifier,
            storage_conditions=input.storage_conditions,
            notes=input.notes,
        )
        return SampleStorage.from_record(record)

    @strawberry.mutation(
        permission_classes=[requires(rbac.WRITE_SAMPLES)],
        description="Move a stored sample to another free position.",
    )
    async def move_sample(self, info: Info[Context, None], input: MoveSampleInput) -> SampleStorage:
        record = await storage_resolvers.move_sample(
            info.context,
            sample_id=input.sample_id,
            container_id=input.container_id,
            position_identifier=input.position_identifier,
            reason=input.reason,
            notes=input.notes,
        )
        return SampleStorage.from_record(record)

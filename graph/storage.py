"""Storage: locations, the container tree (freezer > rack > box > position), where samples sit.

Scalars are plain attributes; relations (parent, children, location, samples, a sample's
position and chain) resolve through the request's DataLoaders (see ``resolvers.storage``).
Capacity and utilisation come from the records themselves, as the release counts them.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.pagination import After, Before, Connection, First, Last, connection_args
from graph.permissions import requires
from graph.values import member
from resolvers import storage as storage_resolvers
from resolvers.context import Context
from security import rbac

if TYPE_CHECKING:
    from graph.samples import Sample

LazySample = Annotated["Sample", strawberry.lazy("graph.samples")]

# The storage service's thresholds: a container is WARNING at 80 % and CRITICAL at 95 % or
# more; a location (its capacity route) only above them.
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


@strawberry.type(description="Capacity of a location or container, in sample positions.")
class StorageCapacity:
    total: int
    used: int = strawberry.field(
        description="As the storage service counts it. For containers every assignment ever "
        "made at or beneath it: moves and removals never take one off, so after a move `used` "
        "exceeds the samples held (and can exceed `total`). For locations the count the "
        "service stores, which no route changes."
    )
    available: int = strawberry.field(description="total - used, never below 0.")
    utilization_percentage: float = strawberry.field(
        description="100 * used / total, two decimals (above 100 when `used` is over-counted)."
    )
    level: CapacityLevel

    @classmethod
    def of(cls, total: Any, used: Any, *, strict: bool = False) -> StorageCapacity:
        total, used = int(total or 0), int(used or 0)
        percent = round(100.0 * used / total, 2) if total else 0.0

        def over(limit: float) -> bool:
            return percent > limit if strict else percent >= limit

        level = (
            CapacityLevel.CRITICAL
            if over(CRITICAL_PERCENT)
            else CapacityLevel.WARNING
            if over(WARNING_PERCENT)
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
        description="The containers of the container trees at this location, optionally of "
        "one type (FREEZER gives the tops of the trees): tops first, then by name."
    )
    async def containers(
        self,
        info: Info[Context, None],
        container_type: ContainerType | None = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> StorageContainerConnection | None:
        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        records = await storage_resolvers.location_containers(
            ctx, str(self.id), container_type.value if container_type else None
        )
        location_id = str(self.id)
        return await StorageContainerConnection.from_list(
            records, request, lambda r: StorageContainer.from_record(r, location_id)
        )

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> StorageLocation:
        return cls(
            id=strawberry.ID(r["id"]),
            name=r.get("name") or "",
            description=r.get("description"),
            location_type=r.get("location_type"),
            temperature_zone=r.get("temperature_zone"),
            status=member(
                StorageLocationStatus, r.get("status"), service="storage", field="status"
            ),
            capacity=StorageCapacity.of(
                r.get("max_capacity"), r.get("current_capacity"), strict=True
            ),
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
        "`used` counts the assignments ever made anywhere beneath."
    )
    parent_id: strawberry.ID | None
    created_at: datetime | None
    updated_at: datetime | None
    record: strawberry.Private[dict[str, Any]]
    # The location when the caller already knows it (a location's containers, a parent's).
    known_location_id: strawberry.Private[str | None]

    @strawberry.field(
        description="The location of this container's tree (only the top of a tree names it: "
        "below, it is found through the parents); null when the tree is at no location."
    )
    async def location_id(self, info: Info[Context, None]) -> strawberry.ID | None:
        found = await self._location_id(info.context)
        return None if found is None else strawberry.ID(found)

    async def _location_id(self, ctx: Context) -> str | None:
        if self.known_location_id is not None:
            return self.known_location_id
        return await storage_resolvers.location_id_of(ctx, self.record)

    @strawberry.field(description="The container this one sits in; null at the top.")
    async def parent(self, info: Info[Context, None]) -> StorageContainer | None:
        if self.parent_id is None:
            return None
        record = await storage_resolvers.container_of(info.context, str(self.parent_id))
        return None if record is None else StorageContainer.from_record(record)

    @strawberry.field(description="The containers directly inside this one, by name.")
    async def children(
        self,
        info: Info[Context, None],
        container_type: ContainerType | None = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> StorageContainerConnection | None:
        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        records = await storage_resolvers.children(ctx, str(self.id))
        if container_type is not None:
            records = [r for r in records if r.get("container_type") == container_type.value]
        location_id = self.record.get("location_id") or self.known_location_id
        return await StorageContainerConnection.from_list(
            records, request, lambda r: StorageContainer.from_record(r, location_id)
        )

    @strawberry.field(description="The location that holds this container's tree.")
    async def location(self, info: Info[Context, None]) -> StorageLocation | None:
        location_id = await self._location_id(info.context)
        if location_id is None:
            return None
        record = await storage_resolvers.location_of(info.context, location_id)
        return None if record is None else StorageLocation.from_record(record)

    @strawberry.field(description="The samples in this container or anywhere beneath it.")
    async def samples(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[LazySample] | None:
        from graph.samples import Sample

        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        ids = await storage_resolvers.container_sample_ids(ctx, self.record)
        page = await storage_resolvers.samples_of_ids(ctx, ids, request)
        return Connection.build(page, Sample.from_record)

    @classmethod
    def from_record(
        cls, r: dict[str, Any], known_location_id: str | None = None
    ) -> StorageContainer:
        kind = r.get("container_type")
        parent_id = r.get("parent_container_id")
        return cls(
            id=strawberry.ID(str(r["id"])),
            name=r.get("name") or "",
            container_type=member(ContainerType, kind, service="storage", field="container_type"),
            barcode=r.get("barcode"),
            position_identifier=r.get("name") if kind == "position" else None,
            temperature_zone=r.get("temperature_zone"),
            status=r.get("status"),
            capacity=StorageCapacity.of(r.get("capacity"), r.get("occupied_count")),
            parent_id=None if parent_id is None else strawberry.ID(str(parent_id)),
            created_at=r.get("created_at"),
            updated_at=r.get("updated_at"),
            record=r,
            known_location_id=str(r["location_id"]) if r.get("location_id") else known_location_id,
        )


StorageContainerConnection = Connection[StorageContainer]
StorageLocationConnection = Connection[StorageLocation]


@strawberry.type(
    description="Where one sample sits: its position, the containers above it and the location."
)
class SampleStorage:
    sample_id: strawberry.ID
    position_identifier: str | None
    assigned_at: datetime | None
    assigned_by: str | None
    storage_conditions: JSON | None
    notes: str | None
    # The position-type container the sample is in, and what the upstream said about it.
    container_id: strawberry.Private[str]
    record: strawberry.Private[dict[str, Any]]

    async def _position(self, ctx: Context) -> dict[str, Any] | None:
        return await storage_resolvers.container_of(ctx, self.container_id)

    async def _chain(self, ctx: Context) -> list[dict[str, Any]]:
        position = await self._position(ctx)
        return [] if position is None else await storage_resolvers.chain(ctx, position)

    async def _location(self, ctx: Context) -> dict[str, Any] | None:
        chain = await self._chain(ctx)
        if not chain or not chain[0].get("location_id"):
            return None
        return await storage_resolvers.location_of(ctx, str(chain[0]["location_id"]))

    @strawberry.field(description="The position-type container that holds the sample.")
    async def position(self, info: Info[Context, None]) -> StorageContainer | None:
        record = await self._position(info.context)
        return None if record is None else StorageContainer.from_record(record)

    @strawberry.field(
        description="From the outermost container (the freezer) down to the position."
    )
    async def container_chain(self, info: Info[Context, None]) -> list[StorageContainer] | None:
        chain = await self._chain(info.context)
        top = chain[0].get("location_id") if chain else None
        known = None if top is None else str(top)
        return [StorageContainer.from_record(r, known) for r in chain]

    @strawberry.field(description="The location that holds the position's container tree.")
    async def location(self, info: Info[Context, None]) -> StorageLocation | None:
        record = await self._location(info.context)
        return None if record is None else StorageLocation.from_record(record)

    @strawberry.field(description="Human-readable: location > freezer > ... > A1.")
    async def path(self, info: Info[Context, None]) -> str | None:
        ctx = info.context
        names = [str(c.get("name") or "") for c in await self._chain(ctx)]
        location = await self._location(ctx)
        if location is not None:
            names.insert(0, str(location.get("name") or ""))
        return " > ".join(names)

    @strawberry.field(description="The temperature zone of the position.")
    async def temperature_zone(self, info: Info[Context, None]) -> str | None:
        if "temperature_zone" in self.record:
            zone: str | None = self.record["temperature_zone"]
            return zone
        position = await self._position(info.context)
        return None if position is None else position.get("temperature_zone")

    @strawberry.field(description="The sample stored here.")
    async def sample(self, info: Info[Context, None]) -> LazySample | None:
        from graph.samples import Sample

        records = await storage_resolvers.samples_by_id(info.context, [str(self.sample_id)])
        return Sample.from_record(records[0]) if records else None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> SampleStorage:
        """From the service's flat SampleLocationDetailed or from the SamplePosition that
        assign and move answer: both name the sample and its position-type container."""
        position_identifier = r.get("position_identifier") or r.get("container_name")
        return cls(
            sample_id=strawberry.ID(str(r["sample_id"])),
            position_identifier=position_identifier,
            assigned_at=r.get("assigned_at"),
            assigned_by=None if r.get("assigned_by") is None else str(r["assigned_by"]),
            storage_conditions=r.get("storage_conditions"),
            notes=r.get("notes"),
            container_id=str(r["container_id"]),
            record=r,
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
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> StorageLocationConnection | None:
        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        records = await storage_resolvers.locations(ctx)
        return await StorageLocationConnection.from_list(
            records, request, StorageLocation.from_record
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
    ) -> SampleStorage | None:
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
    async def move_sample(
        self, info: Info[Context, None], input: MoveSampleInput
    ) -> SampleStorage | None:
        record = await storage_resolvers.move_sample(
            info.context,
            sample_id=input.sample_id,
            container_id=input.container_id,
            position_identifier=input.position_identifier,
            reason=input.reason,
            notes=input.notes,
        )
        return SampleStorage.from_record(record)

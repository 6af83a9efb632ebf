"""Storage: locations, the container tree (freezer > rack > box > position), where samples sit.

Scalars are plain attributes; relations (parent, children, location, samples, a sample's
position and chain) resolve through the request's DataLoaders (see ``resolvers.storage``).
Capacity and utilisation come from the records themselves, as the release counts them;
free positions from the grids, which join the live placements.

Nullability follows UPSTREAMS.md "## storage": a field the service always sends (a
non-``Option`` field of its Rust structs) is non-null, and a record without it is an
``UPSTREAM_BAD_RESPONSE`` on that field; relations, which take another call, are nullable.
``StorageLocation`` and ``StorageContainer`` are ``Node``s; ``SampleStorage`` (where one
sample sits) carries the sample's id, so a move updates the same client-cache entry, and
is therefore not a ``Node`` (``node(id:)`` of that id answers the ``Sample``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph import nodes
from graph.nodes import Node
from graph.ordering import OrderDirection, sort_records
from graph.pagination import After, Before, Connection, First, Last, connection_args
from graph.payloads import UserError, attempt, user_errors_field
from graph.permissions import requires
from graph.users import Person, person
from graph.values import member, required
from resolvers import storage as storage_resolvers
from resolvers.context import Context
from security import rbac
from upstreams.errors import UpstreamBadResponse

if TYPE_CHECKING:
    from graph.samples import Sample

LazySample = Annotated["Sample", strawberry.lazy("graph.samples")]

SERVICE = "storage"

# The storage service's thresholds: a container is WARNING at 80 % and CRITICAL at 95 % or
# more; a location (its capacity route) only above them.
WARNING_PERCENT = 80.0
CRITICAL_PERCENT = 95.0

TEMPERATURE_ZONE_TEXT = (
    "As the lab names it (`-80C`, `-20C`, `4C`, `RT`, `37C`, ...). "
    "Free text in the storage service, not a closed set (any non-empty string is accepted "
    "on create, and matched exactly): hence a String, not an enum."
)


@strawberry.enum(description="The kind of a storage container, outermost first.")
class ContainerType(Enum):
    FREEZER = strawberry.enum_value(
        "freezer", description="A freezer unit: the top of a container tree; holds racks."
    )
    RACK = strawberry.enum_value("rack", description="A rack inside a freezer; holds boxes.")
    BOX = strawberry.enum_value("box", description="A box inside a rack: a grid of positions.")
    POSITION = strawberry.enum_value(
        "position", description="One cell of a box (A1, B3, ...): holds at most one sample."
    )


@strawberry.enum(
    description="Whether a storage location or container is in service (the storage "
    "schema's `storage_status`: `active`, `maintenance`, `offline`, `decommissioned`). "
    "The release writes `active` on create; only a location's status can be changed (by "
    "its REST update route). Any other value is an UPSTREAM_BAD_RESPONSE."
)
class StorageStatus(Enum):
    ACTIVE = strawberry.enum_value("active", description="In service: takes samples.")
    MAINTENANCE = strawberry.enum_value(
        "maintenance", description="Temporarily out of service for maintenance."
    )
    OFFLINE = strawberry.enum_value("offline", description="Out of service (not running).")
    DECOMMISSIONED = strawberry.enum_value("decommissioned", description="Permanently retired.")


@strawberry.enum(description="How full a location or container is, by its utilisation.")
class CapacityLevel(Enum):
    NORMAL = strawberry.enum_value("normal", description="Below the warning threshold.")
    WARNING = strawberry.enum_value(
        "warning",
        description="A container at 80 % or more (a location above 80 %), below critical.",
    )
    CRITICAL = strawberry.enum_value(
        "critical", description="A container at 95 % or more (a location above 95 %)."
    )


@strawberry.type(description="Capacity of a location or container, in sample positions.")
class StorageCapacity:
    total: int = strawberry.field(
        description="How much it holds: a location's `max_capacity` (samples); a box's "
        "positions; a rack's or freezer's direct children; 1 for a position."
    )
    used: int = strawberry.field(
        description="As the storage service counts it. For containers every assignment ever "
        "made at or beneath it: moves and removals never take one off, so after a move `used` "
        "exceeds the samples held (and can exceed `total`). For locations the count the "
        "service stores, which no route changes. For what is really free, read "
        "`StorageContainer.freePositions`."
    )
    available: int = strawberry.field(description="total - used, never below 0.")
    utilization_percentage: float = strawberry.field(
        description="100 * used / total, in percent with two decimals (above 100 when "
        "`used` is over-counted)."
    )
    level: CapacityLevel = strawberry.field(description="The service's level for this utilisation.")

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


@strawberry.type(description="A cell of a grid: its row and column, from 1.")
class StorageGridCell:
    row: int = strawberry.field(description="The row, from 1 (A = 1).")
    column: int = strawberry.field(description="The column, from 1.")

    @classmethod
    def of(cls, value: Any) -> Any:
        """From a container's ``grid_position`` (``{row, column}``): the cell, None when
        absent, an ``UpstreamBadResponse`` (the field's error) for any other shape."""
        if value is None:
            return None
        if isinstance(value, dict):
            row, column = value.get("row"), value.get("column")
            if isinstance(row, int) and isinstance(column, int):
                return cls(row=row, column=column)
        return UpstreamBadResponse.for_value(SERVICE, "grid_position", value)


@strawberry.enum(description="What storage locations can be sorted by.")
class StorageLocationOrderField(Enum):
    NAME = strawberry.enum_value(
        "name", description="The location's name (the storage service's own order)."
    )
    CREATED_AT = strawberry.enum_value("created_at", description="When it was created.")
    UPDATED_AT = strawberry.enum_value("updated_at", description="When it last changed.")


@strawberry.input(description="How to sort storage locations.")
class StorageLocationOrder:
    field: StorageLocationOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(description="Which way.")


@strawberry.type(description="A room-level place that holds containers: a freezer, a cabinet...")
class StorageLocation(Node):
    name: str = strawberry.field(description="The location's name (1 to 255 characters).")
    description: str | None = strawberry.field(description="Free text; null when not given.")
    location_type: str = strawberry.field(
        description="The kind of place, as the lab names it (`ultra_low_freezer`, "
        "`refrigerator`, `cabinet`, ...): free text in the storage service."
    )
    temperature_zone: str = strawberry.field(
        description="The location's temperature zone. " + TEMPERATURE_ZONE_TEXT
    )
    status: StorageStatus = strawberry.field(description="Whether the location is in service.")
    capacity: StorageCapacity = strawberry.field(
        description="The location's `max_capacity` and the `current_capacity` the service "
        "stores (no route changes it: it stays what it was created with)."
    )
    coordinates: JSON | None = strawberry.field(
        description="Where the location is, as whoever created it described it (caller-defined "
        "JSON: the storage service gives it no shape); null when not given."
    )
    metadata: JSON = strawberry.field(
        description="Caller-defined JSON stored with the location (`{}` when none)."
    )
    created_at: datetime = strawberry.field(description="When the location was created.")
    updated_at: datetime = strawberry.field(description="When the location last changed.")

    @strawberry.field(
        description="The containers of the container trees at this location, optionally of "
        "one type (FREEZER gives the tops of the trees): tops first, then by name."
    )
    async def containers(
        self,
        info: Info[Context, None],
        container_type: Annotated[
            ContainerType | None,
            strawberry.argument(description="Only containers of this kind; null for all."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> StorageContainerConnection | None:
        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        records = await storage_resolvers.location_containers(
            ctx, str(self.id), None if container_type is None else str(container_type.value)
        )
        location_id = str(self.id)
        return await StorageContainerConnection.from_list(
            records, request, lambda r: StorageContainer.from_record(r, location_id)
        )

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> StorageLocation:
        return cls(
            id=strawberry.ID(str(r["id"])),
            name=required(r, "name", service=SERVICE),
            description=r.get("description"),
            location_type=required(r, "location_type", service=SERVICE),
            temperature_zone=required(r, "temperature_zone", service=SERVICE),
            status=member(
                StorageStatus,
                required(r, "status", service=SERVICE),
                service=SERVICE,
                field="status",
            ),
            capacity=StorageCapacity.of(
                r.get("max_capacity"), r.get("current_capacity"), strict=True
            ),
            coordinates=r.get("coordinates"),
            metadata=required(r, "metadata", service=SERVICE),
            created_at=required(r, "created_at", service=SERVICE),
            updated_at=required(r, "updated_at", service=SERVICE),
        )


@strawberry.type(description="A freezer unit, rack, box or box position.")
class StorageContainer(Node):
    name: str = strawberry.field(
        description="The container's name; a position's is its label (A1, ...)."
    )
    container_type: ContainerType = strawberry.field(description="The kind of container.")
    barcode: str | None = strawberry.field(
        description="The container's barcode (unique); null when it has none."
    )
    description: str | None = strawberry.field(description="Free text; null when not given.")
    position_identifier: str | None = strawberry.field(
        description="A position's label (A1, ...); null for other kinds."
    )
    grid_position: StorageGridCell | None = strawberry.field(
        description="Where the container sits in its parent's grid (a position in its box); "
        "null when it has no cell."
    )
    temperature_zone: str | None = strawberry.field(
        description="The container's temperature zone; null when it names none. "
        + TEMPERATURE_ZONE_TEXT
    )
    status: StorageStatus = strawberry.field(
        description="Whether the container is in service (the release writes `active`, and "
        "no route changes it)."
    )
    capacity: StorageCapacity = strawberry.field(
        description="Of a box: its positions; of a rack or freezer: its direct children; "
        "`used` counts the assignments ever made anywhere beneath."
    )
    parent_id: strawberry.ID | None = strawberry.field(
        description="The id of the container this one sits in; null at the top of a tree."
    )
    metadata: JSON = strawberry.field(
        description="Caller-defined JSON stored with the container (its `container_metadata`; "
        "`{}` when none)."
    )
    created_at: datetime = strawberry.field(description="When the container was created.")
    updated_at: datetime = strawberry.field(description="When the container last changed.")
    record: strawberry.Private[dict[str, Any]]
    # The location when the caller already knows it (a location's containers, a parent's).
    known_location_id: strawberry.Private[str | None]

    @strawberry.field(
        description="The id of the location of this container's tree (only the top of a "
        "tree names it: below, it is found through the parents); null when the tree is at "
        "no location."
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
        container_type: Annotated[
            ContainerType | None,
            strawberry.argument(description="Only children of this kind; null for all."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> StorageContainerConnection | None:
        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        records = await storage_resolvers.children(ctx, str(self.id))
        if container_type is not None:
            wanted = str(container_type.value)
            records = [r for r in records if r.get("container_type") == wanted]
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

    @strawberry.field(
        description="How many positions in this container or beneath it hold no sample, "
        "read from the grids (which join the live placements, unlike `capacity.used`): a "
        "position 1 or 0; a box its free cells; a rack or freezer the sum over its boxes "
        "(one hierarchy call and one grid call per box)."
    )
    async def free_positions(self, info: Info[Context, None]) -> int | None:
        return await storage_resolvers.free_positions(info.context, self.record)

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
            name=required(r, "name", service=SERVICE),
            container_type=member(
                ContainerType,
                required(r, "container_type", service=SERVICE),
                service=SERVICE,
                field="container_type",
            ),
            barcode=r.get("barcode"),
            description=r.get("description"),
            position_identifier=r.get("name") if kind == "position" else None,
            grid_position=StorageGridCell.of(r.get("grid_position")),
            temperature_zone=r.get("temperature_zone"),
            status=member(
                StorageStatus,
                required(r, "status", service=SERVICE),
                service=SERVICE,
                field="status",
            ),
            capacity=StorageCapacity.of(r.get("capacity"), r.get("occupied_count")),
            parent_id=None if parent_id is None else strawberry.ID(str(parent_id)),
            metadata=required(r, "container_metadata", service=SERVICE),
            created_at=required(r, "created_at", service=SERVICE),
            updated_at=required(r, "updated_at", service=SERVICE),
            record=r,
            known_location_id=str(r["location_id"]) if r.get("location_id") else known_location_id,
        )


StorageContainerConnection = Connection[StorageContainer]
StorageLocationConnection = Connection[StorageLocation]


async def _location_nodes(ctx: Context, ids: Sequence[str]) -> list[StorageLocation | None]:
    records = await storage_resolvers.locations_by_id(ctx, ids)
    return [None if r is None else StorageLocation.from_record(r) for r in records]


async def _container_nodes(ctx: Context, ids: Sequence[str]) -> list[StorageContainer | None]:
    records = await storage_resolvers.containers_by_id(ctx, ids)
    return [None if r is None else StorageContainer.from_record(r) for r in records]


nodes.register("StorageLocation", rbac.READ_LIMS, _location_nodes)
nodes.register("StorageContainer", rbac.READ_LIMS, _container_nodes)


async def _sample_of(info: Info[Context, None], sample_id: str) -> Sample | None:
    from graph.samples import Sample

    records = await storage_resolvers.samples_by_id(info.context, [sample_id])
    return Sample.from_record(records[0]) if records else None


async def _container_of(info: Info[Context, None], container_id: str) -> StorageContainer | None:
    record = await storage_resolvers.container_of(info.context, container_id)
    return None if record is None else StorageContainer.from_record(record)


@strawberry.type(
    description="Where one sample sits: its position, the containers above it and the "
    "location. Its `id` is the sample's, so that a client cache keeps one entry per sample "
    "and a move updates it in place; it is not a Node (`node(id:)` of that id answers the "
    "Sample)."
)
class SampleStorage:
    id: strawberry.ID = strawberry.field(
        description="The stored sample's id (a UUID): the same before and after a move."
    )
    sample_id: strawberry.ID = strawberry.field(description="The stored sample's id (= `id`).")
    position_identifier: str | None = strawberry.field(
        description="The position's label (A1, ...): the placement's own label, or the "
        "position container's name; null when the service names neither."
    )
    assigned_at: datetime = strawberry.field(
        description="When the sample was placed at this position (by an assignment or a move)."
    )
    storage_conditions: JSON = strawberry.field(
        description="Caller-defined JSON given when the sample was assigned (the storage "
        "service gives it no shape; `{}` when none; a move keeps it)."
    )
    notes: str | None = strawberry.field(
        description="The placement's notes; null when none (a move writes its own notes, "
        "null when it gives none)."
    )
    # The position-type container the sample is in, and what the upstream said about it.
    container_id: strawberry.Private[str]
    assigned_by_id: strawberry.Private[str | None]
    record: strawberry.Private[dict[str, Any]]
    # The walk up from the position, shared by the fields that need it (path, location,
    # containerChain): started by the first, awaited by all.
    chain_walk: strawberry.Private[asyncio.Future[list[dict[str, Any]]] | None] = None

    async def _position(self, ctx: Context) -> dict[str, Any] | None:
        return await storage_resolvers.container_of(ctx, self.container_id)

    async def _chain(self, ctx: Context) -> list[dict[str, Any]]:
        walk = self.chain_walk
        if walk is None:
            walk = self.chain_walk = asyncio.ensure_future(self._walk(ctx))
        return await walk

    async def _walk(self, ctx: Context) -> list[dict[str, Any]]:
        position = await self._position(ctx)
        return [] if position is None else await storage_resolvers.chain(ctx, position)

    async def _location(self, ctx: Context) -> dict[str, Any] | None:
        chain = await self._chain(ctx)
        if not chain or not chain[0].get("location_id"):
            return None
        return await storage_resolvers.location_of(ctx, str(chain[0]["location_id"]))

    @strawberry.field(
        description="Who placed the sample here (the assignment's or the move's user); null "
        "when the service recorded nobody."
    )
    async def assigned_by(self, info: Info[Context, None]) -> Person | None:
        return await person(info, self.assigned_by_id)

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

    @strawberry.field(
        description="Human-readable: the location's and the containers' names, outermost "
        "first, joined by ` > ` (`Freezer F-80-01 > Freezer F-80-01-U1 > R1 > B2 > A1`)."
    )
    async def path(self, info: Info[Context, None]) -> str | None:
        ctx = info.context
        names = [str(c.get("name") or "") for c in await self._chain(ctx)]
        location = await self._location(ctx)
        if location is not None:
            names.insert(0, str(location.get("name") or ""))
        return " > ".join(names)

    @strawberry.field(description="The position's temperature zone. " + TEMPERATURE_ZONE_TEXT)
    async def temperature_zone(self, info: Info[Context, None]) -> str | None:
        if "temperature_zone" in self.record:
            zone: str | None = self.record["temperature_zone"]
            return zone
        position = await self._position(info.context)
        return None if position is None else position.get("temperature_zone")

    @strawberry.field(description="The sample stored here.")
    async def sample(self, info: Info[Context, None]) -> LazySample | None:
        return await _sample_of(info, str(self.sample_id))

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> SampleStorage:
        """From the service's flat SampleLocationDetailed or from the SamplePosition that
        assign and move answer: both name the sample and its position-type container."""
        position_identifier = r.get("position_identifier") or r.get("container_name")
        sample_id = strawberry.ID(str(r["sample_id"]))
        assigned_by = r.get("assigned_by")
        return cls(
            id=sample_id,
            sample_id=sample_id,
            position_identifier=position_identifier,
            assigned_at=required(r, "assigned_at", service=SERVICE),
            storage_conditions=required(r, "storage_conditions", service=SERVICE),
            notes=r.get("notes"),
            container_id=str(r["container_id"]),
            assigned_by_id=None if assigned_by is None else str(assigned_by),
            record=r,
        )


# -- mutations: inputs and payloads ---------------------------------------------------------------


@strawberry.input(description="Place a sample in storage.")
class AssignSampleToStorageInput:
    sample_id: strawberry.ID = strawberry.field(
        description="The sample to place (it must exist in the samples service and be in "
        "no position yet)."
    )
    container_id: strawberry.ID = strawberry.field(
        description="A position, or a box (then `positionIdentifier` or its first free one)."
    )
    position_identifier: str | None = strawberry.field(
        default=None,
        description="A position of the box, by label (A1..E5, any case); null for the box's "
        "first free position. Ignored when `containerId` is a position.",
    )
    storage_conditions: JSON | None = strawberry.field(
        default=None,
        description="Caller-defined JSON stored with the placement (the storage service "
        "gives it no shape); null for `{}`.",
    )
    notes: str | None = strawberry.field(default=None, description="Free text for the placement.")


@strawberry.input(description="Move a stored sample to another position.")
class MoveSampleInput:
    sample_id: strawberry.ID = strawberry.field(description="The stored sample to move.")
    container_id: strawberry.ID = strawberry.field(
        description="A position, or a box (then `positionIdentifier` or its first free one)."
    )
    position_identifier: str | None = strawberry.field(
        default=None,
        description="A position of the box, by label (A1..E5, any case); null for the box's "
        "first free position. Ignored when `containerId` is a position.",
    )
    reason: str | None = strawberry.field(
        default=None, description="Why it moves (recorded in the chain of custody)."
    )
    notes: str | None = strawberry.field(
        default=None, description="Notes of the new placement (replace the old ones)."
    )


@strawberry.input(description="Take a sample out of storage.")
class RemoveSampleFromStorageInput:
    sample_id: strawberry.ID = strawberry.field(description="The stored sample to take out.")
    reason: str | None = strawberry.field(
        default=None,
        description="Why it is taken out (the storage service stores it as the placement's "
        "notes; `Sample removed from storage` when null).",
    )


@strawberry.type(description="The outcome of `assignSampleToStorage`.")
class AssignSampleToStoragePayload:
    sample_storage: SampleStorage | None = strawberry.field(
        default=None,
        description="Where the sample now sits; null when userErrors is not empty.",
    )
    user_errors: list[UserError] = user_errors_field()

    @strawberry.field(
        description="The placed sample (its `storage` is the new placement); null when "
        "userErrors is not empty."
    )
    async def sample(self, info: Info[Context, None]) -> LazySample | None:
        if self.sample_storage is None:
            return None
        return await _sample_of(info, str(self.sample_storage.sample_id))


@strawberry.type(description="The outcome of `moveSample`.")
class MoveSamplePayload:
    sample_storage: SampleStorage | None = strawberry.field(
        default=None,
        description="Where the sample now sits (the same `id` as before the move); null when "
        "userErrors is not empty.",
    )
    user_errors: list[UserError] = user_errors_field()
    previous_position_id: strawberry.Private[str | None] = None

    @strawberry.field(description="The moved sample; null when userErrors is not empty.")
    async def sample(self, info: Info[Context, None]) -> LazySample | None:
        if self.sample_storage is None:
            return None
        return await _sample_of(info, str(self.sample_storage.sample_id))

    @strawberry.field(
        description="The position the sample left (now free), for a client to refresh; null "
        "when userErrors is not empty."
    )
    async def previous_position(self, info: Info[Context, None]) -> StorageContainer | None:
        if self.previous_position_id is None:
            return None
        return await _container_of(info, self.previous_position_id)


@strawberry.type(description="The outcome of `removeSampleFromStorage`.")
class RemoveSampleFromStoragePayload:
    removed_sample_storage_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The `id` of the SampleStorage that no longer exists (the sample's id), "
        "for a client cache to evict; null when userErrors is not empty.",
    )
    user_errors: list[UserError] = user_errors_field()
    previous_position_id: strawberry.Private[str | None] = None

    @strawberry.field(
        description="The sample taken out (its `storage` is now null); null when userErrors "
        "is not empty."
    )
    async def sample(self, info: Info[Context, None]) -> LazySample | None:
        if self.removed_sample_storage_id is None:
            return None
        return await _sample_of(info, str(self.removed_sample_storage_id))

    @strawberry.field(
        description="The position the sample left (now free); null when userErrors is not empty."
    )
    async def previous_position(self, info: Info[Context, None]) -> StorageContainer | None:
        if self.previous_position_id is None:
            return None
        return await _container_of(info, self.previous_position_id)


def _moved_from(record: dict[str, Any]) -> str | None:
    """The position a move left, from the new placement's chain of custody."""
    custody = record.get("chain_of_custody")
    if isinstance(custody, list) and custody and isinstance(custody[-1], dict):
        found = custody[-1].get("from_container_id")
        return None if found is None else str(found)
    return None


# -- root fields ----------------------------------------------------------------------------------


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Every storage location, by name unless `orderBy` says otherwise. The "
        "storage service answers the whole list in one call, so every order costs the same.",
    )
    async def storage_locations(
        self,
        info: Info[Context, None],
        order_by: Annotated[
            StorageLocationOrder | None,
            strawberry.argument(description="The order; null for by name, A first."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> StorageLocationConnection | None:
        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        records = await storage_resolvers.locations(ctx)
        if order_by is not None and not (
            order_by.field is StorageLocationOrderField.NAME
            and order_by.direction is OrderDirection.ASC
        ):
            key = str(order_by.field.value)
            records = sort_records(records, lambda r: r.get(key), order_by.direction)
        return await StorageLocationConnection.from_list(
            records, request, StorageLocation.from_record
        )

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="One storage location by id; null when there is none.",
    )
    async def storage_location(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The location's UUID.")],
    ) -> StorageLocation | None:
        record = await storage_resolvers.location(info.context, id)
        return None if record is None else StorageLocation.from_record(record)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="One storage container by id; null when there is none.",
    )
    async def container(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The container's UUID.")],
    ) -> StorageContainer | None:
        record = await storage_resolvers.container(info.context, id)
        return None if record is None else StorageContainer.from_record(record)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="The container with this barcode (exact match); null when there is none. "
        "The storage service has no barcode look-up: the gateway reads its container list "
        "(1,000 per call, at most 10,000 containers; beyond, UPSTREAM_UNSUPPORTED) and matches the "
        "barcode itself (once per request, shared with `StorageLocation.containers`).",
    )
    async def container_by_barcode(
        self,
        info: Info[Context, None],
        barcode: Annotated[
            str, strawberry.argument(description="The container's barcode, exactly.")
        ],
    ) -> StorageContainer | None:
        record = await storage_resolvers.container_by_barcode(info.context, barcode)
        return None if record is None else StorageContainer.from_record(record)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Boxes of a temperature zone with free positions, most free first (ties "
        "newest first): where a sample can go. No upstream relates a sample type to a zone or "
        "a container (samples have a `sampleType`, storage free-text temperature zones, and "
        "no route, column or rule links them), so the caller names the zone its sample type "
        "needs. Free positions are read from each box's grid (the storage service's "
        "`occupied_count`, which `/storage/containers/available` filters on, is never "
        "decremented by a move or a removal): one list call for the zone's boxes and one grid "
        "call per box, at most 1,000 boxes (beyond, UPSTREAM_UNSUPPORTED). Boxes are listed "
        "whatever their location's status: read `location { status }` to leave out those "
        "under maintenance or offline.",
    )
    async def available_containers(
        self,
        info: Info[Context, None],
        temperature_zone: Annotated[
            str,
            strawberry.argument(
                description="The zone, exactly as storage names it (`-80C`, `-20C`, `4C`, "
                "`RT`, ...)."
            ),
        ],
        min_free_positions: Annotated[
            int,
            strawberry.argument(
                description="Only boxes with at least this many free positions (at least 1)."
            ),
        ] = 1,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> StorageContainerConnection | None:
        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        records = await storage_resolvers.available_boxes(ctx, temperature_zone, min_free_positions)
        return await StorageContainerConnection.from_list(
            records, request, StorageContainer.from_record
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[requires(rbac.WRITE_SAMPLES)],
        description="Place a sample in a free storage position. User errors: NOT_FOUND for an "
        "unknown sample or container (on `sampleId` / `containerId`) or a box without the "
        "named position; CONFLICT for an occupied position (on `positionIdentifier`, or "
        "`containerId` when it is the position), a full box, or a sample already stored (on "
        "`sampleId`); INVALID for a container that is not a position or a box.",
    )
    async def assign_sample_to_storage(
        self,
        info: Info[Context, None],
        input: Annotated[
            AssignSampleToStorageInput,
            strawberry.argument(description="The sample and where it goes."),
        ],
    ) -> AssignSampleToStoragePayload | None:
        async def work() -> AssignSampleToStoragePayload:
            record = await storage_resolvers.assign_sample(
                info.context,
                sample_id=input.sample_id,
                container_id=input.container_id,
                position_identifier=input.position_identifier,
                storage_conditions=input.storage_conditions,
                notes=input.notes,
            )
            return AssignSampleToStoragePayload(sample_storage=SampleStorage.from_record(record))

        return await attempt(AssignSampleToStoragePayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.WRITE_SAMPLES)],
        description="Move a stored sample to another free position. User errors: NOT_FOUND "
        "for a sample not in storage (on `sampleId`), an unknown container (on "
        "`containerId`) or a box without the named position; CONFLICT for an occupied "
        "position (the one it is in included) or a full box; INVALID for a container that is "
        "not a position or a box.",
    )
    async def move_sample(
        self,
        info: Info[Context, None],
        input: Annotated[
            MoveSampleInput, strawberry.argument(description="The sample and where it goes.")
        ],
    ) -> MoveSamplePayload | None:
        async def work() -> MoveSamplePayload:
            record = await storage_resolvers.move_sample(
                info.context,
                sample_id=input.sample_id,
                container_id=input.container_id,
                position_identifier=input.position_identifier,
                reason=input.reason,
                notes=input.notes,
            )
            return MoveSamplePayload(
                sample_storage=SampleStorage.from_record(record),
                previous_position_id=_moved_from(record),
            )

        return await attempt(MoveSamplePayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.DELETE_STORAGE)],
        description="Take a sample out of storage: its position becomes free and "
        "`Sample.storage` null (the storage service keeps the placement as removed, with who "
        "and why). The sample's own status is not changed. User errors: NOT_FOUND (on "
        "`sampleId`) when the sample is not in storage.",
    )
    async def remove_sample_from_storage(
        self,
        info: Info[Context, None],
        input: Annotated[
            RemoveSampleFromStorageInput,
            strawberry.argument(description="The sample to take out, and why."),
        ],
    ) -> RemoveSampleFromStoragePayload | None:
        async def work() -> RemoveSampleFromStoragePayload:
            before = await storage_resolvers.remove_sample(
                info.context, sample_id=input.sample_id, reason=input.reason
            )
            return RemoveSampleFromStoragePayload(
                removed_sample_storage_id=strawberry.ID(str(before["sample_id"])),
                previous_position_id=str(before["container_id"]),
            )

        return await attempt(RemoveSampleFromStoragePayload, work())

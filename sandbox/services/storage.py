"""The storage service as the release answers (UPSTREAMS.md, "## storage"): locations, the
container tree freezer > rack > box > position, and where each sample sits.

Successes are the struct-ordered envelope ``{"success", "data", "message", "timestamp"}``;
errors ``{"error", "timestamp"}`` with a ``+00:00`` timestamp. Occupancy follows the
hierarchical-storage migration's trigger: every assignment (a move is one) adds 1 to the
position and to each of its ancestors, and nothing ever takes it off again.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from sandbox.options import RELEASE, Options
from sandbox.store import Store
from sandbox.web import (
    ApiError,
    Rejection,
    Request,
    Response,
    Route,
    _drop_connection,
    json_response,
    now_iso,
    opt_number,
    opt_str,
    opt_uuid,
    parse_uuid,
    query_list,
    req_number,
    req_str,
    req_uuid,
)

MAX_BATCH = 1000
I32_MIN, I32_MAX = -(2**31), 2**31 - 1

# What the release's handlers say when a container (any kind) is missing (sic).
CONTAINER_NOT_FOUND = "Storage location not found"
CONTAINER_TYPES = ("freezer", "rack", "box", "position")
NESTING = {("freezer", "rack"), ("rack", "box"), ("box", "position")}


def render_error(exc: ApiError) -> Response:
    return json_response(
        {"error": exc.message, "timestamp": datetime.now(UTC).isoformat()}, exc.status
    )


def _ok(data: Any, status: int = 200) -> Response:
    return json_response(
        {"success": True, "data": data, "message": None, "timestamp": now_iso()}, status
    )


def _not_found(message: str = "Not found") -> ApiError:
    return ApiError(404, "not_found", message)


def _bad(message: str) -> ApiError:
    return ApiError(400, "validation", message)


def _database_error() -> ApiError:
    return ApiError(500, "database", "Database error occurred")


def _query_i32(req: Request, name: str, default: int) -> int:
    """An ``Option<i32>`` query parameter (negative values parse; the handler decides)."""
    raw = req.query.get(name)
    if raw is None:
        return default
    digits = raw[1:] if raw[:1] in ("+", "-") else raw
    if not digits.isdigit():
        raise Rejection(400, "Failed to deserialize query string: invalid digit found in string")
    value = int(raw)
    if not I32_MIN <= value <= I32_MAX:
        raise Rejection(
            400, "Failed to deserialize query string: number too large to fit in target type"
        )
    return value


def _query_bool(req: Request, name: str, default: bool) -> bool:
    raw = req.query.get(name)
    if raw is None:
        return default
    if raw not in ("true", "false"):
        raise Rejection(
            400, "Failed to deserialize query string: provided string was not `true` or `false`"
        )
    return raw == "true"


def _query_uuid(req: Request, name: str) -> str | None:
    raw = req.query.get(name)
    if raw is None:
        return None
    canonical = parse_uuid(raw)
    if canonical is None:
        raise Rejection(400, "Failed to deserialize query string: UUID parsing failed")
    return canonical


def _any_json(body: dict[str, Any], name: str, default: Any) -> Any:
    """An ``Option<serde_json::Value>`` field: any JSON value; absent or null is ``default``."""
    value = body.get(name)
    return default if value is None else value


class StorageService:
    def __init__(self, store: Store, options: Options = RELEASE) -> None:
        self.options = options
        self.store = store

    def routes(self) -> list[Route]:
        # Static segments first: the router tries the templates in this order.
        routes = [
            Route("GET", "/health", self.health),
            Route("POST", "/storage/locations", self.create_location),
            Route("GET", "/storage/locations", self.list_locations),
            Route("GET", "/storage/locations/{location_id:uuid}", self.get_location),
            Route("PUT", "/storage/locations/{location_id:uuid}", self.update_location),
            Route("DELETE", "/storage/locations/{location_id:uuid}", self.delete_location),
            Route("GET", "/storage/locations/{location_id:uuid}/capacity", self.capacity),
            Route("POST", "/storage/containers", self.create_container),
            Route("GET", "/storage/containers", self.list_containers),
            Route("GET", "/storage/containers/available", self.available),
            Route("GET", "/storage/containers/by-temperature/{zone}", self.by_temperature),
            Route("GET", "/storage/containers/{container_id:uuid}", self.get_container),
            Route("GET", "/storage/containers/{container_id:uuid}/hierarchy", self.hierarchy),
            Route("GET", "/storage/containers/{container_id:uuid}/grid", self.grid),
            Route("POST", "/storage/samples/assign", self.assign),
            Route("POST", "/storage/samples", self.store_sample_stub),
            Route("GET", "/storage/capacity/summary", self.capacity_summary),
            Route("GET", "/storage/utilization", self.utilization),
        ]
        if self.options.extension("storage"):
            routes.append(Route("GET", "/storage/samples/locations", self.sample_locations))
        routes += [
            Route("GET", "/storage/samples/{sample_id:uuid}", self.stub("Sample lookup")),
            Route("PUT", "/storage/samples/{sample_id:uuid}/move", self.move),
            Route(
                "GET",
                "/storage/samples/{sample_id:uuid}/location-detailed",
                self.location_detailed,
            ),
            Route("DELETE", "/storage/samples/{sample_id:uuid}/position", self.remove),
            Route(
                "GET",
                "/storage/samples/{sample_id:uuid}/location",
                self.stub("Sample location lookup"),
            ),
            Route(
                "POST",
                "/storage/samples/{sample_id:uuid}/retrieve",
                self.stub("Sample retrieval"),
            ),
        ]
        return routes

    async def health(self, req: Request) -> Response:
        return json_response(
            {"service": "enhanced-storage-service", "status": "healthy", "timestamp": now_iso()}
        )

    # -- locations ----------------------------------------------------------------------------

    def _location(self, location_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT doc FROM locations WHERE id = ?", (location_id,))
        if row is None:
            raise _not_found()
        doc: dict[str, Any] = orjson.loads(row[0])
        return doc

    def _save_location(self, doc: dict[str, Any]) -> None:
        self.store.run(
            "INSERT OR REPLACE INTO locations (id, name, created_at, doc) VALUES (?, ?, ?, ?)",
            (doc["id"], doc["name"], doc["created_at"], orjson.dumps(doc).decode()),
        )

    async def create_location(self, req: Request) -> Response:
        body = await req.json()
        name = req_str(body, "name")
        description = opt_str(body, "description")
        location_type = req_str(body, "location_type")
        zone = req_str(body, "temperature_zone")
        max_capacity = req_number(body, "max_capacity", integer=True)
        problems = []
        if not 1 <= len(name) <= 255:
            problems.append("name")
        if not location_type:
            problems.append("location_type")
        if not zone:
            problems.append("temperature_zone")
        if max_capacity < 1:
            problems.append("max_capacity")
        if problems:
            raise _bad(
                "Validation failed: "
                + "\n".join(f"{p}: Validation error: invalid [{{}}]" for p in problems)
            )
        now = now_iso()
        doc = {
            "id": str(uuid.uuid4()),
            "name": name,
            "description": description,
            "location_type": location_type,
            "temperature_zone": zone,
            "max_capacity": int(max_capacity),
            "current_capacity": 0,
            "coordinates": body.get("coordinates"),
            "status": "active",
            "metadata": _any_json(body, "metadata", {}),
            "created_at": now,
            "updated_at": now,
        }
        self._save_location(doc)
        return _ok(doc, 201)

    async def list_locations(self, req: Request) -> Response:
        # page, per_page, temperature_zone and location_type are parsed and ignored.
        _query_i32(req, "page", 1)
        _query_i32(req, "per_page", 20)
        rows = self.store.all("SELECT doc FROM locations ORDER BY name, id")
        return _ok([orjson.loads(r[0]) for r in rows])

    async def get_location(self, req: Request) -> Response:
        return _ok(self._location(req.params["location_id"]))

    async def update_location(self, req: Request) -> Response:
        body = await req.json()
        fields = {
            "name": opt_str(body, "name"),
            "description": opt_str(body, "description"),
            "location_type": opt_str(body, "location_type"),
            "temperature_zone": opt_str(body, "temperature_zone"),
            "max_capacity": opt_number(body, "max_capacity", integer=True),
            "coordinates": body.get("coordinates"),
            "status": opt_str(body, "status"),
            "metadata": body.get("metadata"),
        }
        updates = {k: v for k, v in fields.items() if v is not None}
        if not updates:
            raise _bad("No updates provided")
        doc = self._location(req.params["location_id"])
        doc.update(updates, updated_at=now_iso())
        self._save_location(doc)
        return _ok(doc)

    async def delete_location(self, req: Request) -> Response:
        location_id = req.params["location_id"]
        held = self.store.value(
            "SELECT count(*) FROM containers WHERE json_extract(doc, '$.location_id') = ?",
            (location_id,),
        )
        if held:
            raise _bad("Cannot delete location with existing containers")
        if not self.store.run("DELETE FROM locations WHERE id = ?", (location_id,)):
            raise _not_found()
        return _ok("Location deleted successfully")

    async def capacity(self, req: Request) -> Response:
        doc = self._location(req.params["location_id"])
        maximum, used = doc["max_capacity"], doc["current_capacity"]
        ratio = used / maximum if maximum > 0 else 0.0
        status = "critical" if ratio > 0.95 else "warning" if ratio > 0.8 else "normal"
        return _ok(
            {
                "location_id": doc["id"],
                "max_capacity": maximum,
                "current_capacity": used,
                "utilization_percentage": ratio * 100.0,
                "available_capacity": maximum - used,
                "status": status,
            }
        )

    # -- containers ---------------------------------------------------------------------------

    @staticmethod
    def _doc(doc_text: str, occupied: int) -> dict[str, Any]:
        doc: dict[str, Any] = orjson.loads(doc_text)
        doc["occupied_count"] = occupied
        return doc

    def _container(self, container_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT doc, occupied FROM containers WHERE id = ?", (container_id,))
        if row is None:
            raise _not_found(CONTAINER_NOT_FOUND)
        return self._doc(row[0], row[1])

    def _children(self, container_id: str) -> list[dict[str, Any]]:
        rows = self.store.all(
            "SELECT doc, occupied FROM containers WHERE parent_id = ? ORDER BY name, id",
            (container_id,),
        )
        return [self._doc(r[0], r[1]) for r in rows]

    def _chain(self, container: dict[str, Any]) -> list[dict[str, Any]]:
        """The container and every container above it, innermost first."""
        chain = [container]
        while chain[-1].get("parent_container_id"):
            chain.append(self._container(chain[-1]["parent_container_id"]))
        return chain

    async def create_container(self, req: Request) -> Response:
        body = await req.json()
        name = req_str(body, "name")
        kind = req_str(body, "container_type")
        capacity = req_number(body, "capacity", integer=True)
        parent_id = opt_uuid(body, "parent_container_id")
        location_id = opt_uuid(body, "location_id")
        barcode = opt_str(body, "barcode")
        problems = [
            p
            for p, bad in (
                ("name", not 1 <= len(name) <= 255),
                ("container_type", not kind),
                ("capacity", capacity < 1),
            )
            if bad
        ]
        if problems:
            raise _bad(
                "Validation failed: "
                + "\n".join(f"{p}: Validation error: invalid [{{}}]" for p in problems)
            )
        if kind not in CONTAINER_TYPES:
            raise _bad("Invalid container type")
        root_location = location_id or ""
        if parent_id is not None:
            parent = self._container(parent_id)
            if (parent["container_type"], kind) not in NESTING:
                raise _bad(f"Invalid hierarchy: {parent['container_type']} cannot contain {kind}")
            root_location = self.store.value(
                "SELECT location_id FROM containers WHERE id = ?", (parent_id,)
            )
        if (
            location_id is not None
            and self.store.one("SELECT 1 FROM locations WHERE id = ?", (location_id,)) is None
        ):
            raise _database_error()  # the foreign key
        if barcode is not None and self.store.one(
            "SELECT 1 FROM containers WHERE json_extract(doc, '$.barcode') = ?", (barcode,)
        ):
            raise _database_error()  # the unique index
        now = now_iso()
        doc = {
            "id": str(uuid.uuid4()),
            "name": name,
            "container_type": kind,
            "parent_container_id": parent_id,
            "location_id": location_id,
            "grid_position": body.get("grid_position"),
            "dimensions": body.get("dimensions"),
            "capacity": int(capacity),
            "occupied_count": 0,
            "temperature_zone": opt_str(body, "temperature_zone"),
            "barcode": barcode,
            "description": opt_str(body, "description"),
            "status": "active",
            "installation_date": None,
            "last_maintenance_date": None,
            "next_maintenance_date": None,
            "container_metadata": _any_json(body, "container_metadata", {}),
            "access_restrictions": _any_json(body, "access_restrictions", {}),
            "created_at": now,
            "updated_at": now,
            "created_by": None,
        }
        self.store.run(
            "INSERT INTO containers (id, location_id, parent_id, container_type, name, occupied, "
            "created_at, doc) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
            (doc["id"], root_location, parent_id, kind, name, now, orjson.dumps(doc).decode()),
        )
        return _ok(doc, 201)

    async def list_containers(self, req: Request) -> Response:
        page = _query_i32(req, "page", 1)
        per_page = _query_i32(req, "per_page", 20)
        where: list[str] = []
        params: list[Any] = []
        for name, column in (
            ("container_type", "container_type"),
            ("temperature_zone", "json_extract(doc, '$.temperature_zone')"),
            ("parent_id", "parent_id"),
            ("status", "json_extract(doc, '$.status')"),
        ):
            value = _query_uuid(req, name) if name == "parent_id" else req.query.get(name)
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if per_page == 0:
            # total_pages divides by per_page: the handler panics.
            await _drop_connection(req.receive)
            return json_response(None, 500)
        if page < 1 or per_page < 0:
            raise _database_error()  # a negative OFFSET or LIMIT
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.store.all(
            f"SELECT doc, occupied FROM containers{clause} "
            "ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
            [*params, per_page, (page - 1) * per_page],
        )
        if self.options.fixed("storage-container-totals"):
            total = self.store.value(f"SELECT count(*) FROM containers{clause}", params)
        else:
            total = self.store.value("SELECT count(*) FROM containers")
        pages = math.ceil(total / per_page)
        return _ok(
            {
                "data": [self._doc(r[0], r[1]) for r in rows],
                "pagination": {
                    "page": page,
                    "per_page": per_page,
                    "total_pages": pages,
                    "total_items": total,
                    "has_next": page < pages,
                    "has_prev": page > 1,
                },
            }
        )

    def _active_in(self, container_id: str) -> list[dict[str, Any]]:
        rows = self.store.all(
            "SELECT doc FROM sample_locations WHERE container_id = ?", (container_id,)
        )
        return [orjson.loads(r[0]) for r in rows]

    async def get_container(self, req: Request) -> Response:
        include_samples = _query_bool(req, "include_samples", True)
        container = self._container(req.params["container_id"])
        children = self._children(container["id"])
        samples = self._active_in(container["id"]) if include_samples else []
        capacity, occupied = container["capacity"], container["occupied_count"]
        ratio = occupied / capacity if capacity > 0 else 0.0
        return _ok(
            {
                "container": container,
                "children": children,
                "samples": samples,
                "capacity_info": {
                    "total_capacity": capacity,
                    "occupied_count": occupied,
                    "available_count": capacity - occupied,
                    "utilization_percentage": ratio * 100.0,
                    "capacity_status": "critical"
                    if ratio >= 0.95
                    else "warning"
                    if ratio >= 0.8
                    else "normal",
                    "child_containers_count": len(children),
                    "direct_samples_count": len(samples),
                },
            }
        )

    async def hierarchy(self, req: Request) -> Response:
        max_depth = _query_i32(req, "max_depth", 10)
        row = self.store.one(
            "SELECT doc, occupied FROM containers WHERE id = ?", (req.params["container_id"],)
        )
        if row is None:
            return _ok([])
        level = [(self._doc(row[0], row[1]), 1, [orjson.loads(row[0])["name"]])]
        rows: list[dict[str, Any]] = []
        while level:
            following: list[tuple[dict[str, Any], int, list[str]]] = []
            for container, depth, path in level:
                rows.append(_hierarchy_row(container, depth, path))
                if depth < max_depth:
                    following.extend(
                        (child, depth + 1, [*path, child["name"]])
                        for child in self._children(container["id"])
                    )
            level = following
        rows.sort(key=lambda r: (r["level"], r["name"]))
        return _ok(rows)

    async def grid(self, req: Request) -> Response:
        include_empty = _query_bool(req, "include_empty", True)
        container = self._container(req.params["container_id"])
        held = {
            r[0]: orjson.loads(r[1])
            for r in self.store.all(
                "SELECT sl.container_id, sl.doc FROM sample_locations sl "
                "JOIN containers c ON c.id = sl.container_id WHERE c.parent_id = ?",
                (container["id"],),
            )
        }
        positions = []
        for child in self._children(container["id"]):
            if child["container_type"] != "position":
                continue
            assignment = held.get(child["id"])
            if assignment is None and not include_empty:
                continue
            grid = child.get("grid_position")
            if grid is None:
                raise _database_error()  # a NULL grid_position fails to decode
            if not isinstance(grid, dict):
                continue
            positions.append(
                {
                    "container_id": child["id"],
                    "position_identifier": child["name"],
                    "row": int(grid.get("row") or 1),
                    "column": int(grid.get("column") or 1),
                    "is_occupied": assignment is not None,
                    "sample_id": assignment["sample_id"] if assignment else None,
                    "sample_barcode": None,
                    "sample_type": None,
                    "status": assignment["status"] if assignment else "available",
                    "temperature_zone": child.get("temperature_zone"),
                }
            )
        positions.sort(key=lambda p: (p["row"], p["column"]))
        return _ok(
            {
                "container_id": container["id"],
                "container_name": container["name"],
                "container_type": container["container_type"],
                "grid_dimensions": {
                    "rows": max((p["row"] for p in positions), default=0),
                    "columns": max((p["column"] for p in positions), default=0),
                    "total_positions": len(positions),
                },
                "positions": positions,
            }
        )

    async def available(self, req: Request) -> Response:
        kind = req.query.get("container_type", "position")
        zone = req.query.get("temperature_zone")
        sql = "SELECT doc, occupied FROM containers WHERE container_type = ?"
        params: list[Any] = [kind]
        if zone is not None:
            sql += " AND json_extract(doc, '$.temperature_zone') = ?"
            params.append(zone)
        docs = [self._doc(r[0], r[1]) for r in self.store.all(sql + " ORDER BY rowid", params)]
        docs = [d for d in docs if d["occupied_count"] < d["capacity"]]
        docs.sort(key=lambda d: d["occupied_count"] - d["capacity"])
        return _ok(docs)

    async def by_temperature(self, req: Request) -> Response:
        rows = self.store.all(
            "SELECT doc, occupied FROM containers "
            "WHERE json_extract(doc, '$.temperature_zone') = ? ORDER BY name, id",
            (req.params["zone"],),
        )
        return _ok([self._doc(r[0], r[1]) for r in rows])

    async def capacity_summary(self, req: Request) -> Response:
        if not self.options.fixed("storage-capacity-summary"):
            raise _database_error()  # ROUND(double precision, integer) does not exist
        summary = []
        for doc_text, occupied in self.store.all("SELECT doc, occupied FROM containers"):
            doc = self._doc(doc_text, occupied)
            ratio = occupied / doc["capacity"]
            summary.append(
                {
                    "id": doc["id"],
                    "name": doc["name"],
                    "container_type": doc["container_type"],
                    "capacity": doc["capacity"],
                    "occupied_count": occupied,
                    "available_count": doc["capacity"] - occupied,
                    "utilization_percentage": round(ratio * 100.0, 2),
                    "capacity_status": "critical"
                    if ratio >= 0.95
                    else "warning"
                    if ratio >= 0.8
                    else "normal",
                    "temperature_zone": doc.get("temperature_zone"),
                    "status": doc["status"],
                    "created_at": doc["created_at"],
                    "updated_at": doc["updated_at"],
                }
            )
        summary.sort(key=lambda s: -s["utilization_percentage"])
        return _ok(summary)

    async def utilization(self, req: Request) -> Response:
        if not self.options.fixed("storage-capacity-summary"):
            raise _database_error()  # ROUND(double precision, integer) does not exist
        by_type: dict[str, list[int]] = {}
        for kind, capacity, occupied in self.store.all(
            "SELECT container_type, json_extract(doc, '$.capacity'), occupied FROM containers"
        ):
            sums = by_type.setdefault(kind, [0, 0])
            sums[0] += capacity
            sums[1] += occupied
        total = sum(s[0] for s in by_type.values())
        used = sum(s[1] for s in by_type.values())
        return _ok(
            {
                "by_container_type": [
                    {
                        "container_type": kind,
                        "total_capacity": c,
                        "total_occupied": o,
                        "utilization_percentage": round(100.0 * o / c, 2) if c else None,
                    }
                    for kind, (c, o) in sorted(by_type.items())
                ],
                "overall": {
                    "total_available": total - used,
                    "total_capacity": total,
                    "total_occupied": used,
                    "utilization_percentage": 100.0 * used / total if total else 0.0,
                },
            }
        )

    # -- samples ------------------------------------------------------------------------------

    def _placement(self, sample_id: str) -> dict[str, Any] | None:
        row = self.store.one("SELECT doc FROM sample_locations WHERE sample_id = ?", (sample_id,))
        return None if row is None else dict(orjson.loads(row[0]))

    def _occupy(self, position: dict[str, Any]) -> None:
        """The migration's trigger on INSERT: +1 on the position and every ancestor."""
        ids = [c["id"] for c in self._chain(position)]
        marks = ",".join("?" * len(ids))
        self.store.run(f"UPDATE containers SET occupied = occupied + 1 WHERE id IN ({marks})", ids)

    def _write_placement(self, doc: dict[str, Any], position: dict[str, Any]) -> None:
        root = self.store.value(
            "SELECT location_id FROM containers WHERE id = ?", (position["id"],)
        )
        with self.store.transaction():
            self.store.run("DELETE FROM sample_locations WHERE sample_id = ?", (doc["sample_id"],))
            self.store.run(
                "INSERT INTO sample_locations (sample_id, container_id, location_id, doc) "
                "VALUES (?, ?, ?, ?)",
                (doc["sample_id"], position["id"], root or "", orjson.dumps(doc).decode()),
            )
            self._occupy(position)

    async def assign(self, req: Request) -> Response:
        body = await req.json()
        sample_id = req_uuid(body, "sample_id")
        container_id = req_uuid(body, "container_id")
        position_identifier = opt_str(body, "position_identifier")
        assigned_by = opt_uuid(body, "assigned_by")
        notes = opt_str(body, "notes")
        position = self._container(container_id)
        if position["container_type"] != "position":
            raise _bad("Can only assign samples to position-type containers")
        if self._active_in(container_id):
            raise _bad("Position is already occupied")
        if self._placement(sample_id) is not None:
            raise _bad("Sample is already assigned to another position")
        now = now_iso()
        custody = [
            {
                "action": "assigned",
                "assigned_by": assigned_by,
                "container_id": container_id,
                "timestamp": now,
            }
        ]
        doc = _sample_position(
            sample_id,
            container_id,
            position_identifier,
            assigned_by,
            _any_json(body, "storage_conditions", {}),
            _any_json(body, "special_requirements", {}),
            custody,
            notes,
            now,
        )
        self._write_placement(doc, position)
        return _ok(doc, 201)

    async def move(self, req: Request) -> Response:
        body = await req.json()
        sample_id = req.params["sample_id"]
        new_container_id = req_uuid(body, "new_container_id")
        position_identifier = opt_str(body, "new_position_identifier")
        moved_by = opt_uuid(body, "moved_by")
        reason = opt_str(body, "reason")
        notes = opt_str(body, "notes")
        current = self._placement(sample_id)
        if current is None:
            raise _not_found("Sample not found")
        position = self._container(new_container_id)
        if position["container_type"] != "position":
            raise _bad("Can only move samples to position-type containers")
        if self._active_in(new_container_id):
            raise _bad("New position is already occupied")
        now = now_iso()
        custody = [
            *current.get("chain_of_custody", []),
            {
                "action": "moved",
                "from_container_id": current["container_id"],
                "moved_by": moved_by,
                "reason": reason,
                "timestamp": now,
                "to_container_id": new_container_id,
            },
        ]
        doc = _sample_position(
            sample_id,
            new_container_id,
            position_identifier,
            moved_by,
            current.get("storage_conditions", {}),
            current.get("special_requirements", {}),
            custody,
            notes,
            now,
        )
        self._write_placement(doc, position)
        return _ok(doc)

    def _detailed(self, assignment: dict[str, Any]) -> dict[str, Any]:
        position = self._container(assignment["container_id"])
        path = [c["name"] for c in reversed(self._chain(position))]
        location = None
        if position.get("location_id"):
            location = self._location(position["location_id"])
        return {
            "position_id": assignment["id"],
            "sample_id": assignment["sample_id"],
            "position_identifier": assignment.get("position_identifier"),
            "assigned_at": assignment["assigned_at"],
            "assigned_by": assignment.get("assigned_by"),
            "position_status": assignment["status"],
            "storage_conditions": assignment.get("storage_conditions", {}),
            "special_requirements": assignment.get("special_requirements", {}),
            "notes": assignment.get("notes"),
            "container_id": position["id"],
            "container_name": position["name"],
            "container_type": position["container_type"],
            "container_barcode": position.get("barcode"),
            "temperature_zone": position.get("temperature_zone"),
            "full_path": " > ".join(path),
            "level": len(path),
            "path": path,
            "location_name": location["name"] if location else None,
            "location_zone_type": location["location_type"] if location else None,
        }

    async def location_detailed(self, req: Request) -> Response:
        assignment = self._placement(req.params["sample_id"])
        return _ok(None if assignment is None else self._detailed(assignment))

    async def remove(self, req: Request) -> Response:
        sample_id = req.params["sample_id"]
        if not self.store.run("DELETE FROM sample_locations WHERE sample_id = ?", (sample_id,)):
            raise _not_found("Sample not found")
        return _ok("Sample removed from storage successfully")

    async def sample_locations(self, req: Request) -> Response:
        """[extension] ``?sample_ids=a,b``: ``location-detailed`` for many samples, in the
        order asked, samples not in storage absent."""
        ids = query_list(req, "sample_ids")
        if ids is None:
            raise _bad("Query parameter sample_ids is required")
        if len(ids) > MAX_BATCH:
            raise _bad(f"At most {MAX_BATCH} sample ids per request")
        canonical = [parse_uuid(i) for i in ids]
        if any(c is None for c in canonical):
            raise Rejection(400, "Failed to deserialize query string: UUID parsing failed")
        wanted = list(dict.fromkeys(c for c in canonical if c is not None))
        if not wanted:
            return _ok([])
        rows = self.store.all(
            f"SELECT sample_id, doc FROM sample_locations "
            f"WHERE sample_id IN ({','.join('?' * len(wanted))})",
            wanted,
        )
        found = {r[0]: orjson.loads(r[1]) for r in rows}
        return _ok([self._detailed(found[i]) for i in wanted if i in found])

    async def store_sample_stub(self, req: Request) -> Response:
        body = await req.json()
        req_str(body, "barcode")
        req_str(body, "sample_type")
        return _ok("Sample storage not yet implemented", 501)

    @staticmethod
    def stub(what: str) -> Any:
        async def handler(req: Request) -> Response:
            return _ok(f"{what} not yet implemented")

        return handler


def _hierarchy_row(container: dict[str, Any], level: int, path: list[str]) -> dict[str, Any]:
    return {
        "id": container["id"],
        "name": container["name"],
        "container_type": container["container_type"],
        "parent_container_id": container.get("parent_container_id"),
        "location_id": container.get("location_id"),
        "grid_position": container.get("grid_position"),
        "capacity": container["capacity"],
        "occupied_count": container["occupied_count"],
        "temperature_zone": container.get("temperature_zone"),
        "barcode": container.get("barcode"),
        "status": container["status"],
        "level": level,
        "path": path,
        "full_path": " > ".join(path),
    }


def _sample_position(
    sample_id: str,
    container_id: str,
    position_identifier: str | None,
    assigned_by: str | None,
    storage_conditions: Any,
    special_requirements: Any,
    custody: list[dict[str, Any]],
    notes: str | None,
    now: str,
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "sample_id": sample_id,
        "container_id": container_id,
        "position_identifier": position_identifier,
        "assigned_at": now,
        "assigned_by": assigned_by,
        "removed_at": None,
        "removed_by": None,
        "status": "occupied",
        "reservation_expires_at": None,
        "storage_conditions": storage_conditions,
        "special_requirements": special_requirements,
        "chain_of_custody": custody,
        "position_metadata": {},
        "notes": notes,
        "created_at": now,
        "updated_at": now,
    }

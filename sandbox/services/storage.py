"""The storage service: locations, the container tree freezer > rack > box > position, and
where each sample sits. Envelope ``{"success", "data", "message", "timestamp"}``; errors
``{"error": str, "timestamp"}``."""

from __future__ import annotations

import math
import uuid
from typing import Any

import orjson

from sandbox.options import RELEASE, Options
from sandbox.store import Store
from sandbox.web import (
    ApiError,
    Request,
    Response,
    Route,
    json_response,
    now_iso,
    opt_object,
    opt_str,
    parse_uuid,
    query_int,
    query_list,
    req_uuid,
)

MAX_PER_PAGE = 100
MAX_BATCH = 1000


def render_error(exc: ApiError) -> Response:
    return json_response({"error": exc.message, "timestamp": now_iso()}, exc.status)


def _ok(data: Any, message: str | None = None, status: int = 200) -> Response:
    return json_response(
        {"success": True, "data": data, "message": message, "timestamp": now_iso()}, status
    )


class StorageService:
    def __init__(self, store: Store, options: Options = RELEASE) -> None:
        self.options = options
        self.store = store

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/health", self.health),
            Route("GET", "/storage/locations", self.list_locations),
            Route("GET", "/storage/locations/{id:uuid}", self.get_location),
            Route("GET", "/storage/locations/{id:uuid}/capacity", self.capacity),
            Route("GET", "/storage/containers", self.list_containers),
            Route("GET", "/storage/containers/{id:uuid}", self.get_container),
            Route("GET", "/storage/containers/{id:uuid}/hierarchy", self.hierarchy),
            Route("POST", "/storage/samples/assign", self.assign),
            Route("GET", "/storage/samples/locations", self.sample_locations),
            Route("PUT", "/storage/samples/{sample_id:uuid}/move", self.move),
            Route(
                "GET", "/storage/samples/{sample_id:uuid}/location-detailed", self.location_detailed
            ),
        ]

    async def health(self, req: Request) -> Response:
        return json_response({"status": "healthy", "service": "storage-service", "database": "ok"})

    # -- locations ----------------------------------------------------------------------------

    def _location(self, location_id: str, used: int | None = None) -> dict[str, Any]:
        row = self.store.one("SELECT doc FROM locations WHERE id = ?", (location_id,))
        if row is None:
            raise ApiError(404, "not_found", f"Storage location not found: {location_id}")
        doc: dict[str, Any] = orjson.loads(row[0])
        if used is None:
            used = self.store.value(
                "SELECT count(*) FROM sample_locations WHERE location_id = ?", (location_id,)
            )
        doc["current_capacity"] = used
        return doc

    async def list_locations(self, req: Request) -> Response:
        used = dict(self.store.all("SELECT location_id, count(*) FROM sample_locations GROUP BY 1"))
        docs = []
        for (doc_text,) in self.store.all("SELECT doc FROM locations ORDER BY name, id"):
            doc = orjson.loads(doc_text)
            doc["current_capacity"] = used.get(doc["id"], 0)
            docs.append(doc)
        return _ok(docs)

    async def get_location(self, req: Request) -> Response:
        return _ok(self._location(req.params["id"]))

    async def capacity(self, req: Request) -> Response:
        doc = self._location(req.params["id"])
        maximum = doc["max_capacity"]
        used = doc["current_capacity"]
        utilization = round(100.0 * used / maximum, 2) if maximum else 0.0
        if doc["status"] != "active":
            status = doc["status"]
        elif utilization >= 95:
            status = "critical"
        elif utilization >= 80:
            status = "warning"
        else:
            status = "normal"
        return _ok(
            {
                "location_id": doc["id"],
                "max_capacity": maximum,
                "current_capacity": used,
                "utilization_percentage": utilization,
                "available_capacity": max(maximum - used, 0),
                "status": status,
            }
        )

    # -- containers ---------------------------------------------------------------------------

    @staticmethod
    def _container_doc(doc_text: str, occupied: int) -> dict[str, Any]:
        doc: dict[str, Any] = orjson.loads(doc_text)
        doc["occupied_count"] = occupied
        return doc

    def _container(self, container_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT doc, occupied FROM containers WHERE id = ?", (container_id,))
        if row is None:
            raise ApiError(404, "not_found", f"Container not found: {container_id}")
        return self._container_doc(row[0], row[1])

    async def list_containers(self, req: Request) -> Response:
        page = query_int(req, "page", 1)
        per_page = query_int(req, "per_page", query_int(req, "limit", 20), high=MAX_PER_PAGE)
        where: list[str] = []
        params: list[Any] = []
        for name, column in (
            ("container_type", "container_type"),
            ("location_id", "location_id"),
            ("parent_container_id", "parent_id"),
        ):
            value = req.query.get(name)
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        total = self.store.value(f"SELECT count(*) FROM containers{clause}", params)
        rows = self.store.all(
            f"SELECT doc, occupied FROM containers{clause} ORDER BY rowid LIMIT ? OFFSET ?",
            [*params, per_page, (page - 1) * per_page],
        )
        pages = math.ceil(total / per_page)
        return _ok(
            {
                "data": [self._container_doc(r[0], r[1]) for r in rows],
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

    async def get_container(self, req: Request) -> Response:
        return _ok(self._container(req.params["id"]))

    def _ancestors(self, container: dict[str, Any]) -> list[dict[str, Any]]:
        """The chain above a container, innermost first."""
        chain = []
        parent_id = container.get("parent_container_id")
        while parent_id:
            parent = self._container(parent_id)
            chain.append(parent)
            parent_id = parent.get("parent_container_id")
        return chain

    async def hierarchy(self, req: Request) -> Response:
        container = self._container(req.params["id"])
        children = [
            self._container_doc(r[0], r[1])
            for r in self.store.all(
                "SELECT doc, occupied FROM containers WHERE parent_id = ? ORDER BY rowid",
                (container["id"],),
            )
        ]
        ancestors = self._ancestors(container)
        return _ok(
            {
                "container": container,
                "ancestors": list(reversed(ancestors)),
                "children": children,
                "location": self._location(container["location_id"]),
                "path": " > ".join(c["name"] for c in [*reversed(ancestors), container]),
            }
        )

    # -- samples ------------------------------------------------------------------------------

    def _target_position(self, container_id: str, position: str | None) -> dict[str, Any]:
        container = self._container(container_id)
        if container["container_type"] == "position":
            return container
        if container["container_type"] != "box":
            raise ApiError(
                400, "validation_error", "Samples are placed in a box position or a position"
            )
        if position:
            row = self.store.one(
                "SELECT doc, occupied FROM containers WHERE parent_id = ? AND name = ?",
                (container_id, position.strip().upper()),
            )
            if row is None:
                raise ApiError(
                    400, "validation_error", f"No position {position} in box {container['name']}"
                )
        else:
            row = self.store.one(
                "SELECT doc, occupied FROM containers WHERE parent_id = ? AND occupied = 0 "
                "ORDER BY rowid LIMIT 1",
                (container_id,),
            )
            if row is None:
                raise ApiError(409, "conflict", f"Box {container['name']} is full")
        return self._container_doc(row[0], row[1])

    def _shift(self, position: dict[str, Any], delta: int) -> None:
        ids = [position["id"], *(c["id"] for c in self._ancestors(position))]
        marks = ",".join("?" * len(ids))
        self.store.run(
            f"UPDATE containers SET occupied = occupied + ? WHERE id IN ({marks})",
            [delta, *ids],
        )

    def _placement(self, sample_id: str) -> dict[str, Any] | None:
        row = self.store.one("SELECT doc FROM sample_locations WHERE sample_id = ?", (sample_id,))
        return None if row is None else dict(orjson.loads(row[0]))

    async def assign(self, req: Request) -> Response:
        body = await req.json()
        sample_id = req_uuid(body, "sample_id")
        container_id = req_uuid(body, "container_id")
        position_identifier = opt_str(body, "position_identifier")
        assigned_by = opt_str(body, "assigned_by")
        conditions = opt_object(body, "storage_conditions")
        notes = opt_str(body, "notes")
        if self._placement(sample_id) is not None:
            raise ApiError(409, "conflict", f"Sample {sample_id} is already stored; move it")
        position = self._target_position(container_id, position_identifier)
        if position["occupied_count"]:
            raise ApiError(409, "conflict", f"Position {position['name']} is already occupied")
        assignment = {
            "id": str(uuid.uuid4()),
            "sample_id": sample_id,
            "container_id": position["id"],
            "location_id": position["location_id"],
            "position_identifier": position["name"],
            "assigned_at": now_iso(),
            "assigned_by": assigned_by,
            "storage_conditions": conditions,
            "notes": notes,
            "status": "stored",
        }
        with self.store.transaction():
            self.store.run(
                "INSERT INTO sample_locations (sample_id, container_id, location_id, doc) "
                "VALUES (?, ?, ?, ?)",
                (
                    sample_id,
                    position["id"],
                    position["location_id"],
                    orjson.dumps(assignment).decode(),
                ),
            )
            self._shift(position, 1)
        return _ok(assignment, "Sample assigned to storage", 201)

    async def move(self, req: Request) -> Response:
        body = await req.json()
        sample_id = req.params["sample_id"]
        new_container_id = req_uuid(body, "new_container_id")
        position_identifier = opt_str(body, "new_position_identifier")
        moved_by = opt_str(body, "moved_by")
        reason = opt_str(body, "reason")
        notes = opt_str(body, "notes")
        assignment = self._placement(sample_id)
        if assignment is None:
            raise ApiError(404, "not_found", f"Sample {sample_id} is not in storage")
        old_position = self._container(assignment["container_id"])
        new_position = self._target_position(new_container_id, position_identifier)
        if new_position["id"] == old_position["id"]:
            raise ApiError(400, "validation_error", "Sample is already at that position")
        if new_position["occupied_count"]:
            raise ApiError(409, "conflict", f"Position {new_position['name']} is already occupied")
        moves = list(assignment.get("moves") or [])
        moves.append(
            {
                "from_container_id": old_position["id"],
                "to_container_id": new_position["id"],
                "moved_by": moved_by,
                "reason": reason,
                "notes": notes,
                "moved_at": now_iso(),
            }
        )
        assignment.update(
            container_id=new_position["id"],
            location_id=new_position["location_id"],
            position_identifier=new_position["name"],
            moves=moves,
        )
        with self.store.transaction():
            self.store.run(
                "UPDATE sample_locations SET container_id = ?, location_id = ?, doc = ? "
                "WHERE sample_id = ?",
                (
                    new_position["id"],
                    new_position["location_id"],
                    orjson.dumps(assignment).decode(),
                    sample_id,
                ),
            )
            self._shift(old_position, -1)
            self._shift(new_position, 1)
        return _ok(assignment, "Sample moved")

    def _detailed(self, assignment: dict[str, Any]) -> dict[str, Any]:
        position = self._container(assignment["container_id"])
        chain = self._ancestors(position)
        location = self._location(position["location_id"])
        names = [location["name"], *(c["name"] for c in reversed(chain)), position["name"]]
        return {
            "sample_id": assignment["sample_id"],
            "assignment": assignment,
            "position": position,
            "container_chain": chain,
            "location": location,
            "storage_path": " > ".join(names),
            "temperature_zone": location["temperature_zone"],
        }

    async def location_detailed(self, req: Request) -> Response:
        sample_id = req.params["sample_id"]
        assignment = self._placement(sample_id)
        if assignment is None:
            raise ApiError(404, "not_found", f"Sample {sample_id} is not in storage")
        return _ok(self._detailed(assignment))

    async def sample_locations(self, req: Request) -> Response:
        container_ids = query_list(req, "container_ids")
        if container_ids is not None:
            return self._samples_in_containers(container_ids)
        ids = query_list(req, "sample_ids")
        if ids is None:
            raise ApiError(400, "validation_error", "Query parameter sample_ids is required")
        if len(ids) > MAX_BATCH:
            raise ApiError(400, "validation_error", f"At most {MAX_BATCH} sample ids per request")
        canonical = [parse_uuid(i) for i in ids]
        if any(c is None for c in canonical):
            raise ApiError(400, "validation_error", "Malformed sample id in sample_ids")
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

    def _samples_in_containers(self, ids: list[str]) -> Response:
        """[extension] ``?container_ids=``: every sample placed in these containers or anywhere
        beneath them, in the ``sample_ids`` answer's shape (its position and container chain
        say which of the asked containers holds it)."""
        if len(ids) > MAX_BATCH:
            raise ApiError(
                400, "validation_error", f"At most {MAX_BATCH} container ids per request"
            )
        canonical = [parse_uuid(i) for i in ids]
        if any(c is None for c in canonical):
            raise ApiError(400, "validation_error", "Malformed container id in container_ids")
        wanted = list(dict.fromkeys(c for c in canonical if c is not None))
        if not wanted:
            return _ok([])
        rows = self.store.all(
            "WITH RECURSIVE below(id) AS ("
            f" SELECT id FROM containers WHERE id IN ({','.join('?' * len(wanted))})"
            " UNION SELECT c.id FROM containers c JOIN below b ON c.parent_id = b.id)"
            " SELECT sl.doc FROM sample_locations sl JOIN below b ON sl.container_id = b.id"
            " ORDER BY sl.rowid",
            wanted,
        )
        return _ok([self._detailed(orjson.loads(r[0])) for r in rows])

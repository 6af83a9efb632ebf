"""The seven service clients: each service's routes as plain async methods.

Every method takes the ``CallContext`` first, returns plain dicts (snake_case keys as on the
wire, enums canonical, timestamps parsed) and raises the ``upstreams.errors`` tree.
``get_many`` answers a list aligned with the ids asked for (None where there is none): one
call through the batch filter when the config allows it, else a de-duplicated fan-out of
single GETs whose concurrency the bulkhead caps.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from upstreams.client import UpstreamClient
from upstreams.config import CallContext
from upstreams.errors import UpstreamNotFound
from upstreams.normalize import OPAQUE_KEYS, to_pascal

# The batch filters take at most this many ids per request (UPSTREAMS.md).
MAX_BATCH_IDS = 1000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Record = dict[str, Any]
Records = list[Record]
MaybeRecords = list[Record | None]
Ids = list[str]
JobsPerSample = list[Records]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list endpoint, whatever the service calls its fields."""

    items: list[Record]
    total_count: int
    page: int
    page_size: int

    @property
    def total_pages(self) -> int:
        return -(-self.total_count // self.page_size) if self.page_size else 0


def _seg(value: object) -> str:
    """One path segment: an id from a client must not walk the upstream's routes."""
    return quote(str(value), safe="")


def _pascal(data: Any, keys: frozenset[str]) -> Any:
    """Write enums the way the PascalCase services want them, recursively."""
    if isinstance(data, list):
        return [_pascal(item, keys) for item in data]
    if not isinstance(data, dict):
        return data
    return {
        k: to_pascal(v)
        if k in keys and isinstance(v, str)
        else v
        if k in OPAQUE_KEYS
        else _pascal(v, keys)
        for k, v in data.items()
    }


def _key(value: object) -> str | None:
    """The canonical form of an id, or None when it is not a UUID (and so cannot exist)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _unique(ids: Iterable[str]) -> list[str]:
    return [k for k in dict.fromkeys(_key(i) for i in ids) if k is not None]


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _list_of(payload: Any, key: str) -> list[Record]:
    if isinstance(payload, dict):
        payload = payload.get(key, payload.get("data", []))
    return list(payload) if isinstance(payload, list) else []


def _aligned(ids: Sequence[str], found: Mapping[str, Any]) -> list[Any]:
    return [found.get(k) if (k := _key(i)) is not None else None for i in ids]


async def fan_out(
    keys: Sequence[K], fetch: Callable[[K], Awaitable[V]], *, width: int
) -> list[V | None]:
    """``fetch`` once per distinct key, at most ``width`` at a time, aligned with ``keys``;
    a 404 is None. The first other error is raised once every fetch has finished."""
    distinct = list(dict.fromkeys(keys))
    gate = asyncio.Semaphore(width)

    async def one(key: K) -> V | None:
        async with gate:
            try:
                return await fetch(key)
            except UpstreamNotFound:
                return None

    results = await asyncio.gather(*(one(k) for k in distinct), return_exceptions=True)
    found: dict[K, V | None] = {}
    for key, result in zip(distinct, results, strict=True):
        if isinstance(result, BaseException):
            raise result
        found[key] = result
    return [found[k] for k in keys]


async def _fan_out(
    client: UpstreamClient,
    ids: Sequence[str],
    fetch: Callable[[str], Awaitable[Any]],
) -> list[Any]:
    """``fan_out`` over the distinct canonical ids, capped at the bulkhead's width."""
    distinct = _unique(ids)
    results = await fan_out(distinct, fetch, width=client.config.bulkhead.max_concurrency)
    return _aligned(ids, dict(zip(distinct, results, strict=True)))


async def _batched(
    client: UpstreamClient,
    ids: Sequence[str],
    fetch: Callable[[list[str]], Awaitable[list[Record]]],
    key: str = "id",
) -> list[Record | None]:
    """One call per ``batch_size`` distinct ids through the service's batch filter."""
    distinct = _unique(ids)
    if not distinct:
        return [None] * len(ids)
    size = min(client.config.batch_size, MAX_BATCH_IDS)
    pages = await asyncio.gather(*(fetch(chunk) for chunk in _chunks(distinct, size)))
    found = {
        k: r
        for page in pages
        for r in page
        if isinstance(r, dict) and (k := _key(r.get(key))) is not None
    }
    return _aligned(ids, found)


class _Service:
    def __init__(self, client: UpstreamClient) -> None:
        self.client = client

    @property
    def name(self) -> str:
        return self.client.name


class AuthClient(_Service):
    async def login(
        self, ctx: CallContext, email: str, password: str, *, remember_me: bool = False
    ) -> Record:
        body = {"email": email, "password": password, "remember_me": remember_me}
        return await self.client.request(ctx, "POST", "/auth/login", json=body)

    async def refresh(self, ctx: CallContext, refresh_token: str) -> Record:
        body = {"refresh_token": refresh_token}
        return await self.client.request(ctx, "POST", "/auth/refresh", json=body)

    async def logout(self, ctx: CallContext, session_id: str) -> Any:
        body = {"session_id": session_id}
        return await self.client.request(ctx, "POST", "/auth/logout", json=body)

    async def me(self, ctx: CallContext) -> Record:
        return await self.client.request(ctx, "GET", "/auth/me")

    async def validate_token(self, ctx: CallContext, token: str) -> Record:
        # A read that travels as POST: safe to retry.
        return await self.client.request(
            ctx, "POST", "/validate/token", json={"token": token}, idempotent=True
        )

    async def list_users(self, ctx: CallContext) -> Records:
        return _list_of(await self.client.request(ctx, "GET", "/admin/users"), "users")

    async def get_user(self, ctx: CallContext, user_id: str) -> Record:
        return await self.client.request(ctx, "GET", f"/admin/users/{_seg(user_id)}")

    async def get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        # auth has no batch filter: always a fan-out.
        return await _fan_out(self.client, ids, lambda i: self.get_user(ctx, i))


class SamplesClient(_Service):
    _ENUMS = frozenset({"status", "new_status"})

    async def get(self, ctx: CallContext, sample_id: str) -> Record:
        return await self.client.request(ctx, "GET", f"/samples/{_seg(sample_id)}")

    async def get_by_barcode(self, ctx: CallContext, barcode: str) -> Record:
        path = f"/samples/barcode/{_seg(barcode)}"
        return await self.client.request(ctx, "GET", path)

    async def list(
        self, ctx: CallContext, *, page: int = 1, page_size: int = 50, **filters: Any
    ) -> Page:
        params: dict[str, Any] = {**filters, "page": page, "page_size": page_size}
        if isinstance(params.get("status"), str):
            params["status"] = to_pascal(params["status"])
        payload = await self.client.request(ctx, "GET", "/samples", params=params)
        return Page(
            items=_list_of(payload, "samples"),
            total_count=int(payload.get("total_count", 0)),
            page=int(payload.get("page", page)),
            page_size=int(payload.get("page_size", page_size)),
        )

    async def get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        if not self.client.config.batch:
            return await _fan_out(self.client, ids, lambda i: self.get(ctx, i))

        async def fetch(chunk: Ids) -> Records:
            params = {"ids": ",".join(chunk), "page": 1, "page_size": len(chunk)}
            return _list_of(
                await self.client.request(ctx, "GET", "/samples", params=params), "samples"
            )

        return await _batched(self.client, ids, fetch)

    async def create(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
        body = _pascal(dict(data), self._ENUMS)
        return await self.client.request(ctx, "POST", "/samples", json=body)

    async def update(self, ctx: CallContext, sample_id: str, data: Mapping[str, Any]) -> Record:
        body = _pascal(dict(data), self._ENUMS)
        path = f"/samples/{_seg(sample_id)}"
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
        path = f"/samples/{_seg(sample_id)}/status"
        return await self.client.request(ctx, "PUT", path, json=body)

    async def delete(self, ctx: CallContext, sample_id: str) -> Any:
        return await self.client.request(ctx, "DELETE", f"/samples/{_seg(sample_id)}")

    async def create_batch(
        self,
        ctx: CallContext,
        samples: Sequence[Mapping[str, Any]],
        *,
        template_id: str | None = None,
        batch_name: str | None = None,
        auto_generate_barcodes: bool | None = None,
    ) -> Record:
        body: dict[str, Any] = {"samples": _pascal([dict(s) for s in samples], self._ENUMS)}
        optional = {
            "template_id": template_id,
            "batch_name": batch_name,
            "auto_generate_barcodes": auto_generate_barcodes,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return await self.client.request(ctx, "POST", "/samples/batch", json=body)


class StorageClient(_Service):
    async def locations(self, ctx: CallContext) -> Records:
        return _list_of(await self.client.request(ctx, "GET", "/storage/locations"), "locations")

    async def location(self, ctx: CallContext, location_id: str) -> Record:
        path = f"/storage/locations/{_seg(location_id)}"
        return await self.client.request(ctx, "GET", path)

    async def capacity(self, ctx: CallContext, location_id: str) -> Record:
        path = f"/storage/locations/{_seg(location_id)}/capacity"
        return await self.client.request(ctx, "GET", path)

    async def containers(
        self, ctx: CallContext, *, page: int = 1, per_page: int = 50, **filters: Any
    ) -> Page:
        params: dict[str, Any] = {**filters, "page": page, "per_page": per_page}
        payload = await self.client.request(ctx, "GET", "/storage/containers", params=params)
        pagination = payload.get("pagination", {}) if isinstance(payload, dict) else {}
        items = _list_of(payload, "containers")
        return Page(
            items=items,
            total_count=int(pagination.get("total_items", len(items))),
            page=int(pagination.get("page", page)),
            page_size=int(pagination.get("per_page", per_page)),
        )

    async def container(self, ctx: CallContext, container_id: str) -> Record:
        path = f"/storage/containers/{_seg(container_id)}"
        return await self.client.request(ctx, "GET", path)

    async def hierarchy(self, ctx: CallContext, container_id: str) -> Record:
        path = f"/storage/containers/{_seg(container_id)}/hierarchy"
        return await self.client.request(ctx, "GET", path)

    async def assign(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
        body = dict(data)
        return await self.client.request(ctx, "POST", "/storage/samples/assign", json=body)

    async def move(self, ctx: CallContext, sample_id: str, data: Mapping[str, Any]) -> Record:
        path = f"/storage/samples/{_seg(sample_id)}/move"
        return await self.client.request(ctx, "PUT", path, json=dict(data))

    async def sample_location(self, ctx: CallContext, sample_id: str) -> Record:
        path = f"/storage/samples/{_seg(sample_id)}/location-detailed"
        return await self.client.request(ctx, "GET", path)

    async def sample_locations_many(
        self, ctx: CallContext, sample_ids: Sequence[str]
    ) -> MaybeRecords:
        if not self.client.config.batch:
            return await _fan_out(self.client, sample_ids, lambda i: self.sample_location(ctx, i))

        async def fetch(chunk: Ids) -> Records:
            params = {"sample_ids": ",".join(chunk)}
            payload = await self.client.request(
                ctx, "GET", "/storage/samples/locations", params=params
            )
            return _list_of(payload, "locations")

        return await _batched(self.client, sample_ids, fetch, key="sample_id")

    async def samples_in_containers(
        self, ctx: CallContext, container_ids: Sequence[str]
    ) -> list[Records]:
        """The detailed locations (as ``sample_locations_many``) of the samples in each
        container or anywhere beneath it, aligned with ``container_ids``: the [extension]
        filter ``/storage/samples/locations?container_ids=``, one call per chunk of ids."""
        distinct = _unique(container_ids)
        held: dict[str, Records] = {k: [] for k in distinct}
        for chunk in _chunks(distinct, min(self.client.config.batch_size, MAX_BATCH_IDS)):
            params = {"container_ids": ",".join(chunk)}
            payload = await self.client.request(
                ctx, "GET", "/storage/samples/locations", params=params
            )
            for record in _list_of(payload, "locations"):
                above = [record.get("position") or {}, *(record.get("container_chain") or [])]
                for container in above:
                    key = _key(container.get("id"))
                    if key in held:
                        held[key].append(record)
        return [held.get(_key(i) or "", []) for i in container_ids]


class TemplatesClient(_Service):
    _ENUMS = frozenset({"status", "field_type"})

    async def list(
        self, ctx: CallContext, *, page: int = 1, page_size: int = 50, **filters: Any
    ) -> Page:
        params: dict[str, Any] = {**filters, "page": page, "page_size": page_size}
        if isinstance(params.get("status"), str):
            params["status"] = to_pascal(params["status"])
        payload = await self.client.request(ctx, "GET", "/templates", params=params)
        pagination = payload.get("pagination", {}) if isinstance(payload, dict) else {}
        items = _list_of(payload, "templates")
        return Page(
            items=items,
            total_count=int(pagination.get("total_count", len(items))),
            page=int(pagination.get("page", page)),
            page_size=int(pagination.get("page_size", page_size)),
        )

    async def get(self, ctx: CallContext, template_id: str) -> Record:
        return await self.client.request(ctx, "GET", f"/templates/{_seg(template_id)}")

    async def get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        if not self.client.config.batch:
            return await _fan_out(self.client, ids, lambda i: self.get(ctx, i))

        async def fetch(chunk: Ids) -> Records:
            params = {"ids": ",".join(chunk), "page": 1, "page_size": len(chunk)}
            payload = await self.client.request(ctx, "GET", "/templates", params=params)
            return _list_of(payload, "templates")

        return await _batched(self.client, ids, fetch)

    async def fields(self, ctx: CallContext, template_id: str) -> Records:
        path = f"/templates/{_seg(template_id)}/fields"
        return _list_of(await self.client.request(ctx, "GET", path), "fields")

    async def create(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
        body = _pascal(dict(data), self._ENUMS)
        return await self.client.request(ctx, "POST", "/templates", json=body)

    async def update(self, ctx: CallContext, template_id: str, data: Mapping[str, Any]) -> Record:
        body = _pascal(dict(data), self._ENUMS)
        path = f"/templates/{_seg(template_id)}"
        return await self.client.request(ctx, "PUT", path, json=body)

    async def clone(
        self, ctx: CallContext, template_id: str, data: Mapping[str, Any] | None = None
    ) -> Record:
        path = f"/templates/{_seg(template_id)}/clone"
        return await self.client.request(ctx, "POST", path, json=dict(data or {}))

    async def delete(self, ctx: CallContext, template_id: str) -> Any:
        return await self.client.request(ctx, "DELETE", f"/templates/{_seg(template_id)}")


class SequencingClient(_Service):
    _ENUMS = frozenset({"status", "priority"})

    async def list(
        self, ctx: CallContext, *, page: int = 1, limit: int = 50, **filters: Any
    ) -> Page:
        params: dict[str, Any] = {**filters, "page": page, "limit": limit}
        for key in ("status", "priority"):
            if isinstance(params.get(key), str):
                params[key] = to_pascal(params[key])
        payload = await self.client.request(ctx, "GET", "/jobs", params=params)
        pagination = payload.get("pagination", {}) if isinstance(payload, dict) else {}
        items = _list_of(payload, "jobs")
        return Page(
            items=items,
            total_count=int(pagination.get("total", len(items))),
            page=int(pagination.get("page", page)),
            page_size=int(pagination.get("limit", limit)),
        )

    async def get(self, ctx: CallContext, job_id: str) -> Record:
        return await self.client.request(ctx, "GET", f"/jobs/{_seg(job_id)}")

    async def get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        if not self.client.config.batch:
            return await _fan_out(self.client, ids, lambda i: self.get(ctx, i))

        async def fetch(chunk: Ids) -> Records:
            params = {"ids": ",".join(chunk)}  # a batch answers every match: no limit
            return _list_of(await self.client.request(ctx, "GET", "/jobs", params=params), "jobs")

        return await _batched(self.client, ids, fetch)

    async def jobs_for_samples(self, ctx: CallContext, sample_ids: Sequence[str]) -> JobsPerSample:
        """The jobs whose sample sheet holds each sample, aligned with ``sample_ids``.

        Uses the [extension] filter ``/jobs?sample_ids=``; when its answer lacks the
        ``sample_jobs`` index, the jobs' sample sheets say which job holds which sample.
        """
        distinct = _unique(sample_ids)
        by_sample: dict[str, dict[str, Record]] = {k: {} for k in distinct}
        for chunk in _chunks(distinct, min(self.client.config.batch_size, MAX_BATCH_IDS)):
            params = {"sample_ids": ",".join(chunk)}
            payload = await self.client.request(ctx, "GET", "/jobs", params=params)
            jobs = {str(j.get("id")): j for j in _list_of(payload, "jobs")}
            index = payload.get("sample_jobs") if isinstance(payload, dict) else None
            if not isinstance(index, dict):
                index = await self._index_by_sheets(ctx, jobs.values())
            for sample_id, job_ids in index.items():
                key = _key(sample_id)
                if key in by_sample:
                    by_sample[key].update((j, jobs[j]) for j in job_ids if j in jobs)
        return [list(by_sample.get(_key(i) or "", {}).values()) for i in sample_ids]

    async def _index_by_sheets(self, ctx: CallContext, jobs: Iterable[Record]) -> dict[str, Ids]:
        by_sheet: dict[str, Ids] = {}
        for job in jobs:
            if job.get("sample_sheet_id"):
                by_sheet.setdefault(str(job["sample_sheet_id"]), []).append(str(job["id"]))
        sheets = await _fan_out(self.client, list(by_sheet), lambda i: self.sample_sheet(ctx, i))
        index: dict[str, Ids] = {}
        for sheet_id, sheet in zip(by_sheet, sheets, strict=True):
            for entry in (sheet or {}).get("entries", []):
                index.setdefault(str(entry.get("sample_id")), []).extend(by_sheet[sheet_id])
        return index

    async def create(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
        body = _pascal(dict(data), self._ENUMS)
        return await self.client.request(ctx, "POST", "/jobs", json=body)

    async def change_status(
        self, ctx: CallContext, job_id: str, status: str, *, notes: str | None = None
    ) -> Record:
        body: dict[str, Any] = {"status": to_pascal(status)}
        if notes is not None:
            body["notes"] = notes
        path = f"/jobs/{_seg(job_id)}/status"
        return await self.client.request(ctx, "PUT", path, json=body)

    async def cancel(self, ctx: CallContext, job_id: str) -> Record:
        path = f"/jobs/{_seg(job_id)}/cancel"
        return await self.client.request(ctx, "POST", path)

    async def sample_sheet(self, ctx: CallContext, sheet_id: str) -> Record:
        path = f"/sample-sheets/{_seg(sheet_id)}"
        return await self.client.request(ctx, "GET", path)


class RagClient(_Service):
    async def query(self, ctx: CallContext, query: str, *, session_id: str = "default") -> Record:
        body = {"query": query, "session_id": session_id}
        return await self.client.request(ctx, "POST", "/api/samples/rag/query", json=body)

    async def process(
        self,
        ctx: CallContext,
        filename: str,
        content: bytes,
        content_type: str = "application/octet-stream",
    ) -> Record:
        """Upload one lab submission document for extraction."""
        files = {"file": (filename, content, content_type)}
        return await self.client.request(ctx, "POST", "/api/rag/process", files=files)

    async def submissions(self, ctx: CallContext) -> Record:
        return await self.client.request(ctx, "GET", "/api/submissions")


class NotificationsClient(_Service):
    async def list(self, ctx: CallContext, *, limit: int = 50, offset: int = 0) -> Records:
        params = {"limit": limit, "offset": offset}
        payload = await self.client.request(ctx, "GET", "/notifications", params=params)
        return _list_of(payload, "notifications")

    async def create(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
        return await self.client.request(ctx, "POST", "/notifications", json=dict(data))

    async def get(self, ctx: CallContext, notification_id: str) -> Record:
        path = f"/notifications/{_seg(notification_id)}"
        return await self.client.request(ctx, "GET", path)

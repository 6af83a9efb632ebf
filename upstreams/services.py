"""What the seven service clients share (``upstreams.auth``, ``upstreams.samples``, ...).

Each client module holds one service's routes as plain async methods. Every method takes
the ``CallContext`` first, returns plain dicts (snake_case keys as on the wire, enums
canonical, timestamps parsed) and raises the ``upstreams.errors`` tree.
``get_many`` answers a list aligned with the ids asked for (None where there is none): one
call through the batch filter when the config allows it, else a de-duplicated fan-out of
single GETs whose concurrency the bulkhead caps.

Reference reads (templates, their fields, storage locations, users by id) go through the
response cache (``upstreams.cache``) with ``cached`` and ``cached_many``: the client's
route is read raw (``UpstreamClient.request(raw=True)``), through the cache when it covers the
read, and normalised once it is out.
"""

from __future__ import annotations

import asyncio
import functools
import re
import uuid
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from upstreams.client import UpstreamClient
from upstreams.config import CallContext
from upstreams.errors import UpstreamNotFound, UpstreamUnsupported
from upstreams.normalize import OPAQUE_KEYS, normalize, to_pascal

# The batch filters take at most this many ids per request (UPSTREAMS.md).
MAX_BATCH_IDS = 1000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Record = dict[str, Any]
Records = list[Record]
MaybeRecords = list[Record | None]
Ids = list[str]
JobsPerSample = list[Records]
# One raw (un-normalised) read, given the call context it is sent with.
RawRead = Callable[[CallContext], Awaitable[Any]]


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


def seg(value: object) -> str:
    """One path segment: an id from a client must not walk the upstream's routes."""
    return quote(str(value), safe="")


def pascal(data: Any, keys: frozenset[str]) -> Any:
    """Write enums the way the PascalCase services want them, recursively."""
    if isinstance(data, list):
        return [pascal(item, keys) for item in data]
    if not isinstance(data, dict):
        return data
    return {
        k: to_pascal(v)
        if k in keys and isinstance(v, str)
        else v
        if k in OPAQUE_KEYS
        else pascal(v, keys)
        for k, v in data.items()
    }


# A UUID already in its canonical form (what the services send): no need to parse it.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_id(value: object) -> str | None:
    """The canonical form of an id, or None when it is not a UUID (and so cannot exist)."""
    if type(value) is str and len(value) <= _MAX_ID_TEXT:
        return _canonical_text(value)
    return _canonical(value)


# Cached: the same ids come back in every answer (a sequencing scan reads every sheet's
# sample ids on every request), and a dictionary lookup costs a third of the match. Only
# texts as long as a UUID's longest spelling (``urn:uuid:`` and 36): a client's long
# strings are never kept.
_MAX_ID_TEXT = 45


@functools.lru_cache(maxsize=16384)
def _canonical_text(value: str) -> str | None:
    return value if _CANONICAL_UUID.fullmatch(value) else _canonical(value)


def _canonical(value: object) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def unique_ids(ids: Iterable[str]) -> list[str]:
    return [k for k in dict.fromkeys(canonical_id(i) for i in ids) if k is not None]


def chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def list_of(payload: Any, key: str) -> list[Record]:
    if isinstance(payload, dict):
        payload = payload.get(key, payload.get("data", []))
    return list(payload) if isinstance(payload, list) else []


def paged(
    payload: Any, items_key: str, *, total: str, size: str, page: int, page_size: int
) -> Page:
    """A ``Page`` of a list answer whose ``pagination`` names its total ``total`` and its
    page size ``size`` (each service spells them its own way); the values asked for stand
    in for what the answer leaves out."""
    pagination = payload.get("pagination", {}) if isinstance(payload, dict) else {}
    items = list_of(payload, items_key)
    return Page(
        items=items,
        total_count=int(pagination.get(total, len(items))),
        page=int(pagination.get("page", page)),
        page_size=int(pagination.get(size, page_size)),
    )


def aligned(ids: Sequence[str], found: Mapping[str, Any]) -> list[Any]:
    return [found.get(k) if (k := canonical_id(i)) is not None else None for i in ids]


async def scan(
    service: str,
    fetch: Callable[[int], Awaitable[Page]],
    *,
    max_items: int,
) -> list[Record]:
    """Every item of a paged list, for the gateway to filter or page itself where the release
    ignores the request's filters or paging: page 1, then the other pages concurrently.

    Items are de-duplicated by ``id`` (a record created meanwhile shifts the pages). A list
    longer than ``max_items`` is ``UpstreamUnsupported``: the answer would be incomplete.
    """
    first = await fetch(1)
    if first.total_count > max_items:
        raise UpstreamUnsupported(
            service,
            f"The {service} service cannot filter or sort this list, and it holds "
            f"{first.total_count} items: more than the {max_items} the gateway reads to do it "
            "itself (TRACSEQ_MAX_SCAN_ITEMS)",
        )
    rest = await asyncio.gather(*(fetch(page) for page in range(2, first.total_pages + 1)))
    seen: set[Any] = set()
    items: list[Record] = []
    for record in (r for page in (first, *rest) for r in page.items):
        key = record.get("id")
        if key is None or key not in seen:
            seen.add(key)
            items.append(record)
    return items


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


async def fan_out_ids(
    client: UpstreamClient,
    ids: Sequence[str],
    fetch: Callable[[str], Awaitable[Any]],
) -> list[Any]:
    """``fan_out`` over the distinct canonical ids, capped at the bulkhead's width."""
    distinct = unique_ids(ids)
    results = await fan_out(distinct, fetch, width=client.config.bulkhead.max_concurrency)
    return aligned(ids, dict(zip(distinct, results, strict=True)))


async def batched(
    client: UpstreamClient,
    ids: Sequence[str],
    fetch: Callable[[list[str]], Awaitable[list[Record]]],
    key: str = "id",
) -> list[Record | None]:
    """One call per ``batch_size`` distinct ids through the service's batch filter."""
    distinct = unique_ids(ids)
    if not distinct:
        return [None] * len(ids)
    size = min(client.config.batch_size, MAX_BATCH_IDS)
    pages = await asyncio.gather(*(fetch(chunk) for chunk in chunks(distinct, size)))
    found = {
        k: r
        for page in pages
        for r in page
        if isinstance(r, dict) and (k := canonical_id(r.get(key))) is not None
    }
    return aligned(ids, found)


async def cached(
    client: UpstreamClient,
    ctx: CallContext,
    kind: str,
    key: str | None,
    fetch: RawRead,
) -> Any:
    """``fetch``'s raw payload, normalised: through the response cache under ``kind`` and
    ``key`` when the cache covers this read (``key`` None: not a key that can exist)."""
    cache = client.cache
    if key is None or cache is None or not cache.covers(ctx, client.name):
        raw = await fetch(ctx)
    else:
        raw = await cache.read(ctx, client.name, kind, key, fetch)
    return normalize(raw, client.name)


async def cached_many(
    client: UpstreamClient,
    ctx: CallContext,
    kind: str,
    ids: Sequence[str],
    fetch: Callable[[CallContext, list[str]], Awaitable[Sequence[Any]]],
    *,
    plain: bool = False,
) -> list[Any]:
    """Records by id, normalised and aligned with ``ids`` (None where there is none):
    each distinct id through the response cache when it covers the read, the missing ones
    in one call of ``fetch`` (over distinct canonical ids, aligned, raw). ``plain``: the
    values are the gateway's own extracts holding no enum or timestamp (normalising them
    would change nothing), left as they are."""
    distinct = unique_ids(ids)
    if not distinct:
        return [None] * len(ids)
    cache = client.cache
    if cache is None or not cache.covers(ctx, client.name):
        values = await fetch(ctx, distinct)
    else:
        values = await cache.read_many(ctx, client.name, kind, distinct, fetch)
    name = client.name
    found = {
        k: v if plain else normalize(v, name)
        for k, v in zip(distinct, values, strict=True)
        if v is not None
    }
    return aligned(ids, found)


class Service:
    def __init__(self, client: UpstreamClient) -> None:
        self.client = client

    @property
    def name(self) -> str:
        return self.client.name

    @property
    def max_scan_items(self) -> int:
        """The most items a ``scan`` of this service reads (TRACSEQ_MAX_SCAN_ITEMS)."""
        return self.client.config.max_scan_items

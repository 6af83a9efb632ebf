"""The response cache of reference reads: templates and their fields, storage locations and
containers' records, which samples a sample sheet lists, users by id. Two tiers: an
in-process LRU bounded in bytes, then Redis when configured (the tier the replicas share).

**Entries.** One entry per record (a template by id, one template's fields, the location
list, a container's record, a sheet's samples, a user by id and caller's role), holding the
*un-normalised* JSON the service answered and the wall-clock time it was stored, serialised
with orjson; a hit is parsed and normalised afresh, so it is identical to the answer an
uncached read would give (and no two readers share mutable records). Its size in the LRU is
the length of those bytes; in Redis it expires ``ttl + max_stale`` after it was stored. A
batch read (``read_many``) looks up each key, fetches the missing ones in one call of its
batch function, and stores each. Absent records (None, a 404) and errors are never stored.

**Keys** are ``service : generation : kind : role : id``. The role is the caller's for the
services whose answers differ by caller (``BY_ROLE``: auth reads answer for the caller's
token), ``-`` for the others (storage and templates look at no header).

**An entry's life**::

    fresh (age < ttl) ── hit
    expired, within max_stale:
        first reader ── served stale once ("revalidate"), ONE background refresh starts
        later readers ── wait for the refresh (or start one); when the upstream fails
                         (unavailable, timeout, 5xx, breaker open) served stale ("error");
                         a 4xx drops the entry and is the answer
    older ── gone: a miss

Concurrent misses of one key make one upstream call (single flight): the fill runs as a
task of its own, so a reader that gives up does not cancel it for the others.

**Invalidation.** Every write to a service (``bump``) changes that service's generation,
and every key holds it, so all of the service's entries are dropped at once. With Redis the
generation lives there (INCR) and the bump is published on ``CHANNEL`` (``service
origin``); every other replica's ``listen`` task drops its LRU entries of that service. A
cached read does not rely on that message: the first cached read of a service in a request
reads its generation from Redis, in the round trip of its look-up (remembered on the
request's ``CacheReport`` until this process hears of a change of the service), so a write
through replica A is seen by replica B's next request. Redis failing never fails a read:
the LRU and the upstream serve, the bump changes this process's generation (and is sent to
Redis when it answers again), and the observer and a log line say Redis failed.

``CacheReport`` is the per-request account of what the cache served: the freshness of the
answer (``freshness``) and the stale entries it holds (``extensions``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import structlog

from upstreams import pubsub
from upstreams.errors import UpstreamStatusError, UpstreamTimeout, UpstreamUnavailable

if TYPE_CHECKING:
    from upstreams.config import CallContext

log = structlog.get_logger()

# The services with cached reads, and those whose answers differ by caller.
CACHED_SERVICES = ("auth", "sequencing", "storage", "templates")
BY_ROLE = frozenset({"auth"})
DEFAULT_TTL = 300.0
DEFAULT_MEMORY_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_STALE = 3600.0
# Tiers (metrics labels) and why a stale entry was served.
MEMORY, REDIS = "memory", "redis"
REVALIDATE, ERROR = "revalidate", "error"
KEY_PREFIX = "tracseq:cache"
CHANNEL = f"{KEY_PREFIX}:invalidations"
# Seconds between reconnections of the invalidation listener: doubling up to the max.
# The kinds of Redis operation whose failure is counted.
STORE_OPERATIONS = ("generation", "get", "set", "bump", "listen")

# The methods that change nothing upstream; every other call is a write, and bumps.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# A batch function over raw (un-normalised) records: one per key, aligned, None if absent.
FetchMany = Callable[["CallContext", list[str]], Awaitable[Sequence[Any]]]


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """``TRACSEQ_CACHE_*``: the switch, each service's TTL (0: not cached), the LRU's
    bound in bytes and how long past its TTL an entry may still be served stale."""

    enabled: bool = True
    ttls: Mapping[str, float] = field(default_factory=dict)
    default_ttl: float = DEFAULT_TTL
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    max_stale: float = DEFAULT_MAX_STALE

    def __post_init__(self) -> None:
        unknown = set(self.ttls) - set(CACHED_SERVICES)
        if unknown:
            raise ValueError(
                f"no cached reads for {', '.join(sorted(unknown))}: "
                f"a TTL applies to {', '.join(CACHED_SERVICES)}"
            )
        for name, value in (*self.ttls.items(), ("default", self.default_ttl)):
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"cache TTL of {name} must be a finite number >= 0: {value!r}")
        if self.memory_bytes < 1:
            raise ValueError(f"cache memory bound must be positive: {self.memory_bytes!r}")
        if not math.isfinite(self.max_stale) or self.max_stale < 0:
            raise ValueError(f"cache max stale must be a finite number >= 0: {self.max_stale!r}")

    def ttl(self, service: str) -> float:
        """Seconds an entry of ``service`` is fresh; 0 when the service is not cached."""
        if not self.enabled or service not in CACHED_SERVICES:
            return 0.0
        return self.ttls.get(service, self.default_ttl)


class CacheObserver(Protocol):
    """What the cache reports (the gateway's metrics implement it). Cheap; never raises."""

    def cache_hit(self, service: str, tier: str) -> None: ...

    def cache_miss(self, service: str) -> None: ...

    def cache_stale(self, service: str, reason: str) -> None: ...

    def cache_evicted(self, tier: str, count: int) -> None: ...

    def cache_bytes(self, tier: str, size: int) -> None: ...

    def cache_store_error(self, operation: str) -> None: ...


class CacheReport:
    """One request's account of its upstream reads (``CallContext.cache``).

    ``freshness()`` is how many whole seconds the answer stays fresh: the least remaining
    TTL of its cached reads; 0 when one read was not served by the cache, when a stale
    entry was served, or when nothing was read. ``extensions()`` is the GraphQL
    ``extensions.cache`` of the answer: the stale entries served (one per service and kind,
    with the oldest age), or None when there was none. ``generations`` remembers each
    service's generation as this request read it (once per request, unless this process
    has heard of a change of the service since: a write through it, or another replica's
    invalidation message).
    """

    __slots__ = ("_remaining", "_stale", "_uncached", "generations", "reads")

    def __init__(self) -> None:
        self._uncached = False
        self._remaining = math.inf
        self._stale: dict[tuple[str, str], int] = {}
        self.reads = 0
        # service -> (generation, the process's count of its changes when it was read)
        self.generations: dict[str, tuple[str, int]] = {}

    def note_uncached(self) -> None:
        """An upstream read that the cache did not serve."""
        self.reads += 1
        self._uncached = True

    def note_read(self, service: str, kind: str, age: float, ttl: float, stale: bool) -> None:
        """A read the cache served (or filled), ``age`` seconds old."""
        self.reads += 1
        if stale:
            key = (service, kind)
            self._stale[key] = max(self._stale.get(key, 0), math.floor(age))
        else:
            self._remaining = min(self._remaining, ttl - age)

    def freshness(self) -> int:
        if self._uncached or self._stale or not self.reads or not math.isfinite(self._remaining):
            return 0
        return max(0, math.floor(self._remaining))

    def extensions(self) -> dict[str, Any] | None:
        if not self._stale:
            return None
        return {
            "stale": [
                {"service": service, "kind": kind, "age": age}
                for (service, kind), age in self._stale.items()
            ]
        }


Key = tuple[str, str, str, str, str]  # service, generation, kind, role, id


class Entry:
    """Serialised ``[stored_at, raw]``; ``revalidated`` once it was served stale."""

    __slots__ = ("data", "revalidated", "stored_at")

    def __init__(self, data: bytes, stored_at: float) -> None:
        self.data = data
        self.stored_at = stored_at
        self.revalidated = False


class MemoryTier:
    """The in-process LRU, bounded by the bytes of its entries (an entry larger than the
    bound is not kept)."""

    def __init__(self, max_bytes: int, observer: CacheObserver | None = None) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        self._observer = observer

    def __len__(self) -> int:
        return len(self._entries)

    def sizes(self) -> dict[Key, int]:
        """Each key held (least recently used first) and the bytes of its entry."""
        return {key: len(entry.data) for key, entry in self._entries.items()}

    def get(self, key: Key) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: Key, entry: Entry) -> None:
        size = len(entry.data)
        self._discard(key)
        if size > self.max_bytes:
            self._report(0)
            return
        self._entries[key] = entry
        self.bytes += size
        evicted = 0
        while self.bytes > self.max_bytes:
            _, oldest = self._entries.popitem(last=False)
            self.bytes -= len(oldest.data)
            evicted += 1
        self._report(evicted)

    def discard(self, key: Key) -> None:
        self._discard(key)
        self._report(0)

    def drop_service(self, service: str) -> None:
        """Forget every entry of ``service`` (its generation changed)."""
        for key in [k for k in self._entries if k[0] == service]:
            self._discard(key)
        self._report(0)

    def _discard(self, key: Key) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= len(old.data)

    def _report(self, evicted: int) -> None:
        observer = self._observer
        if observer is not None:
            if evicted:
                observer.cache_evicted(MEMORY, evicted)
            observer.cache_bytes(MEMORY, self.bytes)


# A failed refresh that still lets a stale entry be served.
_UPSTREAM_FAILURES = (UpstreamUnavailable, UpstreamTimeout)


def _upstream_failed(exc: BaseException) -> bool:
    if isinstance(exc, _UPSTREAM_FAILURES):
        return True
    return isinstance(exc, UpstreamStatusError) and exc.status >= 500


def _value(data: bytes) -> Any:
    return orjson.loads(data)[1]


class ResponseCache:
    """The two tiers, the generations and the flights of one process (module docstring).

    ``redis`` is a ``redis.asyncio`` client or None; ``store_errors`` the exceptions a
    failing Redis raises. ``clock`` is wall-clock seconds (entries are shared by replicas).
    """

    def __init__(
        self,
        config: CacheConfig,
        *,
        redis: Any = None,
        store_errors: tuple[type[BaseException], ...] = (OSError, TimeoutError),
        observer: CacheObserver | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        self.memory = MemoryTier(config.memory_bytes, observer)
        self._redis = redis
        self._store_errors = store_errors
        self._observer = observer
        self._generations: dict[str, str] = {}
        self._changes: dict[str, int] = {}  # changes heard of, per service
        self._origin = uuid.uuid4().hex  # names this process in its invalidation messages
        self._local_bumps = 0
        self._pending: set[str] = set()  # bumps Redis has not heard of yet
        self._redis_down = False
        self._flights: dict[Key, asyncio.Future[bytes | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def filling(self) -> int:
        """How many fills (misses and background refreshes) are running."""
        return len(self._tasks)

    def covers(self, ctx: CallContext, service: str) -> bool:
        """Whether this read of ``service`` goes through the cache: the request has a
        cache report (GraphQL; the passthrough has none) and the service a TTL."""
        return ctx.cache is not None and self.config.ttl(service) > 0

    # -- reads -----------------------------------------------------------------------------

    async def read(
        self,
        ctx: CallContext,
        service: str,
        kind: str,
        key: str,
        fetch: Callable[[CallContext], Awaitable[Any]],
    ) -> Any:
        """One raw record through the cache; ``fetch``'s errors (a 404) propagate."""

        async def fetch_one(call: CallContext, keys: list[str]) -> list[Any]:
            return [await fetch(call)]

        return (await self.read_many(ctx, service, kind, [key], fetch_one))[0]

    async def read_many(
        self, ctx: CallContext, service: str, kind: str, keys: Sequence[str], fetch: FetchMany
    ) -> list[Any]:
        """Raw records of distinct ``keys`` (aligned, None where absent) through the cache;
        the missing ones in one call of ``fetch``."""
        report = ctx.cache if ctx.cache is not None else CacheReport()
        ttl = self.config.ttl(service)
        role = (ctx.role or "-") if service in BY_ROLE else "-"
        now = self.clock()
        # The generation is read from Redis once per request, in one round trip with the
        # look-up of the keys under the generation this process knows; only when another
        # replica has changed it are the keys looked up again.
        changes = self._changes.get(service, 0)
        remembered = report.generations.get(service)
        known = remembered[0] if remembered is not None and remembered[1] == changes else None
        generation = known if known is not None else self._generations.get(service, "0")
        names = {k: (service, generation, kind, role, k) for k in keys}
        probe = known is None and self._redis is not None
        found, shared = await self._look_up(names, now - ttl, service if probe else None)
        if shared is not None and shared != generation:
            self.memory.drop_service(service)
            self._generations[service] = generation = shared
            names = {k: (service, generation, kind, role, k) for k in keys}
            found, _ = await self._look_up(names, now - ttl, None)
        report.generations[service] = (generation, changes)
        observer = self._observer
        results: dict[str, Any] = {}
        expired: dict[str, Entry] = {}
        refresh: list[str] = []
        wait: list[str] = []
        for k in keys:
            entry, tier = found.get(k, (None, ""))
            age = now - entry.stored_at if entry is not None else math.inf
            if entry is not None and age < ttl:
                results[k] = _value(entry.data)
                report.note_read(service, kind, age, ttl, False)
                if observer is not None:
                    observer.cache_hit(service, tier)
                continue
            if observer is not None:
                observer.cache_miss(service)
            if entry is not None and age < ttl + self.config.max_stale:
                expired[k] = entry
                if not entry.revalidated and names[k] not in self._flights:
                    entry.revalidated = True
                    results[k] = _value(entry.data)
                    self._stale(report, service, kind, age, REVALIDATE)
                    refresh.append(k)
                    continue
            wait.append(k)
        if refresh:
            self._fly(service, {k: names[k] for k in refresh}, fetch, ctx)
        if wait:
            self._fly(
                service, {k: names[k] for k in wait if names[k] not in self._flights}, fetch, ctx
            )
            # Taken before the first wait: a flight leaves the table when it lands.
            flights = {k: self._flights[names[k]] for k in wait}
            for k in wait:
                try:
                    data = await asyncio.shield(flights[k])
                except Exception as exc:
                    entry = expired.get(k)
                    if entry is None or not _upstream_failed(exc):
                        if entry is not None:
                            await self._forget(names[k])
                        raise
                    results[k] = _value(entry.data)
                    self._stale(report, service, kind, now - entry.stored_at, ERROR)
                    continue
                if data is None:
                    report.note_uncached()
                    results[k] = None
                else:
                    results[k] = _value(data)
                    report.note_read(service, kind, 0.0, ttl, False)
        return [results[k] for k in keys]

    def _stale(self, report: CacheReport, service: str, kind: str, age: float, why: str) -> None:
        report.note_read(service, kind, age, 0.0, True)
        if self._observer is not None:
            self._observer.cache_stale(service, why)

    async def _look_up(
        self, names: Mapping[str, Key], fresh_since: float, probe: str | None
    ) -> tuple[dict[str, tuple[Entry, str]], str | None]:
        """The entries found and their tiers: in the LRU, then in Redis (one MGET) for the
        keys the LRU lacks or holds expired (another replica may have refreshed them);
        with ``probe`` (a service), that service's shared generation too, in the same round
        trip (None when it was not read)."""
        found: dict[str, tuple[Entry, str]] = {}
        for k, name in names.items():
            entry = self.memory.get(name)
            if entry is not None:
                found[k] = (entry, MEMORY)
        rest = [k for k in names if k not in found or found[k][0].stored_at <= fresh_since]
        if self._redis is None or (not rest and probe is None):
            return found, None
        try:
            if probe is not None and probe in self._pending:
                await self._publish(probe)
            async with self._redis.pipeline(transaction=False) as pipe:
                if probe is not None:
                    pipe.get(_generation_key(probe))
                if rest:
                    pipe.mget([_redis_key(names[k]) for k in rest])
                replies = list(await pipe.execute())
        except self._store_errors as exc:
            self._store_failed("get" if probe is None else "generation", exc)
            return found, None
        self._store_ok()
        shared: str | None = None
        if probe is not None:
            raw = replies.pop(0)
            shared = raw.decode() if raw is not None else "0"
        for k, data in zip(rest, replies[0] if rest else [], strict=True):
            if data is None:
                continue
            entry = Entry(bytes(data), float(orjson.loads(data)[0]))
            if k in found and found[k][0].stored_at >= entry.stored_at:
                continue
            self.memory.put(names[k], entry)
            found[k] = (entry, REDIS)
        return found, shared

    def _fly(
        self, service: str, names: Mapping[str, Key], fetch: FetchMany, ctx: CallContext
    ) -> None:
        """One fill of ``names`` (not yet in flight) in a task of its own."""
        if not names:
            return
        loop = asyncio.get_running_loop()
        futures = {k: loop.create_future() for k in names}
        for k, name in names.items():
            self._flights[name] = futures[k]
            futures[k].add_done_callback(_retrieved)
        call = dataclasses.replace(ctx, cache=None)  # the fill's read is the cache's own
        task = asyncio.ensure_future(self._fill(service, names, futures, fetch, call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fill(
        self,
        service: str,
        names: Mapping[str, Key],
        futures: Mapping[str, asyncio.Future[bytes | None]],
        fetch: FetchMany,
        call: CallContext,
    ) -> None:
        stored: list[tuple[Key, bytes]] = []
        try:
            try:
                values = list(await fetch(call, list(names)))
                if len(values) != len(names):
                    raise ValueError(f"a batch read of {service} answered a misaligned list")
            except asyncio.CancelledError:
                for future in futures.values():
                    future.cancel()
                raise
            except Exception as exc:
                for future in futures.values():
                    if not future.done():
                        future.set_exception(exc)
                return
            stored_at = self.clock()
            for k, value in zip(names, values, strict=True):
                if value is None:
                    futures[k].set_result(None)
                    continue
                data = orjson.dumps([stored_at, value])
                self.memory.put(names[k], Entry(data, stored_at))
                stored.append((names[k], data))
                futures[k].set_result(data)
        finally:
            for k, name in names.items():
                if self._flights.get(name) is futures[k]:
                    del self._flights[name]
        if stored and self._redis is not None:
            expiry = max(1, math.ceil(self.config.ttl(service) + self.config.max_stale))
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for name, data in stored:
                        pipe.set(_redis_key(name), data, ex=expiry)
                    await pipe.execute()
            except self._store_errors as exc:
                self._store_failed("set", exc)

    async def _forget(self, name: Key) -> None:
        """Drop an entry the service says is gone (a 4xx on its refresh)."""
        self.memory.discard(name)
        if self._redis is not None:
            try:
                await self._redis.delete(_redis_key(name))
            except self._store_errors as exc:
                self._store_failed("set", exc)

    # -- generations -----------------------------------------------------------------------

    async def bump(self, service: str, report: CacheReport | None = None) -> None:
        """A write to ``service`` was sent: every entry of it is dropped, here and (through
        Redis) on every replica, before the write's answer goes back."""
        if service not in CACHED_SERVICES:
            return
        self._changed(service)
        generation: str | None = None
        if self._redis is not None:
            try:
                generation = await self._publish(service)
            except self._store_errors as exc:
                self._store_failed("bump", exc)
                self._pending.add(service)
        if generation is None:
            self._local_bumps += 1
            base = self._generations.get(service, "0").split("~", 1)[0]
            generation = self._generations[service] = f"{base}~{self._local_bumps}"
        else:  # what was read or stored while Redis counted goes too
            self._changed(service)
        if report is not None:
            report.generations[service] = (generation, self._changes[service])

    def _changed(self, service: str) -> None:
        """``service`` changed: its entries here go, and every request reads its
        generation again."""
        self._changes[service] = self._changes.get(service, 0) + 1
        self.memory.drop_service(service)

    async def _publish(self, service: str) -> str:
        """INCR the shared generation and tell the replicas; the new generation."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incr(_generation_key(service))
            pipe.publish(CHANNEL, f"{service} {self._origin}")
            number, _ = await pipe.execute()
        self._pending.discard(service)
        generation = self._generations[service] = str(number)
        return generation

    async def listen(self) -> None:
        """Drop this process's LRU entries of each service another replica bumps (the
        lifespan runs it as a task while Redis is configured); reconnects with a backoff."""
        if self._redis is None:
            return
        await pubsub.listen(
            self._redis,
            CHANNEL,
            self._heard,
            errors=self._store_errors,
            on_failure=lambda exc: self._store_failed("listen", exc),
        )

    def _heard(self, data: Any) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        service, _, origin = text.partition(" ")
        if service in CACHED_SERVICES and origin != self._origin:
            self._changed(service)

    async def close(self) -> None:
        """Cancel the fills still running (the lifespan closes Redis itself)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _store_failed(self, operation: str, exc: BaseException) -> None:
        """Count every failure; log the first of a run (every request would repeat it)."""
        if not self._redis_down:
            self._redis_down = True
            log.warning("cache.redis_failed", operation=operation, error=type(exc).__name__)
        if self._observer is not None:
            self._observer.cache_store_error(operation)

    def _store_ok(self) -> None:
        if self._redis_down:
            self._redis_down = False
            log.info("cache.redis_recovered")


def _retrieved(future: asyncio.Future[Any]) -> None:
    """A flight whose error nobody awaited (every reader had a stale entry) is not logged."""
    if not future.cancelled():
        future.exception()


def _redis_key(name: Key) -> str:
    return ":".join((KEY_PREFIX, *name))


def _generation_key(service: str) -> str:
    return f"{KEY_PREFIX}:generation:{service}"


def open_redis(url: str, timeout: float) -> tuple[Any, tuple[type[BaseException], ...]]:
    """A ``redis.asyncio`` client of the cache's own (its pub/sub holds a connection) and
    the errors it raises when Redis fails; every operation gives up after ``timeout``."""
    # Imported only when configured, as the security runtime does.
    import redis.asyncio
    from redis.exceptions import RedisError

    client = redis.asyncio.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    return client, (OSError, TimeoutError, RedisError)

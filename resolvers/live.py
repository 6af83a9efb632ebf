"""Live changes: what the subscriptions deliver, and where it comes from.

The TracSeq services publish no events, so the gateway finds changes on two paths:

- **Writes through the gateway.** A mutation that changes a sample's or a job's status, or
  sends a notification, hands the record it got back to ``Live.changed``: delivered to this
  process's subscribers at once and published on Redis (``CHANNEL``), whose message every
  other replica's ``listen`` task delivers to its own. Without Redis, one process is all.
- **Changes made at the services directly.** A poller per topic (at most one per process),
  running while the topic has a subscriber, makes **one** upstream call per interval
  (``TRACSEQ_SUBSCRIPTION_POLL_INTERVAL``) through the topic's client, so the same breaker,
  bulkhead, retry and deadline rules hold as for every other call (samples and jobs are not
  cached reads). It compares each record's status with the last one it knew:
    - samples: the watched ids in one ``GET /samples?ids=`` [extension] when configured
      (at most the client's batch size per call; more ids are read in turn, one slice per
      interval). The release has no batch read: one page of 1,000 of ``GET /samples``
      (newest first) per round. Once a watched sample has been found on a page, the rounds
      read the pages that hold watched samples, in turn (a sample pushed to the next page
      by newer ones is looked for again); while some are not found yet, every other round
      reads the next page. So watched samples on one page are polled every interval; a
      subscription to every sample reads each page in turn (ceil(count / 1,000) intervals
      for the whole list);
    - jobs: ``GET /jobs?ids=`` [extension], or a page of 100 of ``GET /jobs`` as for
      samples. The release's list holds summaries without ``updated_at``: a job found
      changed is read once more in full (one ``GET /jobs/{id}`` per changed job, not per
      subscriber);
    - notifications: the newest page of ``GET /notifications``; a notification not seen
      before is new.
  A record the poller finds for the first time is reported when it changed (its
  ``updated_at``) after its watching began, so that a change made before the poller got to
  it is not lost (a job summary of the release carries its ``created_at`` only: a job
  first found is reported only when it was created after its watching began).

**Once per subscriber.** A change is identified by (topic, id, status, changed at); each
process remembers the last ``REMEMBERED`` identities it delivered and delivers each once,
whichever path saw it first (a mutation's own record and a later poll of the same state
carry the same ``updated_at``); and a status the poller already knows is no change.

A subscriber's ``Feed`` is a bounded queue: a subscriber that falls ``FEED_SIZE`` events
behind is ended with ``FeedOverflow`` rather than losing events silently.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import structlog

from upstreams import pubsub
from upstreams.config import CallContext
from upstreams.errors import UpstreamError
from upstreams.normalize import normalize
from upstreams.registry import Upstreams

if TYPE_CHECKING:
    from resolvers.context import Context

SAMPLES = "samples"
JOBS = "jobs"
NOTIFICATIONS = "notifications"
TOPICS = (SAMPLES, JOBS, NOTIFICATIONS)
SOURCES = ("mutation", "replica", "poll")
POLL_OUTCOMES = ("ok", "error")
SERVICES = {SAMPLES: "samples", JOBS: "sequencing", NOTIFICATIONS: "notifications"}
CHANNEL = "tracseq:live"
DEFAULT_POLL_INTERVAL = 5.0
FEED_SIZE = 256
REMEMBERED = 16_384
SAMPLE_PAGE = 1000  # the samples service's page-size cap
JOB_PAGE = 100  # the sequencing service's limit cap
NOTIFICATION_PAGE = 100

log = structlog.get_logger("tracseq.live")

Record = Mapping[str, Any]


class LiveObserver(Protocol):
    """Where the hub reports (the gateway's metrics are one)."""

    def live_feeds(self, topic: str, count: int) -> None: ...

    def live_poll(self, topic: str, outcome: str) -> None: ...

    def live_event(self, topic: str, source: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Change:
    """One status change of one record. ``record`` is the record as the gateway's clients
    return it (normalised); ``seen_at`` the wall-clock time the gateway learnt of it (the
    start of the delivery lag)."""

    topic: str
    id: str
    status: str | None
    previous: str | None
    changed_at: datetime
    record: Record
    seen_at: float

    @classmethod
    def of(cls, topic: str, record: Record, previous: str | None, seen_at: float) -> Change:
        """The change ``record`` (with an ``id``) shows, learnt of at ``seen_at``."""
        return cls(
            topic=topic,
            id=str(record["id"]),
            status=_status(record),
            previous=previous,
            changed_at=_changed_at(record, seen_at),
            record=record,
            seen_at=seen_at,
        )

    @property
    def identity(self) -> tuple[str, str, str | None, str]:
        return (self.topic, self.id, self.status, self.changed_at.isoformat())


@dataclass(frozen=True, slots=True)
class Watch:
    """What one subscription watches: ``ids`` (None: every record), ``statuses`` (None: any
    status), and ``keeps``, a test of the record (notifications: addressed to the caller;
    None: any)."""

    ids: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    keeps: Callable[[Any], bool] | None = None

    def admits(self, change: Change) -> bool:
        if self.ids is not None and change.id not in self.ids:
            return False
        if self.statuses is not None and change.status not in self.statuses:
            return False
        return self.keeps is None or self.keeps(change.record)


class FeedOverflow(Exception):
    """The subscriber fell too far behind; its subscription ends with this error."""

    def __init__(self) -> None:
        super().__init__(
            f"This subscription fell {FEED_SIZE} events behind and was ended; subscribe again"
        )


_END = object()


class Feed:
    """One subscription's events, in order; iterate it, close it when done."""

    __slots__ = ("_closed", "_hub", "_queue", "topic", "watch")

    def __init__(self, hub: Live, topic: str, watch: Watch) -> None:
        self._hub = hub
        self.topic = topic
        self.watch = watch
        self._queue: asyncio.Queue[object] = asyncio.Queue(FEED_SIZE + 1)
        self._closed = False

    def offer(self, change: Change) -> None:
        if self._closed:
            return
        if self._queue.qsize() >= FEED_SIZE:
            self._queue.put_nowait(FeedOverflow())
            self.close()
            return
        self._queue.put_nowait(change)

    def end(self) -> None:
        """No more events (the gateway is stopping): the iteration ends."""
        if not self._closed:
            self._queue.put_nowait(_END)
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._hub._unregister(self)

    def __aiter__(self) -> AsyncIterator[Change]:
        return self._events()

    async def _events(self) -> AsyncIterator[Change]:
        try:
            while True:
                item = await self._queue.get()
                if item is _END:
                    return
                if isinstance(item, FeedOverflow):
                    raise item
                assert isinstance(item, Change)
                yield item
        finally:
            self.close()


@dataclass(slots=True)
class _Topic:
    feeds: set[Feed] = field(default_factory=set)
    by_id: dict[str, set[Feed]] = field(default_factory=dict)
    everything: set[Feed] = field(default_factory=set)
    known: dict[str, tuple[str | None, datetime]] = field(default_factory=dict)
    poller: asyncio.Task[None] | None = None
    cursor: int = 1  # the next slice of batched ids to read
    discovery: int = 1  # the next page of a release list to look for records in
    turn: int = 0  # which of the pages known to hold watched records is read next
    pages: dict[str, int] = field(default_factory=dict)  # watched id -> its list page
    baseline: bool = False  # the first poll has run
    # When the watching began, for each watched id and for the feeds that watch every
    # record: a record the poller first finds changed after it, changed while watched.
    since: dict[str, datetime] = field(default_factory=dict)
    everything_since: datetime | None = None

    def since_of(self, key: str) -> datetime | None:
        started = self.since.get(key)
        if self.everything_since is not None and (
            started is None or self.everything_since < started
        ):
            started = self.everything_since
        return started


class Live:
    """The process's hub of live changes (see the module docstring)."""

    def __init__(
        self,
        upstreams: Callable[[], Upstreams],
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        observer: LiveObserver | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._upstreams = upstreams
        self.poll_interval = poll_interval
        self._redis: Any = None
        self._store_errors: tuple[type[BaseException], ...] = (OSError, TimeoutError)
        self._observer = observer
        self.timeout = timeout
        self._clock = clock
        self._origin = uuid.uuid4().hex
        self._topics = {topic: _Topic() for topic in TOPICS}
        self._delivered: OrderedDict[tuple[str, str, str | None, str], None] = OrderedDict()
        self._listener: asyncio.Task[None] | None = None
        self._redis_down = False
        self.polls = dict.fromkeys(TOPICS, 0)  # upstream calls made by the pollers

    # -- the life of the hub -------------------------------------------------------------

    def start(self, redis: Any = None, store_errors: tuple[type[BaseException], ...] = ()) -> None:
        """Serve; with ``redis`` (a ``redis.asyncio`` client of the hub's own, which raises
        ``store_errors`` when it fails), publish and listen on ``CHANNEL``."""
        if redis is not None:
            self._redis = redis
            self._store_errors = (OSError, TimeoutError, *store_errors)
            self._listener = asyncio.create_task(self.listen())

    async def close(self) -> None:
        """End every feed, stop the pollers and the listener."""
        for topic in self._topics.values():
            for feed in list(topic.feeds):
                feed.end()
        tasks = [] if self._listener is None else [self._listener]
        tasks += [t.poller for t in self._topics.values() if t.poller is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._listener = None

    def subscribers(self, topic: str) -> int:
        """The topic's feeds: one per subscription stream (``gateway.streams``)."""
        return len(self._topics[topic].feeds)

    def ready(self, topic: str) -> bool:
        """Whether the topic's poller has learnt the statuses (its first round ran)."""
        return self._topics[topic].baseline

    def polling(self, topic: str) -> bool:
        poller = self._topics[topic].poller
        return poller is not None and not poller.done()

    # -- subscribers ---------------------------------------------------------------------

    def open(self, topic: str, watch: Watch) -> Feed:
        """A new subscriber's feed; the topic's poller starts with its first."""
        feed = Feed(self, topic, watch)
        t = self._topics[topic]
        t.feeds.add(feed)
        now = datetime.fromtimestamp(self._clock(), UTC)
        if watch.ids is None:
            t.everything.add(feed)
            if t.everything_since is None:
                t.everything_since = now
        else:
            for key in watch.ids:
                t.by_id.setdefault(key, set()).add(feed)
                t.since.setdefault(key, now)
        if t.poller is None or t.poller.done():
            t.poller = asyncio.create_task(self._poll_loop(topic))
        self._count(topic)
        return feed

    def _unregister(self, feed: Feed) -> None:
        t = self._topics[feed.topic]
        if feed not in t.feeds:
            return
        t.feeds.discard(feed)
        t.everything.discard(feed)
        if not t.everything:
            t.everything_since = None
        for key in feed.watch.ids or ():
            watchers = t.by_id.get(key)
            if watchers is not None:
                watchers.discard(feed)
                if not watchers:
                    del t.by_id[key]
                    t.since.pop(key, None)
        if not t.feeds and t.poller is not None:
            t.poller.cancel()
            t.poller = None
            t.known.clear()
            t.pages.clear()
            t.cursor, t.discovery, t.turn, t.baseline = 1, 1, 0, False
        self._count(feed.topic)

    def _count(self, topic: str) -> None:
        if self._observer is not None:
            self._observer.live_feeds(topic, len(self._topics[topic].feeds))

    # -- changes -------------------------------------------------------------------------

    async def changed(self, topic: str, record: Record) -> None:
        """A write through this gateway returned ``record``: deliver its change here and
        publish it to the other replicas."""
        if record.get("id") is None:
            return
        change = Change.of(topic, record, self._previous(topic, record, None), self._clock())
        self._learn(change)
        self._dispatch(change, "mutation")
        await self._publish(change)

    def _previous(self, topic: str, record: Record, told: str | None) -> str | None:
        """The status before a change: as ``told`` (another replica's), else the one the
        poller knows (None: neither)."""
        if told is not None:
            return told
        known = self._topics[topic].known.get(str(record["id"]))
        return None if known is None else known[0]

    def _learn(self, change: Change) -> None:
        t = self._topics[change.topic]
        if t.poller is not None:
            t.known[change.id] = (change.status, change.changed_at)

    def _dispatch(self, change: Change, source: str) -> None:
        """Offer ``change`` to every feed that watches it, once (see the module docstring)."""
        identity = change.identity
        if identity in self._delivered:
            return
        self._delivered[identity] = None
        if len(self._delivered) > REMEMBERED:
            self._delivered.popitem(last=False)
        t = self._topics[change.topic]
        for feed in t.everything | t.by_id.get(change.id, set()):
            if feed.watch.admits(change):
                feed.offer(change)
        if self._observer is not None:
            self._observer.live_event(change.topic, source)

    # -- Redis ---------------------------------------------------------------------------

    async def _publish(self, change: Change) -> None:
        if self._redis is None:
            return
        message = orjson.dumps(
            {
                "origin": self._origin,
                "topic": change.topic,
                "previous": change.previous,
                "seen_at": change.seen_at,
                "record": change.record,
            },
            default=str,
        )
        try:
            await self._redis.publish(CHANNEL, message)
            self._redis_down = False
        except self._store_errors as exc:
            self._store_failed("publish", exc)

    async def listen(self) -> None:
        """Deliver the changes other replicas publish (a task while Redis is configured);
        reconnects with a backoff."""
        await pubsub.listen(
            self._redis,
            CHANNEL,
            self._received,
            errors=self._store_errors,
            on_failure=lambda exc: self._store_failed("listen", exc),
        )

    def _received(self, data: Any) -> None:
        try:
            message = orjson.loads(data)
            if message["origin"] == self._origin:
                return
            topic = message["topic"]
            record = normalize(message["record"], SERVICES[topic])
            told = message.get("previous")
            seen_at = message.get("seen_at")
            change = Change.of(
                topic,
                record,
                self._previous(topic, record, told if isinstance(told, str) else None),
                seen_at if isinstance(seen_at, float) else self._clock(),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("live.bad_message")
            return
        self._learn(change)
        self._dispatch(change, "replica")

    def _store_failed(self, operation: str, exc: BaseException) -> None:
        if not self._redis_down:
            self._redis_down = True
            log.warning("live.redis_failed", operation=operation, error=type(exc).__name__)

    # -- the pollers ---------------------------------------------------------------------

    async def _poll_loop(self, topic: str) -> None:
        while True:
            try:
                await self.poll(topic)
            except UpstreamError as exc:
                if self._observer is not None:
                    self._observer.live_poll(topic, "error")
                log.info("live.poll_failed", topic=topic, error=type(exc).__name__)
            except Exception:  # a poller must not die of one bad answer
                if self._observer is not None:
                    self._observer.live_poll(topic, "error")
                log.exception("live.poll_crashed", topic=topic)
            await asyncio.sleep(self.poll_interval)

    async def poll(self, topic: str) -> int:
        """One round of ``topic``'s poller: its one upstream call, and the changes it found
        delivered; how many changes."""
        t = self._topics[topic]
        if not t.feeds:
            return 0
        upstreams = self._upstreams()
        call = CallContext(deadline=time.monotonic() + self.timeout, request_id="live-poll")
        if topic == NOTIFICATIONS:
            records = await self._call(
                topic, upstreams.notifications.list(call, limit=NOTIFICATION_PAGE)
            )
            changes = self._new_notifications(t, records)
        else:
            records = await self._read(topic, t, upstreams, call)
            changes = self._compare(t, topic, records)
            if topic == JOBS and changes and not upstreams.sequencing.client.config.batch:
                changes = await self._full_jobs(upstreams, call, changes)
        t.baseline = True
        if self._observer is not None:
            self._observer.live_poll(topic, "ok")
        for change in changes:
            self._dispatch(change, "poll")
        return len(changes)

    async def _call(self, topic: str, call: Any) -> Any:
        self.polls[topic] += 1
        return await call

    async def _read(
        self, topic: str, t: _Topic, upstreams: Upstreams, call: CallContext
    ) -> Sequence[Record]:
        """The topic's one call of this round (see the module docstring)."""
        service = upstreams.samples if topic == SAMPLES else upstreams.sequencing
        watched = sorted(t.by_id) if not t.everything else None
        if watched is not None and service.client.config.batch:
            size = max(1, min(service.client.config.batch_size, SAMPLE_PAGE))
            slices = max(1, -(-len(watched) // size))
            index = (t.cursor - 1) % slices
            t.cursor = index + 2
            ids = watched[index * size : (index + 1) * size]
            found = await self._call(topic, service.get_many(call, ids))
            return [r for r in found if r is not None]
        number = _next_page(t, watched)
        if topic == SAMPLES:
            size = SAMPLE_PAGE
            page = await self._call(
                topic, upstreams.samples.page(call, page=number, page_size=size)
            )
        else:
            size = JOB_PAGE
            page = await self._call(topic, upstreams.sequencing.list(call, page=number, limit=size))
        _learn_pages(t, watched, number, -(-page.total_count // size), page.items)
        return page.items

    def _compare(self, t: _Topic, topic: str, records: Iterable[Record]) -> list[Change]:
        now = self._clock()
        changes = []
        watch_all = bool(t.everything)
        for record in records:
            key = str(record.get("id"))
            if record.get("id") is None or (not watch_all and key not in t.by_id):
                continue
            status = _status(record)
            changed_at = _changed_at(record, now)
            known = t.known.get(key)
            t.known[key] = (status, changed_at)
            if known is None:
                if _changed_since(record, t.since_of(key)):
                    changes.append(Change.of(topic, record, None, now))
                continue
            if known[0] != status:
                changes.append(Change.of(topic, record, known[0], now))
        if not watch_all:
            for key in [k for k in t.known if k not in t.by_id]:
                del t.known[key]
        return changes

    async def _full_jobs(
        self, upstreams: Upstreams, call: CallContext, changes: list[Change]
    ) -> list[Change]:
        """The release lists job summaries: each changed job read once in full."""
        full = await upstreams.sequencing.get_many(call, [c.id for c in changes])
        out = []
        for change, record in zip(changes, full, strict=True):
            if record is not None:
                out.append(Change.of(JOBS, record, change.previous, change.seen_at))
                self._learn(out[-1])
        return out

    def _new_notifications(self, t: _Topic, records: Iterable[Record]) -> list[Change]:
        now = self._clock()
        changes = []
        for record in records:
            key = str(record.get("id"))
            if record.get("id") is None or key in t.known:
                continue
            t.known[key] = (_status(record), _changed_at(record, now))
            if _changed_since(record, t.since_of(key)):
                changes.append(Change.of(NOTIFICATIONS, record, None, now))
        return changes


def _next_page(t: _Topic, watched: Sequence[str] | None) -> int:
    """Which page of a release list this round reads. Watching everything: each page in
    turn. Watching ids: the pages known to hold them, in turn; while some have not been
    found, every other round looks for them (each page in turn)."""
    if watched is None:
        return t.discovery
    known = sorted({t.pages[i] for i in watched if i in t.pages})
    t.turn += 1
    searching = len(known) < len(watched)
    if not known or (searching and t.turn % 2 == 0):
        return t.discovery
    return known[t.turn % len(known)]


def _learn_pages(
    t: _Topic, watched: Sequence[str] | None, number: int, pages: int, items: Sequence[Record]
) -> None:
    """What page ``number`` (of ``pages``) says: where the watched records are; a record
    no longer on the page it was on has moved (newer ones pushed it on) and is looked for."""
    if watched is None or number == t.discovery:
        t.discovery = number + 1 if number < pages else 1
    if watched is None:
        return
    wanted = set(watched)
    found = {str(r.get("id")) for r in items}
    for key in found & wanted:
        t.pages[key] = number
    for key in [
        k for k, p in t.pages.items() if (p == number and k not in found) or k not in wanted
    ]:
        del t.pages[key]


def _status(record: Record) -> str | None:
    status = record.get("status")
    return None if status is None else str(status)


def _changed_since(record: Record, since: datetime | None) -> bool:
    """Whether ``record`` (first found by the poller) changed after ``since``, when its
    watching began: a change made before the poller found it is not lost. A record that
    says when it changed only (``updated_at``, else ``created_at``) can tell."""
    value = record.get("updated_at") or record.get("created_at")
    if since is None or not isinstance(value, datetime):
        return False
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)) > since


def _changed_at(record: Record, now: float) -> datetime:
    """When the record last changed: its ``updated_at`` (a datetime once normalised), else
    when the gateway saw it."""
    value = record.get("updated_at") or record.get("created_at")
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(now, UTC)


async def changes(ctx: Context, topic: str, watch: Watch) -> AsyncIterator[Change]:
    """A subscription's changes; before each, the context is renewed (``Context.renew``),
    so that the event's fields are read afresh, within a deadline of their own."""
    live = ctx.live
    if live is None:
        raise RuntimeError("subscriptions are served over the WebSocket endpoint only")
    feed = live.open(topic, watch)
    try:
        async for change in feed:
            ctx.renew(live.timeout)
            ctx.event = change
            yield change
    finally:
        feed.close()

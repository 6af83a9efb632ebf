"""Cursor pagination (Relay's connection spec) over lists the upstreams page by offset.

A cursor names its item: it carries the item's key (its id) and the offset where the item
was seen. The next page starts after that item, wherever it is now: when rows were added
or removed before it, the item is looked for around the offset it was seen at (within
``REALIGN_WINDOW`` items either side) and the page re-aligned on it. A cursor whose item
is no longer in that window (deleted, or moved further than the window) is a clear
BAD_USER_INPUT, never a silently shifted page.

``paginate`` works over any ``read(start, end)`` that answers the items at offsets
``[start, end)`` and the list's total: an upstream's pages (``plan_range`` turns a range
into the fewest page calls, one in the common case) or a list the gateway holds whole.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, overload

from resolvers.errors import BadUserInput

T = TypeVar("T")

_CURSOR_PREFIX = "v2:"
# How far (in items, either side) an item is looked for around the offset its cursor saw it.
REALIGN_WINDOW = 100
# What a connection argument's description says about its size.
PAGE_SIZE_RULE = (
    "`first` or `last`: default TRACSEQ_DEFAULT_PAGE_SIZE (50), at most TRACSEQ_MAX_PAGE_SIZE "
    "(1000)"
)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where an item was seen: its offset then, and its key."""

    offset: int
    key: str


def encode_cursor(offset: int, key: str) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{offset}:{key}".encode()).decode()


def decode_cursor(cursor: str, argument: str = "after") -> Cursor:
    """A client's cursor, or BAD_USER_INPUT naming the argument."""
    invalid = BadUserInput(
        f"`{argument}` is not a cursor of this list: {cursor[:64]!r}", field=[argument]
    )
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise invalid from None
    offset, _, key = text.removeprefix(_CURSOR_PREFIX).partition(":")
    if not text.startswith(_CURSOR_PREFIX) or not offset.isdigit() or not key:
        raise invalid
    return Cursor(offset=int(offset), key=key)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A connection field's arguments, validated: forward (``first``) or backward (``last``)."""

    size: int
    backward: bool = False
    after: Cursor | None = None
    before: Cursor | None = None


def page_request(
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
    *,
    default: int,
    maximum: int,
) -> PageRequest:
    """Validate the four connection arguments; bad values are BAD_USER_INPUT."""
    if first is not None and last is not None:
        raise BadUserInput("Give `first` or `last`, not both", field=["last"])
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= maximum:
            raise BadUserInput(
                f"`{name}` must be between 0 and {maximum}, got {value}", field=[name]
            )
    return PageRequest(
        size=first if first is not None else last if last is not None else default,
        backward=last is not None,
        after=decode_cursor(after, "after") if after is not None else None,
        before=decode_cursor(before, "before") if before is not None else None,
    )


@dataclass(slots=True)
class Slice(Generic[T]):
    """One page of a list: its items, each item's cursor, and where the page sits."""

    items: list[T]
    cursors: Sequence[str]
    total: int | None  # None: the list cannot count cheaply (see ``Read``)
    has_previous: bool
    has_next: bool
    start: int = 0


# read(start, end) -> (the items at [start, end), the list's total). Fewer items than
# asked mean the list ends there. A list that cannot count cheaply answers None for the
# total, except for an empty range (read(0, 0)), which is how ``paginate`` asks for it when
# it needs it (``last`` without ``before``).
Read = Callable[[int, int], Awaitable[tuple[Sequence[T], int | None]]]
Key = Callable[[T], Any]


def record_key(record: Any) -> Any:
    """The key of an upstream record: its ``id``."""
    return record.get("id") if isinstance(record, dict) else getattr(record, "id", None)


class Cursors(Sequence[str]):
    """The cursors of a page's items (the first at offset ``start``), each encoded when it
    is read: most operations select a connection's nodes, and no cursor but the last."""

    __slots__ = ("_items", "_key", "_start")

    def __init__(self, start: int, items: Sequence[Any], key: Key[Any]) -> None:
        self._start = start
        self._items = items
        self._key = key

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._items)))]
        position = index + len(self._items) if index < 0 else index
        if not 0 <= position < len(self._items):
            raise IndexError("cursor index out of range")
        return encode_cursor(self._start + position, str(self._key(self._items[position])))


@dataclass(slots=True)
class _Reader(Generic[T]):
    """The items read so far, by offset, and the list's total as last seen."""

    read: Read[T]
    seen: dict[int, T] = field(default_factory=dict)
    total: int | None = None
    calls: int = 0

    async def ensure(self, start: int, end: int) -> None:
        start = max(0, start)
        if self.total is not None:
            end = min(end, self.total)
        missing = [i for i in range(start, end) if i not in self.seen]
        if not missing and (self.total is not None or self.calls):
            return
        self.calls += 1
        lo, hi = (missing[0], missing[-1] + 1) if missing else (start, max(start, end))
        items, total = await self.read(lo, max(hi, lo))
        if total is None and len(items) < hi - lo:
            total = lo + len(items)  # the list ends within the range
        self.total = total if total is not None else self.total
        for i, item in enumerate(items):
            self.seen[lo + i] = item

    def find(self, cursor: Cursor, key: Key[T], lo: int, hi: int) -> int | None:
        """The offset nearest ``cursor.offset`` in [lo, hi) whose item has the cursor's key."""
        hits = [
            i for i in range(max(0, lo), hi) if i in self.seen and _same(key(self.seen[i]), cursor)
        ]
        return min(hits, key=lambda i: abs(i - cursor.offset)) if hits else None

    async def locate(self, cursor: Cursor, key: Key[T], argument: str, lo: int, hi: int) -> int:
        """Where the cursor's item is now: first in [lo, hi) (read with the page itself),
        then within the re-alignment window."""
        await self.ensure(lo, hi)
        found = self.find(cursor, key, lo, hi)
        if found is None:
            wide = (cursor.offset - REALIGN_WINDOW, cursor.offset + REALIGN_WINDOW + 1)
            await self.ensure(*wide)
            found = self.find(cursor, key, *wide)
        if found is None:
            raise BadUserInput(
                f"The item `{argument}` names is no longer in this list (deleted, or moved by "
                f"more than {REALIGN_WINDOW} places): start again from the first page",
                field=[argument],
            )
        return found


def _same(value: Any, cursor: Cursor) -> bool:
    return value is not None and str(value) == cursor.key


async def paginate(
    request: PageRequest,
    read: Read[T],
    key: Key[T] = record_key,
    *,
    total: int | None = None,
    counted: bool = True,
) -> Slice[T]:
    """The page ``request`` asks for, over ``read`` (see the module docstring); ``total``
    when the list's length is known before reading. ``counted``: ``read`` answers the
    list's total; when it does not, one item more than the page is read to tell whether
    a next page exists."""
    reader: _Reader[T] = _Reader(read, total=total)
    extra = 0 if counted else 1
    n = request.size
    after, before = request.after, request.before
    if not request.backward:
        start = 0
        if after is not None:
            # The cursor's item, the page, and (without a total) one more: whether a next
            # page exists.
            probe = after.offset + 1 + n + extra
            start = await reader.locate(after, key, "after", after.offset, probe)
            start += 1
        end = start + n
        if before is not None:
            located = await reader.locate(before, key, "before", before.offset, before.offset + 1)
            end = min(end, located)
    else:
        if before is not None:
            end = await reader.locate(before, key, "before", before.offset - n, before.offset + 1)
        else:
            await reader.ensure(0, 0)
            if reader.total is None:
                raise TypeError("read(0, 0) must answer the list's total")
            end = reader.total
        start = max(0, end - n)
        if after is not None:
            start = max(start, await reader.locate(after, key, "after", start - 1, end) + 1)
    end = max(start, end)
    # Without a total, one item more tells whether the page is the last.
    await reader.ensure(start, end + extra)
    total = reader.total
    stop = end if total is None else min(end, total)
    items = [reader.seen[i] for i in range(start, stop) if i in reader.seen]
    following = start + len(items) < total if total is not None else end in reader.seen
    return Slice(
        items=items,
        cursors=Cursors(start, items, key),
        total=total,
        has_previous=start > 0,
        has_next=following,
        start=start,
    )


def sorted_records(
    records: Sequence[dict[str, Any]], key: Callable[[dict[str, Any]], Any], *, descending: bool
) -> list[dict[str, Any]]:
    """``records`` sorted by ``key`` for an order the upstream cannot apply (stable: ties
    keep the upstream's order); records whose key is None go last in either direction."""
    present = [r for r in records if key(r) is not None]
    present.sort(key=key, reverse=descending)
    return present + [r for r in records if key(r) is None]


def whole(items: Sequence[T]) -> Read[T]:
    """``read`` over a list the gateway holds whole (a list the upstream does not page)."""

    async def read(start: int, end: int) -> tuple[Sequence[T], int | None]:
        return items[start:end], len(items)

    return read


async def paginate_list(
    request: PageRequest, items: Sequence[T], key: Key[T] = record_key
) -> Slice[T]:
    """``paginate`` over a list the gateway holds whole."""
    return await paginate(request, whole(items), key, total=len(items))


class _Page(Protocol):
    """One page of an upstream list (``upstreams.services.Page`` is one)."""

    @property
    def items(self) -> list[Any]: ...

    @property
    def total_count(self) -> int: ...


def paged_read(fetch: Callable[[int, int], Awaitable[_Page]], *, max_page_size: int) -> Read[Any]:
    """``read`` over an upstream list paged by number and size: ``fetch(page, size)``
    answers one page (its ``items`` and the list's ``total_count``); the pages of one
    range (one in the common case, see ``plan_range``) are fetched concurrently."""

    async def read(start: int, end: int) -> tuple[Sequence[Any], int | None]:
        plan = plan_range(start, end, max_page_size=max_page_size)
        pages = await asyncio.gather(*(fetch(number, size) for number, size in plan))
        return slice_range(start, end, plan, [p.items for p in pages]), pages[0].total_count

    return read


def plan_range(start: int, end: int, *, max_page_size: int) -> list[tuple[int, int]]:
    """The (page, page_size) calls, 1-based pages, whose union covers offsets [start, end).

    One page when a page size between the span and twice the span (and within the
    upstream's maximum) puts the whole range on one page, as it does for a client that
    pages with a steady ``first``; else pages of the span's size (two), or of the maximum
    page size when the span exceeds it. An empty range reads one item: its total.
    """
    span = end - start
    if span <= 0:
        return [(1, 1)]
    for size in range(span, min(2 * span, max_page_size) + 1):
        if start // size == (end - 1) // size:
            return [(start // size + 1, size)]
    size = min(span, max_page_size)
    return [(page + 1, size) for page in range(start // size, (end - 1) // size + 1)]


def slice_range(
    start: int, end: int, plan: Sequence[tuple[int, int]], pages: Sequence[Sequence[T]]
) -> list[T]:
    """The items at [start, end) out of the pages ``plan_range`` planned."""
    if not plan:
        return []
    first_offset = (plan[0][0] - 1) * plan[0][1]
    items = [item for page in pages for item in page]
    return items[start - first_offset : end - first_offset]

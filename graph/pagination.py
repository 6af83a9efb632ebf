"""Cursor connections (the Relay shape) over the upstreams' page-numbered lists.

A cursor is an opaque, base64-encoded offset. ``plan_pages`` turns (offset, first) into the
fewest upstream pages that cover the window: one page when the client pages with a steady
``first``, as clients do.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import strawberry

from graph.errors import BadUserInput

T = TypeVar("T")

_CURSOR_PREFIX = "offset:"


def encode_cursor(offset: int) -> str:
    return base64.b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise BadUserInput(f"Invalid cursor: {cursor[:64]!r}") from None
    if not text.startswith(_CURSOR_PREFIX) or not text[len(_CURSOR_PREFIX) :].isdigit():
        raise BadUserInput(f"Invalid cursor: {cursor[:64]!r}")
    return int(text[len(_CURSOR_PREFIX) :])


@dataclass(frozen=True, slots=True)
class Window:
    """The slice of a list a connection field asks for."""

    offset: int
    first: int


def window(first: int | None, after: str | None, *, default: int, maximum: int) -> Window:
    """Validate ``first``/``after`` into an offset window; bad values are BAD_USER_INPUT."""
    if first is None:
        first = default
    if first < 0 or first > maximum:
        raise BadUserInput(f"`first` must be between 0 and {maximum}, got {first}")
    offset = decode_cursor(after) + 1 if after is not None else 0
    return Window(offset=offset, first=first)


def plan_pages(win: Window, *, max_page_size: int) -> list[tuple[int, int]]:
    """The (page, page_size) calls, 1-based pages, whose union covers the window."""
    if win.first == 0:
        return []
    size = win.first
    first_page = win.offset // size
    last_page = (win.offset + win.first - 1) // size
    if size <= max_page_size:
        return [(page + 1, size) for page in range(first_page, last_page + 1)]
    raise BadUserInput(f"`first` must be at most {max_page_size}")  # pragma: no cover


def slice_pages(win: Window, pages: Sequence[Sequence[T]], *, page_size: int) -> list[T]:
    """The window's items out of the fetched pages (see ``plan_pages``)."""
    if not pages:
        return []
    start = win.offset - (win.offset // page_size) * page_size
    items = [item for page in pages for item in page]
    return items[start : start + win.first]


@strawberry.type(description="Pagination state of a connection.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="One item of a connection with its cursor.")
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list, with cursors to move on.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int

    @classmethod
    def build(cls, nodes: Sequence[T], win: Window, total_count: int) -> Connection[T]:
        edges = [Edge(cursor=encode_cursor(win.offset + i), node=n) for i, n in enumerate(nodes)]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=win.offset + len(nodes) < total_count,
                has_previous_page=win.offset > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=total_count,
        )

    @classmethod
    def from_list(cls, items: Sequence[T], win: Window) -> Connection[T]:
        """A connection over a list held whole (an upstream that does not page)."""
        return cls.build(items[win.offset : win.offset + win.first], win, len(items))

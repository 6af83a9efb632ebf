"""Cursor windows over the upstreams' page-numbered lists.

A cursor is an opaque, base64-encoded offset. ``plan_pages`` turns (offset, first) into the
fewest upstream pages that cover the window: one page when the client pages with a steady
``first``, as clients do.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from resolvers.errors import BadUserInput

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
    # Pages of size ``first`` (``window`` keeps it within the upstream's maximum): at most two.
    size = min(win.first, max_page_size)
    first_page = win.offset // size
    last_page = (win.offset + win.first - 1) // size
    return [(page + 1, size) for page in range(first_page, last_page + 1)]


def slice_pages(win: Window, pages: Sequence[Sequence[T]], *, page_size: int) -> list[T]:
    """The window's items out of the fetched pages (see ``plan_pages``)."""
    if not pages:
        return []
    start = win.offset - (win.offset // page_size) * page_size
    items = [item for page in pages for item in page]
    return items[start : start + win.first]

"""Cursor connections (the Relay shape): edges, node, pageInfo, totalCount."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

import strawberry

from resolvers.pagination import Window, decode_cursor, encode_cursor, window

__all__ = ["Connection", "Edge", "PageInfo", "Window", "decode_cursor", "encode_cursor", "window"]

T = TypeVar("T")


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

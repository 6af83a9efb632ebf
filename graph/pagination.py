"""Cursor connections (Relay's spec): edges, nodes, pageInfo, totalCount.

A connection field takes ``first``/``after`` (forward) or ``last``/``before`` (backward);
its cursors name their items (``resolvers.pagination``). ``PageArgs`` reads the four
arguments with the request's page sizes; ``Connection.build`` turns a ``Slice`` of records
into the connection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from graph.values import built
from resolvers.pagination import (
    PAGE_SIZE_RULE,
    PageRequest,
    Slice,
    page_request,
    paginate,
    paginate_list,
    whole,
)

__all__ = [
    "PAGE_SIZE_RULE",
    "After",
    "Before",
    "Connection",
    "Edge",
    "First",
    "First100",
    "First999",
    "Last",
    "Last100",
    "Last999",
    "PageInfo",
    "PageRequest",
    "Slice",
    "connection_args",
    "edges_of",
    "page_info_of",
    "page_request",
    "paginate",
    "whole",
]

T = TypeVar("T")


@strawberry.type(description="Where a page sits in its list (Relay's PageInfo).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="True when items follow this page (under the same filter and order)."
    )
    has_previous_page: bool = strawberry.field(description="True when items come before this page.")
    start_cursor: str | None = strawberry.field(
        description="The cursor of the page's first item; null for an empty page."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of the page's last item; null for an empty page."
    )


@strawberry.type(description="One item of a connection with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(
        description="Names this item: pass it as `after` (or `before`) to page from here, "
        "even when items were added or removed before it meanwhile."
    )
    node: T = strawberry.field(description="The item.")

    def __getattr__(self, name: str) -> Any:
        # An edge of ``edges_of`` holds its page's cursors and its index, and names its
        # cursor when it is first read (then as a plain attribute).
        values = self.__dict__
        if name != "cursor" or "_cursors" not in values:
            raise AttributeError(name)
        cursor: str = values["_cursors"][values["_index"]]
        values["cursor"] = cursor
        return cursor


def edges_of(page: Slice[Any], nodes: list[T]) -> list[Edge[T]]:
    """The edges of ``page`` (its nodes made): each cursor is made only if it is read."""
    cursors = page.cursors
    return [
        built(Edge, {"node": node, "_cursors": cursors, "_index": index})
        for index, node in enumerate(nodes)
    ]


def page_info_of(page: Slice[Any]) -> PageInfo:
    """Where ``page`` sits in its list."""
    cursors = page.cursors
    return PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


@strawberry.type(description="A page of a list, with cursors to move on.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The page's items with their cursors.")
    nodes: list[T] = strawberry.field(description="The page's items, without cursors.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    total_count: int = strawberry.field(
        description="How many items the whole list holds (under the same filter)."
    )

    @classmethod
    def build(cls, page: Slice[Any], convert: Callable[[Any], T]) -> Connection[T]:
        """The connection of ``page``, each record turned into its node by ``convert``."""
        if page.total is None:
            raise TypeError("a Connection needs the list's total; count it or use its own type")
        nodes = [convert(item) for item in page.items]
        return cls(
            edges=edges_of(page, nodes),
            nodes=nodes,
            page_info=page_info_of(page),
            total_count=page.total,
        )

    @classmethod
    async def from_list(
        cls, items: Sequence[Any], request: PageRequest, convert: Callable[[Any], T]
    ) -> Connection[T]:
        """A connection over a list held whole (an upstream that does not page)."""
        return cls.build(await paginate_list(request, items), convert)


def connection_args(
    ctx: Any,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    *,
    maximum: int | None = None,
) -> PageRequest:
    """The connection arguments with the request's page sizes (``maximum`` lowers the
    largest page where the upstream serves less)."""
    most = ctx.max_page_size if maximum is None else min(maximum, ctx.max_page_size)
    return page_request(
        first, after, last, before, default=min(ctx.default_page_size, most), maximum=most
    )


# The four connection arguments, described once: `first` and `last` in three sizes (the
# graph's largest page, and the smaller pages of two upstreams).


def _forward(rule: str) -> Any:
    return strawberry.argument(description=f"Page forward: this many items after `after`. {rule}.")


def _backward(rule: str) -> Any:
    return strawberry.argument(
        description=f"Page backward: this many items before `before` (or the list's end). {rule}."
    )


def _smaller(maximum: int, why: str) -> str:
    return f"`first` or `last`: default TRACSEQ_DEFAULT_PAGE_SIZE (50), at most {maximum} ({why})"


_SERVICE_PAGE = _smaller(100, "the sequencing service's largest page")
_NOTIFICATION_PAGE = _smaller(
    999, "one call answers 1,000, and the gateway reads one more to tell whether a next page exists"
)
First = Annotated[int | None, _forward(PAGE_SIZE_RULE)]
Last = Annotated[int | None, _backward(PAGE_SIZE_RULE)]
First100 = Annotated[int | None, _forward(_SERVICE_PAGE)]
Last100 = Annotated[int | None, _backward(_SERVICE_PAGE)]
First999 = Annotated[int | None, _forward(_NOTIFICATION_PAGE)]
Last999 = Annotated[int | None, _backward(_NOTIFICATION_PAGE)]
After = Annotated[
    str | None,
    strawberry.argument(description="The cursor of the item the page starts after."),
]
Before = Annotated[
    str | None,
    strawberry.argument(description="The cursor of the item the page ends before."),
]

"""Cursor pagination over offset-paged lists (resolvers.pagination), without a network:
a cursor names its item, so pages re-align when rows come and go before it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from resolvers.errors import BadUserInput
from resolvers.pagination import (
    REALIGN_WINDOW,
    PageRequest,
    decode_cursor,
    encode_cursor,
    page_request,
    paginate,
    paginate_list,
    plan_range,
    slice_range,
)


class Upstream:
    """An offset-paged list that counts its calls, as the samples service pages."""

    def __init__(self, n: int) -> None:
        self.rows = [{"id": f"r{i}"} for i in range(n)]
        self.calls = 0
        self.rows_sent = 0

    async def read(self, start: int, end: int) -> tuple[Sequence[dict[str, Any]], int]:
        self.calls += 1
        plan = plan_range(start, end, max_page_size=1000)
        pages = [self.rows[(p - 1) * s : p * s] for p, s in plan]
        self.rows_sent += sum(len(p) for p in pages)
        return slice_range(start, end, plan, pages), len(self.rows)


def _request(first: int | None = None, after: str | None = None, **kw: Any) -> PageRequest:
    return page_request(first, after, kw.get("last"), kw.get("before"), default=50, maximum=1000)


def _ids(page: Any) -> list[str]:
    return [r["id"] for r in page.items]


async def test_a_steady_walk_forward_costs_one_upstream_call_per_page() -> None:
    up = Upstream(100)
    first = await paginate(_request(10), up.read)
    second = await paginate(_request(10, first.cursors[-1]), up.read)
    assert _ids(first) + _ids(second) == [f"r{i}" for i in range(20)]
    assert up.calls == 2
    assert (first.has_previous, first.has_next, second.has_previous) == (False, True, True)


async def test_a_page_of_the_largest_size_is_one_upstream_page_of_that_size() -> None:
    up = Upstream(3000)
    page = await paginate(_request(1000), up.read)
    assert len(page.items) == 1000
    assert (up.calls, up.rows_sent) == (1, 1000)


async def test_an_insert_at_the_head_neither_repeats_nor_skips() -> None:
    up = Upstream(100)
    first = await paginate(_request(10), up.read)
    up.rows.insert(0, {"id": "new"})
    second = await paginate(_request(10, first.cursors[-1]), up.read)
    assert _ids(second) == [f"r{i}" for i in range(10, 20)]


async def test_a_delete_at_the_head_neither_repeats_nor_skips() -> None:
    up = Upstream(100)
    first = await paginate(_request(10), up.read)
    del up.rows[0:3]
    second = await paginate(_request(10, first.cursors[-1]), up.read)
    assert _ids(second) == [f"r{i}" for i in range(10, 20)]


async def test_a_cursor_whose_item_is_gone_is_bad_user_input_naming_the_argument() -> None:
    up = Upstream(100)
    first = await paginate(_request(10), up.read)
    del up.rows[9]
    with pytest.raises(BadUserInput) as caught:
        await paginate(_request(10, first.cursors[-1]), up.read)
    assert caught.value.field == ["after"]


async def test_an_item_moved_further_than_the_window_is_refused_not_shifted() -> None:
    up = Upstream(400)
    first = await paginate(_request(10), up.read)
    up.rows[0:0] = [{"id": f"n{i}"} for i in range(REALIGN_WINDOW + 5)]
    with pytest.raises(BadUserInput):
        await paginate(_request(10, first.cursors[-1]), up.read)


async def test_last_and_before_walk_backward_onto_the_forward_pages() -> None:
    up = Upstream(30)
    tail = await paginate(_request(last=10), up.read)
    assert _ids(tail) == [f"r{i}" for i in range(20, 30)]
    assert (tail.has_previous, tail.has_next) == (True, False)
    previous = await paginate(_request(last=10, before=tail.cursors[0]), up.read)
    assert _ids(previous) == [f"r{i}" for i in range(10, 20)]


async def test_after_and_before_together_bound_the_page() -> None:
    items = [{"id": f"r{i}"} for i in range(30)]
    whole = await paginate_list(_request(30), items)
    between = await paginate_list(_request(30, whole.cursors[4], before=whole.cursors[9]), items)
    assert _ids(between) == ["r5", "r6", "r7", "r8"]


async def test_a_list_without_a_total_reads_one_more_to_know_the_next_page() -> None:
    rows = [{"id": f"r{i}"} for i in range(15)]

    async def read(start: int, end: int) -> tuple[list[dict[str, Any]], int | None]:
        return rows[start:end], None

    first = await paginate(_request(10), read, counted=False)
    last = await paginate(_request(10, first.cursors[-1]), read, counted=False)
    assert (first.has_next, first.total) == (True, None)
    assert (_ids(last), last.has_next, last.total) == ([f"r{i}" for i in range(10, 15)], False, 15)


def test_first_and_last_together_are_refused() -> None:
    with pytest.raises(BadUserInput, match="not both"):
        page_request(5, None, 5, None, default=50, maximum=1000)


@pytest.mark.parametrize("value", [-1, 1001])
def test_a_page_size_out_of_range_is_refused_naming_it(value: int) -> None:
    with pytest.raises(BadUserInput) as caught:
        page_request(None, None, value, None, default=50, maximum=1000)
    assert caught.value.field == ["last"]


@pytest.mark.parametrize("cursor", ["", "bm9wZQ==", encode_cursor(3, "x")[:-2], "!!"])
def test_a_cursor_that_is_not_ours_is_bad_user_input(cursor: str) -> None:
    with pytest.raises(BadUserInput):
        decode_cursor(cursor)


def test_a_cursor_carries_its_offset_and_its_item() -> None:
    cursor = decode_cursor(encode_cursor(41, "5f0c3b9e-0000-4000-8000-000000000000"))
    assert (cursor.offset, cursor.key) == (41, "5f0c3b9e-0000-4000-8000-000000000000")


@pytest.mark.parametrize(("start", "end"), [(0, 11), (9, 20), (999, 1101), (49, 101)])
def test_a_range_a_steady_client_asks_for_is_one_page(start: int, end: int) -> None:
    plan = plan_range(start, end, max_page_size=1000)
    assert len(plan) == 1
    page, size = plan[0]
    assert (page - 1) * size <= start
    assert end <= page * size


async def test_a_page_names_each_item_by_its_offset_and_key_when_its_cursor_is_read() -> None:
    up = Upstream(100)
    first = await paginate(_request(10), up.read)
    page = await paginate(_request(5, first.cursors[-1]), up.read)
    expected = [encode_cursor(10 + i, f"r{10 + i}") for i in range(5)]
    assert list(page.cursors) == expected
    assert page.cursors[-1] == expected[-1]
    assert page.cursors[1:3] == expected[1:3]
    assert len(page.cursors) == 5
    with pytest.raises(IndexError):
        page.cursors[5]

"""Sort orders of lists: one `OrderDirection`, and sorting records in the gateway.

A list's default order is its upstream's own (newest first) and costs nothing; another
order (an `orderBy` the release cannot apply) reads the list whole and sorts it here.
Records without the sort key go last in either direction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

import strawberry


@strawberry.enum(description="Which way a list is sorted.")
class OrderDirection(Enum):
    ASC = strawberry.enum_value("asc", description="Ascending: smallest, oldest or A first.")
    DESC = strawberry.enum_value("desc", description="Descending: largest, newest or Z first.")


def sort_records(
    records: Sequence[dict[str, Any]],
    key: Callable[[dict[str, Any]], Any],
    direction: OrderDirection,
) -> list[dict[str, Any]]:
    """``records`` sorted by ``key`` (stable: ties keep the upstream's order); records whose
    key is None go last."""
    present = [r for r in records if key(r) is not None]
    absent = [r for r in records if key(r) is None]
    present.sort(key=key, reverse=direction is OrderDirection.DESC)
    return present + absent

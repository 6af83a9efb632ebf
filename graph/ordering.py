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

from resolvers.pagination import sorted_records


@strawberry.enum(description="Which way a list is sorted.")
class OrderDirection(Enum):
    ASC = strawberry.enum_value("asc", description="Ascending: smallest, oldest or A first.")
    DESC = strawberry.enum_value("desc", description="Descending: largest, newest or Z first.")


def sort_records(
    records: Sequence[dict[str, Any]],
    key: Callable[[dict[str, Any]], Any],
    direction: OrderDirection,
) -> list[dict[str, Any]]:
    """``records`` sorted by ``key`` in ``direction`` (``resolvers.pagination.sorted_records``)."""
    return sorted_records(records, key, descending=direction is OrderDirection.DESC)

"""The schema object: the domains' root types merged, plus the schema-level extensions."""

from __future__ import annotations

from functools import partial

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from graph import notifications, rag, samples, sequencing, status, storage, templates, users
from graph.errors import ErrorCodes

# Each domain module may define a root ``Query`` and a ``Mutation`` type; the graph's roots
# are their union, in this order.
DOMAINS = (samples, templates, storage, sequencing, users, rag, notifications, status)
QUERIES: tuple[type, ...] = tuple(m.Query for m in DOMAINS if hasattr(m, "Query"))
MUTATIONS: tuple[type, ...] = tuple(m.Mutation for m in DOMAINS if hasattr(m, "Mutation"))

Query = merge_types("Query", QUERIES)
Mutation = merge_types("Mutation", MUTATIONS) if MUTATIONS else None


def create_schema(*, cache_size: int = 1000) -> strawberry.Schema:
    """The gateway's schema; extensions are schema-level hooks only (none per field)."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[
            # Factories: both caches live at module level, shared by every request.
            partial(ParserCache, maxsize=cache_size),
            partial(ValidationCache, maxsize=cache_size),
            ErrorCodes,
        ],
    )

"""The schema object: the domains' root types merged, plus the schema-level extensions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from graph import (
    nodes,
    notifications,
    rag,
    samples,
    sequencing,
    status,
    storage,
    templates,
    users,
)
from graph.errors import ErrorCodes
from graph.execution import GatewayExecutor
from graph.permissions import is_public
from graph.scalars import SCALAR_OVERRIDES
from security.authentication import BearerCheck
from security.config import OperationLimits
from security.operation import OperationGuard, Spend
from security.persisted import RegisterDocument

# Each domain module may define a root ``Query`` and a ``Mutation`` type; the graph's roots
# are their union, in this order.
DOMAINS = (samples, templates, storage, sequencing, users, rag, notifications, status, nodes)
QUERIES: tuple[type, ...] = tuple(m.Query for m in DOMAINS if hasattr(m, "Query"))
MUTATIONS: tuple[type, ...] = tuple(m.Mutation for m in DOMAINS if hasattr(m, "Mutation"))

Query = strawberry.type(
    type("Query", QUERIES, {}),
    description="What a client can read: each root field is nullable, so that one failing "
    "service nulls its own fields only, with an error that names it.",
)
Mutation = strawberry.type(
    type("Mutation", MUTATIONS, {}),
    description="What a client can change: `name(input: NameInput!): NamePayload`. A payload "
    "holds what changed and `userErrors`, the problems the caller can fix; failures of "
    "transport, authorisation or an upstream are top-level errors.",
)


def create_schema(
    *,
    cache_size: int = 1000,
    limits: OperationLimits | None = None,
    spend: Spend | None = None,
    on_violation: Callable[[Any, str], None] | None = None,
    introspection: bool = True,
    hide_suggestions: bool = False,
    extra_extensions: Sequence[Any] = (),
) -> strawberry.Schema:
    """The gateway's schema. Extensions are schema-level hooks only (none per field), in
    this order: parse (cached, token-limited), validate (cached; introspection refused when
    off), the refusal of a bearer token the gateway did not accept (unless every root field
    is public), operation limits and cost with the rate-limit spend, the registration of a
    new persisted document (only once that spend was allowed), error codes."""
    limits = limits or OperationLimits()
    extensions: list[Any] = [
        # Factories: both caches live at module level, shared by every request.
        partial(MaxTokensLimiter, max_token_count=limits.max_tokens),
        partial(ParserCache, maxsize=cache_size),
    ]
    if not introspection:
        extensions.append(partial(AddValidationRules, [NoSchemaIntrospectionCustomRule]))
    extensions += [
        partial(ValidationCache, maxsize=cache_size),
        partial(BearerCheck, public=is_public),
        partial(OperationGuard, limits=limits, spend=spend, on_violation=on_violation),
        RegisterDocument,
        partial(ErrorCodes, hide_suggestions=hide_suggestions),
        *extra_extensions,
    ]
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(
            auto_camel_case=True, batching_config={"max_operations": limits.max_batch}
        ),
        extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,
        execution_context_class=GatewayExecutor,
    )

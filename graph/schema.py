"""The schema object: the domains' root types merged."""

from __future__ import annotations

from functools import partial

import strawberry
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
from graph.inputs import compile_inputs
from graph.scalars import SCALAR_OVERRIDES

# Each domain module may define a root ``Query``, ``Mutation`` and ``Subscription`` type;
# the graph's roots are their union, in this order.
DOMAINS = (samples, templates, storage, sequencing, users, rag, notifications, status, nodes)
QUERIES: tuple[type, ...] = tuple(m.Query for m in DOMAINS if hasattr(m, "Query"))
MUTATIONS: tuple[type, ...] = tuple(m.Mutation for m in DOMAINS if hasattr(m, "Mutation"))
SUBSCRIPTIONS: tuple[type, ...] = tuple(
    m.Subscription for m in DOMAINS if hasattr(m, "Subscription")
)

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

Subscription = strawberry.type(
    type("Subscription", SUBSCRIPTIONS, {}),
    description="What a client can watch, over a WebSocket on /graphql (the "
    "graphql-transport-ws protocol): each event resolves as the query of its type would, "
    "under the same permissions.",
)


def create_schema(*, hide_suggestions: bool = False) -> strawberry.Schema:
    """The gateway's schema: types, resolvers, SDL and introspection. The GraphQL endpoint
    executes it through prepared operations (``gateway.prepared``), which parse, validate,
    measure and classify errors themselves; the one schema extension, ``ErrorCodes``,
    serves ``Schema.execute`` for tools and tests. Its input types build their values from
    plans made once (``graph.inputs``)."""
    schema = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[partial(ErrorCodes, hide_suggestions=hide_suggestions)],
        scalar_overrides=SCALAR_OVERRIDES,
        execution_context_class=GatewayExecutor,
    )
    compile_inputs(schema)
    return schema

"""Refetching by id: the `Node` interface and the `node(id:)` and `nodes(ids:)` fields.

Ids are the upstreams' own UUIDs (the ones REST clients, URLs and logs already use), not
global ids: a client that has a sample's id from `/api/samples` can ask the graph for it.
A UUID does not say its type, so ``node`` asks every node type the caller may read, each
through its request loader (one batched call per service for ``nodes``), and answers the
object that exists. UUIDs are unique across the services; types register here with the
RBAC rule that guards their own root field (``register``), so ``node`` shows nobody more
than the typed fields would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from graph.permissions import requires
from resolvers.context import Context
from resolvers.errors import BadUserInput, Unauthenticated
from security import rbac
from upstreams.errors import UpstreamError

# The most ids one `nodes` call takes.
MAX_NODES = 100


def _canonical(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


@strawberry.interface(
    description="An object with a stable id: `node(id:)` and `nodes(ids:)` fetch it again."
)
class Node:
    id: strawberry.ID = strawberry.field(
        description="The object's UUID, as its upstream service and the REST API know it."
    )


Fetch = Callable[[Context, Sequence[str]], Awaitable[Sequence[Any]]]


@dataclass(frozen=True, slots=True)
class NodeType:
    name: str
    rule: str
    fetch: Fetch  # ids -> aligned list of graph objects or None


_TYPES: dict[str, NodeType] = {}


def register(name: str, rule: str, fetch: Fetch) -> None:
    """Make a Node type refetchable: ``fetch(ctx, ids)`` answers its objects aligned with
    ``ids`` (None where there is none), through the request's loaders."""
    _TYPES[name] = NodeType(name=name, rule=rule, fetch=fetch)


async def resolve(ctx: Context, ids: Sequence[str]) -> list[Any]:
    """The objects with these ids, whatever their type; None where no readable type has
    one. When a service failed (or refused the caller) and no other service has the id, its
    error is raised: a null would say "there is none", which is not known."""
    keys = [_canonical(i) for i in ids]
    wanted = [k for k in dict.fromkeys(keys) if k is not None]
    found: dict[str, Any] = {}
    failures: list[BaseException] = []
    readable = [t for t in _TYPES.values() if rbac.allows(t.rule, ctx.principal)]
    if wanted and readable:
        results = await asyncio.gather(
            *(t.fetch(ctx, wanted) for t in readable), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                # A service that failed, or that refused the caller's session (auth's
                # admin reads for a session it does not know), leaves the others' answers.
                if not isinstance(result, (UpstreamError, Unauthenticated)):
                    raise result
                failures.append(result)
                continue
            for key, obj in zip(wanted, result, strict=True):
                if obj is not None and key not in found:
                    found[key] = obj
    if failures and any(k is not None and k not in found for k in keys):
        raise failures[0]
    return [found.get(k) if k is not None else None for k in keys]


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.AUTHENTICATED)],
        description="The object with this id, whatever its type, among those the caller may "
        "read; null when there is none (or the id is not a UUID).",
    )
    async def node(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The object's UUID.")],
    ) -> Node | None:
        return (await resolve(info.context, [str(id)]))[0]

    @strawberry.field(
        permission_classes=[requires(rbac.AUTHENTICATED)],
        description=f"The objects with these ids (at most {MAX_NODES}), in the same order; "
        "null where there is none.",
    )
    async def nodes(
        self,
        info: Info[Context, None],
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="The objects' UUIDs.")],
    ) -> list[Node | None] | None:
        if len(ids) > MAX_NODES:
            raise BadUserInput(f"`ids` takes at most {MAX_NODES} ids, got {len(ids)}")
        return await resolve(info.context, [str(i) for i in ids])

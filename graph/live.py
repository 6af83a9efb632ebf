"""What the subscription root fields share: their arguments made a ``resolvers.live.Watch``;
the topic each watches (``topic_of``); and whether a subscription's events read the same for
every caller of one role (``caller_independent``), so that one execution may serve them
all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from functools import cache
from typing import Any

import strawberry
from graphql import (
    BREAK,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLSchema,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    visit,
)

from graph import users
from graph.values import member
from resolvers.errors import BadUserInput, parse_id
from resolvers.live import JOBS, NOTIFICATIONS, SAMPLES, Change

# The topic (``resolvers.live``) of each root subscription field.
ROOT_TOPICS = {
    "sampleStatusChanged": SAMPLES,
    "sequencingJobUpdated": JOBS,
    "notificationReceived": NOTIFICATIONS,
}

# Root subscription fields whose events are the caller's own (its notifications).
CALLER_ROOTS = frozenset({"notificationReceived"})


def watched_ids(ids: Sequence[strawberry.ID] | None) -> frozenset[str] | None:
    """The UUIDs an ``ids`` argument names (None: every record); an empty list watches
    nothing and is refused, as is a malformed id."""
    if ids is None:
        return None
    if not ids:
        raise BadUserInput("`ids` must name at least one id, or be left out", field=["ids"])
    return frozenset(parse_id(str(i), f"ids.{n}") for n, i in enumerate(ids))


def watched_statuses(statuses: Sequence[Enum] | None) -> frozenset[str] | None:
    """The statuses a ``statuses`` argument names (None or empty: any)."""
    if not statuses:
        return None
    return frozenset(str(s.value) for s in statuses)


@cache
def caller_types() -> frozenset[str]:
    """The graph's types read from the auth service, which answers for the caller's token
    (people, users, sessions): a selection reaching one depends on who asks."""
    names = set()
    for value in vars(users).values():
        definition = getattr(value, "__strawberry_definition__", None)
        if (
            getattr(value, "__module__", None) == users.__name__
            and definition is not None
            and not getattr(definition, "is_input", True)
        ):
            names.add(definition.name)
    return frozenset(names - {"Query", "Mutation", "Subscription"})


def caller_independent(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> bool:
    """Whether a subscription's events read the same for every caller of one role: no
    root field of the caller's own (``CALLER_ROOTS``) and no field of ``caller_types``.
    (Permissions by role are met or not alike for the whole role; the rules a record's
    creator meets guard mutations only.)"""
    info = TypeInfo(schema)
    subscription = schema.subscription_type
    names = caller_types()
    found = False

    class Finder(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> Any:
            nonlocal found
            field_type = info.get_type()
            if (info.get_parent_type() is subscription and node.name.value in CALLER_ROOTS) or (
                field_type is not None and get_named_type(field_type).name in names
            ):
                found = True
                return BREAK
            return None

    for node in (operation, *fragments.values()):
        visit(node, TypeInfoVisitor(info, Finder()))
        if found:
            return False
    return True


def topic_of(operation: OperationDefinitionNode) -> str | None:
    """The topic a subscription operation watches (validation leaves it one root field);
    None for any other."""
    for selection in operation.selection_set.selections:
        if isinstance(selection, FieldNode) and selection.name.value in ROOT_TOPICS:
            return ROOT_TOPICS[selection.name.value]
    return None


def event_values(enum: type[Enum], change: Change, service: str) -> dict[str, Any]:
    """A status event's ``previous_status``, ``status`` and ``changed_at`` (a status the
    graph does not know is the service's bad answer, in the field's place)."""

    def status(value: str | None) -> Any:
        return member(enum, value, service=service, field="status")

    return {
        "previous_status": status(change.previous),
        "status": status(change.status),
        "changed_at": change.changed_at,
    }

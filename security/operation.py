"""Operation limits and cost, measured in one walk over the operation's document.

    depth        deepest nesting of fields (fragments inlined)
    aliases      fields that carry an alias
    root fields  top-level fields of the operation
    cost         every object field costs 1 plus its children; a field with a ``first``
                 argument (a connection or page), or returning a list, multiplies its
                 children by ``first``, or by the default page size when not given one.
                 Relay ``edges`` and ``nodes`` are already counted by their connection's
                 ``first`` (or ``last``). The count saturates at ``MAX_COUNTED_COST``
                 (2**53 - 1, the largest integer every JSON reader keeps exactly).

A prepared operation (``gateway.prepared``) measures them once after validation (again per
request only when a ``first`` takes a variable); the endpoint reports a violation as an
error with a code (``limit_error``) before anything executes, then spends the operation's
cost from the caller's rate-limit bucket (``spend_refusal`` when refused). Token counts are
limited at parse time (graphql-core's ``max_tokens``); a document's size in bytes before
parsing (``document_violation``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

from security.config import OperationLimits
from security.documents import fields
from security.ratelimit import Decision
from security.throttle import retry_after_seconds

LIMIT_EXCEEDED = "OPERATION_LIMIT_EXCEEDED"
RATE_LIMITED = "RATE_LIMITED"
BAD_REQUEST = "BAD_REQUEST"
MAX_COUNTED_COST = 2**53 - 1


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int
    aliases: int
    root_fields: int
    cost: int


def _unwrap(type_: Any) -> tuple[Any, bool]:
    """The named type under NonNull/List wrappers, and whether a list was among them."""
    is_list = False
    while isinstance(type_, (GraphQLNonNull, GraphQLList)):
        is_list = is_list or isinstance(type_, GraphQLList)
        type_ = type_.of_type
    return type_, is_list


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        default_page_size: int,
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_page_size = default_page_size
        self.max_page_size = max_page_size
        self.aliases = 0
        self.max_depth = 0

    def _first(self, node: FieldNode) -> int | None:
        """The page size a connection field asks for: its ``first`` or ``last``."""
        for arg in node.arguments or ():
            if arg.name.value not in ("first", "last"):
                continue
            value = arg.value
            given: Any = None
            if isinstance(value, IntValueNode):
                given = int(value.value)
            elif isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
            if not isinstance(given, int):
                return None
            # A `first` out of range is refused by its field before any upstream call.
            return given if 0 <= given <= self.max_page_size else 0
        return None

    def cost(self, selection_set: SelectionSetNode, parent: Any, depth: int) -> int:
        self.max_depth = max(self.max_depth, depth)
        total = 0
        definitions = getattr(parent, "fields", {})
        for node in fields(selection_set, self.fragments):
            if node.alias is not None:
                self.aliases += 1
            if node.selection_set is None:
                continue  # scalars and enums are free
            if node.name.value.startswith("__"):
                # Introspection (GraphiQL's own query nests 15 deep) is bounded by the
                # schema and switched off as a whole in production: not counted here.
                continue
            definition = definitions.get(node.name.value)
            child_type, is_list = _unwrap(definition.type) if definition else (None, False)
            children = self.cost(node.selection_set, child_type, depth + 1)
            first = self._first(node)
            if node.name.value in _PAGE_ITEMS and _is_connection(parent):
                multiplier = 1
            elif first is not None:
                multiplier = first
            elif is_list or (definition is not None and "first" in definition.args):
                multiplier = self.default_page_size
            else:
                multiplier = 1
            total = min(MAX_COUNTED_COST, total + multiplier * (1 + children))
        return total


# A connection's fields that list its page: counted once by the connection's page size.
_PAGE_ITEMS = frozenset({"edges", "nodes"})


def _is_connection(parent: Any) -> bool:
    return getattr(parent, "name", "").endswith("Connection")


def measure(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any] | None,
    *,
    default_page_size: int,
    max_page_size: int = 1000,
) -> Measure:
    root = {
        "query": schema.query_type,
        "mutation": schema.mutation_type,
        "subscription": schema.subscription_type,
    }[operation.operation.value]
    walker = _Walker(schema, fragments, variables or {}, default_page_size, max_page_size)
    cost = walker.cost(operation.selection_set, root, 1)
    root_fields = sum(1 for _ in fields(operation.selection_set, fragments))
    return Measure(
        depth=walker.max_depth, aliases=walker.aliases, root_fields=root_fields, cost=max(1, cost)
    )


def violation(m: Measure, limits: OperationLimits) -> str | None:
    if m.depth > limits.max_depth:
        return f"Query depth {m.depth} exceeds the limit of {limits.max_depth}"
    if m.aliases > limits.max_aliases:
        return f"Query uses {m.aliases} aliases; the limit is {limits.max_aliases}"
    if m.root_fields > limits.max_root_fields:
        return f"Query has {m.root_fields} root fields; the limit is {limits.max_root_fields}"
    if m.cost > limits.max_cost:
        return f"Query cost {m.cost} exceeds the limit of {limits.max_cost}"
    return None


def document_violation(document: str, limits: OperationLimits) -> str | None:
    """Why a document is too large to parse (its UTF-8 size), or None."""
    size = len(document.encode("utf-8"))
    if size > limits.max_document_bytes:
        return f"The document is {size} bytes; the limit is {limits.max_document_bytes} bytes"
    return None


def limit_error(problem: str, cost: int) -> GraphQLError:
    """The error that refuses an operation over the limits, before anything executes."""
    return GraphQLError(problem, extensions={"code": LIMIT_EXCEEDED, "cost": cost})


def spend_refusal(decision: Decision | None, cost: int) -> GraphQLError | None:
    """The error that refuses an operation whose cost the caller's bucket did not allow;
    None when it was allowed (or rate limiting is off)."""
    if decision is None or decision.allowed:
        return None
    retry = retry_after_seconds(decision)
    message = f"Rate limit exceeded: this operation costs {cost}" + (
        f"; retry after {retry} s" if retry is not None else ""
    )
    return GraphQLError(
        message, extensions={"code": RATE_LIMITED, "retryAfter": retry, "cost": cost}
    )


def ambiguity_error() -> GraphQLError:
    """A document of several operations and no operation name: the spec refuses to guess."""
    message = "Must provide operation name if query contains multiple operations"
    return GraphQLError(message, extensions={"code": BAD_REQUEST})


def cost_depends_on_variables(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> bool:
    """Whether a ``first`` or ``last`` argument of the operation takes a variable: its
    measure then depends on the request's variables; otherwise it is measured once."""
    nodes: list[Any] = [operation, *fragments.values()]
    while nodes:
        node = nodes.pop()
        selection_set = getattr(node, "selection_set", None)
        if isinstance(node, FieldNode):
            for arg in node.arguments or ():
                if arg.name.value in ("first", "last") and isinstance(arg.value, VariableNode):
                    return True
        if selection_set is not None:
            nodes.extend(selection_set.selections)
    return False

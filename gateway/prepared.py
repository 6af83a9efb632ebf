"""Prepared operations: what a GraphQL document and an operation name decide, worked out
once and kept in a bounded LRU, so that a request pays only for what its variables change.

An entry is keyed by the document's SHA-256 (or the APQ hash it came with, the same value)
and the operation name. It holds the parsed document (token-limited), its validation
errors (a document that fails is kept too, so it is not parsed or validated again), the
operation the name selects (``security.documents``: none when the document is ambiguous),
the operation's type and name as the access log reports them, whether every root field it
selects is public (``security.authentication.all_public``, the bearer refusal), its
limits and cost (``security.operation``) unless a ``first`` takes a variable, when
``limits`` measures them per request, and for a subscription whether its subscribers of
one role may share one execution (``graph.live.caller_independent``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    Executor,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    execute,
    parse,
    specified_rules,
    subscribe,
    validate,
)
from graphql.pyutils import AwaitableOrValue
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from graph.live import caller_independent, topic_of
from graph.permissions import is_public
from security.authentication import all_public
from security.config import OperationLimits
from security.documents import Selected, selected_operation
from security.operation import Measure, cost_depends_on_variables, measure, violation
from security.threats import DocumentScreen, ThreatDetector


@dataclass(frozen=True, slots=True)
class Prepared:
    """What one (document, operation name) decides. ``document`` is None when it did not
    parse (``errors`` says why); ``operation_type`` is None when the name names no
    operation of the document, or it has none (``unknown`` says so); ``selected`` is None
    when the document holds several operations and no name picks one."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]
    operation_type: str | None
    operation_name: str | None
    unknown: str
    selected: Selected | None
    public: bool
    measure: Measure | None  # None: measured per request (a `first` takes a variable)
    # A subscription whose events read alike for every caller of a role
    # (graph.live.caller_independent): its subscribers of one role may share an execution.
    shared: bool = False
    topic: str | None = None  # a subscription's (resolvers.live): what its metrics count
    # The literal arguments scanned for threats, and where each variable goes
    # (security.threats); None: detection is off, or the document is not valid.
    screen: DocumentScreen | None = None


def validation_rules(introspection: bool) -> tuple[type[ASTValidationRule], ...]:
    """graphql-core's rules, introspection refused when it is off, and Strawberry's own
    (``Maybe`` nulls, ``@oneOf`` inputs): the rules the schema has always been held to."""
    extra = () if introspection else (NoSchemaIntrospectionCustomRule,)
    return (*specified_rules, *extra, MaybeNullValidationRule, OneOfInputValidationRule)


class Preparer:
    """Prepares operations of ``schema`` and keeps the ``size`` most recently used."""

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        limits: OperationLimits,
        introspection: bool,
        size: int,
        threats: ThreatDetector | None = None,
    ) -> None:
        self.schema = schema
        self.limits = limits
        self._threats = threats if threats is not None and threats.enabled else None
        self._rules = validation_rules(introspection)
        self._size = max(1, size)
        self._entries: OrderedDict[tuple[str, str | None], Prepared] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def prepare(self, digest: str, document: str, operation_name: str | None) -> Prepared:
        """The prepared operation of ``document`` (whose SHA-256 is ``digest``) and
        ``operation_name``: from the cache, or worked out and kept."""
        key = (digest, operation_name)
        entries = self._entries
        prepared = entries.get(key)
        if prepared is not None:
            entries.move_to_end(key)
            return prepared
        prepared = self._prepare(document, operation_name)
        entries[key] = prepared
        if len(entries) > self._size:
            entries.popitem(last=False)
        return prepared

    def measure(
        self, prepared: Prepared, variables: Mapping[str, Any] | None
    ) -> tuple[Measure, str | None]:
        """The operation's measure and the limit it breaks (None: none): prepared, or
        measured with ``variables`` when its cost depends on them."""
        m = prepared.measure
        if m is None:
            assert prepared.selected is not None
            m = self._measure(prepared.selected, variables)
        return m, violation(m, self.limits)

    def _measure(self, selected: Selected, variables: Mapping[str, Any] | None) -> Measure:
        return measure(
            self.schema,
            selected.operation,
            selected.fragments,
            variables,
            default_page_size=self.limits.default_page_size,
            max_page_size=self.limits.max_page_size,
        )

    def _prepare(self, source: str, operation_name: str | None) -> Prepared:
        try:
            document = parse(source, max_tokens=self.limits.max_tokens)
        except GraphQLError as error:
            return _unparsed(error)
        except Exception as exc:  # e.g. a recursion limit: the gateway's fault, masked
            return _unparsed(GraphQLError(str(exc), original_error=exc))
        operation = _named_operation(document, operation_name)
        name = operation_name
        if name is None and operation is not None and operation.name is not None:
            name = operation.name.value
        unknown = (
            "Can't get GraphQL operation type"
            if name is None
            else f'Unknown operation named "{name}".'
        )
        try:
            errors = tuple(validate(self.schema, document, self._rules))
        except Exception as exc:
            errors = (GraphQLError(str(exc), original_error=exc),)
        selected = selected_operation(document, operation_name)
        cost: Measure | None = None
        if (
            not errors
            and selected is not None
            and not cost_depends_on_variables(selected.operation, selected.fragments)
        ):
            cost = self._measure(selected, None)
        operation_type = None if operation is None else operation.operation.value
        shared = (
            operation_type == "subscription"
            and not errors
            and selected is not None
            and caller_independent(self.schema, selected.operation, selected.fragments)
        )
        topic = (
            topic_of(selected.operation)
            if operation_type == "subscription" and selected is not None
            else None
        )
        threats = self._threats
        return Prepared(
            screen=None if threats is None or errors else threats.screen_document(document),
            document=document,
            errors=errors,
            operation_type=operation_type,
            operation_name=name,
            unknown=unknown,
            selected=selected,
            public=all_public(self.schema, selected, is_public),
            measure=cost,
            shared=shared,
            topic=topic,
        )


def execute_prepared(
    schema: GraphQLSchema,
    executor_class: type[Executor],
    document: DocumentNode,
    *,
    context: Any,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    extensions: dict[str, Any] | None = None,
) -> AwaitableOrValue[ExecutionResult]:
    """Execute a prepared ``document``: graphql-core's ``execute`` with the graph's
    executor (``graph.execution``), nothing parsed or validated again."""
    return execute(
        schema,
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        executor_class=executor_class,
        is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
        operation_extensions=extensions,
    )


async def subscribe_prepared(
    schema: GraphQLSchema,
    executor_class: type[Executor],
    document: DocumentNode,
    *,
    context: Any,
    variables: dict[str, Any] | None,
    operation_name: str | None,
) -> AsyncIterator[ExecutionResult] | ExecutionResult:
    """Subscribe to a prepared ``document``: graphql-core's ``subscribe`` with the graph's
    executor; its events, or the result of a subscription refused before any."""
    source = subscribe(
        schema,
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        executor_class=executor_class,
    )
    if isawaitable(source):
        source = await source
    return source


def _unparsed(error: GraphQLError) -> Prepared:
    return Prepared(None, (error,), None, None, "", None, False, None)


def _named_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    """The operation whose type the request has: the one named, or the first of the
    document when no name is given (an ambiguous document is refused later, with a code)."""
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            operation_name is None
            or (definition.name is not None and definition.name.value == operation_name)
        ):
            return definition
    return None

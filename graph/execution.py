"""The executor: graphql-core's, with a fast path for plain-attribute leaf fields.

graphql-core completes every field the same way: a ``Path``, a resolve-info tuple, the
resolver call, two awaitable checks, ``complete_value`` and ``complete_leaf_value``. For a
scalar or enum field without a resolver (most fields of a large list) that is several
microseconds to read one attribute. Here such a field is read and coerced directly; any
value that is not a plain success (null on a non-null field, a value the scalar rejects,
an attribute that raises) goes back through ``execute_field``, which produces exactly the
error, path and null propagation that graphql-core would have. Every other field (with a
resolver, arguments, an object or list type, ``__typename``) takes the normal path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLID,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
    Undefined,
    is_leaf_type,
)
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter

# field name -> (python attribute, coercion of the leaf type, non-null, shortcut): the
# shortcut is _STR (a str passes as it is), an enum class with its members' names, or None.
_STR = "str"
_Shortcut = str | tuple[type, dict[Any, str]] | None
_Leaf = tuple[str, Callable[[Any], Any], bool, _Shortcut]
_Plan = dict[str, _Leaf]
_PLANS: WeakKeyDictionary[GraphQLObjectType, _Plan] = WeakKeyDictionary()
# Built-in scalars whose coercion returns a str unchanged.
_STRINGS = (GraphQLString, GraphQLID)


def leaf_plan(parent_type: GraphQLObjectType) -> _Plan:
    """The fields of ``parent_type`` that the fast path may read: leaf-typed, no arguments,
    no resolver, no field extensions (permissions), Strawberry's ``getattr`` resolver."""
    plan = _PLANS.get(parent_type)
    if plan is not None:
        return plan
    plan = {}
    for name, field_def in parent_type.fields.items():
        definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if (
            definition is None
            or field_def.args
            or not getattr(field_def.resolve, "_is_default", False)
            or not definition.is_basic_field
            or definition.default_resolver is not getattr
        ):
            continue
        field_type = field_def.type
        non_null = isinstance(field_type, GraphQLNonNull)
        leaf = field_type.of_type if non_null else field_type
        if is_leaf_type(leaf):
            assert isinstance(leaf, GraphQLLeafType)
            plan[name] = (
                definition.python_name,
                leaf.coerce_output_value,
                non_null,
                _shortcut(leaf),
            )
    _PLANS[parent_type] = plan
    return plan


def _shortcut(leaf: GraphQLLeafType) -> _Shortcut:
    """What the coercion of ``leaf`` amounts to for the common value, if it can be said
    ahead: String and ID return a str unchanged; a Strawberry enum names a member of its
    class by the GraphQL value whose value equals the member's (a scan per call)."""
    if any(leaf is scalar for scalar in _STRINGS):
        return _STR
    if isinstance(leaf, CustomGraphQLEnumType):
        by_value = {value.value: name for name, value in leaf.values.items()}
        members: list[Any] = list(leaf.wrapped_cls)
        names = {m: by_value[m.value] for m in members if m.value in by_value}
        return (leaf.wrapped_cls, names)
    return None


# One entry per response key of a selection: the key, its field group, and the leaf plan
# entry when the fast path may read it.
_Row = tuple[str, Any, _Leaf | None]


class GatewayExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor with plain leaf fields read directly (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core collects a selection once per (type, field group) and hands the same
        # grouped field set to every item of a list: its rows are worked out once too.
        # Keyed by identity, with the key objects kept alive so that no id is reused.
        self._rows: dict[tuple[int, int], tuple[Any, Any, list[_Row] | None]] = {}

    def _rows_for(
        self, parent_type: GraphQLObjectType, grouped_field_set: Any
    ) -> list[_Row] | None:
        key = (id(grouped_field_set), id(parent_type))
        cached = self._rows.get(key)
        if cached is not None:
            return cached[2]
        rows: list[_Row] | None = None
        if not (self.middleware_manager is not None and self.middleware_manager.middlewares):
            plan = leaf_plan(parent_type)
            rows = []
            for response_name, field_details_list in grouped_field_set.items():
                node = field_details_list[0].node
                leaf = None if node.arguments else plan.get(node.name.value)
                rows.append((response_name, field_details_list, leaf))
            if all(leaf is None for _, _, leaf in rows):
                rows = None
        self._rows[key] = (grouped_field_set, parent_type, rows)
        return rows

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        *rest: Any,
    ) -> Any:
        rows = self._rows_for(parent_type, grouped_field_set)
        if rows is None:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, *rest)
        results: dict[str, Any] = {}
        pending: list[str] = []
        is_awaitable = self.is_awaitable
        try:
            for response_name, field_details_list, leaf in rows:
                if leaf is not None:
                    attribute, coerce, non_null, shortcut = leaf
                    try:
                        value = getattr(source_value, attribute)
                        if value is None:
                            if not non_null:
                                results[response_name] = None
                                continue
                        else:
                            out: Any
                            if shortcut is _STR and type(value) is str:
                                out = value
                            elif isinstance(shortcut, tuple) and type(value) is shortcut[0]:
                                out = shortcut[1].get(value)
                            elif isinstance(value, Exception):
                                out = None
                            else:
                                out = coerce(value)
                            if out is not None and out is not Undefined:
                                results[response_name] = out
                                continue
                    except Exception:  # noqa: S110 - execute_field reports it below
                        pass
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    *rest,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        pending.append(response_name)
        except Exception:
            if pending:
                self.settle_in_background([results[name] for name in pending])
            raise
        if not pending:
            return results
        return self._gather(results, pending)

    async def _gather(self, results: dict[str, Any], pending: list[str]) -> dict[str, Any]:
        if len(pending) == 1:
            name = pending[0]
            results[name] = await results[name]
            return results
        values = await gather_with_cancel(*(results[name] for name in pending))
        results.update(zip(pending, values, strict=True))
        return results

"""The executor: graphql-core's, with selections of plain attributes compiled to readers.

graphql-core completes every field the same way: a ``Path``, a resolve-info tuple, the
resolver call, two awaitable checks, ``complete_value`` and ``complete_leaf_value``; every
object of a list adds ``complete_list_item_value``, ``complete_value`` twice,
``complete_object_value`` and the sub-field collection. For the fields that need none of
it (no resolver, no arguments, no permission: Strawberry's plain attributes) that is
several microseconds to read one attribute.

Here each selection (an object type with its grouped field set, collected once per
execution by graphql-core) is compiled into a reader per response key: a leaf is read and
coerced directly, ``__typename`` is a constant, and a plain object or list-of-objects
attribute whose own selection compiles whole is read by its selection's reader, with no
``Path`` built. A reader meets only the plain success case: any value that is not one (a
null on a non-null field, a value the scalar rejects, an exception as the value, an
attribute that raises, an object ``is_type_of`` refuses) makes it give up, and that field
(or list item) goes back through graphql-core's own ``execute_field`` /
``complete_list_item_value``, which produce exactly the error, path and null propagation
graphql-core would have. Readers only read attributes, so doing a field again that way
is safe. Fields with a resolver, arguments or an abstract type take graphql-core's path;
with ``@defer``/``@stream`` in play, or field middleware, everything does.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from keyword import iskeyword
from math import isfinite
from types import CodeType
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLFloat,
    GraphQLID,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLString,
    Undefined,
    is_leaf_type,
)
from graphql.execution.executor import to_nodes
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter

from graph.scalars import DateTime

# How DateTime and Date (Strawberry's definitions) print a value: its isoformat.
_TIME_SERIALIZE = DateTime.serialize

# field name -> (python attribute, coercion of the leaf type, non-null, shortcut): the
# shortcut is _STR (a str passes as it is), _FLOAT (so does a finite float), _ISOFORMAT (a
# datetime or date is written by its isoformat), an enum class with its members' names by
# the members' ids, or None.
_STR = "str"
_FLOAT = "float"
_ISOFORMAT = "isoformat"
_Shortcut = str | tuple[type, dict[int, str]] | None
_Leaf = tuple[str, Callable[[Any], Any], bool, _Shortcut]
_Plan = dict[str, _Leaf]
_PLANS: WeakKeyDictionary[GraphQLObjectType, _Plan] = WeakKeyDictionary()
# Built-in scalars whose coercion returns a str unchanged.
_STRINGS = (GraphQLString, GraphQLID)


class _GiveUp:
    """What a reader returns when the value is not a plain success (see the module doc)."""


GIVE_UP: Any = _GiveUp()
# A compiled reader: the completed value of one field (or object) of a source, or GIVE_UP.
Reader = Callable[[Any], Any]

# A relation's batch: (the request's context, the list's objects) -> each object's value,
# or the exception its resolver would have raised, in the objects' order.
Batch = Callable[[Any, Sequence[Any]], Awaitable[list[Any]]]
_BATCH = "gateway.batch"


def batched(batch: Batch) -> dict[str, Batch]:
    """Field metadata declaring ``batch`` as the field's resolver over a whole list: where
    a list of objects selects the field, the executor calls ``batch`` once with the list's
    objects instead of the resolver once per object. The field's own resolver must answer
    as ``only(await batch(ctx, [self]))`` does, so that both give one answer."""
    return {_BATCH: batch}


def only(values: list[Any]) -> Any:
    """The one value of a batch over one object (raised if it is an error)."""
    (value,) = values
    if isinstance(value, Exception):
        raise value
    return value


def converted(value: Any, convert: Callable[[Any], Any]) -> Any:
    """``convert(value)`` for a loaded record; None and errors as they are."""
    if value is None or isinstance(value, Exception):
        return value
    return convert(value)


def _is_plain(field_def: Any) -> Any:
    """The Strawberry definition of a field the readers may read, else None: no arguments,
    no resolver, no field extensions (permissions), Strawberry's ``getattr`` resolver."""
    definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if (
        definition is None
        or field_def.args
        or not getattr(field_def.resolve, "_is_default", False)
        or not definition.is_basic_field
        or definition.default_resolver is not getattr
    ):
        return None
    return definition


def leaf_plan(parent_type: GraphQLObjectType) -> _Plan:
    """The plain leaf-typed fields of ``parent_type`` (see ``_is_plain``)."""
    plan = _PLANS.get(parent_type)
    if plan is not None:
        return plan
    plan = {}
    for name, field_def in parent_type.fields.items():
        definition = _is_plain(field_def)
        if definition is None:
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
    ahead: String and ID return a str unchanged, Float a finite float, DateTime and Date
    (``isoformat``) print a datetime or date by its ``isoformat``; a Strawberry enum
    names a member of its class by the GraphQL value whose value equals the member's (a
    scan per call)."""
    if any(leaf is scalar for scalar in _STRINGS):
        return _STR
    if leaf is GraphQLFloat:
        return _FLOAT
    if isinstance(leaf, GraphQLScalarType) and leaf.coerce_output_value is _TIME_SERIALIZE:
        return _ISOFORMAT
    if isinstance(leaf, CustomGraphQLEnumType):
        by_value = {value.value: name for name, value in leaf.values.items()}
        members: list[Any] = list(leaf.wrapped_cls)
        # By the member's identity: an Enum member's hash is computed in Python code.
        names = {id(m): by_value[m.value] for m in members if m.value in by_value}
        return (leaf.wrapped_cls, names)
    return None


def _coercion(leaf: _Leaf) -> Reader:
    """The completed value of a leaf's value by its type's own coercion, or GIVE_UP: the
    way every value the leaf's shortcut does not cover is read."""
    _, coerce, non_null, _ = leaf

    def coerced(value: Any) -> Any:
        if value is None:
            return GIVE_UP if non_null else None
        if isinstance(value, Exception):
            return GIVE_UP
        try:
            out = coerce(value)
        except Exception:
            return GIVE_UP
        return GIVE_UP if out is None or out is Undefined else out

    return coerced


# What a reader compiled by ``_compiled`` reads, kept on it so that a selection's reader can
# write the read out inline: a leaf (``_Leaf``) or a constant (``__typename``).
_SPEC = "_gateway_spec"


def _leaf_lines(index: int, leaf: _Leaf, namespace: dict[str, Any]) -> list[str]:
    """Source lines that read ``leaf`` of ``source`` into ``v{index}`` (or return GIVE_UP):
    the shortcut's value as it is, anything else through ``_coercion``."""
    attribute, _, _, shortcut = leaf
    value, coerced = f"v{index}", f"c{index}"
    namespace[coerced] = _coercion(leaf)
    plain = attribute.isidentifier() and not iskeyword(attribute)
    get = f"source.{attribute}" if plain else f"getattr(source, {attribute!r})"
    slow = [
        f"    {value} = {coerced}({value})",
        f"    if {value} is GIVE_UP:",
        "        return GIVE_UP",
    ]
    lines = [f"{value} = {get}"]
    if shortcut is _STR:
        lines += [f"if type({value}) is not str:", *slow]
    elif shortcut is _FLOAT:
        lines += [f"if type({value}) is not float or not isfinite({value}):", *slow]
    elif shortcut is _ISOFORMAT:
        kind = f"t{index}"
        lines += [
            f"{kind} = type({value})",
            f"if {kind} is datetime or {kind} is date:",
            f"    {value} = {value}.isoformat()",
            "else:",
            *slow,
        ]
    elif isinstance(shortcut, tuple):
        enum_class, names, name = f"e{index}", f"n{index}", f"m{index}"
        namespace[enum_class], namespace[names] = shortcut
        lines += [
            f"{name} = {names}.get(id({value})) if type({value}) is {enum_class} else None",
            f"if {name} is None:",
            *slow,
            "else:",
            f"    {value} = {name}",
        ]
    else:
        lines += [line[4:] for line in slow]
    return lines


def _compiled(rows: Sequence[tuple[str, Reader | _Leaf | str]], whole: bool) -> Reader:
    """One function that reads ``rows`` (response key, and a reader, a leaf or a constant)
    of a source: with ``whole``, the dict of them all, else the one row's value; GIVE_UP
    as soon as one is not a plain success (or raises). Leaves and constants are written
    out inline, as graphql-jit compiles a query: a selection of ten fields is one call,
    not eleven."""
    namespace: dict[str, Any] = {
        "GIVE_UP": GIVE_UP,
        "date": date,
        "datetime": datetime,
        "isfinite": isfinite,
    }
    body: list[str] = []
    for index, (_, spec) in enumerate(rows):
        value = f"v{index}"
        if isinstance(spec, str):
            namespace[f"k{index}"] = spec
            body.append(f"{value} = k{index}")
        elif isinstance(spec, tuple):
            body += _leaf_lines(index, spec, namespace)
        else:
            namespace[f"r{index}"] = spec
            body += [f"{value} = r{index}(source)", f"if {value} is GIVE_UP:", "    return GIVE_UP"]
    if whole:
        keys = [name for name, _ in rows]
        result = "{" + ", ".join(f"{name!r}: v{i}" for i, name in enumerate(keys)) + "}"
    else:
        result = "v0"
    source = "\n".join(
        [
            "def read(source):",
            "    try:",
            *(f"        {line}" for line in body),
            "    except Exception:",
            "        return GIVE_UP",
            f"    return {result}",
        ]
    )
    exec(_code(source), namespace)  # noqa: S102 - see _code
    read: Reader = namespace["read"]
    return read


@functools.lru_cache(maxsize=1024)
def _code(source: str) -> CodeType:
    """``source`` compiled, once: every execution of an operation compiles its selections
    again (with its own readers of nested fields), and compiling costs ~100 times running.
    The source is built by ``_compiled`` from the schema's own names (GraphQL names and
    Python attribute names, checked), never from a request's text."""
    return compile(source, "<gateway reader>", "exec")


# Each plain leaf's reader, compiled once, by its object type and field name (as _PLANS).
_LEAF_READERS: WeakKeyDictionary[GraphQLObjectType, dict[str, Reader]] = WeakKeyDictionary()


def _leaf_reader(parent_type: GraphQLObjectType, name: str, leaf: _Leaf) -> Reader:
    readers = _LEAF_READERS.setdefault(parent_type, {})
    read = readers.get(name)
    if read is None:
        read = readers[name] = _compiled([("", leaf)], whole=False)
        setattr(read, _SPEC, leaf)
    return read


def _constant(value: str) -> Reader:
    def read(_source: Any) -> Any:
        return value

    setattr(read, _SPEC, value)
    return read


def _type_check(object_type: GraphQLObjectType) -> Callable[[Any], bool] | bool | None:
    """How a reader checks a value is of ``object_type``: None (no ``is_type_of``), a
    one-argument check (Strawberry's generated ``is_type_of``, which never reads the
    resolve info), or False when only graphql-core may call it."""
    is_type_of = object_type.is_type_of
    if is_type_of is None:
        return None
    if "_get_is_type_of" not in getattr(is_type_of, "__qualname__", ""):
        return False
    return lambda value: is_type_of(value, None) is True  # type: ignore[arg-type]


# One entry per response key of a selection: the key, its field group, and its reader
# (None: only graphql-core's execute_field may complete it).
_Row = tuple[str, Any, Reader | None]


# A plain object field beneath which a selection has batched relations: its python
# attribute, the type check of its value, its grouped field set and compiled selection.
_Nested = tuple[str, Callable[[Any], bool] | None, Any, "_Selection"]


class _Selection:
    """A selection compiled: its rows, ``read`` when every row has a reader, the batches
    of its batched relations by response key, and its plain object fields with batched
    relations beneath."""

    __slots__ = ("batches", "nested", "read", "rows")

    def __init__(self, rows: list[_Row], batches: dict[str, Batch], nested: list[_Nested]) -> None:
        self.rows = rows
        self.batches = batches
        self.nested = nested
        self.read: Reader | None = None
        if rows and all(reader is not None for _, _, reader in rows):
            self.read = _object_reader(rows)


# The readers of whole selections of leaves and constants only, which do not change from
# one execution to the next: by response keys and the leaves' identities (each entry keeps
# its leaves alive, so that no id is reused), the most recent _MAX_WHOLE_READERS.
_WHOLE_READERS: OrderedDict[tuple[Any, ...], tuple[list[Any], Reader]] = OrderedDict()
_MAX_WHOLE_READERS = 1024


def _object_reader(rows: list[_Row]) -> Reader:
    """The reader of a whole selection (every row has a reader)."""
    specs: list[tuple[str, Reader | _Leaf | str]] = []
    for name, _, reader in rows:
        assert reader is not None
        specs.append((name, getattr(reader, _SPEC, reader)))
    if not all(isinstance(spec, str | tuple) for _, spec in specs):
        return _compiled(specs, whole=True)  # it calls this execution's own readers
    key = tuple((name, spec if isinstance(spec, str) else id(spec)) for name, spec in specs)
    found = _WHOLE_READERS.get(key)
    if found is not None:
        _WHOLE_READERS.move_to_end(key)
        return found[1]
    read = _compiled(specs, whole=True)
    _WHOLE_READERS[key] = (specs, read)
    if len(_WHOLE_READERS) > _MAX_WHOLE_READERS:
        _WHOLE_READERS.popitem(last=False)
    return read


def _field_reader(attribute: str, non_null: bool, item: Reader) -> Reader:
    def read(source: Any) -> Any:
        value = getattr(source, attribute)
        if value is None:
            return GIVE_UP if non_null else None
        return item(value)

    return read


def _object_value_reader(
    read: Reader, check: Callable[[Any], bool] | None, non_null: bool
) -> Reader:
    """``read`` for a value that must be an object of the selection's type."""

    def read_object(value: Any) -> Any:
        if value is None:
            return GIVE_UP if non_null else None
        if isinstance(value, Exception) or (check is not None and not check(value)):
            return GIVE_UP
        return read(value)

    return read_object


def _list_reader(item: Reader) -> Reader:
    def read_list(value: Any) -> Any:
        if type(value) is not list and type(value) is not tuple:
            return GIVE_UP
        out = []
        for element in value:
            completed = item(element)
            if completed is GIVE_UP:
                return GIVE_UP
            out.append(completed)
        return out

    return read_list


def _objects(values: Sequence[Any], check: Callable[[Any], bool] | None) -> list[Any]:
    """The values that are objects of a selection's type (graphql-core deals with the
    others: nulls, errors, values its ``is_type_of`` refuses)."""
    return [
        value
        for value in values
        if value is not None
        and not isinstance(value, Exception)
        and (check is None or check(value))
    ]


def _batch_of(parent_type: GraphQLObjectType, field_details_list: Any) -> Batch | None:
    """The batch of a field declared ``batched`` that takes no arguments and has no
    permission or field extension (which a batch would bypass), else None."""
    node = field_details_list[0].node
    if node.arguments:
        return None
    field_def = parent_type.fields.get(node.name.value)
    if field_def is None or field_def.args:
        return None
    definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is None or definition.permission_classes or definition.extensions:
        return None
    batch: Batch | None = (definition.metadata or {}).get(_BATCH)
    return batch


class GatewayExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor with plain selections read by compiled readers (see the
    module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core collects a selection once per (type, field group) and hands the same
        # grouped field set to every item of a list: it is compiled once too. Keyed by
        # identity, with the key objects kept alive so that no id is reused.
        self._selections: dict[tuple[int, int], tuple[Any, Any, _Selection | None]] = {}
        # A batched relation's value for one object of a list, by (id of the field group,
        # id of the object), with the object kept alive; taken when the object's fields run.
        self._prefetched: dict[tuple[int, int], tuple[Any, Any]] = {}
        # A subscription's events: graphql-core copies this executor for each (sharing its
        # dicts) and collects the root fields afresh, into new lists whose ids would miss
        # every cache above, and keep them growing. The first collection serves them all:
        # the operation, its fragments and variables are the same for every event.
        self._root_fields: dict[int, Any] = {}

    def build_per_event_executor(self, payload: Any) -> GatewayExecutor:
        executor = super().build_per_event_executor(payload)
        assert isinstance(executor, GatewayExecutor)
        executor._prefetched = {}  # keyed by the event's objects: the event's alone
        return executor

    def execute_collected_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: Any,
        serially: bool,
        new_defer_usages: Any,
    ) -> Any:
        first = self._root_fields.setdefault(id(root_type), grouped_field_set)
        return super().execute_collected_root_fields(
            root_type, root_value, first, serially, new_defer_usages
        )

    def _selection(
        self, parent_type: GraphQLObjectType, grouped_field_set: Any
    ) -> _Selection | None:
        key = (id(grouped_field_set), id(parent_type))
        cached = self._selections.get(key)
        if cached is not None:
            return cached[2]
        selection: _Selection | None = None
        if not (self.middleware_manager is not None and self.middleware_manager.middlewares):
            rows = [
                (name, details, self._reader(parent_type, details))
                for name, details in grouped_field_set.items()
            ]
            batches = {
                name: batch
                for name, details in grouped_field_set.items()
                if (batch := _batch_of(parent_type, details)) is not None
            }
            nested = [
                found
                for details in grouped_field_set.values()
                if (found := self._nested(parent_type, details)) is not None
            ]
            if batches or nested or any(reader is not None for _, _, reader in rows):
                selection = _Selection(rows, batches, nested)
        self._selections[key] = (grouped_field_set, parent_type, selection)
        return selection

    def _nested(self, parent_type: GraphQLObjectType, field_details_list: Any) -> _Nested | None:
        """A plain object field of ``parent_type`` with batched relations beneath, or None."""
        node = field_details_list[0].node
        field_def = parent_type.fields.get(node.name.value)
        if node.arguments or field_def is None:
            return None
        definition = _is_plain(field_def)
        field_type = field_def.type
        object_type = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        if definition is None or not isinstance(object_type, GraphQLObjectType):
            return None
        check = _type_check(object_type)
        if check is False:
            return None
        sub_fields, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        selection = None if defer_usages else self._selection(object_type, sub_fields)
        if selection is None or not (selection.batches or selection.nested):
            return None
        return (definition.python_name, check or None, sub_fields, selection)  # type: ignore[return-value]

    def _reader(self, parent_type: GraphQLObjectType, field_details_list: Any) -> Reader | None:
        """The reader of one response key of ``parent_type``, or None."""
        node = field_details_list[0].node
        name = node.name.value
        if node.arguments:
            return None
        if name == "__typename":
            return _constant(parent_type.name)
        leaf = leaf_plan(parent_type).get(name)
        if leaf is not None:
            return _leaf_reader(parent_type, name, leaf)
        field_def = parent_type.fields.get(name)
        definition = None if field_def is None else _is_plain(field_def)
        if definition is None:
            return None
        assert field_def is not None
        field_type = field_def.type
        non_null = isinstance(field_type, GraphQLNonNull)
        inner = field_type.of_type if non_null else field_type
        item = self._value_reader(inner, field_details_list)
        if item is None:
            return None
        return _field_reader(definition.python_name, non_null, item)

    def _value_reader(self, value_type: Any, field_details_list: Any) -> Reader | None:
        """The reader of a non-null value of ``value_type`` (an object, or a list of
        objects) whose selection compiles whole, or None."""
        if isinstance(value_type, GraphQLList):
            item_type = value_type.of_type
            item_non_null = isinstance(item_type, GraphQLNonNull)
            item_inner = item_type.of_type if item_non_null else item_type
            if not isinstance(item_inner, GraphQLObjectType):
                return None
            item = self._object_reader(item_inner, field_details_list, item_non_null)
            return None if item is None else _list_reader(item)
        if isinstance(value_type, GraphQLObjectType):
            return self._object_reader(value_type, field_details_list, True)
        return None

    def _object_reader(
        self, object_type: GraphQLObjectType, field_details_list: Any, non_null: bool
    ) -> Reader | None:
        check = _type_check(object_type)
        if check is False:
            return None
        grouped_field_set, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if defer_usages:
            return None
        selection = self._selection(object_type, grouped_field_set)
        if selection is None or selection.read is None:
            return None
        return _object_value_reader(selection.read, check or None, non_null)  # type: ignore[arg-type]

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        selection = (
            None
            if position_context is not None
            else self._selection(parent_type, grouped_field_set)
        )
        if selection is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        if selection.read is not None:
            whole = selection.read(source_value)
            if whole is not GIVE_UP:
                return whole
        results: dict[str, Any] = {}
        pending: list[str] = []
        is_awaitable = self.is_awaitable
        try:
            prefetched = self._prefetched if selection.batches else None
            for response_name, field_details_list, reader in selection.rows:
                if reader is not None:
                    try:
                        value = reader(source_value)
                    except Exception:
                        value = GIVE_UP
                    if value is not GIVE_UP:
                        results[response_name] = value
                        continue
                if prefetched and response_name in selection.batches:
                    found = prefetched.pop((id(field_details_list), id(source_value)), None)
                    if found is not None:
                        result = self._complete_prefetched(
                            parent_type,
                            field_details_list,
                            Path(path, response_name, parent_type.name),
                            found[1],
                        )
                        results[response_name] = result
                        if is_awaitable(result):
                            pending.append(response_name)
                        continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
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

    async def _gather(self, results: Any, pending: list[Any]) -> Any:
        """``results`` (an object's dict or a list) with the awaitables at the keys
        ``pending`` awaited (all at once) and put in their place."""
        if len(pending) == 1:
            key = pending[0]
            results[key] = await results[key]
            return results
        values = await gather_with_cancel(*(results[key] for key in pending))
        for key, value in zip(pending, values, strict=True):
            results[key] = value
        return results

    def complete_list_value(
        self,
        return_type: GraphQLList[Any],
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A plain list of objects whose selection compiles whole: each item read by the
        selection's reader; an item it gives up on, and every other list, completed by
        graphql-core."""
        item_type = return_type.of_type
        non_null = isinstance(item_type, GraphQLNonNull)
        object_type = item_type.of_type if non_null else item_type
        if (
            position_context is not None
            or not isinstance(object_type, GraphQLObjectType)
            or (type(result) is not list and type(result) is not tuple)
            or self.get_stream_usage(field_details_list, path) is not None
        ):
            return super().complete_list_value(
                return_type, field_details_list, info, path, result, position_context
            )
        read = self._object_reader(object_type, field_details_list, non_null)
        if read is not None:
            return self._complete_items(read, item_type, field_details_list, info, path, result)
        check = _type_check(object_type)
        grouped_field_set, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        selection = None if defer_usages else self._selection(object_type, grouped_field_set)
        if (
            selection is None
            or not (selection.batches or selection.nested)
            or check is False
            or any(self.is_awaitable(item) for item in result)
        ):
            return super().complete_list_value(
                return_type, field_details_list, info, path, result, position_context
            )
        sources = _objects(result, check)  # type: ignore[arg-type]
        work: list[tuple[Batch, int, list[Any]]] = []
        self._batch_work(selection, grouped_field_set, sources, work)
        if not work:
            return super().complete_list_value(
                return_type, field_details_list, info, path, result, position_context
            )
        return self._complete_batched(work, return_type, field_details_list, info, path, result)

    def _batch_work(
        self,
        selection: _Selection,
        grouped_field_set: Any,
        sources: list[Any],
        work: list[tuple[Batch, int, list[Any]]],
    ) -> None:
        """The batches to run for ``sources`` (the objects of one selection): the
        selection's own batched relations, and those beneath its plain object fields (a
        connection's ``edges { node { ... } }``)."""
        if not sources:
            return
        for name, batch in selection.batches.items():
            work.append((batch, id(grouped_field_set[name]), sources))
        for attribute, check, sub_fields, sub_selection in selection.nested:
            children = []
            for source in sources:
                try:
                    children.append(getattr(source, attribute))
                except Exception:  # noqa: S112 - graphql-core reports it when it reads it
                    continue
            if any(self.is_awaitable(child) for child in children):
                continue
            self._batch_work(sub_selection, sub_fields, _objects(children, check), work)

    async def _complete_batched(
        self,
        work: list[tuple[Batch, int, list[Any]]],
        return_type: GraphQLList[Any],
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
    ) -> Any:
        """A list whose objects select batched relations: each batch runs once over the
        list's objects (all at once), then the list completes as graphql-core completes
        it, each object's relation taking its prefetched value."""
        outcomes = await self.with_abort_signal(
            gather_with_cancel(*(self._run_batch(batch, sources) for batch, _, sources in work))
        )
        prefetched = self._prefetched
        for (_, key, sources), values in zip(work, outcomes, strict=True):
            for source, value in zip(sources, values, strict=True):
                prefetched[(key, id(source))] = (source, value)
        completed = super().complete_list_value(
            return_type, field_details_list, info, path, result, None
        )
        if self.is_awaitable(completed):
            completed = await completed
        return completed

    async def _run_batch(self, batch: Batch, sources: list[Any]) -> list[Any]:
        """The batch's values; a batch that fails as a whole fails each object alike."""
        try:
            values = await batch(self.context_value, sources)
        except Exception as error:
            return [error] * len(sources)
        if len(values) != len(sources):
            mismatch = TypeError("a batch answered a different number of values than objects")
            return [mismatch] * len(sources)
        return values

    def _complete_prefetched(
        self, parent_type: GraphQLObjectType, field_details_list: Any, path: Path, value: Any
    ) -> Any:
        """What ``execute_field`` does with a resolver's result, for a prefetched value."""
        field_def = parent_type.fields[field_details_list[0].node.name.value]
        return_type = field_def.type
        info = self.build_resolve_info(field_def, to_nodes(field_details_list), parent_type, path)
        try:
            completed = self.complete_value(
                return_type, field_details_list, info, path, value, None
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._await_completed(completed, return_type, field_details_list, path)
        return completed

    async def _await_completed(
        self, completed: Awaitable[Any], return_type: Any, field_details_list: Any, path: Path
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    def _complete_items(
        self,
        read: Reader,
        item_type: Any,
        field_details_list: Any,
        info: Any,
        path: Path,
        items: Sequence[Any],
    ) -> Any:
        completed: list[Any] = []
        append = completed.append
        pending: list[int] = []
        is_awaitable = self.is_awaitable
        try:
            for index, item in enumerate(items):
                value = read(item)
                if value is not GIVE_UP:
                    append(value)
                    continue
                item_path = path.add_key(index, None)
                if is_awaitable(item):
                    append(
                        self.complete_awaitable_list_item_value(
                            item, item_type, field_details_list, info, item_path, None
                        )
                    )
                    pending.append(index)
                elif self.complete_list_item_value(
                    item, completed, item_type, field_details_list, info, item_path, None
                ):
                    pending.append(index)
        except Exception:
            if pending:
                self.settle_in_background([completed[index] for index in pending])
            raise
        if not pending:
            return completed
        return self._gather(completed, pending)

"""What the security checks read off a parsed GraphQL document: the operation a request
selects, with the document's fragments, and the fields a selection set selects through
them (each fragment spread once per path, so a cycle ends)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)


@dataclass(frozen=True, slots=True)
class Selected:
    operation: OperationDefinitionNode
    fragments: Mapping[str, FragmentDefinitionNode]


def selected_operation(document: DocumentNode, operation_name: str | None) -> Selected | None:
    """The operation ``operation_name`` names (or the only one); None when there is no such
    single operation (graphql-core reports that when it executes)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return Selected(operations[0], fragments)


def fields(
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: frozenset[str] = frozenset(),
) -> Iterator[FieldNode]:
    """The fields ``selection_set`` selects, through its inline fragments and spreads."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                yield from fields(fragment.selection_set, fragments, seen | {name})

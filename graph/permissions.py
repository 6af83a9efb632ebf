"""Strawberry permissions over the one RBAC table of ``security.rbac``.

``requires(rule)`` is the permission class for a rule; it is attached to root fields,
mutations, and the relations that would show a role data it may not read. For a rule a
record's creator meets too, the field lets through every role that could, and the field's
resolver asks ``rbac.allows_on`` once it has read the record (``refusal`` when it fails).
Anonymous callers are told UNAUTHENTICATED, authenticated ones FORBIDDEN (and the refusal
is logged as a security event); either names the rule in ``extensions.rule``.

``mutation_rules(schema)`` reads the rule of every mutation off its permission classes
(none: ``public``); README prints ``mutation_table(schema)``. ``is_public`` reads the same
rules: whether a field needs no token.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import strawberry
from graphql import GraphQLField
from strawberry.permission import BasePermission
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info

from resolvers.errors import Forbidden, GraphError, Unauthenticated
from security import audit, rbac


@cache
def requires(rule: str) -> type[BasePermission]:
    if rule not in rbac.RULES:
        raise ValueError(f"unknown RBAC rule {rule!r}")

    class Requires(BasePermission):
        message = f"Requires {rbac.RULE_DESCRIPTIONS[rule]}"
        rbac_rule = rule

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            if rbac.may_meet(rule, info.context.principal):
                return True
            raise refusal(info, rule)

    Requires.__name__ = Requires.__qualname__ = f"Requires_{rule}"
    return Requires


def refusal(info: Info, rule: str, *, on: str | None = None) -> GraphError:
    """The error refusing the caller ``info.context.principal`` the field for ``rule``
    (``on``: the record it was refused for, in words); logged as a security event."""
    principal = info.context.principal
    if principal is None:
        return Unauthenticated("Log in first: this field needs a bearer token", rule=rule)
    audit.emit(audit.FORBIDDEN, audit.REFUSED, rule=rule, field=info.field_name)
    target = f" on {on}" if on else ""
    return Forbidden(
        f"The {principal.role} role may not use {info.field_name}{target}: "
        f"it needs {rbac.RULE_DESCRIPTIONS[rule]}",
        rule=rule,
    )


def mutation_rules(schema: strawberry.Schema) -> dict[str, str]:
    """Each mutation's GraphQL name and the rule its permission classes require."""
    mutation = schema._schema.mutation_type
    if mutation is None:
        return {}
    rules: dict[str, str] = {}
    for name, field in mutation.fields.items():
        definition = (field.extensions or {}).get("strawberry-definition")
        classes = getattr(definition, "permission_classes", None) or []
        named = [getattr(c, "rbac_rule", None) for c in classes]
        if None in named:
            raise ValueError(f"{name} has a permission that is not an RBAC rule")
        if len(named) > 1:
            raise ValueError(f"{name} has more than one RBAC rule: {named}")
        rules[name] = str(named[0]) if named else rbac.PUBLIC
    return rules


def mutation_table(schema: strawberry.Schema) -> str:
    """The mutation → rule table as the README prints it."""
    lines = ["| mutation | rule |", "|---|---|"]
    lines += [f"| `{name}` | `{rule}` |" for name, rule in mutation_rules(schema).items()]
    return "\n".join(lines)


def is_public(field: GraphQLField) -> bool:
    """Whether an anonymous caller passes every permission of ``field`` (a field without
    any, as ``login``, is public too)."""
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    permissions = getattr(definition, "permission_classes", None)
    if permissions is None:
        return False
    return all(
        getattr(p, "rbac_rule", None) in rbac.RULES and rbac.allows(p.rbac_rule, None)
        for p in permissions
    )

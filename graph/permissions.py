"""Strawberry permissions over the one RBAC table of ``security.rbac``.

``requires(rule)`` is the permission class for a rule; it is attached to root fields,
mutations, and the relations that would show a role data it may not read. Anonymous
callers are told UNAUTHENTICATED, authenticated ones FORBIDDEN (and the refusal is logged
as a security event). ``is_public`` reads the same rules: whether a field needs no token.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from graphql import GraphQLField
from strawberry.permission import BasePermission
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info

from resolvers.errors import Forbidden, Unauthenticated
from security import events, rbac


@cache
def requires(rule: str) -> type[BasePermission]:
    if rule not in rbac.RULES:
        raise ValueError(f"unknown RBAC rule {rule!r}")

    class Requires(BasePermission):
        message = f"Requires {rbac.RULE_DESCRIPTIONS[rule]}"
        rbac_rule = rule

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            principal = info.context.principal
            if rbac.allows(rule, principal):
                return True
            if principal is None:
                raise Unauthenticated("Log in first: this field needs a bearer token")
            events.emit(
                events.FORBIDDEN,
                principal=principal.id,
                role=principal.role,
                rule=rule,
                field=info.field_name,
            )
            raise Forbidden(
                f"The {principal.role} role may not use {info.field_name}: "
                f"it needs {rbac.RULE_DESCRIPTIONS[rule]}"
            )

    Requires.__name__ = Requires.__qualname__ = f"Requires_{rule}"
    return Requires


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

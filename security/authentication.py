"""Authentication: a bearer token, when one is sent, becomes the request's ``Principal``.

A token that is sent but not valid (malformed, expired, not an access token) or whose
session was revoked is refused with 401 UNAUTHENTICATED and ``WWW-Authenticate``: a client
that meant to authenticate must know it did not. The refusal comes after the request's
minimum rate-limit spend (``security.throttle``), so a stream of bad tokens is not free.

Except where no token is needed: such a header must not keep a client from logging in or
refreshing (a client that always sends its header, stale after an hour, could otherwise
never refresh). There the header is dropped and the request goes on as anonymous:

- a REST route whose rule is public (``security.rbac``: /api/auth/login, /api/auth/refresh);
- a GraphQL operation whose root fields are all public (``login``, ``refreshToken``). Which
  fields an operation selects is known only once its document is parsed: the edge step
  marks the problem, and the GraphQL endpoint refuses any other operation with the same
  401 (``bearer_refusal``; ``all_public`` is worked out once per prepared operation) before
  it is measured or executed. On REST the passthrough's guard
  refuses it (``bearer_problem``).
"""

from __future__ import annotations

from collections.abc import Callable

from graphql import FieldNode, GraphQLError, GraphQLField, GraphQLObjectType, GraphQLSchema
from starlette.types import Receive, Scope

from security import audit, rbac
from security.documents import Selected, fields
from security.responses import header, is_api, state
from security.revocation import Revocations
from security.tokens import InvalidToken, TokenVerifier, bearer_token

UNAUTHENTICATED = "UNAUTHENTICATED"
CHALLENGE = (b"www-authenticate", b'Bearer error="invalid_token"')
SESSION_ENDED = "This session has ended; log in again"
# scope["state"] key: why the request's bearer header was not accepted.
_PROBLEM = "bearer_problem"


class Authentication:
    """The edge step that verifies a bearer token when one is sent and puts the
    ``Principal`` (or None) in ``scope["state"]["principal"]``; a token it cannot accept is
    ignored or left to the GraphQL endpoint, as the module docstring says, and never refused
    here. What an anonymous caller may do is the authorization layer's decision."""

    def __init__(self, verifier: TokenVerifier, revocations: Revocations) -> None:
        self.verifier = verifier
        self.revocations = revocations

    async def __call__(self, scope: Scope, receive: Receive) -> Receive:
        request_state = state(scope)
        problem: str | None = None
        principal = None
        try:
            token = bearer_token(header(scope, b"authorization"))
            principal = None if token is None else self.verifier.verify(token)
        except InvalidToken as exc:
            audit.emit(audit.AUTHENTICATION_FAILED, audit.REFUSED, reason=exc.reason)
            problem = f"Invalid bearer token: {exc.reason}"
        if principal is not None and await self.revocations.is_revoked(principal.session_id):
            audit.emit(
                audit.AUTHENTICATION_FAILED, audit.REFUSED, principal=principal, reason="revoked"
            )
            principal, problem = None, SESSION_ENDED
        if problem is not None:
            path = scope["path"]
            if not (is_api(path) and rbac.route_rule(path, scope["method"]) == rbac.PUBLIC):
                # Refused after the minimum spend, by whoever knows what the request asks
                # for (the GraphQL endpoint, the passthrough's guard for REST); a route
                # that needs no token (/health) is served as to an anonymous caller.
                request_state[_PROBLEM] = problem
            # Never forwarded: what goes on, goes on as anonymous.
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
        request_state["principal"] = principal
        return receive


def bearer_problem(scope: Scope) -> str | None:
    """Why the request's bearer header was not accepted; None when it was, or none was
    sent, or the route needs no token."""
    problem: str | None = scope.get("state", {}).get(_PROBLEM)
    return problem


PublicField = Callable[[GraphQLField], bool]  # whether an anonymous caller may use a field


def all_public(schema: GraphQLSchema, selected: Selected | None, public: PublicField) -> bool:
    """Whether every root field the selected operation selects is ``public``: then a bearer
    header the middleware did not accept is no reason to refuse it (None: no single
    operation was selected, which is not public)."""
    if selected is None:
        return False
    root = schema.get_root_type(selected.operation.operation)
    if root is None:
        return False
    return all(
        _is_public(root, node, public)
        for node in fields(selected.operation.selection_set, selected.fragments)
    )


def _is_public(root: GraphQLObjectType, node: FieldNode, public: PublicField) -> bool:
    field = root.fields.get(node.name.value)  # None for __typename and unknown fields
    return field is not None and public(field)


def bearer_refusal(problem: str) -> GraphQLError:
    """The error of an operation refused for its bearer header (``bearer_problem``): answered
    with 401 and ``CHALLENGE``. It replaces whatever validation found, and nothing after it
    measures, spends or runs."""
    return GraphQLError(problem, extensions={"code": UNAUTHENTICATED})

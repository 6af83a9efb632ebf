"""The hot routes, matched by the edge before Starlette's router.

``/graphql`` (its own methods) and everything under the ``/api`` mount are nearly every
request the gateway serves. Matching them here, by one comparison each, skips Starlette's
exception middleware and router: a regex per route, a child scope, two more ``send``
wrappers. The scope an endpoint receives is the one the router would have given it
(``route``, and for the mount ``root_path``, ``app_root_path`` and ``path_params``), so logs,
metrics and the endpoints see no difference. Anything else, a method a route does not allow
included, goes on to the router, which answers as it always did.
"""

from __future__ import annotations

from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Scope


class Shortcuts:
    """``match(scope)``: the app of a hot route the request is for, or None."""

    def __init__(self, graphql: Route, api: Mount) -> None:
        self._graphql = graphql
        self._graphql_methods = frozenset(graphql.methods or ())
        self._api = api
        self._api_prefix = api.path + "/"

    def match(self, scope: Scope) -> ASGIApp | None:
        if scope.get("root_path"):  # served below a prefix: the router strips it
            return None
        path: str = scope["path"]
        if path == self._graphql.path:
            if scope["method"] not in self._graphql_methods:
                return None
            graphql = self._graphql
            scope["route"] = graphql
            scope["path_params"] = {}
            scope["endpoint"] = graphql.endpoint
            return graphql.app
        if path.startswith(self._api_prefix):
            api = self._api
            scope["route"] = api
            scope["app_root_path"] = scope.get("app_root_path", "")
            scope["root_path"] = api.path
            scope["path_params"] = {}
            scope["endpoint"] = api.app
            return api.app
        return None

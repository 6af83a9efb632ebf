"""The edge's hot routes (``gateway.shortcuts``) give an endpoint the scope Starlette's
router would have given it, and leave everything else to the router."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import Mount, Route, Router
from starlette.types import Receive, Scope, Send

from gateway.shortcuts import Shortcuts

KEYS = ("route", "root_path", "app_root_path", "path_params", "endpoint")


class Recorder:
    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(dict(scope))


def _scope(method: str, path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [],
    }


async def _nothing() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def _discard(message: Any) -> None:
    return None


@pytest.fixture
def routes() -> tuple[Route, Mount, Recorder, Recorder]:
    graphql, api = Recorder(), Recorder()
    return (
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Mount("/api", app=api),
        graphql,
        api,
    )


@pytest.mark.parametrize(
    ("method", "path", "which"),
    [
        ("POST", "/graphql", 2),
        ("GET", "/graphql", 2),
        ("GET", "/api/samples/abc", 3),
        ("DELETE", "/api/storage/containers/x/y", 3),
    ],
)
async def test_a_hot_route_gets_the_scope_the_router_would_give_it(
    routes: tuple[Route, Mount, Recorder, Recorder], method: str, path: str, which: int
) -> None:
    graphql_route, api_mount = routes[0], routes[1]
    recorder: Recorder = routes[which]  # type: ignore[assignment]
    await Router(routes=[graphql_route, api_mount])(_scope(method, path), _nothing, _discard)
    by_router = recorder.scopes.pop()
    scope = _scope(method, path)
    app = Shortcuts(graphql_route, api_mount).match(scope)
    assert app is not None
    await app(scope, _nothing, _discard)
    direct = recorder.scopes.pop()
    assert {k: direct.get(k) for k in KEYS} == {k: by_router.get(k) for k in KEYS}
    assert direct["path"] == by_router["path"] == path


@pytest.mark.parametrize(
    ("method", "path", "root_path"),
    [
        ("PUT", "/graphql", ""),  # a method the route does not allow: the router's 405
        ("GET", "/graphql/", ""),
        ("GET", "/api", ""),
        ("GET", "/health", ""),
        ("GET", "/prefix/api/samples", "/prefix"),  # served below a prefix
    ],
)
def test_anything_else_is_left_to_the_router(
    routes: tuple[Route, Mount, Recorder, Recorder], method: str, path: str, root_path: str
) -> None:
    scope = {**_scope(method, path), "root_path": root_path}
    assert Shortcuts(routes[0], routes[1]).match(scope) is None
    assert "route" not in scope

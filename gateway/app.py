"""Assembly: ``create_app(settings)`` builds the ASGI app from plain lists."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from gateway.graphiql import ASSETS_PATH, graphiql_assets
from gateway.graphql_app import GatewayGraphQL
from gateway.request_id import RequestIdMiddleware
from gateway.runtime import Runtime
from gateway.settings import Settings
from graph.schema import create_schema
from upstreams.pool import create_http_client
from upstreams.registry import Upstreams


async def health(request: Request) -> JSONResponse:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings) -> Starlette:
    runtime = Runtime()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        http = create_http_client(max_connections=settings.http_max_connections)
        runtime.start(http, Upstreams(settings.upstream_configs(), http))
        try:
            yield
        finally:
            await runtime.stop()

    graphql = GatewayGraphQL(
        create_schema(cache_size=settings.cache_size),
        runtime=runtime,
        request_timeout=settings.request_timeout,
        default_page_size=settings.default_page_size,
        max_page_size=settings.max_page_size,
    )
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/health", health, methods=["GET"]),
        Mount(ASSETS_PATH, graphiql_assets(), name="graphiql-assets"),
    ]
    middleware = [Middleware(RequestIdMiddleware)]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = runtime
    return app

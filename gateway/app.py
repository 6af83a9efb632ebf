"""Assembly: ``create_app(settings)`` builds the ASGI app from plain lists.

The lifespan owns what lives as long as the process: the shared HTTP pool and the upstream
clients, the background health monitor, the metrics port when it is separate, and the
tracer provider. On shutdown (uvicorn has already stopped accepting and waited for the
requests in flight, up to ``TRACSEQ_SHUTDOWN_TIMEOUT``) it stops them in reverse order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route

from gateway.access_log import AccessLogMiddleware
from gateway.graphiql import ASSETS_PATH, graphiql_assets
from gateway.graphql_app import GatewayGraphQL
from gateway.health import HealthMonitor, health
from gateway.metrics import Metrics, serve_metrics
from gateway.observe import GatewayObserver
from gateway.passthrough import Passthrough
from gateway.request_id import RequestIdMiddleware
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.tracing import Tracing, TracingMiddleware, create_tracing
from graph.schema import create_schema
from upstreams.pool import create_http_client
from upstreams.registry import Upstreams


def create_app(
    settings: Settings, *, metrics: Metrics | None = None, tracing: Tracing | None = None
) -> Starlette:
    """The gateway app. ``metrics`` and ``tracing`` default to what the settings ask for
    (tests pass their own, e.g. tracing into an in-memory exporter)."""
    runtime = Runtime()
    metrics = metrics if metrics is not None else Metrics()
    tracing = tracing if tracing is not None else create_tracing(settings)
    observer = GatewayObserver(metrics, tracing)
    monitor = HealthMonitor(settings.critical_upstreams, settings.ready_interval)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        http = create_http_client(max_connections=settings.http_max_connections)
        upstreams = Upstreams(
            settings.upstream_configs(),
            http,
            on_transition=observer.breaker_transition,
            observer=observer,
        )
        runtime.start(http, upstreams)
        observer.breakers_started(upstreams)
        monitor.start(upstreams)
        # With several workers the CLI serves the merged metrics port itself.
        stop_metrics = None
        if settings.metrics_port is not None and not metrics.multiprocess:
            stop_metrics = serve_metrics(settings.host, settings.metrics_port, metrics.registry)
        try:
            yield
        finally:
            await monitor.stop()
            await runtime.stop()
            if stop_metrics is not None:
                stop_metrics()
            if tracing is not None:
                tracing.shutdown()
            metrics.process_exiting()

    graphql = GatewayGraphQL(
        create_schema(cache_size=settings.cache_size),
        runtime=runtime,
        request_timeout=settings.request_timeout,
        default_page_size=settings.default_page_size,
        max_page_size=settings.max_page_size,
        on_batch=observer.loader_batch,
        tracing=tracing,
    )
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", monitor.endpoint, methods=["GET"]),
        Mount(ASSETS_PATH, graphiql_assets(), name="graphiql-assets"),
        Mount("/api", app=Passthrough(runtime), name="rest-passthrough"),
    ]
    if settings.metrics_port is None:
        routes.append(Route("/metrics", metrics.endpoint, methods=["GET"]))
    middleware = [
        Middleware(RequestIdMiddleware),
        Middleware(AccessLogMiddleware, metrics=metrics),
    ]
    if tracing is not None:
        middleware.append(Middleware(TracingMiddleware, tracing=tracing))
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.metrics = metrics
    app.state.health = monitor
    return app

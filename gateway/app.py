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
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route

from gateway.access_log import AccessLogMiddleware
from gateway.graphiql import ASSETS_PATH, graphiql_assets
from gateway.graphql_app import GraphQLEndpoint
from gateway.health import HealthMonitor, health
from gateway.metrics import Metrics, serve_metrics
from gateway.observe import GatewayObserver
from gateway.passthrough import Passthrough, PassthroughConfig
from gateway.request_id import RequestIdMiddleware
from gateway.rest_guard import JobStatusTap, make_guard
from gateway.rest_sessions import SessionTap
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.tracing import Tracing, TracingMiddleware, create_tracing
from graph.schema import create_schema
from security.authentication import AuthenticationMiddleware
from security.body_limit import BodyLimitMiddleware
from security.csrf import CsrfMiddleware
from security.headers import SecurityHeadersMiddleware
from security.runtime import SecurityRuntime
from security.throttle import MinimumSpendMiddleware
from upstreams.pool import create_http_pool
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
    security = SecurityRuntime(settings.security, on_rate_limited=metrics.rate_limit_rejected)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        http = create_http_pool(max_connections=settings.http_max_connections)
        upstreams = Upstreams(
            settings.upstream_configs(),
            http,
            on_transition=observer.breaker_transition,
            on_route_transition=observer.route_breaker_transition,
            observer=observer,
        )
        upstreams.auth.use_directory(settings.directory)
        runtime.start(http, upstreams)
        await security.start()
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
            await security.close()
            if stop_metrics is not None:
                stop_metrics()
            if tracing is not None:
                tracing.shutdown()
            metrics.process_exiting()

    graphql = GraphQLEndpoint(
        create_schema(hide_suggestions=settings.production),
        runtime=runtime,
        security=security,
        request_timeout=settings.request_timeout,
        default_page_size=settings.default_page_size,
        max_page_size=settings.max_page_size,
        cache_size=settings.cache_size,
        hide_suggestions=settings.production,
        on_batch=observer.loader_batch,
        tracing=tracing,
        health=monitor,
    )
    passthrough = Passthrough(
        runtime,
        guard=make_guard(runtime),
        taps=[JobStatusTap(runtime), SessionTap(runtime, security.sessions)],
        config=PassthroughConfig(
            trusted_proxies=security.trusted_proxies,
            body_idle_timeout=settings.body_idle_timeout,
        ),
    )
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", monitor.endpoint, methods=["GET"]),
        Mount(ASSETS_PATH, graphiql_assets(), name="graphiql-assets"),
        Mount("/api", app=passthrough, name="rest-passthrough"),
    ]
    if settings.metrics_port is None:
        routes.append(Route("/metrics", metrics.endpoint, methods=["GET"]))
    middleware = [
        Middleware(RequestIdMiddleware),
        Middleware(AccessLogMiddleware, metrics=metrics),
    ]
    if tracing is not None:
        middleware.append(Middleware(TracingMiddleware, tracing=tracing))
    limits = settings.security.limits
    middleware += [
        Middleware(SecurityHeadersMiddleware, trusted_proxies=security.trusted_proxies),
        *_cors(settings.security.cors_origins),
        # Who is calling, then the minimum spend: every refusal after it is paid for.
        Middleware(AuthenticationMiddleware, verifier=security.verifier, revocations=security),
        Middleware(
            MinimumSpendMiddleware,
            spend=security.spend,
            minimum_cost=settings.security.rate_limit.minimum_cost,
        ),
        Middleware(
            BodyLimitMiddleware,
            max_bytes=limits.max_body_bytes,
            max_upload_bytes=limits.max_upload_bytes,
        ),
        Middleware(CsrfMiddleware),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.metrics = metrics
    app.state.health = monitor
    app.state.security = security
    app.state.prepared = graphql.preparer
    return app


def _cors(origins: tuple[str, ...]) -> list[Middleware]:
    """CORS for the listed origins only (none: no cross-origin browser access at all)."""
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "authorization",
                "content-type",
                "apollo-require-preflight",
                "x-apollo-operation-name",
                "x-request-id",
            ],
            expose_headers=["x-request-id", "retry-after"],
            max_age=600,
        )
    ]

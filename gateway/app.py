"""Assembly: ``create_app(settings)`` builds the ASGI app from plain lists.

The lifespan owns what lives as long as the process: the shared HTTP pool and the upstream
clients, the response cache (with its own Redis connection and invalidation listener when
Redis is configured), the discovery of the upstreams' instances (resolved once before
serving, then in the background when a URL names a DNS host), the background health
monitor, the metrics port when it is separate, and the tracer provider. On shutdown (uvicorn
has already stopped accepting and waited for the requests in flight, up to
``TRACSEQ_SHUTDOWN_TIMEOUT``) it stops them in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route, WebSocketRoute

from gateway.edge import Edge, Wrapper
from gateway.graphiql import ASSETS_PATH, graphiql_assets
from gateway.graphql_app import GraphQLEndpoint
from gateway.health import HealthMonitor
from gateway.metrics import Metrics, serve_metrics
from gateway.observe import GatewayObserver
from gateway.passthrough import Passthrough, PassthroughConfig
from gateway.rest_guard import JobStatusTap, make_guard
from gateway.rest_live import LiveTap
from gateway.rest_sessions import SessionTap
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.shortcuts import Shortcuts
from gateway.tracing import Tracing, create_tracing
from gateway.websocket import GraphQLWebSocket
from graph.schema import create_schema
from resolvers.live import Live
from security import audit
from security.authentication import Authentication
from security.body_limit import BodyLimit
from security.csrf import csrf
from security.runtime import SecurityRuntime
from security.steps import Step
from security.throttle import MinimumSpend
from upstreams.cache import ResponseCache, open_redis
from upstreams.discovery import Discovery, Resolver, resolve_ipv4
from upstreams.pool import create_http_pool
from upstreams.registry import Upstreams


def create_app(
    settings: Settings,
    *,
    metrics: Metrics | None = None,
    tracing: Tracing | None = None,
    resolver: Resolver = resolve_ipv4,
    cache_clock: Callable[[], float] = time.time,
) -> Starlette:
    """The gateway app. ``metrics`` and ``tracing`` default to what the settings ask for
    (tests pass their own, e.g. tracing into an in-memory exporter); ``resolver`` finds the
    addresses of the DNS names in upstream URLs (``upstreams.discovery``); ``cache_clock``
    is the response cache's wall clock (tests age entries with their own)."""
    runtime = Runtime()
    metrics = metrics if metrics is not None else Metrics(request_timeout=settings.request_timeout)
    tracing = tracing if tracing is not None else create_tracing(settings)
    observer = GatewayObserver(metrics, tracing)
    monitor = HealthMonitor(
        settings.critical_upstreams, settings.ready_interval, workers=settings.workers
    )
    security = SecurityRuntime(settings.security, on_rate_limited=metrics.rate_limit_rejected)
    trail = audit.AuditTrail(
        settings.audit, trusted_proxies=security.trusted_proxies, on_event=metrics.security_event
    )
    live = Live(
        lambda: runtime.upstreams,
        poll_interval=settings.subscription_poll_interval,
        observer=metrics,
        timeout=settings.request_timeout,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        trail.open()
        # The background tasks started below (health rounds, pollers) inherit it.
        audited = audit.bind(trail, None)
        http = create_http_pool(max_connections=settings.http_max_connections)
        cache, cache_redis, listener = None, None, None
        # With Redis, a replica whose cache is off still bumps the shared generations, so
        # that its writes invalidate what the other replicas cached.
        redis_url = settings.security.redis_url
        if settings.cache.enabled or redis_url is not None:
            store_errors: tuple[type[BaseException], ...] = (OSError, TimeoutError)
            if redis_url is not None:
                cache_redis, store_errors = open_redis(redis_url, settings.timeouts.connect)
            cache = ResponseCache(
                settings.cache,
                redis=cache_redis,
                store_errors=store_errors,
                observer=metrics,
                clock=cache_clock,
            )
            if cache_redis is not None and settings.cache.enabled:
                listener = asyncio.create_task(cache.listen())
        app.state.cache = cache
        upstreams = Upstreams(
            settings.upstream_configs(),
            http,
            on_transition=observer.breaker_transition,
            on_route_transition=observer.route_breaker_transition,
            observer=observer,
            instance_observer=observer,
            cache=cache,
        )
        upstreams.auth.use_directory(settings.directory)
        runtime.start(http, upstreams)
        await security.start()
        observer.breakers_started(upstreams)
        observer.instances_started(upstreams)
        discovery = Discovery(
            ((client.name, client.config.base_urls, client.instances) for client in upstreams),
            settings.discovery_interval,
            resolver=resolver,
        )
        await discovery.start()
        app.state.discovery = discovery
        redis = None
        if settings.security.redis_url is not None:
            redis = functools.partial(security.ping, settings.timeouts.connect)
        monitor.start(upstreams, redis)
        live_redis = None
        if redis_url is not None:
            live_redis, live_errors = open_redis(redis_url, settings.timeouts.connect)
            live.start(live_redis, live_errors)
        else:
            live.start()
        # With several workers the CLI serves the merged metrics port itself.
        stop_metrics = None
        if settings.metrics_port is not None and not metrics.multiprocess:
            stop_metrics = serve_metrics(settings.host, settings.metrics_port, metrics.registry)
        try:
            yield
        finally:
            await websocket.close_all()
            await live.close()
            if live_redis is not None:
                await live_redis.aclose()
            await monitor.stop()
            await discovery.stop()
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
            if cache is not None:
                await cache.close()
            if cache_redis is not None:
                await cache_redis.aclose()
            await runtime.stop()
            await security.close()
            if stop_metrics is not None:
                stop_metrics()
            if tracing is not None:
                tracing.shutdown()
            metrics.process_exiting()
            audit.unbind(audited)
            trail.close()

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
        live=live,
    )
    websocket = GraphQLWebSocket(
        graphql,
        security=security,
        metrics=metrics,
        limits=settings.sockets,
        origins=settings.security.cors_origins,
    )
    passthrough = Passthrough(
        runtime,
        guard=make_guard(runtime),
        taps=[JobStatusTap(runtime), SessionTap(runtime, security.sessions), LiveTap(live)],
        config=PassthroughConfig(
            trusted_proxies=security.trusted_proxies,
            body_idle_timeout=settings.body_idle_timeout,
        ),
        threats=security.threats,
    )
    graphql_route = Route("/graphql", graphql, methods=["GET", "POST"])
    api_mount = Mount("/api", app=passthrough, name="rest-passthrough")
    routes = [
        graphql_route,
        WebSocketRoute("/graphql", websocket),
        Route("/health", monitor.health, methods=["GET"]),
        Route("/ready", monitor.endpoint, methods=["GET"]),
        Mount(ASSETS_PATH, graphiql_assets(), name="graphiql-assets"),
        api_mount,
    ]
    if settings.metrics_port is None:
        routes.append(Route("/metrics", metrics.endpoint, methods=["GET"]))
    metrics.declare_routes(routes)
    limits = settings.security.limits
    # Who is calling, then the minimum spend: every refusal after it is paid for.
    steps: list[Step] = [
        Authentication(security.verifier, security),
        MinimumSpend(security.spend, settings.security.rate_limit.minimum_cost),
        BodyLimit(limits.max_body_bytes, limits.max_upload_bytes),
        csrf,
    ]
    middleware = [
        Middleware(
            Edge,
            metrics=metrics,
            trusted_proxies=security.trusted_proxies,
            steps=steps,
            trail=trail,
            tracing=tracing,
            cors=_cors(settings.security.cors_origins),
            shortcuts=Shortcuts(graphql_route, api_mount),
        )
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.metrics = metrics
    app.state.health = monitor
    app.state.security = security
    app.state.prepared = graphql.preparer
    app.state.live = live
    app.state.websocket = websocket
    return app


def _cors(origins: tuple[str, ...]) -> Wrapper | None:
    """CORS for the listed origins only (none: no cross-origin browser access at all)."""
    if not origins:
        return None
    return functools.partial(
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

"""One access log line and the HTTP metrics of every request.

Written by the edge (``gateway.edge``) once the response is done, while the request id
(and the trace id) are still bound, so they are on the line::

    request  method=POST route=/graphql status=200 duration_ms=12.3 client=10.0.0.7
             principal=None upstream_calls=2 operation_name=Samples operation_type=query
             error_codes=[]

The GraphQL fields are set by the GraphQL view; ``principal`` is the ``id`` of
``scope["state"]["principal"]`` once authentication puts one there. Probe and scrape
routes (``QUIET_ROUTES``) are logged at debug level, whatever their status, so a kubelet
polling every few seconds does not fill the log; other 5xx answers are logged as errors.
"""

from __future__ import annotations

from typing import Any

import structlog
from starlette.routing import Mount
from starlette.types import Scope

from gateway.metrics import Metrics
from gateway.observe import RequestStats

log = structlog.get_logger()

QUIET_ROUTES = frozenset({"/health", "/ready", "/metrics"})
UNMATCHED = "unmatched"
MAX_OPERATION_NAME = 100


def route_template(scope: Scope) -> str:
    """The matched route's template, never the raw path (a bounded label value).

    A handler may name its own template in ``scope["state"]["route_template"]`` (a mount
    that routes by itself, e.g. the REST passthrough, knows best).
    """
    state = scope.get("state")
    if state:
        named = state.get("route_template")
        if named:
            return str(named)
    route = scope.get("route")
    if route is None:
        return UNMATCHED
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not template:
        return UNMATCHED
    if isinstance(route, Mount):
        return str(template)  # a mount's template is already whole: "/api/{path}"
    # A route inside a mount: root_path has grown by the mount's (static) prefix.
    prefix = scope.get("root_path", "")[len(scope.get("app_root_path", "")) :]
    return str(prefix + template)


def principal_id(scope: Scope) -> Any:
    state = scope.get("state")
    principal = state.get("principal") if state else None
    return getattr(principal, "id", None) if principal is not None else None


def log_request(
    metrics: Metrics, scope: Scope, route: str, duration: float, stats: RequestStats
) -> None:
    """The request's metrics and its access line, once its response is done."""
    status = stats.status
    method = scope["method"]
    metrics.observe_request(method, route, status, duration, duration - stats.upstream_wait)
    fields: dict[str, Any] = {
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(duration * 1000, 2),
        "client": scope["client"][0] if scope.get("client") else None,
        "principal": principal_id(scope),
        "upstream_calls": stats.upstream_calls,
    }
    if stats.operation_type is not None:
        metrics.observe_operation(
            stats.operation_name, stats.operation_type, stats.operation_outcome or "error"
        )
        name = stats.operation_name
        fields["operation_name"] = name[:MAX_OPERATION_NAME] if name else None
        fields["operation_type"] = stats.operation_type
        fields["error_codes"] = list(stats.error_codes)
    if route in QUIET_ROUTES:
        log.debug("request", **fields)
    elif status >= 500:
        log.error("request", **fields)
    else:
        log.info("request", **fields)

"""Each service's route templates (UPSTREAMS.md), and the one function that names a call's route.

A circuit breaker is kept per route (method and template) so that one route that fails
deterministically, such as the release's samples list with a filter, does not take the
whole service down with it. ``route_key`` turns a concrete path (``/samples/3f2c…/status``)
into its template (``PUT /samples/{id}/status``). Paths that match no template share one
key per method (``GET (other)``), so the number of breakers stays bounded whatever paths
clients send through the passthrough.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

ROUTES: Mapping[str, tuple[str, ...]] = {
    "auth": (
        "/auth/login",
        "/auth/register",
        "/auth/refresh",
        "/auth/forgot-password",
        "/auth/reset-password",
        "/auth/verify-email",
        "/auth/logout",
        "/auth/me",
        "/auth/sessions",
        "/auth/sessions/{id}",
        "/validate/token",
        "/validate/permissions",
        "/admin/users",
        "/admin/users/{id}",
        "/admin/users/{id}/disable",
        "/admin/users/{id}/enable",
        "/admin/sessions",
        "/admin/audit-log",
        "/health",
    ),
    "samples": (
        "/samples",
        "/samples/batch",
        "/samples/batch/validate",
        "/samples/barcode/{barcode}",
        "/samples/{id}",
        "/samples/{id}/status",
        "/samples/{id}/validate",
        "/health",
    ),
    "storage": (
        "/storage/locations",
        "/storage/locations/{id}",
        "/storage/locations/{id}/capacity",
        "/storage/containers",
        "/storage/containers/available",
        "/storage/containers/by-temperature/{zone}",
        "/storage/containers/{id}",
        "/storage/containers/{id}/hierarchy",
        "/storage/containers/{id}/grid",
        "/storage/samples",
        "/storage/samples/assign",
        "/storage/samples/locations",
        "/storage/samples/{id}",
        "/storage/samples/{id}/move",
        "/storage/samples/{id}/location",
        "/storage/samples/{id}/location-detailed",
        "/storage/samples/{id}/position",
        "/storage/samples/{id}/retrieve",
        "/storage/capacity/summary",
        "/storage/utilization",
        "/health",
    ),
    "templates": (
        "/templates",
        "/templates/upload",
        "/templates/import",
        "/templates/{id}",
        "/templates/{id}/data",
        "/templates/{id}/clone",
        "/templates/{id}/download",
        "/templates/{id}/export",
        "/templates/{id}/fields",
        "/templates/{id}/fields/{field_id}",
        "/health",
    ),
    "sequencing": (
        "/jobs",
        "/jobs/{id}",
        "/jobs/{id}/status",
        "/jobs/{id}/clone",
        "/jobs/{id}/cancel",
        "/sample-sheets",
        "/sample-sheets/{id}",
        "/sample-sheets/{id}/validate",
        "/workflows",
        "/workflows/{id}",
        "/workflows/{id}/execute",
        "/health",
    ),
    "rag": (
        "/api/samples/rag/query",
        "/api/rag/process",
        "/api/rag/upload",
        "/api/rag/process-document",
        "/api/submissions",
        "/api/rag/submissions",
        "/api/rag/submissions/{id}",
        "/api/v1/health",
    ),
    "notifications": (
        "/notifications",
        "/notifications/bulk",
        "/notifications/{id}",
        "/notifications/{id}/status",
        "/notifications/{id}/retry",
        "/health",
    ),
}

_PARAM = re.compile(r"\{\w+\}")


def _compile(templates: tuple[str, ...]) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """One alternation over every template, tried in order, and the templates by group."""

    # Static segments win over parameters (as in axum): the templates with the most literal
    # segments come first.
    def literals(template: str) -> int:
        return sum(1 for part in template.split("/") if part and not _PARAM.fullmatch(part))

    ordered = tuple(sorted(templates, key=lambda t: (-literals(t), t)))
    branches = (
        f"(?P<r{i}>" + "[^/]+".join(re.escape(p) for p in _PARAM.split(t)) + ")"
        for i, t in enumerate(ordered)
    )
    return re.compile("^(?:" + "|".join(branches) + ")/?$"), ordered


_COMPILED = {service: _compile(templates) for service, templates in ROUTES.items()}


@functools.lru_cache(maxsize=4096)
def route_key(service: str, method: str, path: str) -> str:
    """``"GET /samples/{id}"`` for ``GET /samples/3f2c…``; ``"GET (other)"`` for a path that
    is no route of ``service``. ``path`` may carry a query string; it is ignored."""
    compiled = _COMPILED.get(service)
    if compiled is not None:
        pattern, templates = compiled
        match = pattern.match(path.split("?", 1)[0])
        if match is not None and match.lastgroup is not None:
            return f"{method} {templates[int(match.lastgroup[1:])]}"
    return f"{method} (other)"

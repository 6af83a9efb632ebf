"""The legacy REST route map: which upstream service answers each ``/api/...`` prefix.

This is the one place the map lives (UPSTREAMS.md, "The legacy REST surface"); the README
table is printed from it by ``markdown_table()`` and a test fails when the two drift.
A prefix matches whole path segments (``/api/samples`` covers ``/api/samples`` and
``/api/samples/...``, not ``/api/samplesx``), and the longest matching prefix wins, so
``/api/samples/rag/query`` goes to rag, not samples.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LegacyRoute:
    """``prefix`` (as legacy clients call it) is replaced by ``upstream_prefix`` on ``service``."""

    prefix: str
    service: str
    upstream_prefix: str

    def upstream_path(self, path: str) -> str:
        """The upstream path for a legacy ``path`` that this route matches."""
        return (self.upstream_prefix + path[len(self.prefix) :]) or "/"


ROUTES: tuple[LegacyRoute, ...] = (
    LegacyRoute("/api/auth", "auth", "/auth"),
    LegacyRoute("/api/users/me", "auth", "/auth/me"),
    LegacyRoute("/api/samples", "samples", "/samples"),
    LegacyRoute("/api/storage", "storage", "/storage"),
    LegacyRoute("/api/templates", "templates", "/templates"),
    LegacyRoute("/api/sequencing", "sequencing", ""),
    LegacyRoute("/api/rag", "rag", "/api/rag"),
    LegacyRoute("/api/samples/rag", "rag", "/api/samples/rag"),
    LegacyRoute("/api/notifications", "notifications", "/notifications"),
)


class RouteMap:
    """Longest-prefix lookup over a tuple of routes."""

    def __init__(self, routes: tuple[LegacyRoute, ...] = ROUTES) -> None:
        prefixes = [route.prefix for route in routes]
        duplicates = sorted({p for p in prefixes if prefixes.count(p) > 1})
        if duplicates:
            raise ValueError(f"duplicate legacy prefixes: {', '.join(duplicates)}")
        for route in routes:
            if not route.prefix.startswith("/") or route.prefix.endswith("/"):
                raise ValueError(f"a prefix starts with '/' and does not end with one: {route}")
        self.routes = routes
        self._by_length = sorted(routes, key=lambda r: len(r.prefix), reverse=True)

    def match(self, path: str) -> LegacyRoute | None:
        """The route with the longest prefix covering ``path`` (a decoded path), or None."""
        for route in self._by_length:
            prefix = route.prefix
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                return route
        return None


def markdown_table(routes: tuple[LegacyRoute, ...] = ROUTES) -> str:
    """The route map as the README prints it."""
    lines = ["| legacy path prefix | service | upstream path prefix |", "|---|---|---|"]
    for route in routes:
        lines.append(f"| `{route.prefix}` | {route.service} | `{route.upstream_prefix or '/'}` |")
    return "\n".join(lines)

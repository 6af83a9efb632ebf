"""What the app's lifespan owns: the one shared HTTP pool and the upstream clients over it."""

from __future__ import annotations

from dataclasses import dataclass, field

from upstreams.pool import HttpPool
from upstreams.registry import Upstreams


@dataclass(slots=True)
class Runtime:
    """Filled in by the lifespan on startup and emptied on shutdown."""

    _http: HttpPool | None = field(default=None)
    _upstreams: Upstreams | None = field(default=None)

    @property
    def upstreams(self) -> Upstreams:
        if self._upstreams is None:
            raise RuntimeError("the gateway is not started: upstream clients are not ready")
        return self._upstreams

    @property
    def http(self) -> HttpPool:
        """The shared pool itself, for streamed calls (the REST passthrough)."""
        if self._http is None:
            raise RuntimeError("the gateway is not started: the HTTP pool is not ready")
        return self._http

    def start(self, http: HttpPool, upstreams: Upstreams) -> None:
        self._http, self._upstreams = http, upstreams

    async def stop(self) -> None:
        http, self._http, self._upstreams = self._http, None, None
        if http is not None:
            await http.aclose()

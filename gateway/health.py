"""Liveness (/health) and readiness (/ready), with upstream health probed in the background.

``/health`` says only that the process answers: it touches no upstream, so a slow or dead
service never makes the orchestrator restart healthy gateways.

``/ready`` says whether this replica should receive traffic. It never calls an upstream
itself: it reads the circuit breakers and the last background probe. The gateway is not
ready while the breaker of a critical upstream (``TRACSEQ_CRITICAL_UPSTREAMS``) is open.
That is the service's own breaker (connection failures, timeouts and its health route's
5xx answers), never another route's: one route that fails (the release's filtered samples
list) leaves the replica ready, and its open route breakers are listed under the service.

The ``HealthMonitor`` probes every upstream's health route (``UpstreamClient.health``) at
startup, without holding startup up, and then every ``interval`` seconds. Each probe's
outcome goes to that upstream's breaker, as a call's would: a service that stopped
answering, or whose health route answers 5xx, opens its breaker even when no traffic
reaches it, and once the breaker turns half-open the probe is the call that closes it
again. A replica taken out of the load balancer by a failed readiness gets no traffic, so
without this it could never find its way back.

The monitor's last round is what ``/ready`` and the graph's ``gatewayStatus`` report: no
request to either calls an upstream. Before the first round ends, every upstream is
``unchecked`` and ``checked_at`` is None.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse

from upstreams.breaker import BreakerState
from upstreams.registry import Upstreams

log = structlog.get_logger()


async def health(request: Request) -> JSONResponse:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


class HealthMonitor:
    """The background probes and their last round; the graph reads it as
    ``resolvers.context.HealthReports``."""

    def __init__(self, critical: frozenset[str], interval: float) -> None:
        self.critical = critical
        self.interval = interval
        self._upstreams: Upstreams | None = None
        self._task: asyncio.Task[None] | None = None
        self._reports: dict[str, dict[str, Any]] = {}
        self._checked_at: datetime | None = None

    @property
    def checked_at(self) -> datetime | None:
        """When the last round of probes ended; None before the first."""
        return self._checked_at

    def report(self, service: str) -> Mapping[str, Any] | None:
        """What the last probe of ``service`` found; None before its first probe."""
        return self._reports.get(service)

    def start(self, upstreams: Upstreams) -> None:
        self._upstreams = upstreams
        self._task = asyncio.create_task(self._run(), name="tracseq-health-monitor")

    async def stop(self) -> None:
        task, self._task, self._upstreams = self._task, None, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # keep probing whatever one round did
                log.exception("health.refresh_failed")
            await asyncio.sleep(self.interval)

    async def refresh(self) -> None:
        """One round of probes, all services at once."""
        upstreams = self._upstreams
        if upstreams is None:
            return
        self._reports = await upstreams.health()
        self._checked_at = datetime.now(UTC)

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        upstreams = self._upstreams
        if upstreams is None:
            return False, {"status": "starting", "upstreams": {}}
        ready = True
        details: dict[str, dict[str, Any]] = {}
        for client in upstreams:
            state = client.breaker.state
            critical = client.name in self.critical
            report = self._reports.get(client.name, {})
            details[client.name] = {
                "critical": critical,
                "breaker": state.value,
                "healthy": report.get("healthy"),
                "status": report.get("status", "unchecked"),
                "latency_ms": report.get("latency_ms"),
                "open_routes": client.breakers.open_routes(),
                **({"error": report["error"]} if "error" in report else {}),
            }
            if critical and state is BreakerState.OPEN:
                ready = False
        body = {
            "status": "ready" if ready else "not_ready",
            "checked_at": self._checked_at.isoformat() if self._checked_at else None,
            "upstreams": details,
        }
        return ready, body

    async def endpoint(self, request: Request) -> JSONResponse:
        """``GET /ready``: 200 when ready, 503 otherwise, with every upstream detailed."""
        ready, body = self.readiness()
        return JSONResponse(body, status_code=200 if ready else 503)

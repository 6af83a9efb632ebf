"""Liveness (/health), readiness (/ready) and the background probes both report.

``/ready`` says whether this process can serve: it has started (the lifespan's startup is
done) and it is not shutting down. Nothing else: every replica sees the upstreams and Redis
the same way, so their state taking replicas out of the load balancer would take all of
them out at once, while each still serves partial results. From the moment the process is
told to stop (``start_draining``: SIGTERM, see ``gateway.cli``) it answers 503
``draining``, while the requests in flight, and those still arriving during
``TRACSEQ_DRAIN_DELAY``, are served.

Its body also says, for each critical upstream, how many of its instances are healthy of
how many (``instances``): detail for operators, not a condition of readiness.

``/health`` is liveness: it answers 200 whenever the process answers, upstreams down or
not (a failed liveness probe restarts the pod, which cures nothing upstream). Its body is
the detail: ``degraded`` while the breaker of a critical upstream
(``TRACSEQ_CRITICAL_UPSTREAMS``) is open, its last probe found it unhealthy, or Redis was
unreachable at the last round; ``ok`` otherwise. Each upstream is listed with its breaker,
its last probe and its open route breakers, and each of its instances (opaque id, state,
calls in flight, ejections, last probe: never an address); Redis with what its last ping
found.

Neither endpoint calls an upstream or Redis: both report the ``HealthMonitor``'s last
round. The monitor probes every upstream's health route on each of its instances
(``UpstreamClient.health``: a probe that succeeds readmits an ejected instance) and
pings Redis when one is configured, at startup without holding it up, then every
``interval`` seconds. Each probe's outcome goes to that upstream's breaker, as a call's
would: a service that stopped answering, or whose health route answers 5xx, opens its
breaker even when no traffic reaches it, and once the breaker turns half-open the probe is
the call that closes it again. Before the first round ends every upstream is
``unchecked`` and ``checked_at`` is None; ``rounds`` counts the rounds done.

With several worker processes (``TRACSEQ_WORKERS``) each has its own breakers, probes and
drain state; every answer names the worker that gave it (``worker.pid``), so that two
answers differing from one request to the next can be told apart. The graph's
``gatewayStatus`` reports the same round.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse

from upstreams.breaker import BreakerState
from upstreams.instances import HEALTHY, InstanceStatus
from upstreams.registry import Upstreams

log = structlog.get_logger()

# Pings Redis once: True when it answered, False when it failed or did not answer in time.
RedisProbe = Callable[[], Awaitable[bool]]


class HealthMonitor:
    """The background probes and their last round, and this process's readiness; the graph
    reads it as ``resolvers.context.HealthReports``."""

    def __init__(self, critical: frozenset[str], interval: float, *, workers: int = 1) -> None:
        self.critical = critical
        self.interval = interval
        self.workers = workers
        self._upstreams: Upstreams | None = None
        self._redis: RedisProbe | None = None
        self._task: asyncio.Task[None] | None = None
        self._reports: dict[str, dict[str, Any]] = {}
        self._redis_reachable: bool | None = None
        self._checked_at: datetime | None = None
        self._draining = False
        self.rounds = 0

    @property
    def checked_at(self) -> datetime | None:
        """When the last round of probes ended; None before the first."""
        return self._checked_at

    @property
    def worker(self) -> Mapping[str, int]:
        """Which process answers: its pid, and how many workers the gateway runs."""
        return {"pid": os.getpid(), "workers": self.workers}

    @property
    def draining(self) -> bool:
        return self._draining

    def report(self, service: str) -> Mapping[str, Any] | None:
        """What the last probe of ``service`` found; None before its first probe."""
        return self._reports.get(service)

    def start(self, upstreams: Upstreams, redis: RedisProbe | None = None) -> None:
        self._upstreams, self._redis = upstreams, redis
        self._task = asyncio.create_task(self._run(), name="tracseq-health-monitor")

    def start_draining(self) -> None:
        """This process is shutting down: from now on it is not ready."""
        self._draining = True

    async def stop(self) -> None:
        self._draining = True
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
        """One round of probes, all services and Redis at once."""
        upstreams = self._upstreams
        if upstreams is None:
            return
        redis = self._redis
        if redis is None:
            self._reports = await upstreams.health()
        else:
            self._reports, self._redis_reachable = await asyncio.gather(upstreams.health(), redis())
        self._checked_at = datetime.now(UTC)
        self.rounds += 1

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        if self._draining:
            status = "draining"
        elif self._upstreams is None:
            status = "starting"
        else:
            status = "ready"
        body: dict[str, Any] = {"status": status, "worker": self.worker}
        upstreams = self._upstreams
        if upstreams is not None:
            body["instances"] = {
                client.name: _instance_counts(client.instance_status())
                for client in upstreams
                if client.name in self.critical
            }
        return status == "ready", body

    def detail(self) -> dict[str, Any]:
        """The /health body: the last round, each upstream's breaker now, and the verdict."""
        upstreams = self._upstreams
        if upstreams is None:
            return {"status": "starting", "worker": self.worker, "upstreams": {}}
        degraded = False
        details: dict[str, dict[str, Any]] = {}
        for client in upstreams:
            state = client.breaker.state
            critical = client.name in self.critical
            report = self._reports.get(client.name, {})
            instances = client.instance_status()
            details[client.name] = {
                "critical": critical,
                "breaker": state.value,
                "healthy": report.get("healthy"),
                "status": report.get("status", "unchecked"),
                "latency_ms": report.get("latency_ms"),
                "open_routes": client.breakers.open_routes(),
                **({"error": report["error"]} if "error" in report else {}),
                **_instance_counts(instances),
                "instances": _instances(instances, report),
            }
            if critical and (state is BreakerState.OPEN or report.get("healthy") is False):
                degraded = True
        redis: dict[str, Any] = {"configured": self._redis is not None}
        if self._redis is not None:
            redis["reachable"] = self._redis_reachable
            degraded = degraded or self._redis_reachable is False
        return {
            "status": "degraded" if degraded else "ok",
            "worker": self.worker,
            "checked_at": self._checked_at.isoformat() if self._checked_at else None,
            "upstreams": details,
            "redis": redis,
        }

    async def health(self, request: Request) -> JSONResponse:
        """``GET /health``: always 200 while the process answers, with the detail."""
        return JSONResponse(self.detail())

    async def endpoint(self, request: Request) -> JSONResponse:
        """``GET /ready``: 200 once started, 503 before and while shutting down."""
        ready, body = self.readiness()
        return JSONResponse(body, status_code=200 if ready else 503)


def _instance_counts(instances: list[InstanceStatus]) -> dict[str, int]:
    healthy = sum(i.state == HEALTHY for i in instances)
    return {"healthy_instances": healthy, "total_instances": len(instances)}


def _instances(instances: list[InstanceStatus], report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each instance now, with what the last round's probe of it found (by id)."""
    probes = {probe["id"]: probe for probe in report.get("instances", ())}
    # Not probed: the breaker was open, or the instance is newer than the last round.
    unprobed = "not_probed" if report.get("status") == "not_probed" else "unchecked"
    listed = []
    for instance in instances:
        probe = probes.get(instance.id, {"status": unprobed})
        listed.append(
            {
                "id": instance.id,
                "state": instance.state,
                "in_flight": instance.in_flight,
                "ejections": instance.ejections,
                "ejected_for_s": None
                if instance.ejected_for is None
                else round(instance.ejected_for, 3),
                "probe": probe["status"],
            }
        )
    return listed

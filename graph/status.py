"""The gateway's own status: each upstream's health and breaker state, and which worker
process answered (each worker has its own breakers and probes)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from graph.permissions import requires
from resolvers.context import Context
from security import rbac


@strawberry.enum(description="State of an upstream's circuit breaker.")
class BreakerState(Enum):
    CLOSED = strawberry.enum_value("closed", description="Calls flow normally.")
    OPEN = strawberry.enum_value(
        "open", description="Calls fail fast without reaching the service, until a probe."
    )
    HALF_OPEN = strawberry.enum_value(
        "half_open", description="A few probe calls are let through to test recovery."
    )


@strawberry.enum(description="One of the seven TracSeq services behind the gateway.")
class UpstreamService(Enum):
    AUTH = strawberry.enum_value("auth", description="Accounts, sessions and tokens.")
    SAMPLES = strawberry.enum_value("samples", description="Samples and their lifecycle.")
    STORAGE = strawberry.enum_value("storage", description="Storage locations and positions.")
    TEMPLATES = strawberry.enum_value("templates", description="Submission templates.")
    SEQUENCING = strawberry.enum_value("sequencing", description="Sequencing jobs.")
    RAG = strawberry.enum_value("rag", description="Answers and extraction from documents.")
    NOTIFICATIONS = strawberry.enum_value("notifications", description="Notifications.")


@strawberry.enum(description="State of one instance of an upstream service.")
class InstanceState(Enum):
    HEALTHY = strawberry.enum_value("healthy", description="Calls are balanced onto it.")
    EJECTED = strawberry.enum_value(
        "ejected",
        description="Taken out after consecutive failures, for a backoff that doubles with "
        "each ejection; a successful health probe or call brings it back at once.",
    )


@strawberry.type(
    description="One instance of an upstream service (a URL of its setting, or an address "
    "its DNS name resolves to), as this process's balancer sees it now."
)
class UpstreamInstance:
    id: strawberry.ID = strawberry.field(
        description="A stable opaque name for the instance (its address is never shown)."
    )
    state: InstanceState = strawberry.field(description="Healthy or ejected, now.")
    in_flight: int = strawberry.field(
        description="Calls to it in flight from this process (with one instance, the service's)."
    )
    ejections: int = strawberry.field(
        description="How many times it was ejected since this process started."
    )
    ejected_for_seconds: float | None = strawberry.field(
        description="Seconds until its ejection ends; null while healthy."
    )


@strawberry.type(
    description="One upstream service as the gateway sees it: its health as the last "
    "background probe found it, its breaker and load as they are now."
)
class UpstreamStatus:
    service: UpstreamService = strawberry.field(description="Which service.")
    healthy: bool | None = strawberry.field(
        description="Whether the last health probe found it healthy; null before its first."
    )
    health_detail: str = strawberry.field(
        description="What the last health probe found: the service's own word (lowercase, "
        "e.g. `healthy`, `unhealthy`), the kind of failure (`unavailable`, `timeout`), the "
        "status its health route answered (`http_503`), `not_probed` while its breaker was "
        "open, or `unchecked` before its first probe."
    )
    breaker: BreakerState = strawberry.field(description="The service's circuit breaker now.")
    latency_ms: float | None = strawberry.field(
        description="Milliseconds the last health probe took, answered or failed; null "
        "before its first probe or when its breaker was open and nothing was sent."
    )
    in_flight: int = strawberry.field(description="Calls to it in flight from this process.")
    open_routes: list[str] = strawberry.field(
        description="Routes (method and template) whose own breaker is open or half-open: "
        "they fail fast while the rest of the service is served."
    )
    instances: list[UpstreamInstance] = strawberry.field(
        description="Each of its instances, in the order of its setting (a DNS name's "
        "addresses in order)."
    )
    healthy_instances: int = strawberry.field(description="How many instances are healthy.")
    total_instances: int = strawberry.field(description="How many instances it has.")


@strawberry.type(
    description="The gateway process that answered. With several workers "
    "(`TRACSEQ_WORKERS`) each has its own breakers and health probes, so two answers may "
    "differ: the pid says whose each is."
)
class GatewayWorker:
    pid: int = strawberry.field(description="The operating-system process id of the worker.")
    workers: int = strawberry.field(
        description="How many worker processes this gateway instance runs."
    )


@strawberry.type(description="The gateway and every upstream behind it.")
class GatewayStatus:
    healthy: bool | None = strawberry.field(
        description="Whether the last round of health probes found every upstream healthy; "
        "null before the first round."
    )
    checked_at: datetime | None = strawberry.field(
        description="When the last round of health probes ended (they run at startup, then "
        "every `TRACSEQ_READY_INTERVAL` seconds); null before the first."
    )
    upstreams: list[UpstreamStatus] = strawberry.field(
        description="Each of the seven services, in a fixed order."
    )
    worker: GatewayWorker = strawberry.field(
        description="The worker process that answered, whose breakers and probes these are."
    )


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Each upstream's health as the gateway's background probes last found "
        "it, and its breaker state: reading it calls no upstream.",
    )
    def gateway_status(self, info: Info[Context, None]) -> GatewayStatus | None:
        health = info.context.health
        upstreams = [
            _upstream(client, None if health is None else health.report(client.name))
            for client in info.context.upstreams
        ]
        checked_at = None if health is None else health.checked_at
        worker = {"pid": os.getpid(), "workers": 1} if health is None else health.worker
        return GatewayStatus(
            healthy=None if checked_at is None else all(u.healthy for u in upstreams),
            checked_at=checked_at,
            upstreams=upstreams,
            worker=GatewayWorker(pid=worker["pid"], workers=worker["workers"]),
        )


def _upstream(client: Any, report: Mapping[str, Any] | None) -> UpstreamStatus:
    """One client's live breaker and load beside ``report``, its last probe (None: none yet)."""
    if report is None:
        report = {"healthy": None, "status": "unchecked", "latency_ms": None}
    instances = [
        UpstreamInstance(
            id=strawberry.ID(i.id),
            state=InstanceState(i.state),
            in_flight=i.in_flight,
            ejections=i.ejections,
            ejected_for_seconds=i.ejected_for,
        )
        for i in client.instance_status()
    ]
    return UpstreamStatus(
        service=UpstreamService(client.name),
        healthy=report["healthy"],
        health_detail=str(report["status"]),
        breaker=BreakerState(client.breaker.state.value),
        latency_ms=report["latency_ms"],
        in_flight=client.bulkhead.in_flight,
        open_routes=client.breakers.open_routes(),
        instances=instances,
        healthy_instances=sum(i.state is InstanceState.HEALTHY for i in instances),
        total_instances=len(instances),
    )

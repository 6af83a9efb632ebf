"""The gateway's own status: each upstream's health and breaker state."""

from __future__ import annotations

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


@strawberry.type(description="One upstream service as the gateway sees it now.")
class UpstreamStatus:
    service: UpstreamService = strawberry.field(description="Which service.")
    healthy: bool = strawberry.field(description="Whether the health probe found it healthy.")
    health_detail: str = strawberry.field(
        description="What the health probe found: the service's own word (lowercase, e.g. "
        "`healthy`), or the kind of failure (e.g. `unavailable`, `timeout`)."
    )
    breaker: BreakerState = strawberry.field(description="The service's circuit breaker.")
    latency_ms: float = strawberry.field(
        description="Milliseconds the health probe took, answered or failed."
    )
    in_flight: int = strawberry.field(description="Calls to it in flight from this process.")
    open_routes: list[str] = strawberry.field(
        description="Routes (method and template) whose own breaker is open or half-open: "
        "they fail fast while the rest of the service is served."
    )

    @classmethod
    def from_report(
        cls, report: dict[str, Any], in_flight: int, open_routes: list[str]
    ) -> UpstreamStatus:
        return cls(
            service=UpstreamService(report["service"]),
            healthy=bool(report.get("healthy")),
            health_detail=str(report.get("status") or "unknown"),
            breaker=BreakerState(report.get("breaker", "closed")),
            latency_ms=float(report["latency_ms"]),
            in_flight=in_flight,
            open_routes=open_routes,
        )


@strawberry.type(description="The gateway and every upstream behind it.")
class GatewayStatus:
    healthy: bool = strawberry.field(description="True when every upstream is healthy.")
    upstreams: list[UpstreamStatus] = strawberry.field(
        description="Each of the seven services, in a fixed order."
    )


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Each upstream's health (probed now, concurrently) and breaker state.",
    )
    async def gateway_status(self, info: Info[Context, None]) -> GatewayStatus | None:
        upstreams = info.context.upstreams
        reports = await upstreams.health()
        statuses = [
            UpstreamStatus.from_report(
                report, upstreams[name].bulkhead.in_flight, upstreams[name].breakers.open_routes()
            )
            for name, report in reports.items()
        ]
        return GatewayStatus(healthy=all(s.healthy for s in statuses), upstreams=statuses)

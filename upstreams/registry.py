"""The seven service clients of one process, over the one shared HTTP pool."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from upstreams.auth import AuthClient
from upstreams.breaker import RouteTransitionHook, TransitionHook
from upstreams.cache import ResponseCache
from upstreams.client import CallObserver, UpstreamClient
from upstreams.config import UpstreamConfig
from upstreams.instances import InstanceObserver
from upstreams.notifications import NotificationsClient
from upstreams.pool import HttpPool
from upstreams.rag import RagClient
from upstreams.samples import SamplesClient
from upstreams.sequencing import SequencingClient
from upstreams.storage import StorageClient
from upstreams.templates import TemplatesClient

SERVICES = ("auth", "samples", "storage", "templates", "sequencing", "rag", "notifications")


class Upstreams:
    """``.auth .samples .storage .templates .sequencing .rag .notifications``; iterating
    yields the seven ``UpstreamClient`` objects (breaker, bulkhead, health)."""

    def __init__(
        self,
        configs: Mapping[str, UpstreamConfig],
        http: HttpPool,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        on_transition: TransitionHook | None = None,
        on_route_transition: RouteTransitionHook | None = None,
        observer: CallObserver | None = None,
        instance_observer: InstanceObserver | None = None,
        cache: ResponseCache | None = None,
    ) -> None:
        missing = [name for name in SERVICES if name not in configs]
        if missing:
            raise ValueError(f"no upstream configuration for: {', '.join(missing)}")

        def build(name: str) -> UpstreamClient:
            return UpstreamClient(
                configs[name],
                http,
                clock=clock,
                sleep=sleep,
                rng=rng,
                on_transition=on_transition,
                on_route_transition=on_route_transition,
                observer=observer,
                instance_observer=instance_observer,
                cache=cache,
            )

        self.cache = cache
        self.clients: dict[str, UpstreamClient] = {name: build(name) for name in SERVICES}
        self.auth = AuthClient(self.clients["auth"])
        self.samples = SamplesClient(self.clients["samples"])
        self.storage = StorageClient(self.clients["storage"])
        self.templates = TemplatesClient(self.clients["templates"])
        self.sequencing = SequencingClient(self.clients["sequencing"])
        self.rag = RagClient(self.clients["rag"])
        self.notifications = NotificationsClient(self.clients["notifications"])

    def __iter__(self) -> Iterator[UpstreamClient]:
        return iter(self.clients.values())

    def __getitem__(self, name: str) -> UpstreamClient:
        return self.clients[name]

    async def health(self) -> dict[str, dict[str, Any]]:
        """Every service's health report, probed concurrently."""
        reports = await asyncio.gather(*(client.health() for client in self))
        return {report["service"]: report for report in reports}

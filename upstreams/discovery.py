"""Service discovery: a base URL whose host is a DNS name stands for each address it has.

A Kubernetes headless service is one DNS name with an A record per pod. A configured
``http://`` base URL whose host is such a name (not an IP literal, not ``localhost``) is one
instance per address the name resolves to (IPv4 by default), each at the URL's scheme, that
address, the URL's port (or 80) and its path. (An ``https://`` URL is left as it is: its
certificate names the host, not an address.) ``Discovery`` resolves every such name once
at startup, then every ``interval`` seconds in a background task, and hands each service's
instance set the URLs found (``InstanceSet.update``: instances come and go without a
restart, and those that stay keep their load and ejection state).

What a round cannot learn it does not change: a name that fails to resolve, or resolves to
no address, keeps the instances it had (a log line names the service and the reason), and
a name that cannot be resolved at startup stays one instance, the URL as written. A
service is never left without an instance.

The resolver is injected: ``async (host, port) -> [(address, port), ...]``, like the
socket addresses of ``getaddrinfo`` (the default, ``resolve_ipv4``); a test maps a made-up
name to sandbox instances on different loopback ports. Names are resolved one after the
other, so a round sees one resolver answer per name. With no DNS name configured (the
default: IP literals and ``localhost``) there is nothing to resolve and no task at all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import structlog

from upstreams.instances import InstanceSet

log = structlog.get_logger()

# The socket addresses a host name stands for: (address, port) pairs.
Resolver = Callable[[str, int], Awaitable[Sequence[tuple[str, int]]]]

# Seconds one name may take to resolve before the round gives up on it.
RESOLVE_TIMEOUT = 5.0
HTTP_PORT = 80


async def resolve_ipv4(host: str, port: int) -> list[tuple[str, int]]:
    """The IPv4 addresses (A records) of ``host``, through the loop's ``getaddrinfo``."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(
        host, port, family=socket.AF_INET, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [(str(sockaddr[0]), int(sockaddr[1])) for *_, sockaddr in infos]


def discoverable(url: str) -> bool:
    """Whether ``url``'s host is a DNS name to resolve: an ``http://`` URL whose host is not
    an IP literal nor localhost. An ``https://`` URL keeps its name: TLS checks the
    certificate against the name the gateway connects to, which an address is not."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme != "http" or not host or host.rstrip(".").lower() == "localhost":
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


@dataclass(frozen=True, slots=True)
class _Name:
    """One configured URL with a DNS name, and the parts its instances' URLs keep."""

    url: str
    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def of(cls, url: str) -> _Name:
        parts = urlsplit(url)
        port = parts.port or HTTP_PORT
        return cls(url, parts.scheme, parts.hostname or "", port, parts.path.rstrip("/"))

    def instance_url(self, address: str, port: int) -> str:
        host = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{host}:{port}{self.path}"


class _Service:
    """One service's configured URLs and the instance URLs last found for each."""

    def __init__(self, name: str, urls: Sequence[str], instances: InstanceSet) -> None:
        self.name = name
        self.urls = list(urls)
        self.instances = instances
        # Until a name resolves, it stands for its URL as written.
        self.found: dict[str, list[str]] = {url: [url] for url in urls}
        self.names = [_Name.of(url) for url in urls if discoverable(url)]


class Discovery:
    """The DNS names of every service's URLs, resolved at startup and every ``interval``
    seconds (0: at startup only). ``rounds`` counts the rounds done."""

    def __init__(
        self,
        services: Iterable[tuple[str, Sequence[str], InstanceSet]],
        interval: float,
        *,
        resolver: Resolver = resolve_ipv4,
        timeout: float = RESOLVE_TIMEOUT,
    ) -> None:
        self.interval = interval
        self.rounds = 0
        self._resolver = resolver
        self._timeout = timeout
        self._services = [
            service
            for name, urls, instances in services
            if (service := _Service(name, urls, instances)).names
        ]
        self._task: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        """Whether any service has a name to resolve."""
        return bool(self._services)

    async def start(self) -> None:
        """The startup round, then the background task (when there is anything to resolve
        and an interval)."""
        if not self._services:
            return
        await self.refresh()
        if self.interval > 0:
            self._task = asyncio.create_task(self._run(), name="tracseq-discovery")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.refresh()
            except Exception:  # keep resolving whatever one round did
                log.exception("discovery.refresh_failed")

    async def refresh(self) -> None:
        """One round: every name resolved, every service's instance set updated."""
        for service in self._services:
            for name in service.names:
                urls = await self._resolve(service.name, name)
                if urls is not None:
                    service.found[name.url] = urls
            wanted = [url for configured in service.urls for url in service.found[configured]]
            before = {i.base_url for i in service.instances.instances}
            if service.instances.update(wanted):
                after = set(wanted)
                log.info(
                    "discovery.instances",
                    service=service.name,
                    added=sorted(after - before),
                    removed=sorted(before - after),
                )
        self.rounds += 1

    async def _resolve(self, service: str, name: _Name) -> list[str] | None:
        """The instance URLs ``name`` stands for now; None (logged) when the answer says
        nothing: a failure, or no address."""
        try:
            async with asyncio.timeout(self._timeout):
                addresses = await self._resolver(name.host, name.port)
        except (OSError, TimeoutError, ValueError) as exc:  # ValueError: a name IDNA refuses
            reason = "no answer in time" if isinstance(exc, TimeoutError) else str(exc)
            log.warning("discovery.resolve_failed", service=service, host=name.host, reason=reason)
            return None
        if not addresses:
            log.warning(
                "discovery.resolve_failed", service=service, host=name.host, reason="no address"
            )
            return None
        return sorted({name.instance_url(address, port) for address, port in addresses})

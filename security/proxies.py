"""Trusted proxies: the peers whose ``X-Forwarded-*`` headers the gateway believes.

One value, built once from ``TRACSEQ_TRUSTED_PROXIES`` and passed to everyone who asks a
forwarding question: the rate limiter (who is the client?), the security headers (did the
request come over TLS?) and the passthrough (keep the chain, or replace it?).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import Scope

from security.responses import header

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> TrustedProxies:
        """IPs or CIDRs (``"10.0.0.0/8"``, ``"127.0.0.1"``); a malformed one raises
        ValueError."""
        return cls(tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries))

    def contains(self, address: str | None) -> bool:
        """Whether ``address`` (an IP as text) is one of the trusted proxies."""
        if not self.networks or address is None:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def trusts(self, scope: Scope) -> bool:
        """Whether the request's peer is a trusted proxy."""
        client = scope.get("client")
        return client is not None and self.contains(client[0])

    def client_address(self, scope: Scope) -> str:
        """The caller's address: the peer, or, when the peer is a trusted proxy, the
        nearest ``X-Forwarded-For`` entry that is not itself a trusted proxy."""
        client = scope.get("client")
        peer = str(client[0]) if client else "unknown"
        if not self.trusts(scope):
            return peer
        forwarded = header(scope, b"x-forwarded-for")
        if not forwarded:
            return peer
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if not self.contains(hop):
                return hop
        return peer

    def over_tls(self, scope: Scope) -> bool:
        """Whether the request came over TLS: to this server, or to a trusted proxy that
        says so in ``X-Forwarded-Proto``."""
        if scope.get("scheme") == "https":
            return True
        return self.trusts(scope) and (header(scope, b"x-forwarded-proto") or "").lower() == "https"

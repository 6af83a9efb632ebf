"""Serving the sandbox over TLS: a switch, off by default (the sandbox, like the services
on a developer's machine, speaks plain HTTP unless told otherwise).

``--tls-cert FILE --tls-key FILE`` serve every service over ``https://`` with that PEM
certificate (chain) and key; ``--tls-client-ca FILE`` also requires each client to present
a certificate that the PEM CA bundle in FILE signed (mutual TLS). As with any asyncio
server, a client without an acceptable certificate is disconnected when the server ends
its side of the handshake, with no alert: over TLS 1.3 the client sees its first read fail.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ServerTls:
    """The certificate and key every service serves with, and the CA that signs the client
    certificates it requires (None: none required)."""

    cert_file: str
    key_file: str
    client_ca: str | None = None

    def uvicorn_options(self) -> dict[str, Any]:
        """The ``uvicorn.Config`` keywords that serve with these files."""
        options: dict[str, Any] = {"ssl_certfile": self.cert_file, "ssl_keyfile": self.key_file}
        if self.client_ca is not None:
            options.update(ssl_ca_certs=self.client_ca, ssl_cert_reqs=ssl.CERT_REQUIRED)
        return options

    def arguments(self) -> list[str]:
        """The command-line flags that give these files (for ``SandboxProcess``)."""
        args = ["--tls-cert", self.cert_file, "--tls-key", self.key_file]
        if self.client_ca is not None:
            args += ["--tls-client-ca", self.client_ca]
        return args


def tls_from(cert: str | None, key: str | None, client_ca: str | None) -> ServerTls | None:
    """The flags' ``ServerTls``; None without ``--tls-cert``. Raises ValueError on flags
    that do not go together."""
    if cert is None and key is None:
        if client_ca is not None:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    if cert is None or key is None:
        raise ValueError("--tls-cert and --tls-key go together")
    return ServerTls(cert_file=cert, key_file=key, client_ca=client_ca)

"""Every error an upstream call can raise.

Transport errors (aiohttp, OS) are translated into this tree in exactly one place,
``translate``, which the one send function of ``upstreams.pipeline`` calls with
``raise ... from exc``::

    UpstreamError                    base: carries the service name
    ├── UpstreamUnavailable          nothing was answered: breaker open, connection refused,
    │                                connect timeout, bulkhead full
    ├── UpstreamTimeout              the call ran out of time after the request was sent
    ├── UpstreamStatusError          the service answered with an error status
    │   └── UpstreamNotFound         ... and that status was 404
    ├── UpstreamInvalidRequest       nothing was sent: the values given make no request
    │                                (a URL longer than any server reads)
    ├── UpstreamUnsupported          the service (as deployed) cannot do what was asked:
    │                                a route it lacks, a write it would silently drop
    └── UpstreamBadResponse          it answered something the gateway cannot represent
                                     (a malformed timestamp, an unknown enum member)

Callers (resolvers, the REST passthrough) map these to GraphQL error codes and HTTP
statuses; nothing above ``upstreams/`` ever sees an aiohttp exception.

A TLS failure (a certificate that fails verification, a handshake or an alert that ends
the connection) is ``UpstreamUnavailable`` too: its message says that TLS failed and no
more; OpenSSL's reason (``tls_reason``) is for the log, never for a client.
"""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp

from upstreams.tls import ssl_reason


class UpstreamError(Exception):
    """Base of every upstream failure. ``message`` is safe to show to a client."""

    def __init__(self, service: str, message: str) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.message = message


class UpstreamUnavailable(UpstreamError):
    """The service could not be reached, or the gateway refused to try.

    ``retry_after`` (seconds) is set when the breaker is open and knows when it will probe.
    """

    def __init__(self, service: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(service, message)
        self.retry_after = retry_after


class UpstreamTimeout(UpstreamError):
    """The service did not answer within the call's time budget."""


class UpstreamStatusError(UpstreamError):
    """The service answered with an error status.

    ``code`` is the upstream's own error code where its error body carries one
    (``sample_not_found``, ``INVALID_CREDENTIALS``, ...), else None; ``details`` is any
    structured detail the body carried (validation errors, allowed transitions).
    """

    def __init__(
        self,
        service: str,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(service, message)
        self.status = status
        self.code = code
        self.details = details


class UpstreamNotFound(UpstreamStatusError):
    """The service answered 404 for the requested resource."""


class UpstreamInvalidRequest(UpstreamError):
    """The call could not be sent as asked: a caller's value makes a URL longer than a
    server reads. Nothing was sent."""


class UpstreamUnsupported(UpstreamError):
    """The service, as deployed, cannot serve what was asked; nothing was written.

    Raised before any write when a request would be silently ignored or only half applied
    by the release (UPSTREAMS.md), and for capabilities that need an [extension] that is
    not configured.
    """


class UpstreamBadResponse(UpstreamError):
    """The service answered a value the gateway cannot represent (``field`` names it)."""

    def __init__(self, service: str, message: str, *, field: str | None = None) -> None:
        super().__init__(service, message)
        self.field = field

    @classmethod
    def for_value(cls, service: str, field: str, value: object) -> UpstreamBadResponse:
        """The error that stands in for a value of ``field`` the gateway cannot represent."""
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        if "://" in shown:  # never an address in a client's answer
            shown = "(a value holding an address)"
        return cls(
            service,
            f"The {service} service sent a {field} that the gateway cannot read: {shown}",
            field=field,
        )


def translate(service: str, exc: BaseException) -> UpstreamError:
    """The error that stands for transport error ``exc`` of a call to ``service``.

    The message is safe for a client (never the upstream's address). A connect timeout
    means nothing was sent (``UpstreamUnavailable``, retryable); a read timeout means the
    request may have been acted on (``UpstreamTimeout``).
    """
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamUnavailable(service, "could not connect within the connect timeout")
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return UpstreamTimeout(service, "no answer within the read timeout")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return UpstreamUnavailable(
            service, "could not connect: its TLS certificate could not be verified"
        )
    if not isinstance(exc, aiohttp.ClientPayloadError) and tls_reason(exc) is not None:
        return UpstreamUnavailable(service, "the TLS connection failed")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return UpstreamUnavailable(service, "the connection was closed before an answer")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return UpstreamUnavailable(service, "the answer broke off")
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectionError):
        return UpstreamUnavailable(service, "could not connect")
    if isinstance(exc, TimeoutError):
        return UpstreamUnavailable(service, "could not connect within the connect timeout")
    return UpstreamUnavailable(service, "connection failed")


def tls_reason(exc: BaseException) -> str | None:
    """OpenSSL's reason when transport error ``exc`` came of TLS (``certificate verify
    failed: ...``, ``tlsv13 alert certificate required``), found down its chain of causes;
    None when no TLS error is in it. For logs: it may name hosts."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        # aiohttp's own TLS errors are ssl.SSLError subclasses too: OpenSSL's is their cause.
        if isinstance(current, ssl.SSLError) and not isinstance(current, aiohttp.ClientError):
            return ssl_reason(current)
        current = current.__cause__ or current.__context__
    return None

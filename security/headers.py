"""Security headers on every response."""

from __future__ import annotations

from collections.abc import Iterable

# GraphiQL is served from the gateway itself: scripts from 'self' only, no inline script;
# its editor sets inline styles, hence style-src 'unsafe-inline'.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)

_ALWAYS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
_OVER_TLS = (*_ALWAYS, (b"strict-transport-security", b"max-age=31536000; includeSubDomains"))


def with_security_headers(
    headers: Iterable[tuple[bytes, bytes]], *, tls: bool
) -> list[tuple[bytes, bytes]]:
    """A response's headers with CSP, X-Frame-Options, X-Content-Type-Options and
    Referrer-Policy added, and HSTS when the request came over TLS; a header the response
    already sets is left as it is."""
    found = list(headers)
    extra = _OVER_TLS if tls else _ALWAYS
    present = {k.lower() for k, _ in found}
    found.extend(item for item in extra if item[0] not in present)
    return found

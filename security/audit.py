"""The security audit trail: every security event as one JSON line on one stream.

Each line names its event with a stable ``event`` name (``EVENTS``, listed in README.md)
and says who and what: the ``request_id``, the ``principal`` (and ``role``), the
``client`` address (through trusted proxies), the ``route`` (method and path) or the
GraphQL ``operation``, and the ``outcome``, then the event's own details::

    {"event": "security.forbidden", "outcome": "refused", "timestamp": "2026-...Z",
     "request_id": "4bf9...", "principal": "u-7", "role": "guest", "client": "10.0.0.7",
     "route": "POST /graphql", "operation": "CreateSample", "rule": "...", "field": "..."}

The lines go to stdout (the application log is stderr's), one write per line so that the
workers' lines never interleave, and, when ``TRACSEQ_AUDIT_FILE`` is set, to that file too:
opened for appending, never truncated, rotated by size (``logging.handlers``'
``RotatingFileHandler``: ``audit.log`` becomes ``audit.log.1`` and so on, the oldest
dropped past the backup count). Every event counts in ``tracseq_security_events_total``
by event and outcome.

Where an event happens, the code calls ``emit``: it needs no handle, because the edge binds
the app's trail and the request (its ASGI scope) in a context variable for the length of
each request, and the lifespan binds the trail alone for the background tasks it starts.
An event with nothing bound (a unit test of one module) goes to stdout alone.

Nothing secret is written: details named like a credential (password, token, secret,
authorization, cookie) are dropped whole, and any value that holds a JWT or a bearer
credential has it masked. Values are cut at ``MAX_VALUE`` characters.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import Scope

from security.principal import Principal
from security.proxies import TrustedProxies

AUTHENTICATION_FAILED = "security.authentication_failed"
FORBIDDEN = "security.forbidden"
RATE_LIMITED = "security.rate_limited"
CSRF_REFUSED = "security.csrf_refused"
THREAT_DETECTED = "security.threat_detected"
TOKEN_REVOKED = "security.token_revoked"  # noqa: S105 - an event name
LOGIN = "security.login"
LOGOUT = "security.logout"
PERSISTED_QUERY_REJECTED = "security.persisted_query_rejected"
BREAKER_OPENED = "security.breaker_opened"
LIMIT_EXCEEDED = "security.limit_exceeded"
BODY_TOO_LARGE = "security.body_too_large"
PATH_REFUSED = "security.path_refused"
WEBSOCKET_ORIGIN_REFUSED = "security.websocket_origin_refused"
STORE_UNAVAILABLE = "security.store_unavailable"

# Outcomes: what the gateway did about the event.
REFUSED = "refused"
BLOCKED = "blocked"
ALLOWED = "allowed"
SUCCEEDED = "succeeded"
FAILED = "failed"
REVOKED = "revoked"
OPENED = "opened"
DEGRADED = "degraded"

# Every event: what it records, and its outcomes (README.md's table is this one).
EVENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    AUTHENTICATION_FAILED: (
        "a bearer token refused: malformed, expired, badly signed, revoked",
        (REFUSED,),
    ),
    FORBIDDEN: ("a role refused a field, a mutation or a REST route", (REFUSED,)),
    RATE_LIMITED: ("a caller's rate-limit bucket was empty", (REFUSED,)),
    CSRF_REFUSED: (
        "a GraphQL request a browser could send cross-site without a preflight",
        (REFUSED,),
    ),
    THREAT_DETECTED: ("an input matched an injection pattern", (ALLOWED, BLOCKED)),
    TOKEN_REVOKED: ("a session's tokens were revoked (logout, refresh)", (REVOKED,)),
    LOGIN: ("a login through the gateway", (SUCCEEDED, FAILED)),
    LOGOUT: ("a logout through the gateway", (SUCCEEDED,)),
    PERSISTED_QUERY_REJECTED: (
        "a persisted query refused: not trusted, hash mismatch, malformed",
        (REFUSED,),
    ),
    BREAKER_OPENED: ("a circuit breaker opened on the failure of a caller's call", (OPENED,)),
    LIMIT_EXCEEDED: ("an operation over a limit (size, depth, aliases, cost, ...)", (REFUSED,)),
    BODY_TOO_LARGE: ("a request body over the size limit", (REFUSED,)),
    PATH_REFUSED: ("a REST path with traversal or encoded separators", (REFUSED,)),
    WEBSOCKET_ORIGIN_REFUSED: ("a WebSocket from an origin that is not allowed", (REFUSED,)),
    STORE_UNAVAILABLE: ("Redis failed; this process's memory stood in", (DEGRADED,)),
}

MAX_VALUE = 200
DEFAULT_FILE_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_FILE_BACKUPS = 5

_SECRET_NAME = re.compile(r"password|token|secret|authorization|cookie|credential", re.I)
_JWT = re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")
_BEARER = re.compile(r"bearer\s+\S+", re.I)
_MASK = "[redacted]"


@dataclass(frozen=True, slots=True)
class AuditConfig:
    """Where the trail goes besides stdout: ``file`` (``TRACSEQ_AUDIT_FILE``, None: nowhere
    else), rotated past ``max_bytes`` with ``backups`` old files kept."""

    file: str | None = None
    max_bytes: int = DEFAULT_FILE_MAX_BYTES  # TRACSEQ_AUDIT_FILE_MAX_BYTES
    backups: int = DEFAULT_FILE_BACKUPS  # TRACSEQ_AUDIT_FILE_BACKUPS

    def __post_init__(self) -> None:
        if self.max_bytes < 1024:
            raise ValueError(f"the file's size limit must be at least 1024 bytes: {self.max_bytes}")
        if self.backups < 1:
            raise ValueError(f"at least one rotated file must be kept: {self.backups}")


class AuditTrail:
    """The app's sinks and counter; ``record`` writes one event to all of them."""

    def __init__(
        self,
        config: AuditConfig | None = None,
        *,
        trusted_proxies: TrustedProxies | None = None,
        on_event: Callable[[str, str], None] | None = None,
    ) -> None:
        self.config = config or AuditConfig()
        self._proxies = trusted_proxies or TrustedProxies()
        self._on_event = on_event
        self._file: logging.Handler | None = None

    def open(self) -> None:
        """Open the file, when one is configured (it is created when missing)."""
        if self.config.file is not None and self._file is None:
            self._file = logging.handlers.RotatingFileHandler(
                self.config.file,
                maxBytes=self.config.max_bytes,
                backupCount=self.config.backups,
                encoding="utf-8",
            )
            self._file.setFormatter(logging.Formatter("%(message)s"))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def record(
        self, event: str, outcome: str, scope: Scope | None, details: dict[str, Any]
    ) -> None:
        line = _line(event, outcome, scope, self._proxies, details).decode()
        _write_stdout(line)
        if self._file is not None:
            # The handler ends the line, and rotates the file first when it would outgrow it.
            record = logging.makeLogRecord({"msg": line[:-1], "levelno": logging.WARNING})
            self._file.emit(record)
        if self._on_event is not None:
            self._on_event(event, outcome)


_DEFAULT = AuditTrail()
_bound: ContextVar[tuple[AuditTrail, Scope | None]] = ContextVar("audit", default=(_DEFAULT, None))


def bind(trail: AuditTrail, scope: Scope | None) -> Token[tuple[AuditTrail, Scope | None]]:
    """Make ``trail`` (and the request ``scope``) the one ``emit`` writes to, until
    ``unbind``."""
    return _bound.set((trail, scope))


def unbind(token: Token[tuple[AuditTrail, Scope | None]]) -> None:
    # Bound in another context (a lifespan entered and left by different tasks): that
    # context ends with its binding, and this one has its own.
    with contextlib.suppress(ValueError):
        _bound.reset(token)


@contextmanager
def bound(trail: AuditTrail, scope: Scope | None = None) -> Iterator[None]:
    token = bind(trail, scope)
    try:
        yield
    finally:
        unbind(token)


def emit(event: str, outcome: str, *, principal: Principal | None = None, **details: Any) -> None:
    """Record ``event`` with ``outcome`` for the request being served. ``principal`` names
    the caller where the request's scope does not (a token refused before it was
    trusted, a WebSocket's)."""
    trail, scope = _bound.get()
    if principal is not None:
        details = {"principal": principal.id, "role": principal.role, **details}
    trail.record(event, outcome, scope, details)


def _line(
    event: str,
    outcome: str,
    scope: Scope | None,
    proxies: TrustedProxies,
    details: dict[str, Any],
) -> bytes:
    fields: dict[str, Any] = {
        "event": event,
        "outcome": outcome,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    if scope is not None:
        state = scope.get("state") or {}
        principal = state.get("principal")
        fields["request_id"] = state.get("request_id")
        fields["principal"] = getattr(principal, "id", None)
        fields["role"] = getattr(principal, "role", None)
        fields["client"] = proxies.client_address(scope)
        method = scope.get("method", "WS" if scope.get("type") == "websocket" else "")
        fields["route"] = _clean(f"{method} {scope.get('path', '')}")
        operation = state.get("operation")
        if operation:
            fields["operation"] = _clean(operation)
    for name, value in details.items():
        if _SECRET_NAME.search(name):
            continue
        fields[name] = _clean(value)
    return orjson.dumps(fields) + b"\n"


def _clean(value: Any) -> Any:
    """``value`` safe to write: masked credentials, bounded text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    text = _BEARER.sub(_MASK, _JWT.sub(_MASK, text))
    return text[:MAX_VALUE]


def _write_stdout(line: str) -> None:
    # sys.stdout is looked up on every write: a test's capture replaces it.
    out = sys.stdout
    out.write(line)
    out.flush()


def event_table() -> str:
    """README.md's table of the events (a test keeps the two alike)."""
    rows = ["| event | outcomes | recorded when |", "|---|---|---|"]
    for event, (meaning, outcomes) in EVENTS.items():
        shown = ", ".join(f"`{outcome}`" for outcome in outcomes)
        rows.append(f"| `{event}` | {shown} | {meaning} |")
    return "\n".join(rows)

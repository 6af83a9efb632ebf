"""Security events as structured log lines; the request id comes from the bound context."""

from __future__ import annotations

from typing import Any

import structlog

log = structlog.get_logger("tracseq.security")

LOGIN_FAILED = "security.login_failed"
TOKEN_REJECTED = "security.token_rejected"
SESSION_REVOKED = "security.session_revoked"
REVOKED_TOKEN_USED = "security.revoked_token_used"
RATE_LIMITED = "security.rate_limited"
LIMIT_VIOLATION = "security.limit_violation"
CSRF_REJECTED = "security.csrf_rejected"
FORBIDDEN = "security.forbidden"
BODY_TOO_LARGE = "security.body_too_large"
PATH_REJECTED = "security.path_rejected"
WEBSOCKET_ORIGIN_REFUSED = "security.websocket_origin_refused"
STORE_UNAVAILABLE = "security.store_unavailable"


def emit(event: str, **fields: Any) -> None:
    log.warning(event, **fields)

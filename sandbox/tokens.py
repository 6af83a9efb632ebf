"""Access tokens as the sandbox's auth service signs them, minted without a login.

For tests and benchmarks that need a caller of some role without going through auth: the
token verifies at the gateway (same secret, claims and issuer), but its session is not one
auth knows, so auth's own session-bound routes (``/auth/me``, logout) refuse it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from sandbox.services.auth import AUDIENCE, DEFAULT_JWT_SECRET, ISSUER


def mint_token(
    role: str = "lab_administrator",
    *,
    user_id: str | None = None,
    session_id: str | None = None,
    secret: str = DEFAULT_JWT_SECRET,
    lifetime: int = 3600,
    **claims: Any,
) -> str:
    now = int(time.time())
    payload = {
        "sub": user_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"test-user/{role}")),
        "email": f"{role}@tests.tracseq.lab",
        "role": role,
        "exp": now + lifetime,
        "iat": now,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": session_id or str(uuid.uuid4()),
        **claims,
    }
    return jwt.encode(payload, secret, algorithm="HS256", sort_headers=False)

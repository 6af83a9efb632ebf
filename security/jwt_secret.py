"""Whether an HS256 secret may verify tokens in production.

Anyone who knows the secret can mint tokens for any role, so production refuses a secret
that is

- one of the repository's examples (``EXAMPLE_SECRETS``: the development default, which
  the sandbox signs with too, the compose demo's and the Kubernetes example's), or
- shorter than ``MIN_BYTES`` (32) bytes (``JwtConfig`` refuses that in every
  environment), or
- not random-looking. The test is simple and deliberately so: at least ``MIN_DISTINCT``
  (12) distinct bytes, a Shannon estimate over its own bytes of at least
  ``MIN_BITS_PER_BYTE`` (3.0) bits per byte, and none of the ``PLACEHOLDER_WORDS`` in it
  (any case). ``openssl rand -base64 32`` (4.1 bits or more per byte, over 20 distinct),
  ``openssl rand -hex 32`` (3.4 or more, 13 or more distinct) and
  ``secrets.token_urlsafe(32)`` pass; ``aaaa...`` and ``change-me-...`` fail. Every
  placeholder word has six letters or more, so a random base64 secret contains one by
  chance about
  three times in 10^7 (hex never).

The verdict never contains the secret: only what is wrong with it.
"""

from __future__ import annotations

import math
from collections import Counter

# What development runs with unless told otherwise; the sandbox signs with it too.
DEFAULT_JWT_SECRET = "tracseq-dev-secret-change-me-in-production"  # noqa: S105 - dev default

# Every HS256 secret the repository shows as an example, in code, deploy/ or README.
EXAMPLE_SECRETS = frozenset(
    {
        DEFAULT_JWT_SECRET,
        "compose-demo-secret-replace-me-0123456789",
        "change-me-to-the-auth-services-secret-32-bytes-or-more",
    }
)
PLACEHOLDER_WORDS = (
    "change",
    "replace",
    "secret",
    "example",
    "sample",
    "password",
    "passwd",
    "default",
    "placeholder",
    "insecure",
    "please",
    "tracseq",
)
MIN_BYTES = 32
MIN_DISTINCT = 12
MIN_BITS_PER_BYTE = 3.0


def bits_per_byte(data: bytes) -> float:
    """The Shannon entropy of ``data``'s own byte frequencies (0 for a repeated byte)."""
    counts = Counter(data)
    total = len(data)
    return -sum(n / total * math.log2(n / total) for n in counts.values()) if total else 0.0


def secret_problem(secret: str) -> str | None:
    """Why ``secret``, of ``MIN_BYTES`` or more, must not sign production tokens; None when
    it may."""
    if secret in EXAMPLE_SECRETS:
        return "is an example from the repository"
    data = secret.encode()
    lowered = secret.lower()
    if any(word in lowered for word in PLACEHOLDER_WORDS):
        return "contains a placeholder word"
    if len(set(data)) < MIN_DISTINCT or bits_per_byte(data) < MIN_BITS_PER_BYTE:
        return "does not look random"
    return None

"""Security policy values: small frozen objects with named defaults, validated when built.

``gateway.settings`` fills them from ``TRACSEQ_*`` variables; nothing here reads the
environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from security.jwt_secret import DEFAULT_JWT_SECRET, MIN_BYTES, secret_problem
from security.threats import ThreatConfig

DEFAULT_ISSUER = "auth-service"
DEFAULT_AUDIENCE = "lab-management-system"
DEFAULT_LEEWAY = 30.0

# Tokens are cost units: a REST call costs 1, a GraphQL operation its computed cost (a
# 1,000-sample page of scalars costs about 3,000). The burst admits the costliest query the
# operation limits allow, once.
DEFAULT_RATE = 1000.0
DEFAULT_BURST = 50000.0
DEFAULT_ANONYMOUS_RATE = 20.0
DEFAULT_ANONYMOUS_BURST = 200.0

DEFAULT_MAX_DEPTH = 10
DEFAULT_MAX_ALIASES = 30
DEFAULT_MAX_TOKENS = 5000
DEFAULT_MAX_ROOT_FIELDS = 20
DEFAULT_MAX_BATCH = 10
DEFAULT_MAX_BODY_BYTES = 1_048_576
DEFAULT_MAX_UPLOAD_BYTES = 10 * 1_048_576
DEFAULT_MAX_COST = 50_000
DEFAULT_MAX_DOCUMENT_BYTES = 100 * 1024
DEFAULT_MIN_COST = 1.0

# Registered persisted documents: this process's store is bounded in bytes; the shared
# (Redis) one by a time to live after last use and a budget in bytes.
DEFAULT_APQ_MEMORY_BYTES = 16 * 1_048_576
DEFAULT_APQ_REDIS_BYTES = 64 * 1_048_576
DEFAULT_APQ_TTL = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class JwtConfig:
    """How bearer tokens are verified: HS256 with ``secret``, or RS256 with a PEM public key
    or a JWKS file (exactly one key source per algorithm)."""

    algorithm: str = "HS256"
    secret: str = DEFAULT_JWT_SECRET
    public_key: str | None = None
    jwks_path: str | None = None
    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE
    leeway: float = DEFAULT_LEEWAY

    def __post_init__(self) -> None:
        if self.algorithm not in ("HS256", "RS256"):
            raise ValueError(f"JWT algorithm must be HS256 or RS256, got {self.algorithm!r}")
        if self.algorithm == "HS256" and len(self.secret.encode()) < MIN_BYTES:
            raise ValueError(
                f"the HS256 secret (TRACSEQ_JWT_SECRET) must be at least {MIN_BYTES} bytes"
            )
        if self.algorithm == "RS256" and not (self.public_key or self.jwks_path):
            raise ValueError("RS256 needs a public key or a JWKS file")
        if self.leeway < 0:
            raise ValueError("the JWT leeway must not be negative")


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """Token buckets: ``rate`` tokens a second refill up to ``burst``."""

    enabled: bool = True
    rate: float = DEFAULT_RATE
    burst: float = DEFAULT_BURST
    anonymous_rate: float = DEFAULT_ANONYMOUS_RATE
    anonymous_burst: float = DEFAULT_ANONYMOUS_BURST
    trusted_proxies: tuple[str, ...] = ()  # IPs or CIDRs whose X-Forwarded-For is believed
    # What every GraphQL or REST request spends before it is parsed (security.throttle).
    minimum_cost: float = DEFAULT_MIN_COST

    def __post_init__(self) -> None:
        for name in ("rate", "burst", "anonymous_rate", "anonymous_burst", "minimum_cost"):
            if getattr(self, name) <= 0:
                raise ValueError(f"rate limit {name.replace('_', ' ')} must be positive")


@dataclass(frozen=True, slots=True)
class OperationLimits:
    """Bounds on one GraphQL request; a violation executes nothing."""

    max_depth: int = DEFAULT_MAX_DEPTH
    max_aliases: int = DEFAULT_MAX_ALIASES
    max_tokens: int = DEFAULT_MAX_TOKENS
    max_root_fields: int = DEFAULT_MAX_ROOT_FIELDS
    max_batch: int = DEFAULT_MAX_BATCH
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_cost: int = DEFAULT_MAX_COST
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    default_page_size: int = 50
    max_page_size: int = 1000  # a larger ``first`` is refused by the field, so costs no more

    def __post_init__(self) -> None:
        for name in (
            "max_depth",
            "max_aliases",
            "max_tokens",
            "max_root_fields",
            "max_batch",
            "max_body_bytes",
            "max_upload_bytes",
            "max_cost",
            "max_document_bytes",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name.replace('_', ' ')} must be positive")


@dataclass(frozen=True, slots=True)
class PersistedQueryConfig:
    """Bounds on registered (APQ) documents: ``memory_bytes`` for this process's store;
    ``redis_ttl`` seconds after last use and ``redis_bytes`` in all for the shared one."""

    memory_bytes: int = DEFAULT_APQ_MEMORY_BYTES
    redis_bytes: int = DEFAULT_APQ_REDIS_BYTES
    redis_ttl: float = DEFAULT_APQ_TTL

    def __post_init__(self) -> None:
        for name in ("memory_bytes", "redis_bytes", "redis_ttl"):
            if getattr(self, name) <= 0:
                raise ValueError(f"persisted query {name.replace('_', ' ')} must be positive")


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    production: bool = False
    jwt: JwtConfig = field(default_factory=JwtConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    limits: OperationLimits = field(default_factory=OperationLimits)
    cors_origins: tuple[str, ...] = ()
    introspection: bool = True
    trusted_documents_path: str | None = None
    trusted_documents_only: bool = False
    persisted: PersistedQueryConfig = field(default_factory=PersistedQueryConfig)
    redis_url: str | None = None
    # Without Redis, revocations and rate limits live in each process: production needs
    # Redis unless this says the gateway runs as one process alone.
    single_instance: bool = False
    # Injection patterns in inputs (security.threats): logged by default.
    threats: ThreatConfig = field(default_factory=ThreatConfig)

    def production_problems(self) -> list[str]:
        """Why this configuration must not run in production (empty when it may)."""
        problems = []
        if self.jwt.algorithm == "HS256" and (problem := secret_problem(self.jwt.secret)):
            problems.append(
                f"the HS256 secret (TRACSEQ_JWT_SECRET or TRACSEQ_JWT_SECRET_FILE) {problem}: "
                "use 32 random bytes or more, e.g. `openssl rand -base64 32`"
            )
        if "*" in self.cors_origins:
            problems.append(
                "TRACSEQ_CORS_ORIGINS contains the wildcard '*' (list the exact origins of "
                "your frontends)"
            )
        if self.redis_url is None and not self.single_instance:
            problems.append(
                "TRACSEQ_REDIS_URL is not set: each replica would keep its own revocations and "
                "rate limits (set TRACSEQ_SINGLE_INSTANCE=true if this gateway runs alone)"
            )
        return problems

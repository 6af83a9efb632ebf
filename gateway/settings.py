"""Gateway settings: read once from ``TRACSEQ_*`` environment variables, validated, frozen.

``Settings.from_env()`` is called once at startup; the resulting object is passed down
explicitly. A malformed value raises ``SettingsError`` naming the variable, and the CLI
stops with that message. Every variable, with its default, is listed in README.md; the
defaults point at the sandbox started by ``make run``.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from security.audit import DEFAULT_FILE_BACKUPS, DEFAULT_FILE_MAX_BYTES, AuditConfig
from security.config import (
    DEFAULT_ANONYMOUS_BURST,
    DEFAULT_ANONYMOUS_RATE,
    DEFAULT_APQ_MEMORY_BYTES,
    DEFAULT_APQ_REDIS_BYTES,
    DEFAULT_APQ_TTL,
    DEFAULT_AUDIENCE,
    DEFAULT_BURST,
    DEFAULT_ISSUER,
    DEFAULT_LEEWAY,
    DEFAULT_MAX_ALIASES,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_COST,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_DOCUMENT_BYTES,
    DEFAULT_MAX_ROOT_FIELDS,
    DEFAULT_MAX_TOKENS,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_MIN_COST,
    DEFAULT_RATE,
    JwtConfig,
    OperationLimits,
    PersistedQueryConfig,
    RateLimitConfig,
    SecurityConfig,
)
from security.jwt_secret import DEFAULT_JWT_SECRET
from security.threats import DEFAULT_ALLOW_FIELDS, DEFAULT_MAX_SCAN, LOG, MODES, ThreatConfig
from upstreams.auth import DirectoryAccount
from upstreams.cache import (
    CACHED_SERVICES,
    DEFAULT_MAX_STALE,
    DEFAULT_MEMORY_BYTES,
    DEFAULT_TTL,
    CacheConfig,
)
from upstreams.config import (
    DEFAULT_BACKOFF_BASE,
    DEFAULT_BACKOFF_MAX,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_EJECT_AFTER,
    DEFAULT_EJECT_BASE,
    DEFAULT_EJECT_MAX,
    DEFAULT_FAILURE_RATE,
    DEFAULT_FAILURE_THRESHOLD,
    DEFAULT_HALF_OPEN_MAX_CALLS,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_SCAN_ITEMS,
    DEFAULT_MIN_CALLS,
    DEFAULT_QUEUE_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RECOVERY_TIMEOUT,
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_TOTAL_TIMEOUT,
    DEFAULT_WINDOW_SECONDS,
    BreakerPolicy,
    BulkheadPolicy,
    InstancePolicy,
    RetryPolicy,
    Timeouts,
    UpstreamConfig,
)
from upstreams.tls import CA, CERT, KEY, ClientCertificate, TlsConfig, TlsFileError, context

PREFIX = "TRACSEQ_"

SERVICES = ("auth", "samples", "storage", "templates", "sequencing", "rag", "notifications")

# The sandbox's ports (UPSTREAMS.md): rag moves from 8000 to 8086 because the gateway has 8000.
DEFAULT_UPSTREAM_URLS: Mapping[str, str] = {
    "auth": "http://127.0.0.1:8080",
    "samples": "http://127.0.0.1:8081",
    "storage": "http://127.0.0.1:8082",
    "templates": "http://127.0.0.1:8083",
    "sequencing": "http://127.0.0.1:8084",
    "notifications": "http://127.0.0.1:8085",
    "rag": "http://127.0.0.1:8086",
}
# Services for which a deployment may offer the [extension] batch filters of UPSTREAMS.md;
# the real release offers none, so none is used unless TRACSEQ_BATCH_EXTENSIONS says so.
BATCH_CAPABLE = ("samples", "storage", "templates", "sequencing")

ENVIRONMENTS = ("development", "production", "test")
LOG_FORMATS = ("auto", "console", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_REQUEST_TIMEOUT = 15.0
DEFAULT_PAGE_SIZE = 50
DEFAULT_MAX_PAGE_SIZE = 1000
DEFAULT_HTTP_MAX_CONNECTIONS = 200
DEFAULT_CACHE_SIZE = 1000
DEFAULT_WORKERS = 1
DEFAULT_SHUTDOWN_TIMEOUT = 20
# Seconds between SIGTERM and closing the listener (/ready answers 503 meanwhile); none by
# default: in Kubernetes the preStop sleep holds SIGTERM back while the endpoints go.
DEFAULT_DRAIN_DELAY = 0.0
DEFAULT_READY_INTERVAL = 5.0
# Seconds between resolutions of the DNS names in upstream URLs (0: at startup only).
DEFAULT_DISCOVERY_INTERVAL = 10.0
DEFAULT_CRITICAL_UPSTREAMS = ("auth", "samples")
DEFAULT_OTEL_SERVICE_NAME = "tracseq-gateway"
DEFAULT_BODY_IDLE_TIMEOUT = 30.0
# Production serves /metrics on its own port (9090) unless TRACSEQ_METRICS_PORT=public.
DEFAULT_PRODUCTION_METRICS_PORT = 9090
PUBLIC = "public"


DEFAULT_SUBSCRIPTION_POLL_INTERVAL = 5.0


@dataclass(frozen=True, slots=True)
class SocketLimits:
    """The WebSocket endpoint's limits and timers (``gateway.websocket``)."""

    max_per_connection: int = 20  # TRACSEQ_MAX_SUBSCRIPTIONS_PER_CONNECTION
    max_per_user: int = 100  # TRACSEQ_MAX_SUBSCRIPTIONS_PER_USER (per process)
    keepalive: float = 15.0  # TRACSEQ_SUBSCRIPTION_KEEPALIVE: seconds between server pings
    auth_check_interval: float = 30.0  # TRACSEQ_SUBSCRIPTION_AUTH_CHECK_INTERVAL: revocation
    init_timeout: float = 10.0  # TRACSEQ_SUBSCRIPTION_INIT_TIMEOUT: for connection_init


class SettingsError(ValueError):
    """A setting is malformed; the message names the environment variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    env: str = "development"
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    log_level: str = "info"
    log_format: str = "auto"
    upstream_urls: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_UPSTREAM_URLS))
    batch_services: frozenset[str] = frozenset()
    timeouts: Timeouts = field(default_factory=Timeouts)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    bulkhead: BulkheadPolicy = field(default_factory=BulkheadPolicy)
    instances: InstancePolicy = field(default_factory=InstancePolicy)
    # The response cache of reference reads (TRACSEQ_CACHE_*; its Redis tier is REDIS_URL).
    cache: CacheConfig = field(default_factory=CacheConfig)
    http_max_connections: int = DEFAULT_HTTP_MAX_CONNECTIONS
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    default_page_size: int = DEFAULT_PAGE_SIZE
    max_page_size: int = DEFAULT_MAX_PAGE_SIZE
    max_scan_items: int = DEFAULT_MAX_SCAN_ITEMS
    cache_size: int = DEFAULT_CACHE_SIZE
    # Operations: processes, shutdown, metrics, readiness and tracing.
    workers: int = DEFAULT_WORKERS
    shutdown_timeout: int = DEFAULT_SHUTDOWN_TIMEOUT  # whole seconds, as uvicorn takes it
    drain_delay: float = DEFAULT_DRAIN_DELAY
    metrics_port: int | None = None  # None: /metrics on the gateway's own (public) port
    ready_interval: float = DEFAULT_READY_INTERVAL
    # Discovery: the DNS names in upstream URLs (upstreams.discovery).
    discovery_interval: float = DEFAULT_DISCOVERY_INTERVAL
    critical_upstreams: frozenset[str] = frozenset(DEFAULT_CRITICAL_UPSTREAMS)
    otlp_endpoint: str | None = None  # None: tracing off
    otel_service_name: str = DEFAULT_OTEL_SERVICE_NAME
    trace_sample_ratio: float = 1.0
    # Security: tokens, rate limits, operation limits, CORS, persisted queries, Redis.
    security: SecurityConfig = field(default_factory=SecurityConfig)
    body_idle_timeout: float = DEFAULT_BODY_IDLE_TIMEOUT
    # The security audit trail's file, besides stdout (security.audit).
    audit: AuditConfig = field(default_factory=AuditConfig)
    # Subscriptions: the pollers' interval (resolvers.live) and the sockets' limits.
    subscription_poll_interval: float = DEFAULT_SUBSCRIPTION_POLL_INTERVAL
    sockets: SocketLimits = field(default_factory=SocketLimits)
    # People's profiles for every lab role: the administrator account the gateway reads
    # /admin/users with (TRACSEQ_DIRECTORY_EMAIL / TRACSEQ_DIRECTORY_PASSWORD); None: none.
    directory: DirectoryAccount | None = None
    # TLS to the upstreams (upstreams.tls): the CA bundle, the verification switch and the
    # client certificate of every service; a service's own client certificate replaces it.
    upstream_tls: TlsConfig = field(default_factory=TlsConfig)
    client_certificates: Mapping[str, ClientCertificate] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env == "production"

    def tls(self, service: str) -> TlsConfig:
        """What ``service``'s https:// connections trust and present."""
        shared = self.upstream_tls
        client = self.client_certificates.get(service, shared.client)
        if client is shared.client:
            return shared
        return TlsConfig(ca_file=shared.ca_file, client=client, verify=shared.verify)

    def upstream_configs(self) -> dict[str, UpstreamConfig]:
        """One ``UpstreamConfig`` per service, sharing the global policies."""
        return {
            name: UpstreamConfig(
                name=name,
                base_url=self.upstream_urls[name],
                timeouts=self.timeouts,
                breaker=self.breaker,
                retry=self.retry,
                bulkhead=self.bulkhead,
                instances=self.instances,
                batch=name in self.batch_services,
                max_scan_items=self.max_scan_items,
                tls=self.tls(name),
            )
            for name in SERVICES
        }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every ``TRACSEQ_*`` variable; the first bad one raises."""
        r = _Reader(os.environ if environ is None else environ)
        urls = {
            name: r.url_list(f"{name.upper()}_URL", DEFAULT_UPSTREAM_URLS[name])
            for name in SERVICES
        }
        env = r.choice("ENV", "development", ENVIRONMENTS)
        upstream_tls, client_certificates = _tls(r)
        s = cls(
            env=env,
            host=r.text("HOST", DEFAULT_HOST),
            port=r.integer("PORT", DEFAULT_PORT, minimum=0, maximum=65535),
            log_level=r.choice("LOG_LEVEL", "info", LOG_LEVELS),
            log_format=r.choice("LOG_FORMAT", "auto", LOG_FORMATS),
            upstream_urls=urls,
            batch_services=r.services("BATCH_EXTENSIONS", "none"),
            timeouts=r.build(
                "UPSTREAM_*_TIMEOUT",
                Timeouts,
                connect=r.seconds("UPSTREAM_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT),
                read=r.seconds("UPSTREAM_READ_TIMEOUT", DEFAULT_READ_TIMEOUT),
                total=r.seconds("UPSTREAM_TOTAL_TIMEOUT", DEFAULT_TOTAL_TIMEOUT),
            ),
            breaker=r.build(
                "BREAKER_*",
                BreakerPolicy,
                failure_threshold=r.integer("BREAKER_FAILURE_THRESHOLD", DEFAULT_FAILURE_THRESHOLD),
                failure_rate=r.fraction("BREAKER_FAILURE_RATE", DEFAULT_FAILURE_RATE),
                window=r.seconds("BREAKER_WINDOW", DEFAULT_WINDOW_SECONDS),
                min_calls=r.integer("BREAKER_MIN_CALLS", DEFAULT_MIN_CALLS),
                recovery_timeout=r.seconds("BREAKER_RECOVERY_TIMEOUT", DEFAULT_RECOVERY_TIMEOUT),
                half_open_max_calls=r.integer(
                    "BREAKER_HALF_OPEN_CALLS", DEFAULT_HALF_OPEN_MAX_CALLS
                ),
            ),
            retry=r.build(
                "RETRY_*",
                RetryPolicy,
                attempts=r.integer("RETRY_ATTEMPTS", DEFAULT_RETRY_ATTEMPTS),
                backoff_base=r.seconds("RETRY_BACKOFF_BASE", DEFAULT_BACKOFF_BASE),
                backoff_max=r.seconds("RETRY_BACKOFF_MAX", DEFAULT_BACKOFF_MAX),
            ),
            bulkhead=r.build(
                "BULKHEAD_*",
                BulkheadPolicy,
                max_concurrency=r.integer("BULKHEAD_MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY),
                queue_timeout=r.seconds(
                    "BULKHEAD_QUEUE_TIMEOUT", DEFAULT_QUEUE_TIMEOUT, allow_zero=True
                ),
            ),
            instances=r.build(
                "INSTANCE_*",
                InstancePolicy,
                eject_after=r.integer("INSTANCE_EJECT_AFTER", DEFAULT_EJECT_AFTER),
                eject_base=r.seconds("INSTANCE_EJECT_BASE", DEFAULT_EJECT_BASE),
                eject_max=r.seconds("INSTANCE_EJECT_MAX", DEFAULT_EJECT_MAX),
            ),
            cache=_cache(r),
            http_max_connections=r.integer("HTTP_MAX_CONNECTIONS", DEFAULT_HTTP_MAX_CONNECTIONS),
            request_timeout=r.seconds("REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT),
            default_page_size=r.integer("DEFAULT_PAGE_SIZE", DEFAULT_PAGE_SIZE),
            max_page_size=r.integer("MAX_PAGE_SIZE", DEFAULT_MAX_PAGE_SIZE),
            max_scan_items=r.integer("MAX_SCAN_ITEMS", DEFAULT_MAX_SCAN_ITEMS),
            cache_size=r.integer("CACHE_SIZE", DEFAULT_CACHE_SIZE),
            workers=r.integer("WORKERS", DEFAULT_WORKERS, maximum=64),
            shutdown_timeout=r.integer("SHUTDOWN_TIMEOUT", DEFAULT_SHUTDOWN_TIMEOUT),
            drain_delay=r.seconds("DRAIN_DELAY", DEFAULT_DRAIN_DELAY, allow_zero=True),
            metrics_port=r.metrics_port("METRICS_PORT", production=env == "production"),
            ready_interval=r.seconds("READY_INTERVAL", DEFAULT_READY_INTERVAL),
            discovery_interval=r.seconds(
                "DISCOVERY_INTERVAL", DEFAULT_DISCOVERY_INTERVAL, allow_zero=True
            ),
            critical_upstreams=r.service_list(
                "CRITICAL_UPSTREAMS", ",".join(DEFAULT_CRITICAL_UPSTREAMS), SERVICES
            ),
            otlp_endpoint=r.optional_url("OTLP_ENDPOINT"),
            otel_service_name=r.text("OTEL_SERVICE_NAME", DEFAULT_OTEL_SERVICE_NAME),
            trace_sample_ratio=r.fraction("TRACE_SAMPLE_RATIO", 1.0),
            security=_security(r, production=env == "production"),
            body_idle_timeout=r.seconds("PASSTHROUGH_BODY_IDLE_TIMEOUT", DEFAULT_BODY_IDLE_TIMEOUT),
            audit=_audit(r),
            subscription_poll_interval=r.seconds(
                "SUBSCRIPTION_POLL_INTERVAL", DEFAULT_SUBSCRIPTION_POLL_INTERVAL
            ),
            sockets=SocketLimits(
                max_per_connection=r.integer("MAX_SUBSCRIPTIONS_PER_CONNECTION", 20),
                max_per_user=r.integer("MAX_SUBSCRIPTIONS_PER_USER", 100),
                keepalive=r.seconds("SUBSCRIPTION_KEEPALIVE", 15.0),
                auth_check_interval=r.seconds("SUBSCRIPTION_AUTH_CHECK_INTERVAL", 30.0),
                init_timeout=r.seconds("SUBSCRIPTION_INIT_TIMEOUT", 10.0),
            ),
            directory=_directory(r),
            upstream_tls=upstream_tls,
            client_certificates=client_certificates,
        )
        if s.production and (
            problems := s.security.production_problems() + s.upstream_tls.production_problems()
        ):
            raise SettingsError("refusing to start in production: " + "; ".join(problems))
        if s.production and s.workers > 1 and s.security.redis_url is None:
            raise SettingsError(
                f"refusing to start in production: {PREFIX}WORKERS={s.workers} runs "
                f"{s.workers} processes, and without {PREFIX}REDIS_URL each would keep its own "
                "revocations and rate limits"
            )
        if s.audit.file is not None and s.workers > 1:
            raise SettingsError(
                f"{PREFIX}AUDIT_FILE needs {PREFIX}WORKERS=1: {s.workers} processes rotating one "
                "file would lose lines (run one worker per container, or read the trail on "
                "stdout)"
            )
        if s.metrics_port is not None and s.metrics_port == s.port and s.port != 0:
            raise SettingsError(
                f"{PREFIX}METRICS_PORT ({s.metrics_port}) must differ from {PREFIX}PORT"
            )
        if s.default_page_size > s.max_page_size:
            raise SettingsError(
                f"{PREFIX}DEFAULT_PAGE_SIZE ({s.default_page_size}) must not exceed "
                f"{PREFIX}MAX_PAGE_SIZE ({s.max_page_size})"
            )
        return s


def _cache(r: _Reader) -> CacheConfig:
    """``TRACSEQ_CACHE_*``: a TTL per cached service (0: not cached); a TTL variable for a
    service without cached reads is refused rather than silently ignored."""
    known = {f"CACHE_TTL_{name.upper()}": name for name in CACHED_SERVICES}
    for name in r.names("CACHE_TTL_"):
        if name not in known:
            raise SettingsError(
                f"{PREFIX}{name} names no service with cached reads: a cache TTL applies to "
                + ", ".join(f"{PREFIX}{k}" for k in known)
            )
    ttls = {
        service: r.seconds(name, DEFAULT_TTL, allow_zero=True, finite=True)
        for name, service in known.items()
    }
    return r.build(
        "CACHE_*",
        CacheConfig,
        enabled=r.boolean("CACHE_ENABLED", True),
        ttls=ttls,
        memory_bytes=r.integer("CACHE_MEMORY_BYTES", DEFAULT_MEMORY_BYTES),
        max_stale=r.seconds("CACHE_MAX_STALE", DEFAULT_MAX_STALE, allow_zero=True, finite=True),
    )


def _audit(r: _Reader) -> AuditConfig:
    path = r.optional_text("AUDIT_FILE")
    if path is not None:
        r.writable_file("AUDIT_FILE", path)
    return r.build(
        "AUDIT_FILE_*",
        AuditConfig,
        file=path,
        max_bytes=r.integer("AUDIT_FILE_MAX_BYTES", DEFAULT_FILE_MAX_BYTES),
        backups=r.integer("AUDIT_FILE_BACKUPS", DEFAULT_FILE_BACKUPS),
    )


def _tls(r: _Reader) -> tuple[TlsConfig, dict[str, ClientCertificate]]:
    """``TRACSEQ_UPSTREAM_CA_FILE``, ``TRACSEQ_UPSTREAM_TLS_VERIFY`` and the client
    certificates, every service's (``UPSTREAM_``) and each service's own. Each file is
    read and loaded into a context now: a bad one stops startup, naming its variable."""
    shared = TlsConfig(
        ca_file=r.optional_text("UPSTREAM_CA_FILE"),
        client=r.client_certificate("UPSTREAM"),
        verify=r.boolean("UPSTREAM_TLS_VERIFY", True),
    )
    r.tls_context(shared, "UPSTREAM")
    own: dict[str, ClientCertificate] = {}
    for service in SERVICES:
        client = r.client_certificate(service.upper())
        if client is not None:
            r.tls_context(
                TlsConfig(ca_file=shared.ca_file, client=client, verify=shared.verify),
                service.upper(),
            )
            own[service] = client
    return shared, own


def _directory(r: _Reader) -> DirectoryAccount | None:
    email, password = r.optional_text("DIRECTORY_EMAIL"), r.optional_text("DIRECTORY_PASSWORD")
    if (email is None) != (password is None):
        raise SettingsError(
            f"{PREFIX}DIRECTORY_EMAIL and {PREFIX}DIRECTORY_PASSWORD go together: set both "
            "(the administrator account that reads people's profiles) or neither"
        )
    if email is None or password is None:
        return None
    if "@" not in email:
        raise SettingsError(f"{PREFIX}DIRECTORY_EMAIL={email!r} is invalid: expected an email")
    return DirectoryAccount(email=email, password=password)


def _security(r: _Reader, *, production: bool) -> SecurityConfig:
    algorithm = r.choice("JWT_ALGORITHM", "HS256", ("hs256", "rs256")).upper()
    jwt = r.build(
        "JWT_*",
        JwtConfig,
        algorithm=algorithm,
        secret=r.secret("JWT_SECRET", DEFAULT_JWT_SECRET),
        public_key=r.key_file("JWT_PUBLIC_KEY"),
        jwks_path=r.key_file("JWT_JWKS_FILE"),
        issuer=r.text("JWT_ISSUER", DEFAULT_ISSUER),
        audience=r.text("JWT_AUDIENCE", DEFAULT_AUDIENCE),
        leeway=r.seconds("JWT_LEEWAY", DEFAULT_LEEWAY, allow_zero=True),
    )
    proxies = r.networks("TRUSTED_PROXIES")
    rate_limit = r.build(
        "RATE_LIMIT_*",
        RateLimitConfig,
        enabled=r.boolean("RATE_LIMIT_ENABLED", True),
        rate=r.seconds("RATE_LIMIT_RATE", DEFAULT_RATE),
        burst=r.seconds("RATE_LIMIT_BURST", DEFAULT_BURST),
        anonymous_rate=r.seconds("RATE_LIMIT_ANONYMOUS_RATE", DEFAULT_ANONYMOUS_RATE),
        anonymous_burst=r.seconds("RATE_LIMIT_ANONYMOUS_BURST", DEFAULT_ANONYMOUS_BURST),
        trusted_proxies=proxies,
        minimum_cost=r.seconds("RATE_LIMIT_MIN_COST", DEFAULT_MIN_COST),
    )
    limits = r.build(
        "MAX_*",
        OperationLimits,
        max_depth=r.integer("MAX_DEPTH", DEFAULT_MAX_DEPTH),
        max_aliases=r.integer("MAX_ALIASES", DEFAULT_MAX_ALIASES),
        max_tokens=r.integer("MAX_TOKENS", DEFAULT_MAX_TOKENS),
        max_root_fields=r.integer("MAX_ROOT_FIELDS", DEFAULT_MAX_ROOT_FIELDS),
        max_batch=r.integer("MAX_BATCH_OPERATIONS", DEFAULT_MAX_BATCH),
        max_body_bytes=r.integer("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
        max_upload_bytes=r.integer("MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES),
        max_cost=r.integer("MAX_COST", DEFAULT_MAX_COST),
        max_document_bytes=r.integer("MAX_DOCUMENT_BYTES", DEFAULT_MAX_DOCUMENT_BYTES),
        default_page_size=r.integer("DEFAULT_PAGE_SIZE", DEFAULT_PAGE_SIZE),
        max_page_size=r.integer("MAX_PAGE_SIZE", DEFAULT_MAX_PAGE_SIZE),
    )
    trusted_documents = r.optional_text("TRUSTED_DOCUMENTS")
    trusted_only = r.boolean("TRUSTED_DOCUMENTS_ONLY", False)
    if trusted_only and trusted_documents is None:
        raise SettingsError(
            f"{PREFIX}TRUSTED_DOCUMENTS_ONLY=true needs {PREFIX}TRUSTED_DOCUMENTS (a manifest)"
        )
    persisted = r.build(
        "APQ_*",
        PersistedQueryConfig,
        memory_bytes=r.integer("APQ_MEMORY_BYTES", DEFAULT_APQ_MEMORY_BYTES),
        redis_bytes=r.integer("APQ_REDIS_BYTES", DEFAULT_APQ_REDIS_BYTES),
        redis_ttl=r.seconds("APQ_TTL", DEFAULT_APQ_TTL),
    )
    redis_url = r.optional_text("REDIS_URL")
    if redis_url is not None and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise SettingsError(
            f"{PREFIX}REDIS_URL={redis_url!r} is invalid: expected redis://, rediss:// or unix://"
        )
    return SecurityConfig(
        production=production,
        jwt=jwt,
        rate_limit=rate_limit,
        limits=limits,
        cors_origins=r.words("CORS_ORIGINS"),
        introspection=r.boolean("INTROSPECTION", not production),
        trusted_documents_path=trusted_documents,
        trusted_documents_only=trusted_only,
        persisted=persisted,
        redis_url=redis_url,
        single_instance=r.boolean("SINGLE_INSTANCE", False),
        threats=r.build(
            "THREAT_*",
            ThreatConfig,
            mode=r.choice("THREAT_DETECTION", LOG, MODES),
            allow_fields=frozenset(DEFAULT_ALLOW_FIELDS) | set(r.words("THREAT_ALLOW_FIELDS")),
            allow_routes=tuple(p.rstrip("/") for p in r.words("THREAT_ALLOW_ROUTES")),
            max_scan=r.integer("THREAT_MAX_SCAN", DEFAULT_MAX_SCAN),
        ),
    )


T = TypeVar("T")


class _Reader:
    """Typed accessors over an environment mapping; each error names its variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def _raw(self, name: str) -> str | None:
        value = self._environ.get(PREFIX + name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def _fail(self, name: str, value: str, expected: str) -> SettingsError:
        return SettingsError(f"{PREFIX}{name}={value!r} is invalid: expected {expected}")

    def text(self, name: str, default: str) -> str:
        return self._raw(name) or default

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self._raw(name)
        if value is None:
            return default
        if value.lower() not in choices:
            raise self._fail(name, value, "one of " + ", ".join(choices))
        return value.lower()

    def integer(
        self, name: str, default: int, *, minimum: int = 1, maximum: int | None = None
    ) -> int:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise self._fail(name, value, "an integer") from None
        if number < minimum or (maximum is not None and number > maximum):
            bound = f" and at most {maximum}" if maximum is not None else ""
            raise self._fail(name, value, f"an integer of at least {minimum}{bound}")
        return number

    def seconds(
        self, name: str, default: float, *, allow_zero: bool = False, finite: bool = False
    ) -> float:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise self._fail(name, value, "a number of seconds") from None
        if number != number or number < 0 or (number == 0 and not allow_zero):
            raise self._fail(name, value, "a positive number of seconds")
        if finite and not math.isfinite(number):
            raise self._fail(name, value, "a finite number of seconds")
        return number

    def names(self, prefix: str) -> list[str]:
        """The variables set whose names (without ``TRACSEQ_``) start with ``prefix``."""
        start = PREFIX + prefix
        return sorted(k[len(PREFIX) :] for k in self._environ if k.startswith(start))

    def fraction(self, name: str, default: float) -> float:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise self._fail(name, value, "a number between 0 and 1") from None
        if not 0 < number <= 1:
            raise self._fail(name, value, "a number greater than 0 and at most 1")
        return number

    def url(self, name: str, default: str) -> str:
        value = self._raw(name)
        if value is None:
            return default
        return self._check_url(name, value)

    def _check_url(self, name: str, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self._fail(name, value, "an http:// or https:// URL with a host")
        try:
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            raise self._fail(name, value, "a URL with a valid port") from None
        if parts.query or parts.fragment:
            raise self._fail(name, value, "a base URL without query or fragment")
        return value.rstrip("/")

    def url_list(self, name: str, default: str) -> str:
        """One base URL or a comma list of them (one instance each), duplicates refused."""
        value = self._raw(name)
        if value is None:
            return default
        urls: list[str] = []
        for part in value.split(","):
            part = part.strip()
            if not part:
                raise self._fail(name, value, "a comma-separated list of URLs without empty items")
            url = self._check_url(name, part)
            if url in urls:
                raise self._fail(name, value, f"each URL once ({url} is listed twice)")
            urls.append(url)
        return ",".join(urls)

    def optional_text(self, name: str) -> str | None:
        return self._raw(name)

    def file_text(self, name: str, path: str) -> str:
        """The UTF-8 text of the file at ``path``, which ``name`` names."""
        try:
            return Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            reason = "it is not UTF-8 text"
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
        raise SettingsError(f"{PREFIX}{name}={path!r} cannot be read: {reason}")

    def writable_file(self, name: str, path: str) -> None:
        """Check that the file at ``path`` can be appended to (or created)."""
        target = Path(path)
        folder = target.parent
        if target.is_dir():
            raise SettingsError(f"{PREFIX}{name}={path!r} is a directory: expected a file")
        if not folder.is_dir():
            raise SettingsError(f"{PREFIX}{name}={path!r}: the folder {str(folder)!r} is missing")
        writable = os.access(target, os.W_OK) if target.exists() else os.access(folder, os.W_OK)
        if not writable:
            raise SettingsError(f"{PREFIX}{name}={path!r} cannot be written")

    def key_file(self, name: str) -> str | None:
        """A PEM key given inline, or a path to a file that is checked to be readable."""
        value = self._raw(name)
        if value is not None and "-----BEGIN" not in value:
            self.file_text(name, value)
        return value

    def secret(self, name: str, default: str) -> str:
        """``name`` itself, or the content of the file ``name``_FILE names (a mounted
        secret), without one trailing newline; never both. Errors name the variable and
        the file, never the secret."""
        value, path = self._raw(name), self._raw(f"{name}_FILE")
        if path is None:
            return value or default
        if value is not None:
            raise SettingsError(f"{PREFIX}{name} and {PREFIX}{name}_FILE are both set: set one")
        content = self.file_text(f"{name}_FILE", path).removesuffix("\n").removesuffix("\r")
        if not content:
            raise SettingsError(f"{PREFIX}{name}_FILE={path!r} is empty")
        return content

    def client_certificate(self, prefix: str) -> ClientCertificate | None:
        """``prefix``_CLIENT_CERT and ``prefix``_CLIENT_KEY: both (paths) or neither."""
        cert, key = self._raw(f"{prefix}_CLIENT_CERT"), self._raw(f"{prefix}_CLIENT_KEY")
        if (cert is None) != (key is None):
            raise SettingsError(
                f"{PREFIX}{prefix}_CLIENT_CERT and {PREFIX}{prefix}_CLIENT_KEY go together: "
                "set both (a PEM certificate and its private key) or neither"
            )
        if cert is None or key is None:
            return None
        return ClientCertificate(cert_file=cert, key_file=key)

    def tls_context(self, config: TlsConfig, prefix: str) -> None:
        """Load ``config`` into a context as the gateway will, naming the variable of the
        file that fails (``UPSTREAM_CA_FILE``, ``prefix``_CLIENT_CERT or _KEY, or both of
        these when they do not go together); never a file's content."""
        try:
            context(config)
        except TlsFileError as exc:
            client = config.client
            files = {CA: ("UPSTREAM_CA_FILE", config.ca_file)}
            if client is not None:
                files[CERT] = (f"{prefix}_CLIENT_CERT", client.cert_file)
                files[KEY] = (f"{prefix}_CLIENT_KEY", client.key_file)
            if exc.part in files:
                name, path = files[exc.part]
                raise SettingsError(f"{PREFIX}{name}={path!r} {exc}") from None
            named = " and ".join(f"{PREFIX}{n}={p!r}" for n, p in (files[CERT], files[KEY]))
            raise SettingsError(f"{named} {exc}") from None

    def boolean(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise self._fail(name, value, "true or false")

    def words(self, name: str) -> tuple[str, ...]:
        """A comma list; empty when unset."""
        return tuple(p.strip() for p in (self._raw(name) or "").split(",") if p.strip())

    def networks(self, name: str) -> tuple[str, ...]:
        """A comma list of IP addresses or CIDR networks, each checked."""
        entries = self.words(name)
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise self._fail(name, entry, "IP addresses or CIDR networks") from None
        return entries

    def metrics_port(self, name: str, *, production: bool) -> int | None:
        """A port number, or ``public`` (None: the gateway's own port). Unset: the public
        port in development and test, its own port (9090) in production."""
        value = self._raw(name)
        if value is None:
            return DEFAULT_PRODUCTION_METRICS_PORT if production else None
        if value.lower() == PUBLIC:
            return None
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            raise self._fail(name, value, f"a port number (1-65535) or {PUBLIC!r}")
        return int(value)

    def optional_url(self, name: str) -> str | None:
        if self._raw(name) is None:
            return None
        return self.url(name, "")

    def service_list(self, name: str, default: str, known: tuple[str, ...]) -> frozenset[str]:
        """``none`` or a comma list of service names."""
        value = self._raw(name) or default
        if value.lower() == "none":
            return frozenset()
        names = {part.strip().lower() for part in value.split(",") if part.strip()}
        if not names or names - set(known):
            raise self._fail(name, value, "none, or a comma list of " + ", ".join(known))
        return frozenset(names)

    def services(self, name: str, default: str) -> frozenset[str]:
        value = self._raw(name) or default
        lowered = value.lower()
        if lowered == "all":
            return frozenset(BATCH_CAPABLE)
        if lowered == "none":
            return frozenset()
        names = {part.strip() for part in lowered.split(",") if part.strip()}
        unknown = names - set(BATCH_CAPABLE)
        if unknown:
            raise self._fail(
                name, value, "all, none, or a comma list of " + ", ".join(BATCH_CAPABLE)
            )
        return frozenset(names)

    def build(self, pattern: str, factory: Callable[..., T], **values: object) -> T:
        # The policy objects validate relations between their fields; name the variables.
        try:
            return factory(**values)
        except ValueError as exc:
            raise SettingsError(f"{PREFIX}{pattern}: {exc}") from None

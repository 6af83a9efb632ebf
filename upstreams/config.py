"""Per-upstream policy values: small frozen objects with named defaults, validated when built."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from upstreams.tls import TlsConfig

if TYPE_CHECKING:
    from upstreams.cache import CacheReport

DEFAULT_CONNECT_TIMEOUT = 1.0
DEFAULT_READ_TIMEOUT = 5.0
DEFAULT_TOTAL_TIMEOUT = 10.0
DEFAULT_FAILURE_THRESHOLD = 5
DEFAULT_FAILURE_RATE = 0.5
DEFAULT_WINDOW_SECONDS = 30.0
DEFAULT_MIN_CALLS = 20
DEFAULT_RECOVERY_TIMEOUT = 15.0
DEFAULT_HALF_OPEN_MAX_CALLS = 1
DEFAULT_RETRY_ATTEMPTS = 3
DEFAULT_BACKOFF_BASE = 0.05
DEFAULT_BACKOFF_MAX = 1.0
DEFAULT_MAX_CONCURRENCY = 100
DEFAULT_QUEUE_TIMEOUT = 1.0
DEFAULT_BATCH_SIZE = 1000
# The most items the gateway reads to filter, sort or page a list the release cannot.
DEFAULT_MAX_SCAN_ITEMS = 5000
DEFAULT_EJECT_AFTER = 5
DEFAULT_EJECT_BASE = 5.0
DEFAULT_EJECT_MAX = 300.0


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds: to open a connection, between bytes read, and for a whole call with retries."""

    connect: float = DEFAULT_CONNECT_TIMEOUT
    read: float = DEFAULT_READ_TIMEOUT
    total: float = DEFAULT_TOTAL_TIMEOUT

    def __post_init__(self) -> None:
        _positive("connect timeout", self.connect)
        _positive("read timeout", self.read)
        _positive("total timeout", self.total)


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When the circuit opens and how it recovers (see ``upstreams.breaker``)."""

    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    failure_rate: float = DEFAULT_FAILURE_RATE
    window: float = DEFAULT_WINDOW_SECONDS
    min_calls: int = DEFAULT_MIN_CALLS
    recovery_timeout: float = DEFAULT_RECOVERY_TIMEOUT
    half_open_max_calls: int = DEFAULT_HALF_OPEN_MAX_CALLS

    def __post_init__(self) -> None:
        _positive("breaker failure threshold", self.failure_threshold)
        if not 0 < self.failure_rate <= 1:
            raise ValueError(f"breaker failure rate must be in (0, 1], got {self.failure_rate!r}")
        _positive("breaker window", self.window)
        _positive("breaker minimum calls", self.min_calls)
        _positive("breaker recovery timeout", self.recovery_timeout)
        _positive("breaker half-open calls", self.half_open_max_calls)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts include the first call; backoff is exponential with full jitter."""

    attempts: int = DEFAULT_RETRY_ATTEMPTS
    backoff_base: float = DEFAULT_BACKOFF_BASE
    backoff_max: float = DEFAULT_BACKOFF_MAX

    def __post_init__(self) -> None:
        _positive("retry attempts", self.attempts)
        _positive("retry backoff base", self.backoff_base)
        _positive("retry backoff max", self.backoff_max)


@dataclass(frozen=True, slots=True)
class BulkheadPolicy:
    """At most ``max_concurrency`` calls in flight; the excess waits ``queue_timeout`` at most."""

    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    queue_timeout: float = DEFAULT_QUEUE_TIMEOUT

    def __post_init__(self) -> None:
        _positive("bulkhead concurrency", self.max_concurrency)
        if self.queue_timeout < 0:
            raise ValueError(f"bulkhead queue timeout must not be negative: {self.queue_timeout!r}")


@dataclass(frozen=True, slots=True)
class InstancePolicy:
    """Outlier ejection of one instance (``upstreams.instances``): ``eject_after``
    consecutive failures eject it for ``eject_base`` seconds, doubling up to ``eject_max``."""

    eject_after: int = DEFAULT_EJECT_AFTER
    eject_base: float = DEFAULT_EJECT_BASE
    eject_max: float = DEFAULT_EJECT_MAX

    def __post_init__(self) -> None:
        _positive("instance ejection threshold", self.eject_after)
        _positive("instance ejection base", self.eject_base)
        _positive("instance ejection max", self.eject_max)


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """Everything one upstream client needs to know about its service."""

    name: str
    # One base URL, or several separated by commas (one instance each).
    base_url: str
    timeouts: Timeouts = field(default_factory=Timeouts)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    bulkhead: BulkheadPolicy = field(default_factory=BulkheadPolicy)
    # Use the service's [extension] batch filter (?ids=...) for get_many.
    batch: bool = True
    batch_size: int = DEFAULT_BATCH_SIZE
    max_scan_items: int = DEFAULT_MAX_SCAN_ITEMS
    instances: InstancePolicy = field(default_factory=InstancePolicy)
    # What its https:// connections trust and present (upstreams.tls).
    tls: TlsConfig = field(default_factory=TlsConfig)

    @property
    def base_urls(self) -> tuple[str, ...]:
        """The instances' base URLs, without trailing slashes."""
        return tuple(url.strip().rstrip("/") for url in self.base_url.split(",") if url.strip())


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a single call carries from the incoming request.

    ``deadline`` is an absolute ``time.monotonic()`` value: no attempt or retry of the call
    runs past it. ``role`` is the caller's (part of the cache key of the reads whose
    answer differs by caller); ``cache`` the request's ``upstreams.cache.CacheReport``:
    without one (the REST passthrough, the gateway's own calls) no read is cached.
    """

    authorization: str | None = None
    request_id: str | None = None
    deadline: float | None = None
    role: str | None = None
    cache: CacheReport | None = None

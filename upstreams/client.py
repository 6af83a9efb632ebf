"""One client per upstream service: the only code that sends a request to it.

Every call takes the same path::

    request() ── bulkhead slot ── for each attempt: breakers.admit(route) ── _send() ── outcome
                                   └─ retry (idempotent only, connect error / 502-504,
                                      full-jitter backoff, never past the deadline)

A call passes the service's breaker and its route's (``upstreams.breaker.Breakers``):
connection failures and timeouts count for the service, 5xx answers for the route. The
health probe (``health()``) passes the service's breaker alone, and its 5xx counts there.

The deadline of a call is the earlier of the caller's ``CallContext.deadline`` and
``timeouts.total`` from the start of the call; each attempt also carries the connect and
read timeouts of the service. ``_send`` is the one place where httpx/aiohttp/JSON errors
become ``upstreams.errors`` (``raise ... from exc``).

An optional ``CallObserver`` (metrics, logs and spans live in ``gateway/``; this package
imports none of them) is told when a call starts and ends, when each attempt is sent and
how it ended, and when a call is refused without being sent.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp
import httpx
import orjson

from upstreams.breaker import Breakers, CircuitBreaker, RouteTransitionHook, TransitionHook
from upstreams.config import CallContext, UpstreamConfig
from upstreams.errors import (
    UpstreamError,
    UpstreamInvalidRequest,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from upstreams.normalize import canonical, envelope_failure, normalize, parse_error, unwrap
from upstreams.pool import HttpPool
from upstreams.resilience import RETRYABLE_STATUSES, Bulkhead, backoff_delay, may_retry
from upstreams.routes import route_key

HEALTH_PATHS: Mapping[str, str] = {"rag": "/api/v1/health"}
DEFAULT_HEALTH_PATH = "/health"
_HEALTHY = frozenset({"healthy", "ok", "up", "pass", "available"})

Params = Mapping[str, Any]
# Multipart uploads: field name → (filename, content, content type).
Files = Mapping[str, tuple[str, bytes, str]]

# Called once when an attempt ends, with its outcome (``ok``, ``client_error``,
# ``server_error``, ``unavailable``, ``timeout``, ``cancelled``) and the HTTP status if any.
AttemptDone = Callable[[str, int | None], None]


class CallObserver(Protocol):
    """Hooks around upstream calls. Each is cheap and must not raise."""

    def call_started(self, service: str) -> None:
        """A call (bulkhead wait, attempts and backoff) begins."""

    def call_finished(self, service: str) -> None:
        """The call has returned or raised."""

    def attempt_started(
        self, service: str, method: str, path: str, headers: dict[str, str]
    ) -> AttemptDone:
        """One HTTP request is about to be sent; may add ``headers`` (trace context)."""
        ...

    def rejected(self, service: str, reason: str) -> None:
        """A call was refused without a request: ``breaker_open`` or ``bulkhead_full``."""


class UpstreamClient:
    def __init__(
        self,
        config: UpstreamConfig,
        http: HttpPool,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        on_transition: TransitionHook | None = None,
        on_route_transition: RouteTransitionHook | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        self.config = config
        self.observer = observer
        self._http = http
        self._base_url = config.base_url.rstrip("/")
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self.breakers = Breakers(
            config.breaker,
            name=config.name,
            clock=clock,
            on_transition=on_transition,
            on_route_transition=on_route_transition,
        )
        self.bulkhead = Bulkhead(config.bulkhead, name=config.name)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def breaker(self) -> CircuitBreaker:
        """The service's own breaker: connection failures and timeouts; readiness reads it."""
        return self.breakers.service

    async def request(
        self,
        ctx: CallContext,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        files: Files | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one call and return its payload, unwrapped and normalised.

        Raises ``UpstreamUnavailable``, ``UpstreamTimeout``, ``UpstreamNotFound`` or
        ``UpstreamStatusError``; nothing else escapes except cancellation.
        """
        method = method.upper()
        deadline = self._deadline(ctx)
        observer = self.observer
        if observer is None:
            async with self.bulkhead.slot(wait=deadline - self._clock()):
                return await self._attempts(
                    ctx, method, path, params, json, files, deadline, idempotent
                )
        observer.call_started(self.name)
        admitted = False
        try:
            async with self.bulkhead.slot(wait=deadline - self._clock()):
                admitted = True
                return await self._attempts(
                    ctx, method, path, params, json, files, deadline, idempotent
                )
        except UpstreamUnavailable:
            if not admitted:
                observer.rejected(self.name, "bulkhead_full")
            raise
        finally:
            observer.call_finished(self.name)

    async def health(self) -> dict[str, Any]:
        """One probe of the service's health route: outside the bulkhead and retries, but
        through the service's breaker, which hears its outcome as it would a call's.

        Never raises: the report says what was found (``service``, ``healthy``, ``status``,
        ``latency_ms``, and ``error`` when it failed). An unreachable service
        (``unavailable``, ``timeout``) and a 5xx answer (``http_503``) are failures: the
        health route speaks for the whole service, so unlike another route's 5xx its 5xx
        counts for the service. Any other answer means the service is reachable, and its
        body says whether it is healthy (the samples service answers 200 while saying it is
        ``unhealthy``); a 4xx (``http_404``) is a health route the gateway cannot read. An
        open breaker is not probed (``not_probed``) until it turns half-open; then the
        probe is the call that closes it again or re-opens it.
        """
        report: dict[str, Any] = {"service": self.name}
        breaker = self.breaker
        try:
            generation = breaker.allow()
        except UpstreamUnavailable as exc:  # open, or a half-open probe already running
            report.update(healthy=False, status="not_probed", error=exc.message, latency_ms=None)
            return report
        path = HEALTH_PATHS.get(self.name, DEFAULT_HEALTH_PATH)
        started = self._clock()
        try:
            body = await self._send(
                CallContext(), "GET", path, None, None, None, started + self.config.timeouts.total
            )
        except (UpstreamUnavailable, UpstreamTimeout) as exc:
            breaker.record_failure(generation)
            report.update(healthy=False, status=_error_kind(exc), error=exc.message)
        except UpstreamError as exc:  # it answered: an error status, or a body not JSON
            answered = exc.status if isinstance(exc, UpstreamStatusError) else 200
            if answered >= 500:
                breaker.record_failure(generation)
            else:
                breaker.record_success(generation)
            report.update(
                healthy=False,
                status=f"http_{answered}" if answered >= 400 else "unknown",
                error=exc.message,
            )
        except BaseException:
            breaker.release(generation)
            raise
        else:
            breaker.record_success(generation)
            said = body.get("status") if isinstance(body, dict) else None
            status = canonical(said) if isinstance(said, str) else "unknown"
            report.update(healthy=status in _HEALTHY, status=status)
        report["latency_ms"] = round((self._clock() - started) * 1000, 2)
        return report

    def _deadline(self, ctx: CallContext) -> float:
        deadline = self._clock() + self.config.timeouts.total
        if ctx.deadline is not None:
            deadline = min(deadline, ctx.deadline)
        return deadline

    async def _attempts(
        self,
        ctx: CallContext,
        method: str,
        path: str,
        params: Params | None,
        json: Any,
        files: Files | None,
        deadline: float,
        idempotent: bool | None,
    ) -> Any:
        policy = self.config.retry
        attempts = policy.attempts if may_retry(method, idempotent) else 1
        route = route_key(self.name, method, path)
        last: UpstreamError | None = None
        for attempt in range(attempts):
            if last is not None:
                delay = backoff_delay(policy, attempt - 1, self._rng)
                if self._clock() + delay >= deadline:
                    raise last
                await self._sleep(delay)
            if self._clock() >= deadline:  # the caller's time ran out: not the upstream's fault
                raise last or UpstreamTimeout(self.name, "deadline exceeded before the call")
            try:
                admission = self.breakers.admit(route)
            except UpstreamUnavailable:
                if self.observer is not None:
                    self.observer.rejected(self.name, "breaker_open")
                if last is not None:  # opened by this very run of failures: say what failed
                    raise last from None
                raise
            try:
                result = await self._observed_send(ctx, method, path, params, json, files, deadline)
            except UpstreamUnavailable as exc:  # nothing was answered: safe to retry
                admission.unreachable()
                last = exc
                continue
            except UpstreamTimeout:
                admission.unreachable()
                raise
            except UpstreamStatusError as exc:
                admission.answered(exc.status)
                if exc.status not in RETRYABLE_STATUSES:
                    raise
                last = exc
                continue
            except BaseException:
                admission.release()
                raise
            admission.answered(200)
            return result
        assert last is not None  # the loop runs at least once and only falls out after errors
        raise last

    async def _observed_send(
        self,
        ctx: CallContext,
        method: str,
        path: str,
        params: Params | None,
        json: Any,
        files: Files | None,
        deadline: float,
    ) -> Any:
        """``_send`` with the observer told of the attempt and its outcome."""
        observer = self.observer
        if observer is None:
            return await self._send(ctx, method, path, params, json, files, deadline)
        extra: dict[str, str] = {}
        done = observer.attempt_started(self.name, method, path, extra)
        try:
            result = await self._send(ctx, method, path, params, json, files, deadline, extra)
        except UpstreamStatusError as exc:
            done("server_error" if exc.status >= 500 else "client_error", exc.status)
            raise
        except UpstreamError as exc:
            done(_error_kind(exc), None)
            raise
        except BaseException:
            done("cancelled", None)
            raise
        done("ok", None)
        return result

    def _headers(self, ctx: CallContext) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if ctx.authorization:
            headers["Authorization"] = ctx.authorization
        if ctx.request_id:
            headers["X-Request-ID"] = ctx.request_id
        return headers

    async def _send(
        self,
        ctx: CallContext,
        method: str,
        path: str,
        params: Params | None,
        json: Any,
        files: Files | None,
        deadline: float,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Any:
        """One attempt. The single place where third-party errors become ours."""
        name = self.name
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise UpstreamTimeout(name, "deadline exceeded before the call was sent")
        timeouts = self.config.timeouts
        timeout = httpx.Timeout(
            connect=min(timeouts.connect, remaining),
            read=min(timeouts.read, remaining),
            write=min(timeouts.read, remaining),
            pool=remaining,
        )
        content = None if json is None else orjson.dumps(json)
        headers = self._headers(ctx)
        if extra_headers:
            headers.update(extra_headers)
        if content is not None:
            headers["Content-Type"] = "application/json"
        url = self._base_url + path
        if params:
            query = query_string(params)
            if query:
                url += "?" + query
        try:
            request = httpx.Request(
                method,
                url,
                content=content,
                files=files,
                headers=headers,
                extensions={"timeout": timeout.as_dict()},
            )
            async with asyncio.timeout(remaining):
                response = await self._http.send(request)
                try:
                    body = await response.aread()
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            raise UpstreamTimeout(name, "no answer within the call's time budget") from exc
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise UpstreamUnavailable(name, _connect_failure(exc)) from exc
            raise UpstreamTimeout(name, "no answer within the read timeout") from exc
        except (httpx.HTTPError, aiohttp.ClientError, OSError) as exc:
            raise UpstreamUnavailable(name, _connect_failure(exc)) from exc
        except httpx.InvalidURL as exc:
            # Paths and queries are quoted, so only length is left to break a URL (httpx
            # refuses one over 64 KiB): a value a caller sent, too long to send on.
            message = f"A value is too long to send to the {name} service"
            raise UpstreamInvalidRequest(name, message) from exc

        if response.status_code >= 400:
            raise parse_error(name, response.status_code, body)
        if not body.strip():
            return None
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamStatusError(
                name, response.status_code, "the service answered with a body that is not JSON"
            ) from exc
        failure = envelope_failure(name, payload)
        if failure is not None:
            raise UpstreamStatusError(name, response.status_code, failure)
        return normalize(unwrap(name, payload), name)


def query_string(params: Params) -> str:
    """``params`` as a query string, spelled as httpx spells ``params=``: None left out,
    booleans ``true``/``false``, a list or tuple as repeated keys."""
    items: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        for one in value if isinstance(value, list | tuple) else (value,):
            items.append((key, "true" if one is True else "false" if one is False else str(one)))
    return urlencode(items)


def _connect_failure(exc: BaseException) -> str:
    """A client-safe description: never the upstream's address."""
    cause = exc.__cause__ or exc
    if isinstance(cause, aiohttp.ServerDisconnectedError | httpx.RemoteProtocolError):
        return "the connection was closed before an answer"
    if isinstance(cause, TimeoutError | httpx.ConnectTimeout):
        return "could not connect within the connect timeout"
    if isinstance(cause, aiohttp.ClientConnectorError | httpx.ConnectError | ConnectionError):
        return "could not connect"
    return "connection failed"


def _error_kind(exc: UpstreamError) -> str:
    if isinstance(exc, UpstreamUnavailable):
        return "unavailable"
    if isinstance(exc, UpstreamTimeout):
        return "timeout"
    return "error"

"""One client per upstream service: the only code that sends a buffered request to it.

A call (``request()``) takes the one pipeline of ``upstreams.pipeline``: the service's
``CallPolicy`` (bulkhead, breakers, retry with backoff, deadline) around the one send
function; the body is read whole inside the attempt, then unwrapped and normalised. A call
passes the service's breaker and its route's (``upstreams.breaker.Breakers``): connection
failures and timeouts count for the service, 5xx answers for the route. The health probe
(``health()``) passes the service's breaker alone, and its 5xx counts there.

An optional ``CallObserver`` (metrics, logs and spans live in ``gateway/``; this package
imports none of them) hears of every call, attempt and refusal.

With a ``ResponseCache`` (``upstreams.cache``), every write (any method but GET, HEAD and
OPTIONS) bumps the service's cache generation once it was tried, whatever its outcome (a
timeout or a 5xx may have changed the service's state), before its answer returns; a read
is noted on the request's cache report as one the cache did not serve (the service
clients send their cached reads through the cache, which reads without a report).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from upstreams.breaker import Breakers, CircuitBreaker, RouteTransitionHook, TransitionHook
from upstreams.cache import READ_METHODS, ResponseCache
from upstreams.config import CallContext, UpstreamConfig
from upstreams.errors import (
    UpstreamError,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from upstreams.normalize import canonical, envelope_failure, normalize, parse_error, unwrap
from upstreams.pipeline import AttemptDone, CallObserver, CallPolicy, Request, send
from upstreams.pool import HttpPool
from upstreams.resilience import Bulkhead, may_retry

__all__ = ["AttemptDone", "CallObserver", "UpstreamClient", "query_string"]

HEALTH_PATHS: Mapping[str, str] = {"rag": "/api/v1/health"}
DEFAULT_HEALTH_PATH = "/health"
_HEALTHY = frozenset({"healthy", "ok", "up", "pass", "available"})

Params = Mapping[str, Any]
# Multipart uploads: field name → (filename, content, content type).
Files = Mapping[str, tuple[str, bytes, str]]


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
        cache: ResponseCache | None = None,
    ) -> None:
        self.config = config
        self.cache = cache
        self.policy = CallPolicy(
            config,
            http,
            clock=clock,
            sleep=sleep,
            rng=rng,
            on_transition=on_transition,
            on_route_transition=on_route_transition,
            observer=observer,
        )
        self.base_url = config.base_urls[0]
        self._clock = clock

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def observer(self) -> CallObserver | None:
        return self.policy.observer

    @property
    def breakers(self) -> Breakers:
        return self.policy.breakers

    @property
    def bulkhead(self) -> Bulkhead:
        return self.policy.bulkhead

    @property
    def breaker(self) -> CircuitBreaker:
        """The service's own breaker: connection failures and timeouts; readiness reads it."""
        return self.policy.breakers.service

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
        raw: bool = False,
    ) -> Any:
        """Send one call and return its payload, unwrapped and normalised (``raw``: not
        normalised, as JSON parsed it; what the response cache stores, since it
        round-trips through orjson).

        Raises ``UpstreamUnavailable``, ``UpstreamTimeout``, ``UpstreamNotFound`` or
        ``UpstreamStatusError``; nothing else escapes except cancellation.
        """
        method = method.upper()
        policy = self.policy
        request = self._request(ctx, method, path, params, json, files)
        deadline = policy.deadline(ctx.deadline)
        write = method not in READ_METHODS
        if not write and ctx.cache is not None:
            ctx.cache.note_uncached()
        try:
            async with policy.call(deadline):
                body, status, admission = await policy.attempts(
                    request, deadline, may_retry(method, idempotent), _read
                )
        finally:
            if write and self.cache is not None:
                await self.cache.bump(self.name, ctx.cache)
        admission.answered(status)
        payload = self._payload(status, body)
        return payload if raw else normalize(payload, self.name)

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
        request = self._request(CallContext(), "GET", path, None, None, None)
        started = self._clock()
        deadline = started + self.config.timeouts.total
        policy = self.policy
        try:
            body, status = await send(
                policy.http,
                self.name,
                self.config,
                policy.instances.choose().base_url,
                request,
                request.headers,
                deadline,
                self._clock,
                _read,
            )
            payload = normalize(self._payload(status, body), self.name)
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
            said = payload.get("status") if isinstance(payload, dict) else None
            status_word = canonical(said) if isinstance(said, str) else "unknown"
            report.update(healthy=status_word in _HEALTHY, status=status_word)
        report["latency_ms"] = round((self._clock() - started) * 1000, 2)
        return report

    def _request(
        self,
        ctx: CallContext,
        method: str,
        path: str,
        params: Params | None,
        json: Any,
        files: Files | None,
    ) -> Request:
        headers = {"Accept": "application/json"}
        if ctx.authorization:
            headers["Authorization"] = ctx.authorization
        if ctx.request_id:
            headers["X-Request-ID"] = ctx.request_id
        body: Any = None
        if json is not None:
            body = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        elif files:
            form = aiohttp.FormData()
            for field, (filename, content, content_type) in files.items():
                form.add_field(field, content, filename=filename, content_type=content_type)
            body = form
        target = path
        if params:
            query = query_string(params)
            if query:
                target += "?" + query
        return Request(method, target, path, headers, body)

    def _payload(self, status: int, body: bytes) -> Any:
        """An answer's payload (unwrapped, not normalised), or the error it stands for."""
        name = self.name
        if status >= 400:
            raise parse_error(name, status, body)
        if not body.strip():
            return None
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamStatusError(
                name, status, "the service answered with a body that is not JSON"
            ) from exc
        failure = envelope_failure(name, payload)
        if failure is not None:
            raise UpstreamStatusError(name, status, failure)
        return unwrap(name, payload)


async def _read(response: aiohttp.ClientResponse) -> bytes:
    """A buffered call's answer: its whole (decoded) body."""
    return await response.read()


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


def _error_kind(exc: UpstreamError) -> str:
    if isinstance(exc, UpstreamUnavailable):
        return "unavailable"
    if isinstance(exc, UpstreamTimeout):
        return "timeout"
    return "error"

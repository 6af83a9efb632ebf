"""One client per upstream service: the only code that sends a buffered request to it.

A call (``request()``) takes the one pipeline of ``upstreams.pipeline``: the service's
``CallPolicy`` (bulkhead, breakers, retry with backoff, deadline) around the one send
function; the body is read whole inside the attempt, then unwrapped and normalised. A call
passes the service's breaker and its route's (``upstreams.breaker.Breakers``): connection
failures and timeouts count for the service, 5xx answers for the route. The health probe
(``health()``) probes every instance and passes the service's breaker alone, and its 5xx
counts there.

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
import dataclasses
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
from upstreams.instances import (
    EJECTED,
    HEALTHY,
    Instance,
    InstanceObserver,
    InstanceSet,
    InstanceStatus,
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
        instance_observer: InstanceObserver | None = None,
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
            instance_observer=instance_observer,
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

    @property
    def instances(self) -> InstanceSet:
        return self.policy.instances

    def instance_status(self) -> list[InstanceStatus]:
        """Each instance now. One instance is never ejected and no per-call accounting is
        done for it: the service's breaker and bulkhead stand for it (an open breaker is
        an ejection until it half-opens)."""
        status = self.policy.instances.status()
        if len(status) == 1:
            retry_after = self.breaker.retry_after
            status = [
                dataclasses.replace(
                    status[0],
                    state=HEALTHY if retry_after is None else EJECTED,
                    in_flight=self.bulkhead.in_flight,
                    ejected_for=retry_after,
                )
            ]
        return status

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
        """One probe of the service's health route on each of its instances: outside the
        bulkhead and retries, but through the service's breaker, which hears the round's
        outcome as it would a call's.

        Never raises: the report says what was found (``service``, ``healthy``, ``status``,
        ``latency_ms``, and ``error`` when it failed), and ``instances`` lists each
        instance's probe the same way under its ``id``. An unreachable instance
        (``unavailable``, ``timeout``) and a 5xx answer (``http_503``) are failures: the
        health route speaks for the whole instance, so unlike another route's 5xx its 5xx
        counts. Any other answer means the instance is reachable, and its body says whether
        it is healthy (the samples service answers 200 while saying it is ``unhealthy``); a
        4xx (``http_404``) is a health route the gateway cannot read.

        Each probe's outcome is its instance's (``InstanceSet.probed``): a success readmits
        an ejected instance at once, a failure counts toward ejection. The service's breaker
        hears a success when any instance was reachable, and a failure only when none was
        and no instance is healthy (``InstanceSet.all_down``, as for calls). The service
        is ``healthy`` when an instance is; its other fields are those of the first healthy
        instance (else the first reachable, else the first). An open breaker is not probed
        (``not_probed``) until it turns half-open; then the round is the call that closes it
        again or re-opens it.
        """
        report: dict[str, Any] = {"service": self.name}
        breaker = self.breaker
        try:
            generation = breaker.allow()
        except UpstreamUnavailable as exc:  # open, or a half-open probe already running
            report.update(
                healthy=False,
                status="not_probed",
                error=exc.message,
                latency_ms=None,
                instances=[],
            )
            return report
        path = HEALTH_PATHS.get(self.name, DEFAULT_HEALTH_PATH)
        request = self._request(CallContext(), "GET", path, None, None, None)
        instances = self.policy.instances
        targets = list(instances.instances)
        try:
            if len(targets) == 1:
                probes = [await self._probe(targets[0], request)]
            else:
                probes = list(await asyncio.gather(*(self._probe(i, request) for i in targets)))
        except BaseException:
            breaker.release(generation)
            raise
        if len(targets) > 1:
            for instance, (reachable, _) in zip(targets, probes, strict=True):
                instances.probed(instance, reachable)
        if any(reachable for reachable, _ in probes):
            breaker.record_success(generation)
        elif instances.all_down():
            breaker.record_failure(generation)
        else:
            breaker.release(generation)
        found = [probe for _, probe in probes]
        first = next(
            (p for p in found if p["healthy"]),
            next((p for (reachable, p) in probes if reachable), found[0]),
        )
        report.update({k: v for k, v in first.items() if k != "id"})
        report["instances"] = found
        return report

    async def _probe(self, instance: Instance, request: Request) -> tuple[bool, dict[str, Any]]:
        """One GET of the health route on ``instance``: whether it was reachable (answered
        below 500), and what was found, as ``health`` reports it."""
        found: dict[str, Any] = {"id": instance.id}
        started = self._clock()
        deadline = started + self.config.timeouts.total
        policy = self.policy
        reachable = True
        try:
            body, status = await send(
                policy.http,
                self.name,
                self.config,
                instance.base_url,
                request,
                request.headers,
                deadline,
                self._clock,
                _read,
                policy.tls,
            )
            payload = normalize(self._payload(status, body), self.name)
        except (UpstreamUnavailable, UpstreamTimeout) as exc:
            reachable = False
            found.update(healthy=False, status=_error_kind(exc), error=exc.message)
        except UpstreamError as exc:  # it answered: an error status, or a body not JSON
            answered = exc.status if isinstance(exc, UpstreamStatusError) else 200
            reachable = answered < 500
            found.update(
                healthy=False,
                status=f"http_{answered}" if answered >= 400 else "unknown",
                error=exc.message,
            )
        else:
            said = payload.get("status") if isinstance(payload, dict) else None
            status_word = canonical(said) if isinstance(said, str) else "unknown"
            found.update(healthy=status_word in _HEALTHY, status=status_word)
        found["latency_ms"] = round((self._clock() - started) * 1000, 2)
        return reachable, found

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

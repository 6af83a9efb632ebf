"""The one upstream call pipeline: a policy around one send function.

Every call to a service, buffered (``UpstreamClient.request``) or streamed
(``upstreams.streaming.open_stream``), takes the same path::

    CallPolicy.call() ── bulkhead slot ── CallPolicy.attempts():
        for each attempt: breakers.admit(route) ── send() ── read(response) ── outcome
        └─ retry (``may_retry`` only: connect error / 502-504, full-jitter backoff,
           while the breakers stay closed, never past the deadline)

The two kinds of caller differ only in ``read``: a buffered call reads the whole body inside
the attempt; a streamed one keeps the answer open and reports its outcome to the admission
once the body is relayed.

- **Retries**: one rule, ``upstreams.resilience.may_retry``: GET, HEAD and OPTIONS, or a
  call its caller marks idempotent. A DELETE is not retried, on GraphQL or the
  passthrough: the release answers a second DELETE of a template field or of a storage
  position 404, so a retried one that had in fact been done would be reported as not
  found. A streamed request with a body is never retried (its source is read once).
- **Timeouts**: the deadline is the earlier of the caller's and ``timeouts.total`` from the
  start of the call; each attempt's connect and read timeouts are the service's, capped by
  the time left. The total budget of an attempt covers sending and reading (up to the
  response headers, for a streamed one), and starts once a streamed request body has been
  fully sent: an upload runs as fast as its client sends.
- **Errors**: ``send`` is the one place where aiohttp and OS errors become
  ``upstreams.errors`` (through ``errors.translate``). An error raised by a streamed
  request's body source is the caller's and propagates unchanged.
- **TLS**: each attempt opens ``https://`` connections with the service's context
  (``upstreams.tls``, built once with the policy; the health probes use it too). A TLS
  failure is ``UpstreamUnavailable`` (a refused certificate: nothing was sent, so it may
  fail over and retry like any connect error) and logs ``upstream.tls_failed`` with the
  reason: OpenSSL's when it gave one, and when a TLS connection was closed before any
  answer without saying why (an asyncio server rejecting a client certificate sends no
  alert), what that may mean for this service's client certificate.
- **Observer** (``CallObserver``): told when a call starts and ends, when each attempt is
  sent and how it ended (``ok``, ``client_error``, ``server_error`` with the status;
  ``unavailable``, ``timeout``, ``error`` or ``cancelled`` without), and when a call is
  refused without a request (``breaker_open``, ``bulkhead_full``).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

import aiohttp
import structlog

from upstreams.breaker import Admission, Breakers, BreakerState, RouteTransitionHook, TransitionHook
from upstreams.config import UpstreamConfig
from upstreams.errors import (
    UpstreamError,
    UpstreamInvalidRequest,
    UpstreamTimeout,
    UpstreamUnavailable,
    tls_reason,
    translate,
)
from upstreams.instances import Instance, InstanceObserver, InstanceSet, instance_id
from upstreams.pool import Headers, HttpPool
from upstreams.resilience import RETRYABLE_STATUSES, Bulkhead, backoff_delay
from upstreams.routes import route_key
from upstreams.tls import TlsConfig, context

log = structlog.get_logger()

# What one attempt ends as, told to the observer (the metrics start a series for each).
OK, CLIENT_ERROR, SERVER_ERROR = "ok", "client_error", "server_error"
UNAVAILABLE, TIMEOUT, ERROR, CANCELLED = "unavailable", "timeout", "error", "cancelled"
ATTEMPT_OUTCOMES = (OK, CLIENT_ERROR, SERVER_ERROR, UNAVAILABLE, TIMEOUT, ERROR, CANCELLED)

# The longest URL sent: longer ones no server reads (the limit httpx applies).
MAX_URL_LENGTH = 65536

T = TypeVar("T")

# Transport errors raised before any byte of the request was sent: even a call that must
# not be sent twice may go to another instance after one of these.
_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
# A connection that ended, once open, without an answer and without a reason: over TLS, how
# a server may refuse a client certificate after the handshake (TLS 1.3).
_ENDED = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


class UpstreamNotConnected(UpstreamUnavailable):
    """No connection could be opened to the instance: the request was not sent at all."""


# Called once when an attempt ends, with its outcome (``ok``, ``client_error``,
# ``server_error``, ``unavailable``, ``timeout``, ``error``, ``cancelled``) and the HTTP
# status if any.
AttemptDone = Callable[[str, int | None], None]
# Reads an attempt's answer inside the attempt (its time budget and its observation).
Read = Callable[[aiohttp.ClientResponse], Awaitable[T]]


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


class Request:
    """One request as every attempt sends it. ``target`` is the path and query, joined to
    the base URL of the instance each attempt chooses. ``headers`` is a dict (buffered
    calls) or a list of pairs (streamed calls: repeated names kept); ``path`` names the
    route."""

    __slots__ = ("body", "decompress", "headers", "method", "path", "target")

    def __init__(
        self,
        method: str,
        target: str,
        path: str,
        headers: Headers,
        body: Any = None,
        *,
        decompress: bool = True,
    ) -> None:
        self.method = method
        self.target = target
        self.path = path
        self.headers = headers
        self.body = body
        self.decompress = decompress

    def with_headers(self, extra: dict[str, str]) -> Headers:
        """The headers with ``extra`` set (replacing any of the same name)."""
        headers = self.headers
        if isinstance(headers, dict):
            return {**headers, **extra}
        names = {name.lower() for name in extra}
        return [(k, v) for k, v in headers if k.lower() not in names] + list(extra.items())


class CallPolicy:
    """One service's bulkhead, breakers, retry policy and deadline (module docstring)."""

    def __init__(
        self,
        config: UpstreamConfig,
        http: HttpPool,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        rng: Callable[[], float],
        on_transition: TransitionHook | None = None,
        on_route_transition: RouteTransitionHook | None = None,
        observer: CallObserver | None = None,
        instance_observer: InstanceObserver | None = None,
    ) -> None:
        self.name = config.name
        self.config = config
        self.http = http
        self.observer = observer
        self.clock = clock
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
        self.instances = InstanceSet(
            config.base_urls,
            config.instances,
            clock=clock,
            rng=rng,
            name=config.name,
            observer=instance_observer,
        )
        # What every attempt's https:// connections trust and present: built once, here.
        self.tls = context(config.tls)

    def deadline(self, deadline: float | None = None) -> float:
        """The call's deadline: ``timeouts.total`` from now, or the caller's if earlier."""
        own = self.clock() + self.config.timeouts.total
        return own if deadline is None or own < deadline else deadline

    def call(self, deadline: float) -> PolicyCall:
        """Hold a bulkhead slot for the block (waiting at most until ``deadline``); the
        observer hears of the call's start, end and of a full bulkhead."""
        return PolicyCall(self, deadline)

    async def attempts(
        self, request: Request, deadline: float, retryable: bool, read: Read[T]
    ) -> tuple[T, int, Admission]:
        """Send ``request`` until an answer to keep: what ``read`` made of it, its status,
        and the admission its outcome is still owed to (``answered`` once it is read)."""
        name = self.name
        retry = self.config.retry
        instances = self.instances
        attempts = retry.attempts if retryable else 1
        if not retryable and not instances.single:
            # Not sent twice, but a connection never opened may go to another instance.
            attempts = min(len(instances.instances), retry.attempts)
        breakers = self.breakers
        route = route_key(name, request.method, request.path)
        tried: list[Instance] = []
        instance = instances.choose()
        chosen: Instance | None = None  # the next attempt's instance, when already chosen
        last: UpstreamError | None = None
        for attempt in range(attempts):
            if attempt:
                instance = chosen or instances.choose(tried)
                chosen = None
            if last is not None and instance in tried:  # nothing untried left: back off
                delay = backoff_delay(retry, attempt - 1, self._rng)
                if self.clock() + delay >= deadline:
                    raise last
                await self._sleep(delay)
            if self.clock() >= deadline:  # the caller's time ran out: not the upstream's fault
                raise last or UpstreamTimeout(name, "deadline exceeded before the call")
            try:
                admission = breakers.admit(route)
            except UpstreamUnavailable:
                if self.observer is not None:
                    self.observer.rejected(name, "breaker_open")
                if last is not None:  # opened by this very run of failures: say what failed
                    raise last from None
                raise
            tried.append(instance)
            try:
                result, status = await self._attempt(instance, request, deadline, read)
            except UpstreamUnavailable as exc:  # nothing was answered: safe to retry
                self._unreachable(admission)
                if not retryable and not isinstance(exc, UpstreamNotConnected):
                    raise
                last = exc
                continue
            except UpstreamTimeout:
                self._unreachable(admission)
                raise
            except BaseException:
                admission.release()
                raise
            if status in RETRYABLE_STATUSES and retryable and attempt + 1 < attempts:
                admission.answered(status)
                # Failover to an untried instance goes at once; the same one, after a backoff.
                chosen = instances.choose(tried)
                delay = 0.0 if chosen not in tried else backoff_delay(retry, attempt, self._rng)
                closed = BreakerState.CLOSED
                if (
                    self.clock() + delay < deadline
                    and breakers.service.state is closed
                    and breakers.route(route).state is closed
                ):
                    if isinstance(result, aiohttp.ClientResponse):
                        result.close()
                    if delay:
                        await self._sleep(delay)
                    continue
                # No retry after all: keep this answer; its outcome is already counted (an
                # admission reports once, so the caller's report is ignored).
            return result, status, admission
        assert last is not None  # the loop only falls out after an error
        raise last

    def _unreachable(self, admission: Admission) -> None:
        """An attempt found no answer: the service's failure while no instance is healthy
        (with one instance, always); with a healthy instance left, the instance's alone."""
        if self.instances.all_down():
            admission.unreachable()
        else:
            admission.release()

    async def _attempt(
        self, instance: Instance, request: Request, deadline: float, read: Read[T]
    ) -> tuple[T, int]:
        """One attempt on ``instance``; with several instances, its outcome is the
        balancer's (a connection failure or a 5xx counts against the instance)."""
        instances = self.instances
        if instances.single:
            return await self._observed(instance.base_url, request, deadline, read)
        instances.started(instance)
        started = self.clock()
        ok = False
        try:
            result, status = await self._observed(instance.base_url, request, deadline, read)
            ok = status < 500
            return result, status
        except UpstreamError as exc:
            ok = not isinstance(exc, UpstreamUnavailable | UpstreamTimeout)
            raise
        except BaseException:
            ok = True  # cancelled: not the instance's fault
            raise
        finally:
            instances.finished(instance, ok, self.clock() - started)

    async def _observed(
        self, base_url: str, request: Request, deadline: float, read: Read[T]
    ) -> tuple[T, int]:
        """``send`` with the observer told of the attempt and its outcome."""
        observer = self.observer
        if observer is None:
            return await send(
                self.http,
                self.name,
                self.config,
                base_url,
                request,
                request.headers,
                deadline,
                self.clock,
                read,
                self.tls,
            )
        extra: dict[str, str] = {}
        done = observer.attempt_started(self.name, request.method, request.path, extra)
        # Trace context: the gateway's span is the upstream call's parent now.
        headers = request.with_headers(extra) if extra else request.headers
        try:
            result, status = await send(
                self.http,
                self.name,
                self.config,
                base_url,
                request,
                headers,
                deadline,
                self.clock,
                read,
                self.tls,
            )
        except UpstreamTimeout:
            done(TIMEOUT, None)
            raise
        except UpstreamUnavailable:
            done(UNAVAILABLE, None)
            raise
        except UpstreamError:
            done(ERROR, None)
            raise
        except BaseException:
            done(CANCELLED, None)
            raise
        done(SERVER_ERROR if status >= 500 else CLIENT_ERROR if status >= 400 else OK, status)
        return result, status


async def send(
    http: HttpPool,
    name: str,
    config: UpstreamConfig,
    base_url: str,
    request: Request,
    headers: Headers,
    deadline: float,
    clock: Callable[[], float],
    read: Read[T],
    tls: ssl.SSLContext | bool = True,
) -> tuple[T, int]:
    """One attempt: send ``request`` to the instance at ``base_url`` and ``read`` its answer
    within the time left, over ``tls`` for an ``https://`` URL (``CallPolicy.tls``). The
    single place where transport errors become ours."""
    remaining = deadline - clock()
    if remaining <= 0:
        raise UpstreamTimeout(name, "deadline exceeded before the call was sent")
    url = base_url + request.target
    if len(url) > MAX_URL_LENGTH:
        # Paths and queries are quoted, so only length is left to break a URL: a value a
        # caller sent, too long to send on.
        message = f"A value is too long to send to the {name} service"
        raise UpstreamInvalidRequest(name, message)
    timeouts = config.timeouts
    read_timeout = min(timeouts.read, remaining)
    timeout = aiohttp.ClientTimeout(
        sock_connect=min(timeouts.connect, remaining), sock_read=read_timeout, connect=remaining
    )
    body = request.body
    watched: _Body | None = None
    if isinstance(body, AsyncIterable):
        # The budget starts once the body is sent: an upload is as fast as its client.
        loop = asyncio.get_running_loop()
        budget = asyncio.timeout(None)
        total = timeouts.total
        watched = body = _Body(body, lambda: budget.reschedule(loop.time() + total))
    else:
        budget = asyncio.timeout(remaining)
    try:
        async with budget:
            response = await http.request(
                request.method, url, headers, body, timeout, decompress=request.decompress, tls=tls
            )
            try:
                return await read(response), response.status
            except BaseException:
                response.close()
                raise
    except Exception as exc:
        if watched is not None and watched.error is not None:
            raise watched.error from None
        if isinstance(exc, TimeoutError) and budget.expired():
            raise UpstreamTimeout(name, "no answer within the call's time budget") from exc
        if isinstance(exc, UpstreamError):
            raise
        if base_url.startswith("https:"):
            _log_tls_failure(name, base_url, config.tls, exc)
        if isinstance(exc, _NOT_SENT):
            raise UpstreamNotConnected(name, translate(name, exc).message) from exc
        raise translate(name, exc) from exc


def _log_tls_failure(name: str, base_url: str, tls: TlsConfig, exc: BaseException) -> None:
    """Log why a TLS connection to ``name`` failed, when it can be told (module docstring)."""
    reason = tls_reason(exc)
    if reason is None and isinstance(exc, _ENDED) and not isinstance(exc, _NOT_SENT):
        if tls.client is None:
            reason = (
                "the TLS connection was closed before any answer: a service that requires a "
                "client certificate does so when none is presented, and none is configured "
                f"for {name}"
            )
        else:
            reason = (
                "the TLS connection was closed before any answer: a service does so when it "
                "does not accept the client certificate presented"
            )
    if reason is not None:
        log.warning(
            "upstream.tls_failed",
            service=name,
            instance=instance_id(base_url),
            error=type(exc).__name__,
            reason=reason,
        )


class _Body:
    """The caller's body source, watched: when it ends, and whether it failed."""

    def __init__(self, source: AsyncIterable[bytes], on_done: Callable[[], None]) -> None:
        self._source = source
        self._on_done = on_done
        self.error: BaseException | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._source:
                yield chunk
        except BaseException as exc:
            self.error = exc
            raise
        self._on_done()


class PolicyCall:
    """``CallPolicy.call``'s context: a bulkhead slot held for the block, told to the
    observer (start, end, and a full bulkhead)."""

    __slots__ = ("_deadline", "_observer", "_policy")

    def __init__(self, policy: CallPolicy, deadline: float) -> None:
        self._policy = policy
        self._deadline = deadline
        self._observer: CallObserver | None = None

    async def __aenter__(self) -> None:
        policy = self._policy
        observer = self._observer = policy.observer
        if observer is None:
            await policy.bulkhead.acquire(self._deadline - policy.clock())
            return
        observer.call_started(policy.name)
        try:
            await policy.bulkhead.acquire(self._deadline - policy.clock())
        except UpstreamUnavailable:
            observer.rejected(policy.name, "bulkhead_full")
            observer.call_finished(policy.name)
            raise
        except BaseException:
            observer.call_finished(policy.name)
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._policy.bulkhead.release()
        observer = self._observer
        if observer is not None:
            observer.call_finished(self._policy.name)

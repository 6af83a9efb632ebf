"""Streamed calls through an ``UpstreamClient``'s policies, for the REST passthrough.

``open_stream`` sends one request whose body is an async iterable (never read whole) and
yields the upstream's answer with its body still unread, under the same client's bulkhead,
circuit breaker and timeouts as the buffered ``UpstreamClient.request``::

    open_stream() ── bulkhead slot (held until the body is relayed) ── attempt(s):
        breakers.admit(route) ── send, headers only ── yield UpstreamStream ── outcome

- **Retries** only when nothing can have been consumed: a bodiless request of an idempotent
  method (GET, HEAD, OPTIONS, DELETE), after a connect failure or a 502/503/504 answer,
  with the client's backoff, never past the deadline, and never once the breaker has left
  the closed state (the last answer is relayed as it came).
- **Timeouts**: connect and read (between bytes, also while relaying the body) per service;
  the total budget covers waiting for the response headers, counted from the moment the
  request body was fully sent (an upload runs as fast as its client sends). A body being
  relayed has no total bound: a 200 MB download is as slow as its reader.
- **Outcome**: a 5xx is a failure of its route; connect errors, timeouts and a body that
  breaks off are failures of the service; other answers are successes once their body is
  relayed; a relay abandoned by the caller (the client went away) releases the breakers
  without an outcome.
- **Errors** are the ``upstreams.errors`` tree: ``UpstreamUnavailable`` with ``retry_after``
  set when the gateway refused to try (breaker open, bulkhead full), without it when the
  service could not be reached; ``UpstreamTimeout``. httpx and aiohttp errors are
  translated in ``_translate`` only. An error raised by the body source is the caller's
  and propagates unchanged, and says nothing about the upstream.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

import aiohttp
import httpx

from upstreams.breaker import Admission, BreakerState
from upstreams.client import UpstreamClient
from upstreams.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from upstreams.pool import HttpPool
from upstreams.resilience import RETRYABLE_STATUSES, backoff_delay
from upstreams.routes import route_key

RETRYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
# Seconds a caller turned away by a full bulkhead is told to wait.
BULKHEAD_RETRY_AFTER = 1.0

RawHeaders = list[tuple[bytes, bytes]]


class UpstreamStream:
    """An upstream answer whose body is still on the wire: ``status``, raw ``headers``
    (names lowercased) and ``body()``, an iterator over the raw (still encoded) bytes."""

    def __init__(self, service: str, response: httpx.Response) -> None:
        self.service = service
        self.status = response.status_code
        self.headers: RawHeaders = [(k.lower(), v) for k, v in response.headers.raw]
        self._response = response
        self.complete = False
        self.broken = False

    async def body(self) -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in self._response.aiter_raw():
                yield chunk
        except Exception as exc:
            self.broken = True
            raise _translate(self.service, exc) from exc
        self.complete = True


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


@asynccontextmanager
async def open_stream(
    client: UpstreamClient,
    http: HttpPool,
    method: str,
    target: bytes,
    headers: RawHeaders,
    body: AsyncIterable[bytes] | None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
) -> AsyncIterator[UpstreamStream]:
    """Send ``method target`` (``target``: the upstream path and query, already quoted) to
    ``client``'s service and yield its answer; see the module docstring for the policies.

    ``headers`` are sent as given (Host is the upstream's). ``body`` None sends no body.
    The client's ``observer`` (metrics, spans) hears of the call as of a buffered one.
    """
    call = _Call(client, http, method, target, headers, body, clock, sleep, rng)
    observer = client.observer
    if observer is not None:
        observer.call_started(client.name)
    try:
        try:
            slot = client.bulkhead.slot(wait=call.deadline - clock())
            await slot.__aenter__()
        except UpstreamUnavailable as exc:
            if observer is not None:
                observer.rejected(client.name, "bulkhead_full")
            raise UpstreamUnavailable(
                client.name, exc.message, retry_after=BULKHEAD_RETRY_AFTER
            ) from None
        try:
            stream, admission = await call.attempts()
            try:
                yield stream
            except BaseException:
                if stream.broken:
                    admission.unreachable()
                else:  # the caller gave up: that says nothing about the upstream
                    admission.release()
                raise
            else:
                if stream.broken:
                    admission.unreachable()
                elif stream.status >= 500 or stream.complete:
                    admission.answered(stream.status)
                else:
                    admission.release()
            finally:
                await _close(stream._response)
        finally:
            await slot.__aexit__(None, None, None)
    finally:
        if observer is not None:
            observer.call_finished(client.name)


class _Call:
    """One streamed call: its attempts, each up to the response headers."""

    def __init__(
        self,
        client: UpstreamClient,
        http: HttpPool,
        method: str,
        target: bytes,
        headers: RawHeaders,
        body: AsyncIterable[bytes] | None,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        rng: Callable[[], float],
    ) -> None:
        self.client = client
        self.http = http
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.clock = clock
        self.sleep = sleep
        self.rng = rng
        self.deadline = clock() + client.config.timeouts.total

    async def attempts(self) -> tuple[UpstreamStream, Admission]:
        """The answer to relay and the admission its outcome is owed to."""
        client = self.client
        policy = client.config.retry
        breakers = client.breakers
        route = route_key(client.name, self.method, self.target.split(b"?", 1)[0].decode("latin-1"))
        retryable = self.body is None and self.method in RETRYABLE_METHODS
        attempts = policy.attempts if retryable else 1
        last: UpstreamError | None = None
        for attempt in range(attempts):
            if last is not None:
                delay = backoff_delay(policy, attempt - 1, self.rng)
                if self.clock() + delay >= self.deadline:
                    raise last
                await self.sleep(delay)
            try:
                admission = breakers.admit(route)
            except UpstreamUnavailable:
                if client.observer is not None:
                    client.observer.rejected(client.name, "breaker_open")
                if last is not None:  # opened by this very run of failures: say what failed
                    raise last from None
                raise
            try:
                response = await self._observed_send()
            except UpstreamUnavailable as exc:  # nothing was answered: safe to retry
                admission.unreachable()
                last = exc
                continue
            except UpstreamTimeout:
                admission.unreachable()
                raise
            except BaseException:
                admission.release()
                raise
            stream = UpstreamStream(client.name, response)
            if stream.status in RETRYABLE_STATUSES and attempt + 1 < attempts:
                admission.answered(stream.status)
                delay = backoff_delay(policy, attempt, self.rng)
                closed = BreakerState.CLOSED
                if (
                    self.clock() + delay < self.deadline
                    and breakers.service.state is closed
                    and breakers.route(route).state is closed
                ):
                    await _close(response)
                    await self.sleep(delay)
                    last = None
                    continue
                # No retry after all: relay this answer; its failure is already counted (an
                # admission reports once, so the outcome of the relay is ignored).
            return stream, admission
        assert last is not None  # the loop only falls out after an error
        raise last

    async def _observed_send(self) -> httpx.Response:
        observer = self.client.observer
        if observer is None:
            return await self._send(self.headers)
        extra: dict[str, str] = {}
        path = self.target.split(b"?", 1)[0].decode("ascii")
        done = observer.attempt_started(self.client.name, self.method, path, extra)
        headers = self.headers
        if extra:  # trace context: the gateway's span is the upstream call's parent now
            names = {name.lower().encode("latin-1") for name in extra}
            headers = [(k, v) for k, v in headers if k not in names]
            headers += [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()
            ]
        try:
            response = await self._send(headers)
        except UpstreamTimeout:
            done("timeout", None)
            raise
        except UpstreamUnavailable:
            done("unavailable", None)
            raise
        except BaseException:
            done("cancelled", None)
            raise
        status = response.status_code
        done("server_error" if status >= 500 else "client_error" if status >= 400 else "ok", status)
        return response

    async def _send(self, headers: RawHeaders) -> httpx.Response:
        """One attempt, up to the response headers."""
        name = self.client.name
        remaining = self.deadline - self.clock()
        if remaining <= 0:
            raise UpstreamTimeout(name, "deadline exceeded before the call was sent")
        timeouts = self.client.config.timeouts
        timeout = httpx.Timeout(
            connect=min(timeouts.connect, remaining),
            read=timeouts.read,
            write=timeouts.read,
            pool=remaining,
        )
        url = self.client.config.base_url.rstrip("/") + self.target.decode("ascii")
        loop = asyncio.get_running_loop()
        # The budget starts once the body is sent: an upload is as fast as its client.
        budget = asyncio.timeout(remaining if self.body is None else None)
        watched: _Body | None = None
        if self.body is not None:
            total = timeouts.total
            watched = _Body(self.body, lambda: budget.reschedule(loop.time() + total))
        request = httpx.Request(
            self.method,
            url,
            headers=headers,
            content=watched,
            extensions={"timeout": timeout.as_dict()},
        )
        try:
            async with budget:
                return await self.http.send(request)
        except TimeoutError as exc:
            if budget.expired():
                raise UpstreamTimeout(name, "no answer within the call's time budget") from exc
            raise _translate(name, exc) from exc
        except Exception as exc:
            if watched is not None and watched.error is not None:
                raise watched.error from None
            raise _translate(name, exc) from exc


def _translate(service: str, exc: BaseException) -> UpstreamError:
    """The one place where httpx/aiohttp/OS errors of a streamed call become ours; the
    message is safe for a client (never the upstream's address)."""
    cause = exc.__cause__ or exc
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return UpstreamTimeout(service, "no answer within the read timeout")
    if isinstance(cause, aiohttp.SocketTimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeout(service, "no answer within the read timeout")
    if isinstance(cause, aiohttp.ServerDisconnectedError | httpx.RemoteProtocolError):
        return UpstreamUnavailable(service, "the connection was closed before an answer")
    if isinstance(cause, aiohttp.ClientPayloadError | httpx.ReadError):
        return UpstreamUnavailable(service, "the answer broke off")
    if isinstance(cause, aiohttp.ClientConnectorError | httpx.ConnectError | ConnectionError):
        return UpstreamUnavailable(service, "could not connect")
    if isinstance(cause, TimeoutError | httpx.ConnectTimeout):
        return UpstreamUnavailable(service, "could not connect within the connect timeout")
    return UpstreamUnavailable(service, "connection failed")


async def _close(response: httpx.Response) -> None:
    """Close an answer; one whose body was not read to the end takes its connection with
    it, which is how the upstream learns that the request was abandoned."""
    with suppress(httpx.HTTPError, aiohttp.ClientError, OSError):
        await response.aclose()

"""Streamed calls through an ``UpstreamClient``'s policy, for the REST passthrough.

``open_stream`` sends one request whose body is an async iterable (never read whole) and
yields the upstream's answer with its body still unread, through the same pipeline as the
buffered ``UpstreamClient.request`` (``upstreams.pipeline``: bulkhead, breakers, retries,
deadline, one send function); only the reading differs::

    open_stream() ── bulkhead slot (held until the body is relayed) ── attempt(s):
        breakers.admit(route) ── send, headers only ── yield UpstreamStream ── outcome

- **Retries** as for every call (``may_retry``), and only for a bodiless request: a body
  source is read once. The last answer is relayed as it came.
- **Timeouts**: a body being relayed has no total bound (a 200 MB download is as slow as
  its reader); the read timeout still applies between its bytes.
- **Outcome**: a 5xx is a failure of its route; connect errors, timeouts and a body that
  breaks off are failures of the service; other answers are successes once their body is
  relayed; a relay abandoned by the caller (the client went away) releases the breakers
  without an outcome.
- **Cache**: a write (any method but GET, HEAD and OPTIONS) bumps the service's cache
  generation once it was tried, whatever its outcome, before its answer is relayed (the
  passthrough reads nothing from the cache, but its writes invalidate it).
- **Errors** are the ``upstreams.errors`` tree: ``UpstreamUnavailable`` with ``retry_after``
  set when the gateway refused to try (breaker open, bulkhead full), without it when the
  service could not be reached; ``UpstreamTimeout``. An error raised by the body source is
  the caller's and propagates unchanged, and says nothing about the upstream.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable
from contextlib import AbstractAsyncContextManager, suppress
from types import TracebackType

import aiohttp

from upstreams.cache import READ_METHODS
from upstreams.client import UpstreamClient
from upstreams.errors import UpstreamUnavailable, translate
from upstreams.pipeline import Request
from upstreams.resilience import may_retry

# Seconds a caller turned away by a full bulkhead is told to wait.
BULKHEAD_RETRY_AFTER = 1.0
# The most bytes one chunk of a relayed body holds.
CHUNK_SIZE = 16 * 1024

RawHeaders = list[tuple[bytes, bytes]]


class UpstreamStream:
    """An upstream answer whose body is still on the wire: ``status``, raw ``headers``
    (names lowercased) and ``body()``, an iterator over the raw (still encoded) bytes."""

    def __init__(self, service: str, response: aiohttp.ClientResponse) -> None:
        self.service = service
        self.status = response.status
        self.headers: RawHeaders = [(k.lower(), v) for k, v in response.raw_headers]
        self._response = response
        self.complete = False
        self.broken = False

    async def body(self) -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in self._response.content.iter_chunked(CHUNK_SIZE):
                yield chunk
        except Exception as exc:
            self.broken = True
            raise translate(self.service, exc) from exc
        self.complete = True


async def _keep(response: aiohttp.ClientResponse) -> aiohttp.ClientResponse:
    """A streamed call's answer: kept open, its body read by the relay."""
    return response


def open_stream(
    client: UpstreamClient,
    method: str,
    target: bytes,
    headers: RawHeaders,
    body: AsyncIterable[bytes] | None,
) -> AbstractAsyncContextManager[UpstreamStream]:
    """Send ``method target`` (``target``: the upstream path and query, already quoted) to
    ``client``'s service and yield its answer; see the module docstring for the policies.

    ``headers`` are sent as given (Host is the upstream's). ``body`` None sends no body.
    The client's ``observer`` (metrics, spans) hears of the call as of a buffered one.
    """
    return _OpenStream(client, method, target, headers, body)


class _OpenStream:
    """``open_stream``'s context: entering sends the call (bulkhead slot, attempts, the
    cache bump of a write); leaving tells the breakers its outcome, closes the answer and
    frees the slot. (A class rather than a generator: it runs once per relayed request.)"""

    __slots__ = (
        "_admission",
        "_body",
        "_call",
        "_client",
        "_headers",
        "_method",
        "_response",
        "_status",
        "_stream",
        "_target",
    )

    def __init__(
        self,
        client: UpstreamClient,
        method: str,
        target: bytes,
        headers: RawHeaders,
        body: AsyncIterable[bytes] | None,
    ) -> None:
        self._client = client
        self._method = method
        self._target = target
        self._headers = headers
        self._body = body

    async def __aenter__(self) -> UpstreamStream:
        client, method, body = self._client, self._method, self._body
        policy = client.policy
        text = self._target.decode("ascii")
        request = Request(
            method,
            text,
            text.split("?", 1)[0],
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._headers],
            body,
            decompress=False,
        )
        deadline = policy.deadline()
        call = policy.call(deadline)
        try:
            await call.__aenter__()
        except UpstreamUnavailable as exc:
            raise UpstreamUnavailable(
                client.name, exc.message, retry_after=BULKHEAD_RETRY_AFTER
            ) from None
        try:
            retryable = body is None and may_retry(method, None)
            try:
                response, status, admission = await policy.attempts(
                    request, deadline, retryable, _keep
                )
            finally:
                if client.cache is not None and method.upper() not in READ_METHODS:
                    await client.cache.bump(client.name)
            try:
                stream = UpstreamStream(client.name, response)
            except BaseException:
                _close(response)
                raise
        except BaseException:
            await call.__aexit__(None, None, None)
            raise
        self._call, self._response, self._status = call, response, status
        self._admission, self._stream = admission, stream
        return stream

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stream, admission = self._stream, self._admission
        try:
            if stream.broken:
                admission.unreachable()
            elif exc_type is not None:  # the caller gave up: that says nothing of the upstream
                admission.release()
            elif self._status >= 500 or stream.complete:
                admission.answered(self._status)
            else:
                admission.release()
        finally:
            try:
                _close(self._response)
            finally:
                await self._call.__aexit__(None, None, None)


def _close(response: aiohttp.ClientResponse) -> None:
    """Close an answer; one whose body was not read to the end takes its connection with
    it, which is how the upstream learns that the request was abandoned."""
    with suppress(aiohttp.ClientError, OSError):
        if response.content.at_eof():
            response.release()
        else:
            response.close()

"""Subscription streams: one execution of a subscription's events, sent to its members.

A subscription whose events read alike for every caller of one role
(``Prepared.shared``: ``graph.live.caller_independent``) joins the stream of the same
document, operation name, variables and role when one runs: the stream executes each event
once, encodes the answer once, and sends it to every member (each under its own operation
id). Any other subscription has a stream of its own. So a thousand screens watching one
sample cost one execution per event, not a thousand; what a member may see is what its
role may see, as the stream's executions check the role's permissions.

A stream starts with its first member and ends when its last member leaves (its feed, and
with the topic's last feed its poller, with it), or when its events end: the gateway
stopping, a subscriber falling too far behind (``FeedOverflow``), or a failure; its members
are then told, and completed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from graphql import ExecutionResult, GraphQLError

from gateway.graphql_app import Admitted, GraphQLEndpoint
from gateway.graphql_request import GraphQLRequest
from gateway.metrics import Metrics
from gateway.prepared import subscribe_prepared
from graph.errors import INTERNAL_SERVER_ERROR
from resolvers.context import Context
from resolvers.live import FeedOverflow
from security.operation import LIMIT_EXCEEDED

if TYPE_CHECKING:
    from gateway.websocket import _Socket

log = structlog.get_logger("tracseq.access")

StreamKey = tuple[int, str | None, bytes, str | None]


class _Member:
    __slots__ = ("done", "op_id", "socket")

    def __init__(self, socket: _Socket, op_id: str) -> None:
        self.socket = socket
        self.op_id = op_id
        self.done = asyncio.Event()


class _Stream:
    """One execution of a subscription's events and the members it sends them to."""

    def __init__(
        self, streams: Streams, key: StreamKey | None, context: Context, document: Any
    ) -> None:
        self.streams = streams
        self.key = key
        self.context = context
        self.document = document  # kept alive: the key holds its id
        self.members: dict[int, _Member] = {}
        self.task: asyncio.Task[None] | None = None
        self.closed = False

    def add(self, socket: _Socket, op_id: str) -> _Member:
        member = _Member(socket, op_id)
        self.members[id(member)] = member
        return member

    def remove(self, member: _Member) -> None:
        self.members.pop(id(member), None)
        if not self.members and not self.closed:
            self._close()
            if self.task is not None:
                self.task.cancel()

    def _close(self) -> None:
        self.closed = True
        if self.key is not None and self.streams._streams.get(self.key) is self:
            del self.streams._streams[self.key]

    async def run(self, source: AsyncIterator[ExecutionResult]) -> None:
        endpoint = self.streams.endpoint
        context = self.context
        final: GraphQLError | None = None
        try:
            async for result in source:
                text = orjson.dumps(endpoint.result_answer(result, context)).decode()
                change = context.event
                for member in self.members.values():
                    member.socket.send_next(member.op_id, text, change)
        except FeedOverflow as exc:
            final = GraphQLError(str(exc), extensions={"code": LIMIT_EXCEEDED})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("websocket.subscription_failed")
            final = GraphQLError(
                "The subscription failed in the gateway", extensions={"code": INTERNAL_SERVER_ERROR}
            )
        finally:
            self._close()
            with contextlib.suppress(Exception):
                await source.aclose()  # type: ignore[attr-defined]
            context.loaders.release()
            members = list(self.members.values())
            if final is not None and members:
                text = orjson.dumps(endpoint.answer(None, [final])).decode()
                for member in members:
                    member.socket.send_next(member.op_id, text)
            for member in members:
                member.done.set()


class Streams:
    """The process's subscription streams (see the module docstring)."""

    def __init__(self, endpoint: GraphQLEndpoint, metrics: Metrics) -> None:
        self.endpoint = endpoint
        self.metrics = metrics
        self._streams: dict[StreamKey, _Stream] = {}

    def __len__(self) -> int:
        return len(self._streams)

    async def follow(
        self, socket: _Socket, op_id: str, request: GraphQLRequest, admitted: Admitted
    ) -> None:
        """Send ``socket`` the events of ``request`` under ``op_id`` until they end (or the
        caller is cancelled: the client completed, or went away)."""
        key = _key(socket, request, admitted)
        stream = None if key is None else self._streams.get(key)
        if stream is None:
            stream = await self._start(socket, op_id, request, admitted, key)
        self.metrics.observe_operation(
            admitted.operation_name, "subscription", "error" if stream is None else "success"
        )
        if stream is None:
            return
        member = stream.add(socket, op_id)
        topic = admitted.topic
        if topic is not None:
            self.metrics.subscription_started(topic)
        try:
            await member.done.wait()
        finally:
            stream.remove(member)
            if topic is not None:
                self.metrics.subscription_ended(topic)

    async def _start(
        self,
        socket: _Socket,
        op_id: str,
        request: GraphQLRequest,
        admitted: Admitted,
        key: StreamKey | None,
    ) -> _Stream | None:
        endpoint = self.endpoint
        context = endpoint.context_of(socket.scope)
        source = await subscribe_prepared(
            endpoint.schema,
            endpoint.executor_class,
            admitted.document,
            context=context,
            variables=request.variables,
            operation_name=request.operation_name,
        )
        if isinstance(source, ExecutionResult):  # refused before any event: this caller's
            context.loaders.release()
            answer = endpoint.answer(source.data, source.errors)
            socket.send_next(op_id, orjson.dumps(answer).decode())
            return None
        if key is not None and (running := self._streams.get(key)) is not None:
            # Another member started the same stream meanwhile: this source is not needed.
            with contextlib.suppress(Exception):
                await source.aclose()  # type: ignore[attr-defined]
            context.loaders.release()
            return running
        stream = _Stream(self, key, context, admitted.document)
        if key is not None:
            self._streams[key] = stream
        stream.task = asyncio.create_task(stream.run(source))
        return stream


def _key(socket: _Socket, request: GraphQLRequest, admitted: Admitted) -> StreamKey | None:
    """What members of one stream have in common; None: a stream of its own."""
    if not admitted.shared:
        return None
    principal = socket.principal
    variables = orjson.dumps(request.variables or {}, option=orjson.OPT_SORT_KEYS)
    role = None if principal is None else principal.role
    return (id(admitted.document), request.operation_name, variables, role)

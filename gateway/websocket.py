"""GraphQL over WebSocket on /graphql: the graphql-transport-ws protocol (the ``graphql-ws``
library's), over the same prepared operations as HTTP.

**Handshake.** A browser's ``Origin`` must be the gateway's own (the ``Host`` it was asked
at) or one of ``TRACSEQ_CORS_ORIGINS``; any other is refused before the upgrade (HTTP 403),
so that a foreign page cannot ride a user's cookies or stored token into the socket
(cross-site WebSocket hijacking). A client that does not offer the ``graphql-transport-ws``
subprotocol is closed with 4406.

**connection_init** must come within ``init_timeout`` (else 4408). Its payload's
``authorization`` (``"Bearer <token>"``, or the token alone under ``token``), or else the
upgrade request's Authorization header, is verified as a bearer token is on HTTP; an
invalid, expired or revoked token closes the socket with 4403. Without a token the socket
is anonymous, and what it may run is RBAC's decision. While the socket is open its token is
checked for revocation every ``auth_check_interval`` seconds, and for expiry at each visit
of the sweeper (one task for every socket, every min(keepalive, auth_check_interval)
seconds): expired or revoked, the socket closes with 4403 within one check interval.

**subscribe** runs through ``GraphQLEndpoint.admit``, as an HTTP request does: persisted
queries, the operation limits and cost, and the rate-limit spend when it starts. A query or
mutation answers one ``next`` and ``complete``; a subscription answers a ``next`` per event
(``resolvers.live``), each executed with the graph's executor under the same permissions as
the query of its type. At most ``max_per_connection`` operations run on one socket and
``max_per_user`` on one process for one principal (``OPERATION_LIMIT_EXCEEDED`` error
messages). Subscribers of one role may share one execution per event
(``gateway.streams``).

**Close codes.** 4400 a malformed message, 4401 ``subscribe`` before ``connection_ack``,
4403 a token refused, 4406 no graphql-transport-ws, 4408 no ``connection_init`` in time,
4409 an id already running, 4429 a second ``connection_init``, 1008 a client that fell
``OUTBOX_LIMIT`` messages behind (sending never waits for one reader), 1001 the gateway
shutting down (``close_all``, on SIGTERM). The server pings every ``keepalive`` seconds and answers
pings with pongs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson
import structlog
from graphql import GraphQLError
from starlette.types import Message, Receive, Scope, Send

from gateway.graphql_app import WEBSOCKET, Admitted, GraphQLEndpoint
from gateway.graphql_request import GraphQLRequest, RequestRefused, body_requests
from gateway.metrics import Metrics
from gateway.request_id import accept_request_id
from gateway.settings import SocketLimits
from gateway.streams import Streams
from security import audit
from security.operation import LIMIT_EXCEEDED
from security.principal import Principal
from security.responses import header
from security.runtime import SecurityRuntime
from security.tokens import InvalidToken, bearer_token

PROTOCOL = "graphql-transport-ws"
BAD_MESSAGE = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
NO_SUBPROTOCOL = 4406
INIT_TIMEOUT = 4408
DUPLICATE = 4409
TOO_MANY_INITS = 4429
GOING_AWAY = 1001
TOO_SLOW = 1008  # policy violation: the client does not read its messages
OUTBOX_LIMIT = 256  # messages a socket may fall behind

log = structlog.get_logger("tracseq.access")


class _Closed(Exception):
    """The socket is closing with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class GraphQLWebSocket:
    """The ASGI app of WebSocket connections to /graphql (see the module docstring)."""

    def __init__(
        self,
        endpoint: GraphQLEndpoint,
        *,
        security: SecurityRuntime,
        metrics: Metrics,
        limits: SocketLimits,
        origins: tuple[str, ...] = (),
    ) -> None:
        self._endpoint = endpoint
        self._security = security
        self._metrics = metrics
        self.limits = limits
        self._origins = frozenset(o.rstrip("/").lower() for o in origins)
        self._sockets: set[_Socket] = set()
        self._per_user: Counter[str] = Counter()
        self._sweeper: asyncio.Task[None] | None = None
        self.streams = Streams(endpoint, metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        origin = header(scope, b"origin")
        if origin is not None and not self._origin_allowed(scope, origin):
            audit.emit(audit.WEBSOCKET_ORIGIN_REFUSED, audit.REFUSED, origin=origin)
            await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
            return
        socket = _Socket(self, scope, receive, send)
        self._sockets.add(socket)
        try:
            await socket.serve()
        finally:
            self._sockets.discard(socket)

    def watch(self) -> None:
        """Make sure the sweeper runs (a socket was acknowledged)."""
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep())

    async def _sweep(self) -> None:
        """One task for every socket's timers, while any is open: every
        min(keepalive, auth_check_interval) seconds each socket's ``tick`` (so an expired
        or revoked token closes its socket within one check interval)."""
        limits = self.limits
        every = min(limits.keepalive, limits.auth_check_interval)
        while self._sockets:
            await asyncio.sleep(every)
            now = time.time()
            for socket in list(self._sockets):
                try:
                    await socket.tick(now)
                except Exception:  # one socket's failure must not stop the others' timers
                    log.exception("websocket.tick_failed", request_id=socket.request_id)

    def _origin_allowed(self, scope: Scope, origin: str) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self._origins:
            return True
        host = (header(scope, b"host") or "").lower()
        return bool(host) and urlsplit(origin).netloc == host

    async def close_all(self) -> None:
        """Close every socket with 1001 (the gateway is going away), and stop the sweeper."""
        await asyncio.gather(
            *(s.close(GOING_AWAY, "The gateway is shutting down") for s in list(self._sockets)),
            return_exceptions=True,
        )
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None


class _Socket:
    """One connection: its reader loop, its writer, its operations' tasks; its keep-alive
    and token checks are the sweeper's ``tick``."""

    def __init__(self, app: GraphQLWebSocket, scope: Scope, receive: Receive, send: Send) -> None:
        self.app = app
        self.scope = scope
        self.receive = receive
        self._send = send
        # What is to be sent, in order, by the socket's writer task: (text, and for an
        # event its topic and when the gateway learnt of it, for the delivery lag).
        self._outbox: deque[tuple[str, str | None, float]] = deque()
        self._pending = asyncio.Event()
        self._closing: asyncio.Task[None] | None = None
        self._next_ping = self._next_check = 0.0
        self.principal: Principal | None = None
        self.acknowledged = False
        self.closed = False
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.request_id = accept_request_id(header(scope, b"x-request-id"))
        self._user_key = ""

    # -- the connection ------------------------------------------------------------------

    async def serve(self) -> None:
        offered = self.scope.get("subprotocols") or []
        if PROTOCOL not in offered:
            await self._raw({"type": "websocket.accept"})
            reason = "Subprotocol not acceptable"
            await self._raw({"type": "websocket.close", "code": NO_SUBPROTOCOL, "reason": reason})
            return
        await self._raw({"type": "websocket.accept", "subprotocol": PROTOCOL})
        metrics = self.app._metrics
        metrics.websocket_opened()
        started = time.perf_counter()
        self._log("websocket.connect")
        helpers = [asyncio.create_task(self._write())]
        code = 1000
        try:
            await self._initialise()
            await self._read()
        except _Closed as exc:
            code = exc.code
            await self.close(exc.code, exc.reason)
        finally:
            self.closed = True
            for task in (*helpers, *self.operations.values()):
                task.cancel()
            await asyncio.gather(*helpers, *self.operations.values(), return_exceptions=True)
            metrics.websocket_closed()
            self._log(
                "websocket.disconnect",
                code=code,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )

    def _log(self, event: str, **fields: Any) -> None:
        client = self.scope.get("client")
        log.info(
            event,
            route="/graphql",
            request_id=self.request_id,
            client=client[0] if client else None,
            principal=None if self.principal is None else self.principal.id,
            **fields,
        )

    async def _raw(self, message: Message) -> None:
        # The server writes each message as one whole frame: the writer task and a close
        # need no lock between them (a close never waits behind a client that stopped
        # reading).
        await self._send(message)

    def send(self, message: Mapping[str, Any]) -> None:
        """Queue a protocol message (the writer sends it, in order)."""
        self._post(orjson.dumps(message).decode(), None, 0.0)

    def send_next(self, op_id: str, payload: str, change: Any = None) -> None:
        """Queue a ``next`` message of ``op_id`` whose payload is JSON already
        (``gateway.streams`` encodes an event's answer once for all its members); ``change``:
        the ``resolvers.live.Change`` it delivers."""
        text = f'{{"type":"next","id":{orjson.dumps(op_id).decode()},"payload":{payload}}}'
        if change is None:
            self._post(text, None, 0.0)
        else:
            self._post(text, change.topic, change.seen_at)

    def _post(self, text: str, topic: str | None, seen_at: float) -> None:
        if self.closed:
            return
        if len(self._outbox) >= OUTBOX_LIMIT:
            # Sending never waits for a slow reader (a stream's other members would wait
            # with it): one that falls this far behind is let go.
            self._outbox.clear()
            reason = f"The client read too slowly: {OUTBOX_LIMIT} messages behind"
            self._closing = asyncio.create_task(self.close(TOO_SLOW, reason))
            return
        self._outbox.append((text, topic, seen_at))
        self._pending.set()

    async def _write(self) -> None:
        """The socket's writer: the outbox sent in order, as fast as the client reads."""
        metrics = self.app._metrics
        outbox = self._outbox
        while True:
            await self._pending.wait()
            self._pending.clear()
            while outbox and not self.closed:
                text, topic, seen_at = outbox.popleft()
                with contextlib.suppress(OSError, RuntimeError):  # the client went away
                    await self._raw({"type": "websocket.send", "text": text})
                if topic is not None:
                    metrics.subscription_delivered(topic, time.time() - seen_at)

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError, RuntimeError):
            await self._raw({"type": "websocket.close", "code": code, "reason": reason})

    async def _next(self) -> dict[str, Any] | None:
        """The next protocol message; None when the client disconnected."""
        while True:
            message = await self.receive()
            kind = message["type"]
            if kind == "websocket.disconnect":
                return None
            if kind != "websocket.receive":
                continue
            data = message.get("text")
            if data is None:
                data = message.get("bytes")
            try:
                parsed = orjson.loads(data or b"")
            except orjson.JSONDecodeError:
                raise _Closed(BAD_MESSAGE, "Invalid message received: not JSON") from None
            if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
                raise _Closed(BAD_MESSAGE, "Invalid message received: no type")
            return parsed

    async def _initialise(self) -> None:
        try:
            async with asyncio.timeout(self.app.limits.init_timeout):
                message = await self._next()
        except TimeoutError:
            raise _Closed(INIT_TIMEOUT, "Connection initialisation timeout") from None
        if message is None:
            raise _Closed(1000, "")
        if message["type"] != "connection_init":
            if message["type"] == "subscribe":
                raise _Closed(UNAUTHORIZED, "Unauthorized")
            raise _Closed(BAD_MESSAGE, f"Invalid message received: {message['type'][:40]}")
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            raise _Closed(BAD_MESSAGE, "Invalid message received: the payload is not an object")
        self.principal = await self._authenticate(payload or {})
        if self.principal is not None:
            self._user_key = self.principal.key
        else:
            client = self.scope.get("client")
            self._user_key = f"ip:{client[0] if client else '-'}"
        self.scope.setdefault("state", {})["principal"] = self.principal
        self.scope["state"]["request_id"] = self.request_id
        self.acknowledged = True
        now = time.time()
        self._next_ping = now + self.app.limits.keepalive
        self._next_check = now + self.app.limits.auth_check_interval
        self.send({"type": "connection_ack"})
        self.app.watch()

    async def _authenticate(self, payload: Mapping[str, Any]) -> Principal | None:
        security = self.app._security
        authorization = payload.get("authorization", payload.get("Authorization"))
        token: str | None
        try:
            if isinstance(authorization, str):
                token = bearer_token(authorization)
            elif isinstance(payload.get("token"), str):
                token = payload["token"]
            else:
                token = bearer_token(header(self.scope, b"authorization"))
            if token is None:
                return None
            principal = security.verifier.verify(token)
            # The operations' upstream calls carry it, as an HTTP request's carry its header.
            headers = [(k, v) for k, v in self.scope["headers"] if k != b"authorization"]
            self.scope["headers"] = [*headers, (b"authorization", f"Bearer {token}".encode())]
        except InvalidToken as exc:
            audit.emit(audit.AUTHENTICATION_FAILED, audit.REFUSED, reason=exc.reason)
            raise _Closed(FORBIDDEN, "Forbidden: invalid token") from None
        if await security.is_revoked(principal.session_id):
            audit.emit(
                audit.AUTHENTICATION_FAILED, audit.REFUSED, principal=principal, reason="revoked"
            )
            raise _Closed(FORBIDDEN, "Forbidden: this session has ended")
        return principal

    async def tick(self, now: float) -> None:
        """The sweeper's visit (``GraphQLWebSocket._sweep``): a keep-alive ping when one is
        due; 4403 once the token has expired, or its session is revoked (checked every
        ``auth_check_interval``)."""
        if self.closed or not self.acknowledged:
            return
        limits = self.app.limits
        if now >= self._next_ping:
            self._next_ping = now + limits.keepalive
            self.send({"type": "ping"})
        principal = self.principal
        if principal is None:
            return
        if now >= principal.expires_at:
            await self.close(FORBIDDEN, "Forbidden: the token expired")
        elif now >= self._next_check:
            self._next_check = now + limits.auth_check_interval
            if await self.app._security.is_revoked(principal.session_id):
                audit.emit(
                    audit.AUTHENTICATION_FAILED,
                    audit.REFUSED,
                    principal=principal,
                    reason="revoked",
                )
                await self.close(FORBIDDEN, "Forbidden: this session has ended")

    async def _read(self) -> None:
        while not self.closed:
            message = await self._next()
            if message is None:
                return
            kind = message["type"]
            if kind == "ping":
                self.send({"type": "pong"})
            elif kind == "pong":
                continue
            elif kind == "connection_init":
                raise _Closed(TOO_MANY_INITS, "Too many initialisation requests")
            elif kind == "subscribe":
                await self._subscribe(message)
            elif kind == "complete":
                task = self.operations.pop(str(message.get("id")), None)
                if task is not None:
                    task.cancel()
            else:
                raise _Closed(BAD_MESSAGE, f"Invalid message received: {kind[:40]}")

    # -- operations ----------------------------------------------------------------------

    async def _subscribe(self, message: Mapping[str, Any]) -> None:
        key = message.get("id")
        payload = message.get("payload")
        if not isinstance(key, str) or not key or not isinstance(payload, dict):
            raise _Closed(BAD_MESSAGE, "Invalid message received: subscribe needs id and payload")
        if key in self.operations:
            raise _Closed(DUPLICATE, f"Subscriber for {key[:64]} already exists")
        limit = self._over_limit()
        if limit is not None:
            self._error(key, [GraphQLError(limit, extensions={"code": LIMIT_EXCEEDED})])
            return
        try:
            request = body_requests(payload, 1)
        except RequestRefused as exc:
            self._error(key, [GraphQLError(exc.reason, extensions={"code": exc.code})])
            return
        assert isinstance(request, GraphQLRequest)
        self._take_user()
        task = asyncio.create_task(self._run(key, request))
        self.operations[key] = task
        task.add_done_callback(lambda _: self._ended(key, task))

    def _ended(self, key: str, task: asyncio.Task[None]) -> None:
        if self.operations.get(key) is task:
            del self.operations[key]
        users = self.app._per_user
        users[self._user_key] -= 1
        if users[self._user_key] <= 0:
            del users[self._user_key]

    def _over_limit(self) -> str | None:
        limits = self.app.limits
        if len(self.operations) >= limits.max_per_connection:
            return (
                f"At most {limits.max_per_connection} operations run on one connection "
                "(TRACSEQ_MAX_SUBSCRIPTIONS_PER_CONNECTION): complete one first"
            )
        if self.app._per_user[self._user_key] >= limits.max_per_user:
            return (
                f"At most {limits.max_per_user} subscriptions run for one caller "
                "(TRACSEQ_MAX_SUBSCRIPTIONS_PER_USER): complete one first"
            )
        return None

    def _take_user(self) -> None:
        self.app._per_user[self._user_key] += 1

    def _error(self, key: str, errors: list[GraphQLError]) -> None:
        answer = self.app._endpoint.answer(None, errors)
        self.send({"type": "error", "id": key, "payload": answer["errors"]})

    async def _run(self, key: str, request: GraphQLRequest) -> None:
        endpoint = self.app._endpoint
        try:
            admitted = await endpoint.admit(request, self.scope, WEBSOCKET)
        except RequestRefused as exc:
            self._error(key, [GraphQLError(exc.reason, extensions={"code": exc.code})])
            return
        if not isinstance(admitted, Admitted):
            self.send({"type": "error", "id": key, "payload": admitted["errors"]})
            return
        metrics = self.app._metrics
        if admitted.operation_type == "subscription":
            await self.app.streams.follow(self, key, request, admitted)
        else:
            context = endpoint.context_of(self.scope)
            try:
                answer = await endpoint.execute(admitted, request, context)
            finally:
                context.loaders.release()
            outcome = (
                "success"
                if "errors" not in answer
                else "partial"
                if answer.get("data")
                else "error"
            )
            metrics.observe_operation(admitted.operation_name, admitted.operation_type, outcome)
            self.send({"type": "next", "id": key, "payload": answer})
        self.send({"type": "complete", "id": key})

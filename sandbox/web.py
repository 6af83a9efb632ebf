"""The HTTP plumbing shared by the seven sandbox services.

Each service is one ``ServiceApp``: a Starlette ``Router`` over the service's ``Route``
objects, with the real services' routing rules rather than Starlette's defaults: a path is
matched before its method (literal segments before parameters), a path that matches with
the wrong method is an empty-bodied 405 with ``allow``, an unknown path is an empty-bodied
404 (FastAPI's ``{"detail": ...}`` bodies for rag), no trailing-slash redirects, and a
malformed UUID in the path is a plain-text 400 before the handler runs.

Handlers raise two kinds of errors:

- ``Rejection``: what the web framework of a Rust service answers before the handler runs
  (plain text: 415 content type, 400 malformed JSON, 422 wrong JSON shape or enum spelling);
- ``ApiError``: a service-level error, rendered with that service's own error body.

Every app also answers the sandbox control endpoints under ``/_sandbox/`` (request counters
by route template, and fault injection); those requests are not counted.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.routing import Route as StarletteRoute
from starlette.routing import Router

_log = logging.getLogger(__name__)

RECENT_REQUESTS = 50

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_JSON = b"application/json"
_TEXT = b"text/plain; charset=utf-8"


def now_iso() -> str:
    """The current time as the services print it: RFC 3339 UTC with microseconds."""
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds and ``Z``, years zero-padded to four digits as chrono
    prints them (``strftime("%Y")`` would print year 999 as ``999``)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(value: str) -> datetime:
    """Parse an RFC 3339 timestamp (``Z`` or offset); naive values are taken as UTC."""
    moment = datetime.fromisoformat(value.strip().replace(" ", "+"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


class Response:
    """A complete response: status, body bytes and an optional content type."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: bytes | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(status, orjson.dumps(obj), _JSON)


def raw_json(body: bytes, status: int = 200) -> Response:
    """A response whose JSON body is already encoded (documents read from the store)."""
    return Response(status, body, _JSON)


def text_response(text: str, status: int) -> Response:
    return Response(status, text.encode(), _TEXT)


def empty_response(status: int) -> Response:
    return Response(status)


class Rejection(Exception):
    """A plain-text rejection by the web framework (axum extractors) before any handler."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class ApiError(Exception):
    """A service-level error; each service renders it with its own error body shape."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


ErrorRenderer = Callable[[ApiError], Response]


def parse_uuid(value: str) -> str | None:
    """The canonical lowercase form of a UUID string, or None when it is not one."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


class Request:
    """The little a handler needs: method, path parameters, query, headers and body."""

    __slots__ = ("_body", "_query", "method", "params", "path", "receive", "scope")

    def __init__(self, scope: Scope, receive: Receive, params: dict[str, str]) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.params = params
        self._query: dict[str, str] | None = None
        self._body: bytes | None = None

    @property
    def query(self) -> dict[str, str]:
        if self._query is None:
            raw = self.scope.get("query_string", b"").decode("latin-1")
            self._query = dict(parse_qsl(raw, keep_blank_values=True)) if raw else {}
        return self._query

    def header(self, name: bytes) -> str | None:
        for key, value in self.scope["headers"]:
            if key == name:
                return str(value.decode("latin-1"))
        return None

    async def body(self) -> bytes:
        if self._body is None:
            chunks: list[bytes] = []
            more = True
            while more:
                message = await self.receive()
                if message["type"] == "http.disconnect":
                    break
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            self._body = b"".join(chunks)
        return self._body

    async def json(self) -> dict[str, Any]:
        """The JSON object body, with the axum ``Json`` extractor's rejections."""
        content_type = (self.header(b"content-type") or "").split(";")[0].strip().lower()
        if not (content_type == "application/json" or content_type.endswith("+json")):
            raise Rejection(415, "Expected request with `Content-Type: application/json`")
        raw = await self.body()
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise Rejection(400, f"Failed to parse the request body as JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise Rejection(
                422,
                "Failed to deserialize the JSON body into the target type: "
                f"invalid type: {json_kind(value)}, expected a struct",
            )
        return value


Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Route:
    """One method on one path template; ``{name:uuid}`` parameters must parse as UUIDs."""

    method: str
    path: str
    handler: Handler


# ---------------------------------------------------------------------------------------------
# JSON body field validation with axum/serde's 422 wording


def json_kind(value: Any) -> str:
    """How serde names a JSON value's kind in its error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, list):
        return "sequence"
    return "map"


def _unprocessable(message: str) -> Rejection:
    return Rejection(422, f"Failed to deserialize the JSON body into the target type: {message}")


def _missing(body: dict[str, Any], name: str, required: bool) -> bool:
    if name not in body or body[name] is None:
        if required:
            raise _unprocessable(f"missing field `{name}`")
        return True
    return False


def opt_str(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    if _missing(body, name, required):
        return None
    value = body[name]
    if not isinstance(value, str):
        raise _unprocessable(f"{name}: invalid type: {json_kind(value)}, expected a string")
    return value


def req_number(body: dict[str, Any], name: str, *, integer: bool = False) -> float | int:
    value = opt_number(body, name, integer=integer, required=True)
    if value is None:
        raise _unprocessable(f"missing field `{name}`")
    return value


def req_str(body: dict[str, Any], name: str) -> str:
    value = opt_str(body, name, required=True)
    if value is None:
        raise _unprocessable(f"missing field `{name}`")
    return value


def opt_uuid(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = opt_str(body, name, required=required)
    if value is None:
        return None
    canonical = parse_uuid(value)
    if canonical is None:
        raise _unprocessable(f"{name}: UUID parsing failed: invalid UUID `{value}`")
    return canonical


def req_uuid(body: dict[str, Any], name: str) -> str:
    value = opt_uuid(body, name, required=True)
    if value is None:
        raise _unprocessable(f"missing field `{name}`")
    return value


def opt_enum(
    body: dict[str, Any], name: str, variants: Iterable[str], *, required: bool = False
) -> str | None:
    value = opt_str(body, name, required=required)
    if value is None:
        return None
    allowed = tuple(variants)
    if value not in allowed:
        expected = ", ".join(f"`{v}`" for v in allowed)
        raise _unprocessable(f"{name}: unknown variant `{value}`, expected one of {expected}")
    return value


def opt_number(
    body: dict[str, Any], name: str, *, integer: bool = False, required: bool = False
) -> float | int | None:
    if _missing(body, name, required):
        return None
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "an integer" if integer else "f64"
        raise _unprocessable(f"{name}: invalid type: {json_kind(value)}, expected {kind}")
    if integer and not isinstance(value, int):
        raise _unprocessable(f"{name}: invalid type: floating point `{value}`, expected i32")
    return value


def opt_bool(body: dict[str, Any], name: str) -> bool | None:
    if _missing(body, name, False):
        return None
    value = body[name]
    if not isinstance(value, bool):
        raise _unprocessable(f"{name}: invalid type: {json_kind(value)}, expected a boolean")
    return value


def opt_object(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    if _missing(body, name, False):
        return None
    value = body[name]
    if not isinstance(value, dict):
        raise _unprocessable(f"{name}: invalid type: {json_kind(value)}, expected a map")
    return value


def opt_list(body: dict[str, Any], name: str, *, required: bool = False) -> list[Any] | None:
    if _missing(body, name, required):
        return None
    value = body[name]
    if not isinstance(value, list):
        raise _unprocessable(f"{name}: invalid type: {json_kind(value)}, expected a sequence")
    return value


def opt_time(body: dict[str, Any], name: str) -> str | None:
    value = opt_str(body, name)
    if value is None:
        return None
    try:
        return iso(parse_time(value))
    except ValueError as exc:
        raise _unprocessable(f"{name}: input contains invalid characters") from exc


def query_int(
    req: Request, name: str, default: int, *, low: int = 1, high: int | None = None
) -> int:
    """An integer query parameter, clamped to [low, high]; garbage is axum's plain-text 400."""
    raw = req.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise Rejection(
            400, f"Failed to deserialize query string: {name}: invalid digit found in string"
        ) from exc
    value = max(low, value)
    return min(high, value) if high is not None else value


def query_time(req: Request, name: str) -> str | None:
    raw = req.query.get(name)
    if not raw:
        return None
    try:
        return iso(parse_time(raw))
    except ValueError as exc:
        raise Rejection(
            400, f"Failed to deserialize query string: {name}: premature end of input"
        ) from exc


def query_list(req: Request, name: str) -> list[str] | None:
    raw = req.query.get(name)
    if raw is None:
        return None
    return [part.strip() for part in raw.split(",") if part.strip()]


# ---------------------------------------------------------------------------------------------
# Faults and counters


@dataclass(slots=True)
class Fault:
    """Make matching requests answer ``status`` (0: drop the connection) after ``delay_ms``."""

    status: int | None
    times: int | None
    delay_ms: int
    methods: frozenset[str] | None
    path_prefix: str | None

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)

    def describe(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "times": self.times,
            "delay_ms": self.delay_ms,
            "methods": sorted(self.methods) if self.methods is not None else None,
            "path_prefix": self.path_prefix,
        }


def _parse_fault(body: Any) -> Fault:
    if not isinstance(body, dict):
        raise ValueError("fault must be a JSON object")
    status = body.get("status")
    times = body.get("times")
    delay = body.get("delay_ms") or 0
    methods = body.get("methods")
    prefix = body.get("path_prefix")
    if status is not None and (
        isinstance(status, bool)
        or not isinstance(status, int)
        or not (status == 0 or 100 <= status <= 599)
    ):
        raise ValueError("status must be null, 0 or an HTTP status code")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError("times must be null or a positive integer")
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise ValueError("delay_ms must be a non-negative number")
    if methods is not None and (
        not isinstance(methods, list) or not all(isinstance(m, str) for m in methods)
    ):
        raise ValueError("methods must be null or a list of strings")
    if prefix is not None and not isinstance(prefix, str):
        raise ValueError("path_prefix must be null or a string")
    if status is None and not delay:
        raise ValueError("a fault needs a status or a delay_ms")
    return Fault(
        status=status,
        times=times,
        delay_ms=int(delay),
        methods=frozenset(m.upper() for m in methods) if methods is not None else None,
        path_prefix=prefix,
    )


_STATUS_CODES = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    408: "timeout",
    409: "conflict",
    429: "resource_limit_exceeded",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def fault_error(status: int) -> ApiError:
    code = _STATUS_CODES.get(status, "injected_fault")
    return ApiError(status, code, f"Injected fault: HTTP {status}")


# ---------------------------------------------------------------------------------------------
# The app


_UUID_PARAM = re.compile(r"\{(\w+):uuid\}")


def _literal_first(path: str) -> tuple[int, ...]:
    """Sort key: at each segment a literal before a parameter, as axum matches."""
    return tuple(1 if part.startswith("{") else 0 for part in path.strip("/").split("/"))


# The Rust services' ``CorsLayer::permissive()`` marks every response and answers every
# OPTIONS itself; rag's Starlette CORS middleware acts only when the request has an Origin.
_CORS = {
    False: (
        (b"access-control-allow-origin", b"*"),
        (b"access-control-expose-headers", b"*"),
        (b"vary", b"origin, access-control-request-method, access-control-request-headers"),
    ),
    True: ((b"access-control-allow-origin", b"*"),),
}
_PREFLIGHT: dict[bool, Callable[[], Response]] = {
    False: lambda: Response(
        200,
        headers=[(b"access-control-allow-methods", b"*"), (b"access-control-allow-headers", b"*")],
    ),
    True: lambda: Response(
        200,
        b"OK",
        _TEXT,
        headers=[
            (b"access-control-allow-methods", b"DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT")
        ],
    ),
}


class _PathApp:
    """Every method of one path template: counts the request, applies faults, then runs the
    method's handler, or answers 405 (the path matched, the method did not, as in axum)."""

    def __init__(self, service: ServiceApp, path: str, handlers: dict[str, Handler]) -> None:
        self.service = service
        self.template = _UUID_PARAM.sub(r"{\1}", path)
        self.uuid_params = tuple(_UUID_PARAM.findall(path))
        self.handlers = handlers
        self.keys = {method: f"{method} {self.template}" for method in handlers}
        self.allow = ",".join(sorted(handlers)).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        key = self.keys.get(method) or f"{method} {self.template}"
        await self.service.serve(scope, receive, send, key, self._respond)

    async def _respond(self, scope: Scope, receive: Receive) -> Response:
        service = self.service
        method: str = scope["method"]
        handler = self.handlers.get(method)
        if handler is None:
            if service.fastapi:
                return json_response({"detail": "Method Not Allowed"}, 405)
            return Response(405, headers=[(b"allow", self.allow)])
        params = dict(scope.get("path_params", {}))
        for name in self.uuid_params:
            canonical = parse_uuid(params[name])
            if canonical is None:
                return service.malformed_path(name, params[name])
            params[name] = canonical
        try:
            return await handler(Request(scope, receive, params))
        except Rejection as exc:
            return text_response(exc.text, exc.status)
        except ApiError as exc:
            return service.render_error(exc)
        except Exception:
            _log.exception(
                "sandbox %s: unhandled error on %s %s", service.name, method, scope["path"]
            )
            return service.render_error(ApiError(500, "internal_error", "Internal server error"))


class ServiceApp:
    """One sandbox service as an ASGI app: a Starlette ``Router`` with one route per path
    template (literal segments before parameters), plus the ``/_sandbox/`` controls."""

    def __init__(
        self,
        name: str,
        routes: Iterable[Route],
        render_error: ErrorRenderer,
        *,
        fastapi: bool = False,
        malformed_path: Callable[[str, str], Response] | None = None,
    ) -> None:
        self.name = name
        self.render_error = render_error
        self.fastapi = fastapi
        self.malformed_path = malformed_path or _axum_malformed_path
        self.requests = 0
        self.by_route: dict[str, int] = {}
        # The last requests' ids and Authorization headers, so tests can check what a
        # caller forwarded; and the peak of concurrent requests, for bulkhead tests.
        self.recent: deque[dict[str, str | None]] = deque(maxlen=RECENT_REQUESTS)
        self.in_flight = 0
        self.max_in_flight = 0
        self.faults: list[Fault] = []
        # Streamed transfers of the /_sandbox/bytes and /_sandbox/echo endpoints, and how
        # many were abandoned by their client mid-way (tests of a proxy's cancellation).
        self.streams = {"started": 0, "completed": 0, "aborted": 0}
        by_path: dict[str, dict[str, Handler]] = {}
        for route in routes:
            by_path.setdefault(route.path, {})[route.method] = route.handler
        self.router = Router(
            routes=[
                StarletteRoute(
                    _UUID_PARAM.sub(r"{\1}", path), _PathApp(self, path, handlers), methods=None
                )
                for path, handlers in sorted(by_path.items(), key=lambda i: _literal_first(i[0]))
            ],
            redirect_slashes=False,
            default=self._unmatched,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        path: str = scope["path"]
        if path in ("/_sandbox/bytes", "/_sandbox/echo"):
            await self._stream_control(Request(scope, receive, {}), send)
            return
        if path.startswith("/_sandbox/"):
            response = await self._control(Request(scope, receive, {}))
            await _send(send, response)
            return
        await self.router(scope, receive, send)

    async def _unmatched(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def not_found(scope: Scope, receive: Receive) -> Response:
            return self._not_found()

        await self.serve(scope, receive, send, f"{scope['method']} (unmatched)", not_found)

    async def serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: str,
        respond: Callable[[Scope, Receive], Awaitable[Response]],
    ) -> None:
        """Count the request under ``key``, apply any matching fault, else answer it."""
        self.requests += 1
        self.by_route[key] = self.by_route.get(key, 0) + 1
        headers = dict(scope["headers"])
        self.recent.append(
            {
                "route": key,
                "request_id": _header_text(headers.get(b"x-request-id")),
                "authorization": _header_text(headers.get(b"authorization")),
            }
        )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.faults and await self._apply_fault(
                scope["method"], scope["path"], receive, send
            ):
                return
            preflight = scope["method"] == "OPTIONS" and (
                not self.fastapi or b"access-control-request-method" in headers
            )
            response = _PREFLIGHT[self.fastapi]() if preflight else await respond(scope, receive)
            if not self.fastapi or b"origin" in headers:
                response.headers = [*(response.headers or ()), *_CORS[self.fastapi]]
            await _send(send, response)
        finally:
            self.in_flight -= 1

    def _not_found(self) -> Response:
        if self.fastapi:
            return json_response({"detail": "Not Found"}, 404)
        return empty_response(404)

    async def _apply_fault(self, method: str, path: str, receive: Receive, send: Send) -> bool:
        """Apply the first matching fault; True when the request has been answered."""
        fault = next((f for f in self.faults if f.matches(method, path)), None)
        if fault is None:
            return False
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                self.faults.remove(fault)
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.status is None:
            return False
        if fault.status == 0:
            await _drop_connection(receive)
            return True
        await _send(send, self.render_error(fault_error(fault.status)))
        return True

    async def _control(self, req: Request) -> Response:
        route = (req.method, req.path.rstrip("/"))
        if route == ("GET", "/_sandbox/stats"):
            return json_response(
                {
                    "service": self.name,
                    "requests": self.requests,
                    "by_route": self.by_route,
                    "in_flight": self.in_flight,
                    "max_in_flight": self.max_in_flight,
                    "recent": list(self.recent),
                    "streams": dict(self.streams),
                }
            )
        if route == ("POST", "/_sandbox/stats/reset"):
            self.requests = 0
            self.by_route = {}
            self.recent.clear()
            self.max_in_flight = self.in_flight
            self.streams = {"started": 0, "completed": 0, "aborted": 0}
            return json_response({"requests": 0, "by_route": {}})
        if route == ("GET", "/_sandbox/faults"):
            return json_response({"faults": [f.describe() for f in self.faults]})
        if route == ("POST", "/_sandbox/faults"):
            try:
                fault = _parse_fault(orjson.loads(await req.body()))
            except (ValueError, orjson.JSONDecodeError) as exc:
                return json_response({"error": str(exc)}, 400)
            self.faults.append(fault)
            return json_response({"faults": [f.describe() for f in self.faults]})
        if route == ("DELETE", "/_sandbox/faults"):
            self.faults.clear()
            return json_response({"faults": []})
        return empty_response(404)

    async def _stream_control(self, req: Request, send: Send) -> None:
        """Sandbox-only endpoints for testing and benchmarking proxies; not counted.

        ``GET /_sandbox/bytes?n=N&chunk=65536&delay_ms=0`` streams N pattern bytes
        (``bytes(range(256))`` repeated) with a Content-Length. ``ANY /_sandbox/echo``
        reads the body chunk by chunk without keeping it and answers what it received:
        method, path, raw path, query, headers, body size and SHA-256; with ``?hop=1`` the
        answer also carries hop-by-hop headers that a proxy must drop, with ``?cookie=1``
        two ``Set-Cookie`` headers. Both count in
        ``streams`` and notice a client that goes away before the end.
        """
        self.streams["started"] += 1
        if req.path == "/_sandbox/bytes":
            done = await _stream_bytes(req, send)
        else:
            done = await _echo(req, send)
        self.streams["completed" if done else "aborted"] += 1


_PATTERN = bytes(range(256)) * 1024  # 256 KiB


async def _stream_bytes(req: Request, send: Send) -> bool:
    total = query_int(req, "n", 0, low=0)
    chunk = query_int(req, "chunk", 64 * 1024, high=len(_PATTERN))
    delay = query_int(req, "delay_ms", 0, low=0) / 1000
    gone = asyncio.Event()

    async def watch() -> None:
        while (await req.receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.create_task(watch())
    try:
        headers = [
            (b"content-length", str(total).encode()),
            (b"content-type", b"application/octet-stream"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        sent = 0
        while sent < total:
            if gone.is_set():
                return False
            size = min(chunk, total - sent)
            offset = sent % 256
            await send(
                {
                    "type": "http.response.body",
                    "body": _PATTERN[offset : offset + size],
                    "more_body": True,
                }
            )
            sent += size
            if delay:
                await asyncio.sleep(delay)
        await send({"type": "http.response.body", "body": b""})
        return not gone.is_set()
    finally:
        watcher.cancel()


async def _echo(req: Request, send: Send) -> bool:
    digest = hashlib.sha256()
    size = 0
    more = True
    while more:
        message = await req.receive()
        if message["type"] == "http.disconnect":
            return False
        body = message.get("body", b"")
        digest.update(body)
        size += len(body)
        more = message.get("more_body", False)
    answer = {
        "method": req.method,
        "path": req.path,
        "raw_path": req.scope.get("raw_path", b"").decode("latin-1"),
        "query": req.scope.get("query_string", b"").decode("latin-1"),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in req.scope["headers"]],
        "body_bytes": size,
        "sha256": digest.hexdigest(),
    }
    extra: list[tuple[bytes, bytes]] = []
    if req.query.get("hop"):
        extra = [
            (b"connection", b"x-hop-named"),
            (b"x-hop-named", b"must-not-pass"),
            (b"keep-alive", b"timeout=5"),
            (b"proxy-authenticate", b"Basic realm=sandbox"),
            (b"trailer", b"x-checksum"),
            (b"upgrade", b"h2c"),
            (b"x-end-to-end", b"kept"),
        ]
    if req.query.get("cookie"):
        extra += [(b"set-cookie", b"session=one; Path=/"), (b"set-cookie", b"theme=dark; Path=/")]
    await _send(send, Response(200, orjson.dumps(answer), _JSON, extra))
    return True


def _header_text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def uuid_error(value: str) -> str:
    """What the ``uuid`` crate says of a string that is not a UUID (UPSTREAMS.md)."""
    text = value
    for prefix in ("urn:uuid:",):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    offset = len(value) - len(text) - (1 if value.endswith("}") else 0)
    for index, char in enumerate(text):
        if char not in _HEX_OR_DASH:
            return (
                "invalid character: expected an optional prefix of `urn:uuid:` followed by "
                f"[0-9a-fA-F-], found `{char}` at {index + offset + 1}"
            )
    if "-" not in text:
        return f"invalid length: expected length 32 for simple format, found {len(text)}"
    groups = text.split("-")
    if len(groups) != len(_GROUPS):
        return f"invalid group count: expected 5, found {len(groups)}"
    for number, (group, expected) in enumerate(zip(groups, _GROUPS, strict=True)):
        if len(group) != expected:
            return (
                f"invalid group length in group {number}: expected {expected}, found {len(group)}"
            )
    return "failed to parse a UUID"


_HEX_OR_DASH = frozenset("0123456789abcdefABCDEF-")
_GROUPS = (8, 4, 4, 4, 12)


def _axum_malformed_path(name: str, value: str) -> Response:
    return text_response(f"Invalid URL: UUID parsing failed: {uuid_error(value)}", 400)


async def _send(send: Send, response: Response) -> None:
    headers = [(b"content-length", str(len(response.body)).encode())]
    if response.content_type is not None:
        headers.append((b"content-type", response.content_type))
    if response.headers:
        headers.extend(response.headers)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _drop_connection(receive: Receive) -> None:
    """Close the TCP connection without answering (a fault with status 0).

    ASGI has no way to say this, so reach uvicorn's transport through its bound ``receive``
    (both the httptools and h11 protocols keep it on the request cycle), abort it, and let
    the protocol notice the disconnect before the app returns.
    """
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("cannot drop the connection: transport not reachable")
    transport.abort()
    for _ in range(10):
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

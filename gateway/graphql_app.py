"""The /graphql endpoint: GraphQL over HTTP in raw ASGI, over prepared operations.

Per HTTP request: the media type is negotiated (``security.responses``), the request or
batch read off the query string or the body (JSON, or the GraphQL multipart request spec
for uploads; ``gateway.graphql_request``), and one ``Context`` built for it. Per GraphQL
request: a persisted query resolves to its document and its size is checked, the prepared
operation is looked up (``gateway.prepared``: parsed, validated, measured once), then the
bearer refusal, the operation limits, the rate-limit spend, the registration of a new
persisted document, and execution by graphql-core with the gateway's executor. Every error
is classified (``graph.errors.client_errors``) and the answer encoded with orjson.

The context's call carries the caller's role and the request's cache report
(``upstreams.cache.CacheReport``): an answer for which the response cache served an
expired entry carries ``extensions.cache`` = ``{"stale": [{service, kind, age}, ...]}``
(in a batch, the stale entries of the batch's operations so far), and the report's
freshness is the max-age of a persisted GET (``gateway.http_cache``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from hashlib import sha256
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

import orjson
import strawberry
from graphql import DocumentNode, ExecutionResult, Executor, GraphQLError, GraphQLSchema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send
from strawberry.file_uploads.utils import replace_placeholders_with_files
from strawberry.http.parse_content_type import parse_content_type

from gateway import http_cache
from gateway.graphiql import graphiql_page
from gateway.graphql_request import (
    BAD_REQUEST,
    NOT_ACCEPTABLE,
    UNSUPPORTED_MEDIA_TYPE,
    GraphQLRequest,
    RequestRefused,
    body_requests,
    query_string_request,
)
from gateway.observe import current_request
from gateway.prepared import Preparer, execute_prepared
from gateway.runtime import Runtime
from graph.errors import INTERNAL_SERVER_ERROR, RATE_LIMITED, client_errors
from resolvers.context import Context, HealthReports
from resolvers.live import Live
from resolvers.loaders import BatchHook
from security import audit
from security.authentication import CHALLENGE, bearer_problem, bearer_refusal
from security.operation import (
    LIMIT_EXCEEDED,
    ambiguity_error,
    document_violation,
    limit_error,
    spend_refusal,
)
from security.persisted import NOT_FOUND as PERSISTED_QUERY_NOT_FOUND
from security.persisted import PersistedQueryError
from security.responses import (
    GRAPHQL_RESPONSE_JSON,
    LEGACY_JSON,
    content_type_of,
    graphql_media_type,
    header,
    principal_of,
    request_error_body,
    state,
)
from security.runtime import SecurityRuntime
from security.threats import MESSAGE as THREAT_MESSAGE
from security.threats import THREAT_DETECTED
from upstreams.cache import CacheReport
from upstreams.config import CallContext

if TYPE_CHECKING:
    from gateway.tracing import Tracing

Answer = dict[str, Any]  # one GraphQL response: data, errors
WEBSOCKET = "websocket"  # the "method" of an operation sent over the WebSocket
_T = TypeVar("_T")

# Which operation types each method may run (GraphQL over HTTP: no mutation over GET).
_ALLOWED = {
    "GET": ("query",),
    "POST": ("query", "mutation"),
    WEBSOCKET: ("query", "mutation", "subscription"),
}
SUBSCRIPTIONS_OVER_WEBSOCKET = (
    "Subscriptions are served over a WebSocket on /graphql (the graphql-transport-ws "
    "protocol), not over HTTP"
)
_PLURALS = {"query": "queries", "mutation": "mutations", "subscription": "subscriptions"}
_HTML = b"text/html; charset=utf-8"


class _Reply:
    """What one GraphQL request of the batch sets on the HTTP answer: the 401 (and its
    challenge) of a refused bearer header."""

    __slots__ = ("headers", "status")

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: dict[bytes, bytes] = {}

    def unauthorized(self) -> None:
        self.status = 401
        self.headers[CHALLENGE[0]] = CHALLENGE[1]


@dataclass(frozen=True, slots=True)
class Admitted:
    """An operation cleared to run (``GraphQLEndpoint.admit``)."""

    document: DocumentNode
    operation_type: str
    shared: bool  # a subscription whose subscribers of one role may share an execution
    topic: str | None  # a subscription's topic (resolvers.live)
    operation_name: str | None  # as the metrics and the access log name it


class _Disconnected(Exception):
    """The client went away before its request body arrived."""


class GraphQLEndpoint:
    """The ASGI app of /graphql (see the module docstring)."""

    def __init__(
        self,
        schema: strawberry.Schema,
        *,
        runtime: Runtime,
        security: SecurityRuntime,
        request_timeout: float,
        default_page_size: int,
        max_page_size: int,
        cache_size: int,
        hide_suggestions: bool = False,
        on_batch: BatchHook | None = None,
        tracing: Tracing | None = None,
        health: HealthReports | None = None,
        live: Live | None = None,
    ) -> None:
        self._schema = schema._schema
        # The schema's executor (graph.execution.GatewayExecutor), so that a schema built
        # with graphql-core's own completion (the differential test) runs with it here too.
        self._executor_class = schema.execution_context_class
        self._security = security
        self._limits = security.config.limits
        self._preparer = Preparer(
            self._schema,
            limits=self._limits,
            introspection=security.config.introspection,
            size=cache_size,
            threats=security.threats,
        )
        self._hide_suggestions = hide_suggestions
        self._runtime = runtime
        self._request_timeout = request_timeout
        self._default_page_size = default_page_size
        self._max_page_size = max_page_size
        self._on_batch = on_batch
        self._tracing = tracing
        self._health = health
        self._live = live

    @property
    def preparer(self) -> Preparer:
        return self._preparer

    @property
    def schema(self) -> GraphQLSchema:
        return self._schema

    @property
    def executor_class(self) -> type[Executor]:
        return self._executor_class

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """GraphQL over HTTP: the answer's media type is negotiated from Accept (406 when
        it admits none, the GraphiQL page aside); a malformed request (bad JSON, a body
        that is not a request, too many batched operations, a mutation over GET) is
        answered with its status and a GraphQL error with a code, in that media type."""
        media_type = graphql_media_type(scope)
        method = scope["method"]
        params = _query_params(scope) if method == "GET" else {}
        ide = method == "GET" and _wants_ide(scope, params)
        try:
            if media_type is None and not ide:
                raise RequestRefused(
                    406,
                    f"Accept admits no media type of GraphQL responses: ask for "
                    f"{GRAPHQL_RESPONSE_JSON} or {LEGACY_JSON}",
                    NOT_ACCEPTABLE,
                )
            if method not in _ALLOWED:
                raise RequestRefused(
                    405,
                    "GraphQL only supports GET and POST requests.",
                    headers={"allow": "GET, POST"},
                )
            if ide:
                await _send(send, 200, graphiql_page().encode(), _HTML)
                return
            await self._serve(scope, receive, send, method, params, media_type or LEGACY_JSON)
        except RequestRefused as exc:
            await _refuse(send, exc, media_type or LEGACY_JSON)
        except _Disconnected:
            return

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        method: str,
        params: Mapping[str, str],
        media_type: str,
    ) -> None:
        form = None
        if method == "GET":
            requests: GraphQLRequest | list[GraphQLRequest] = query_string_request(params)
        else:
            content_type = _media_type(header(scope, b"content-type") or "")
            if content_type == "application/json":
                data = _decode(await _body(receive))
            elif content_type == "multipart/form-data":
                form, data = await _multipart(scope, receive)
            else:
                raise RequestRefused(
                    415,
                    "A GraphQL POST must be application/json (or multipart/form-data for uploads)",
                    UNSUPPORTED_MEDIA_TYPE,
                )
            requests = body_requests(data, self._limits.max_batch)
        try:
            context = self.context_of(scope)
            reply = _Reply()
            try:
                answers = await self._traced(
                    self._operations(requests, scope, method, context, reply)
                )
            finally:
                context.loaders.release()
        finally:
            if form is not None:
                await form.close()
        status = 200
        body: object
        if isinstance(answers, list):
            body = [_shaped(media_type, answer) for answer in answers]
        else:
            body = _shaped(media_type, answers)
            if media_type == GRAPHQL_RESPONSE_JSON and _is_request_error(answers):
                status, extra = _request_error_status(answers)
                reply.headers.update(extra)
        if reply.status is not None:
            status = reply.status
        headers = list(reply.headers.items())
        payload = orjson.dumps(body)
        validation = http_cache.validate(scope, requests, answers, status, payload, context.call)
        if validation is not None:
            if validation.not_modified:
                await http_cache.send_not_modified(send, validation.headers)
                return
            headers.extend(validation.headers)
        await _send(send, status, payload, content_type_of(media_type), headers)

    def context_of(self, scope: Scope) -> Context:
        """A request's (or a WebSocket operation's) context: its caller, deadline, loaders."""
        request_state = state(scope)
        principal = request_state.get("principal")
        call = CallContext(
            authorization=header(scope, b"authorization"),
            request_id=request_state.get("request_id"),
            deadline=time.monotonic() + self._request_timeout,
            role=getattr(principal, "role", None),
            cache=CacheReport(),
        )
        context = Context.create(
            self._runtime.upstreams,
            call,
            default_page_size=self._default_page_size,
            max_page_size=self._max_page_size,
            principal=principal,
            sessions=self._security.sessions,
            health=self._health,
            live=self._live,
        )
        context.loaders.on_batch = self._on_batch
        return context

    async def _traced(self, operations: Awaitable[_T]) -> _T:
        """``operations`` awaited in the tracing span of the operation, named after it."""
        tracing = self._tracing
        if tracing is None:
            return await operations
        with tracing.operation_span() as span:
            answers = await operations
            stats = current_request()
            if stats is not None and stats.operation_type is not None:
                name = stats.operation_name or "anonymous"
                span.update_name(f"{stats.operation_type} {name}")
                span.set_attribute("graphql.operation.type", stats.operation_type)
                span.set_attribute("graphql.operation.name", name)
            return answers

    async def _operations(
        self,
        requests: GraphQLRequest | list[GraphQLRequest],
        scope: Scope,
        method: str,
        context: Context,
        reply: _Reply,
    ) -> Answer | list[Answer]:
        if isinstance(requests, list):
            # Each operation of a batch runs in a task of its own, as the batch's answers do
            # not wait for each other's upstream calls.
            return list(
                await asyncio.gather(
                    *(self._operation(r, scope, method, context, reply) for r in requests)
                )
            )
        return await self._operation(requests, scope, method, context, reply)

    async def _operation(
        self,
        request: GraphQLRequest,
        scope: Scope,
        method: str,
        context: Context,
        reply: _Reply,
    ) -> Answer:
        """One GraphQL request: its answer, or ``RequestRefused`` for the whole HTTP
        request (no query, an operation name the document does not hold, a mutation over
        GET)."""
        admitted = await self.admit(request, scope, method, reply)
        if not isinstance(admitted, Admitted):
            return admitted
        return await self.execute(admitted, request, context)

    async def execute(
        self, admitted: Admitted, request: GraphQLRequest, context: Context
    ) -> Answer:
        """An admitted query or mutation, executed: its answer."""
        try:
            result = execute_prepared(
                self._schema,
                self._executor_class,
                admitted.document,
                context=context,
                variables=request.variables,
                operation_name=request.operation_name,
                extensions=request.extensions,
            )
            if isawaitable(result):
                result = await result
            assert isinstance(result, ExecutionResult)
        except Exception as exc:
            return self.answer(None, [GraphQLError(str(exc), original_error=exc)])
        return self.result_answer(result, context)

    def result_answer(self, result: ExecutionResult, context: Context) -> Answer:
        """An execution's answer, with the stale entries the cache served (the module
        docstring)."""
        answer = self.answer(result.data, result.errors)
        report = context.call.cache
        stale = report.extensions() if report is not None else None
        if stale is not None:
            answer["extensions"] = {"cache": stale}
        return answer

    async def admit(
        self, request: GraphQLRequest, scope: Scope, method: str, reply: _Reply | None = None
    ) -> Admitted | Answer:
        """Everything before execution, for HTTP and WebSocket alike: the persisted query
        resolved, the prepared operation, its type allowed for ``method``, the bearer
        refusal (``reply`` says 401), its limits, the rate-limit spend and the registration
        of a new persisted document. An ``Answer`` (errors) when it may not run;
        ``RequestRefused`` for a request that is no operation."""
        security = self._security
        query = request.query
        try:
            resolved = await security.persisted.resolve(query, request.extensions)
        except PersistedQueryError as exc:
            if exc.code != PERSISTED_QUERY_NOT_FOUND:  # the protocol's first step, not a refusal
                audit.emit(audit.PERSISTED_QUERY_REJECTED, audit.REFUSED, code=exc.code)
            return self.answer(None, [GraphQLError(exc.message, extensions={"code": exc.code})])
        query, registration = resolved.document, resolved.registration
        problem = query and document_violation(query, self._limits)
        if problem:
            audit.emit(audit.LIMIT_EXCEEDED, audit.REFUSED, problem=problem)
            return self.answer(None, [GraphQLError(problem, extensions={"code": LIMIT_EXCEEDED})])
        if not query:
            raise RequestRefused(400, "No GraphQL query found in the request")
        digest = resolved.digest or sha256(query.encode("utf-8")).hexdigest()
        prepared = self._preparer.prepare(digest, query, request.operation_name)
        if prepared.document is None:
            return self.answer(None, prepared.errors)
        operation_type = prepared.operation_type
        if operation_type is None:
            raise RequestRefused(400, prepared.unknown)
        if operation_type == "subscription" and method != WEBSOCKET:
            raise RequestRefused(400, SUBSCRIPTIONS_OVER_WEBSOCKET)
        if operation_type not in _ALLOWED[method]:
            raise RequestRefused(
                405,
                f"{_PLURALS[operation_type]} are not allowed when using {method}",
                headers={"allow": "POST"},
            )
        stats = current_request()
        if stats is not None:
            stats.operation_name = prepared.operation_name
            stats.operation_type = operation_type
        if prepared.operation_name:  # for the audit trail's lines
            state(scope)["operation"] = prepared.operation_name
        try:
            problem = bearer_problem(scope)
            if problem is not None and not prepared.public:
                if reply is not None:
                    reply.unauthorized()
                return self.answer(None, [bearer_refusal(problem)])
            if prepared.errors:
                if any(_code(e) == LIMIT_EXCEEDED for e in prepared.errors):
                    audit.emit(audit.LIMIT_EXCEEDED, audit.REFUSED, problem=prepared.errors[0])
                return self.answer(None, prepared.errors)
            if prepared.selected is None:
                return self.answer(None, [ambiguity_error()])
            measure, violation = self._preparer.measure(prepared, request.variables)
            if violation is not None:
                audit.emit(audit.LIMIT_EXCEEDED, audit.REFUSED, problem=violation)
                return self.answer(None, [limit_error(violation, measure.cost)])
            screen = prepared.screen
            if screen is not None:
                threats = security.threats
                found = screen.literal or threats.variables(screen, request.variables)
                if threats.refuses(found):
                    return self.answer(None, [threat_error()])
            decision = await security.spend(principal_of(scope), scope, measure.cost)
            refusal = spend_refusal(decision, measure.cost)
            if refusal is not None:
                return self.answer(None, [refusal])
            if registration is not None:
                await registration.perform()
        except Exception as exc:
            return self.answer(None, [GraphQLError(str(exc), original_error=exc)])
        return Admitted(
            prepared.document,
            operation_type,
            prepared.shared,
            prepared.topic,
            prepared.operation_name,
        )

    def answer(self, data: Any, errors: Any) -> Answer:
        """The answer as the client sees it, its outcome and error codes on the request's
        stats (the access log and metrics)."""
        stats = current_request()
        if not errors:
            if stats is not None:
                stats.operation_outcome = "success"
            return {"data": data}
        classified = client_errors(errors, hide_suggestions=self._hide_suggestions)
        if stats is not None:
            stats.operation_outcome = "error" if data is None else "partial"
            codes = {(e.extensions or {}).get("code") for e in classified}
            stats.error_codes = tuple(sorted(str(c) for c in codes if c))
        return {"data": data, "errors": [e.formatted for e in classified]}


def threat_error() -> GraphQLError:
    return GraphQLError(THREAT_MESSAGE, extensions={"code": THREAT_DETECTED})


def _code(error: GraphQLError) -> Any:
    return (error.extensions or {}).get("code")


def _query_params(scope: Scope) -> dict[str, str]:
    """A GET's query parameters (the last of a repeated one)."""
    query_string = scope.get("query_string", b"").decode("latin-1")
    return dict(parse_qsl(query_string, keep_blank_values=True))


def _media_type(content_type: str) -> str:
    """The media type of a Content-Type header (what Strawberry's parser reads, which the
    plain header needs not go through)."""
    if content_type == "application/json":
        return content_type
    media_type, _ = parse_content_type(content_type)
    return media_type


def _wants_ide(scope: Scope, params: Mapping[str, str]) -> bool:
    """A browser's GET of the GraphiQL page: no `query` (nor `extensions`: a GET naming a
    persisted query by hash carries no `query`, yet is an operation), HTML accepted."""
    if "query" in params or "extensions" in params:
        return False
    accept = header(scope, b"accept") or ""
    return "text/html" in accept or "*/*" in accept


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _decode(data: str | bytes) -> object:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise RequestRefused(400, "Unable to parse request body as JSON") from None


async def _multipart(scope: Scope, receive: Receive) -> tuple[Any, object]:
    """The GraphQL multipart request spec: ``operations`` with its files put in place by
    ``map``; a map that names a missing file or a path the operations do not hold is the
    client's mistake, refused with 400. Returns the form (to close once answered) and the
    operations."""
    try:
        form = await Request(scope, receive).form()
    except (ValueError, MultiPartException, StarletteHTTPException):
        raise RequestRefused(400, "Unable to parse the multipart body") from None
    try:
        operations = _multipart_json(form.get("operations"), "operations")
        files_map = _multipart_json(form.get("map"), "map")
        if not isinstance(files_map, dict) or not all(
            isinstance(paths, list) and all(isinstance(path, str) for path in paths)
            for paths in files_map.values()
        ):
            raise RequestRefused(400, "The multipart `map` must map each file to a list of paths")
        if not isinstance(operations, (dict, list)):
            return form, operations  # refused as what it is by ``body_requests``
        try:
            # A batch's operations are a list, which the placeholders walk handles alike.
            return form, replace_placeholders_with_files(operations, files_map, form)  # type: ignore[arg-type]
        except (KeyError, IndexError, TypeError, ValueError):
            raise RequestRefused(
                400, "The multipart `map` names a file or a path that the request does not hold"
            ) from None
    except BaseException:
        await form.close()
        raise


def _multipart_json(value: object, name: str) -> object:
    if not isinstance(value, str):
        raise RequestRefused(400, f"The multipart request needs the `{name}` field, as JSON")
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        raise RequestRefused(400, f"The multipart `{name}` field is not valid JSON") from None


def _is_request_error(answer: Answer) -> bool:
    """No operation ran: no data, and no error raised by a field (a field error has a
    path)."""
    errors = answer.get("errors") or []
    return (
        answer.get("data") is None
        and bool(errors)
        and not any(isinstance(e, dict) and "path" in e for e in errors)
    )


def _shaped(media_type: str, answer: Answer) -> Mapping[str, object]:
    """A request error in ``application/graphql-response+json`` has no ``data``; in legacy
    ``application/json`` it keeps ``"data": null``, what legacy clients expect (and what
    the graphql-http audit checks)."""
    if _is_request_error(answer):
        return request_error_body(media_type, answer)
    return answer


def _request_error_status(answer: Answer) -> tuple[int, dict[bytes, bytes]]:
    """The status of a request error in ``application/graphql-response+json``, by the code
    of its first error: a refused spend is a 429 with Retry-After, a fault of the gateway a
    500, anything else the client's 400. (Execution, with or without field errors, and a
    batch are 200s.)"""
    errors = answer.get("errors") or []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    extensions = first.get("extensions") or {}
    code = extensions.get("code")
    if code == RATE_LIMITED:
        retry = extensions.get("retryAfter")
        return 429, {b"retry-after": str(retry).encode()} if isinstance(retry, int) else {}
    if code == INTERNAL_SERVER_ERROR:
        return 500, {}
    return 400, {}


async def _refuse(send: Send, exc: RequestRefused, media_type: str) -> None:
    """A request refused before anything ran, as a GraphQL error with a code."""
    error = {"message": exc.reason, "extensions": {"code": exc.code or BAD_REQUEST}}
    body = orjson.dumps(request_error_body(media_type, {"errors": [error]}))
    headers = [(k.encode(), v.encode()) for k, v in exc.headers.items()]
    await _send(send, exc.status_code, body, content_type_of(media_type), headers)


async def _send(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", content_type),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

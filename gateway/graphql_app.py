"""The /graphql endpoint: Strawberry's ASGI view with our context, orjson and error logging."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.extensions import SchemaExtension
from strawberry.file_uploads.utils import replace_placeholders_with_files
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from gateway.graphiql import graphiql_page
from gateway.graphql_request import (
    BAD_REQUEST,
    NOT_ACCEPTABLE,
    UNSUPPORTED_MEDIA_TYPE,
    RequestRefused,
    body_requests,
    query_string_request,
)
from gateway.observe import current_request
from gateway.runtime import Runtime
from graph.errors import INTERNAL_SERVER_ERROR, RATE_LIMITED, classify
from resolvers.context import Context, HealthReports
from resolvers.loaders import BatchHook
from security.operation import LIMIT_EXCEEDED, document_violation
from security.persisted import PersistedQueryError, pending
from security.responses import (
    GRAPHQL_RESPONSE_JSON,
    LEGACY_JSON,
    content_type_of,
    graphql_media_type,
    request_error_body,
)
from security.runtime import SecurityRuntime
from upstreams.config import CallContext

if TYPE_CHECKING:
    from gateway.tracing import Tracing


class OperationInfo(SchemaExtension):
    """Puts the operation's name and type on the request's stats for the access log and
    metrics: one hook per operation, nothing per field."""

    def on_operation(self) -> Iterator[None]:
        yield
        stats = current_request()
        if stats is None:
            return
        ec = self.execution_context
        try:
            stats.operation_name = ec.operation_name
            stats.operation_type = ec.operation_type.value
        except Exception:  # no document (a syntax error) or no such operation
            stats.operation_type = "unknown"


class GatewayGraphQL(GraphQL[Context, None]):
    """Builds one typed ``Context`` per request; encodes responses with orjson."""

    def __init__(
        self,
        schema: Any,
        *,
        runtime: Runtime,
        request_timeout: float,
        default_page_size: int,
        max_page_size: int,
        on_batch: BatchHook | None = None,
        tracing: Tracing | None = None,
        security: SecurityRuntime | None = None,
        health: HealthReports | None = None,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql", multipart_uploads_enabled=True)
        self._security = security
        self._health = health
        self._runtime = runtime
        self._request_timeout = request_timeout
        self._default_page_size = default_page_size
        self._max_page_size = max_page_size
        self._on_batch = on_batch
        self._tracing = tracing
        self._max_batch = schema.config.batching_config["max_operations"]

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state = request.scope.get("state", {})
        call = CallContext(
            authorization=request.headers.get("authorization"),
            request_id=state.get("request_id"),
            deadline=time.monotonic() + self._request_timeout,
        )
        context = Context.create(
            self._runtime.upstreams,
            call,
            default_page_size=self._default_page_size,
            max_page_size=self._max_page_size,
            principal=state.get("principal"),
            sessions=None if self._security is None else self._security.sessions,
            health=self._health,
            request=request,
            response=response,
        )
        context.loaders.on_batch = self._on_batch
        return context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """GraphQL over HTTP: the answer's media type is negotiated from Accept (406 when
        it admits none, the GraphiQL page aside); a malformed request (bad JSON, a body
        that is not a request, too many batched operations, a mutation over GET) is
        answered with its status and a GraphQL error with a code, in that media type."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        media_type = graphql_media_type(scope)
        try:
            if media_type is None and not self.should_render_graphql_ide(request):
                raise RequestRefused(
                    406,
                    f"Accept admits no media type of GraphQL responses: ask for "
                    f"{GRAPHQL_RESPONSE_JSON} or {LEGACY_JSON}",
                    NOT_ACCEPTABLE,
                )
            response = await self.run(request)
        except HTTPException as exc:
            response = _refusal(exc, media_type or LEGACY_JSON, request.method)
        await response(scope, receive, send)

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Persisted queries resolve to their document here, and the document's size is
        checked, before Strawberry parses; a document sent with a new hash is registered
        only once its operation starts executing (``RegisterDocument``)."""
        registration = None
        if self._security is not None:
            try:
                resolved = await self._security.persisted.resolve(
                    request_data.query, request_data.extensions
                )
            except PersistedQueryError as exc:
                error = GraphQLError(exc.message, extensions={"code": exc.code})
                return ExecutionResult(data=None, errors=[error])
            request_data.query, registration = resolved.document, resolved.registration
            limits = self._security.config.limits
            problem = request_data.query and document_violation(request_data.query, limits)
            if problem:
                error = GraphQLError(problem, extensions={"code": LIMIT_EXCEEDED})
                return ExecutionResult(data=None, errors=[error])
        with pending(registration):
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        tracing = self._tracing
        if tracing is None:
            return await super().execute_operation(*args, **kwargs)
        with tracing.operation_span() as span:
            result = await super().execute_operation(*args, **kwargs)
            stats = current_request()
            if stats is not None and stats.operation_type is not None:
                name = stats.operation_name or "anonymous"
                span.update_name(f"{stats.operation_type} {name}")
                span.set_attribute("graphql.operation.type", stats.operation_type)
                span.set_attribute("graphql.operation.name", name)
            return result

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors and any("code" not in (e.extensions or {}) for e in result.errors):
            # Strawberry skips the extensions' operation exits when parsing fails inside
            # an extension (the parser cache): classify what the ErrorCodes hook missed.
            result.errors = [classify(e) for e in result.errors]
        stats = current_request()
        if stats is not None:
            errors = result.errors
            if not errors:
                stats.operation_outcome = "success"
            else:
                stats.operation_outcome = "error" if result.data is None else "partial"
                codes = {(e.extensions or {}).get("code") for e in errors}
                stats.error_codes = tuple(sorted(str(c) for c in codes if c))
        return await super().process_result(request, result)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        # The media type negotiated for this request, read back by ``create_response``.
        sub_response.media_type = graphql_media_type(request.scope) or LEGACY_JSON
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """The answer in the negotiated media type. A request error (no operation ran: a
        parse, validation or variable error, a limit, a refused spend) is a 4xx in
        ``application/graphql-response+json`` and has no ``data``; in legacy
        ``application/json`` it stays a 200 with ``"data": null``, what legacy clients
        expect (and what the graphql-http audit checks). Execution, with or without field
        errors, is a 200. A batch is a 200, each of its answers shaped as on its own."""
        media_type = sub_response.media_type or LEGACY_JSON
        status, headers = 200, dict[str, str]()
        if isinstance(response_data, list):
            body: object = [_shaped(media_type, answer) for answer in response_data]
        else:
            body = _shaped(media_type, response_data)
            if media_type == GRAPHQL_RESPONSE_JSON and _is_request_error(response_data):
                status, headers = _request_error_status(response_data)
        response = Response(self.encode_json(body), status_code=status, headers=headers)
        response.headers["content-type"] = content_type_of(media_type).decode()
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        if sub_response.status_code:
            response.status_code = sub_response.status_code
        return response

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The request or batch the HTTP request holds; anything else is refused (see
        ``gateway.graphql_request``)."""
        if request.method == "GET":
            return query_string_request(request.query_params)
        content_type, _ = parse_content_type(request.content_type or "")
        if content_type == "application/json":
            data = self.parse_json(await request.get_body())
        elif content_type == "multipart/form-data":
            data = await self.parse_multipart(request)
        else:
            raise RequestRefused(
                415,
                "A GraphQL POST must be application/json (or multipart/form-data for uploads)",
                UNSUPPORTED_MEDIA_TYPE,
            )
        return body_requests(data, self._max_batch)

    async def parse_multipart(self, request: AsyncHTTPRequestAdapter) -> Any:
        """The GraphQL multipart request spec: ``operations`` with its files put in place
        by ``map``; a map that names a missing file or a path the operations do not hold
        is the client's mistake, refused with 400."""
        try:
            form = await request.get_form_data()
        except (ValueError, MultiPartException, StarletteHTTPException):
            raise RequestRefused(400, "Unable to parse the multipart body") from None
        operations = self._multipart_json(form.form.get("operations"), "operations")
        files_map = self._multipart_json(form.form.get("map"), "map")
        if not isinstance(files_map, dict) or not all(
            isinstance(paths, list) and all(isinstance(path, str) for path in paths)
            for paths in files_map.values()
        ):
            raise RequestRefused(400, "The multipart `map` must map each file to a list of paths")
        if not isinstance(operations, (dict, list)):
            return operations  # refused as what it is by ``body_requests``
        try:
            # A batch's operations are a list, which the placeholders walk handles alike.
            return replace_placeholders_with_files(operations, files_map, form.files)  # type: ignore[arg-type]
        except (KeyError, IndexError, TypeError, ValueError):
            raise RequestRefused(
                400, "The multipart `map` names a file or a path that the request does not hold"
            ) from None

    def _multipart_json(self, value: object, name: str) -> object:
        if not isinstance(value, str):
            raise RequestRefused(400, f"The multipart request needs the `{name}` field, as JSON")
        try:
            return self.decode_json(value)
        except orjson.JSONDecodeError:
            raise RequestRefused(400, f"The multipart `{name}` field is not valid JSON") from None

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET naming a persisted query by hash carries no `query`, yet is an operation.
        return "extensions" not in request.query_params and bool(
            super().should_render_graphql_ide(request)
        )

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(graphiql_page())

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)


def _is_request_error(answer: GraphQLHTTPResponse) -> bool:
    """No operation ran: no data, and no error raised by a field (a field error has a
    path)."""
    errors = answer.get("errors") or []
    return (
        answer.get("data") is None
        and bool(errors)
        and not any(isinstance(e, dict) and "path" in e for e in errors)
    )


def _shaped(media_type: str, answer: GraphQLHTTPResponse) -> Mapping[str, object]:
    if _is_request_error(answer):
        return request_error_body(media_type, answer)
    return answer


def _request_error_status(answer: GraphQLHTTPResponse) -> tuple[int, dict[str, str]]:
    """The status of a request error, by the code of its first error: a refused spend is a
    429 with Retry-After, a fault of the gateway a 500, anything else the client's 400."""
    errors = answer.get("errors") or []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    extensions = first.get("extensions") or {}
    code = extensions.get("code")
    if code == RATE_LIMITED:
        retry = extensions.get("retryAfter")
        return 429, {"retry-after": str(retry)} if isinstance(retry, int) else {}
    if code == INTERNAL_SERVER_ERROR:
        return 500, {}
    return 400, {}


def _refusal(exc: HTTPException, media_type: str, method: str) -> Response:
    """A request refused before anything ran, as a GraphQL error with a code."""
    status, headers = exc.status_code, {}
    code = BAD_REQUEST
    if isinstance(exc, RequestRefused):
        code, headers = exc.code, exc.headers
    elif exc.status_code == 405:
        headers = {"allow": "GET, POST"}
    elif method == "GET" and isinstance(exc.__cause__, InvalidOperationTypeError):
        # A mutation over GET: the spec's 405, naming the method that would do.
        status, headers = 405, {"allow": "POST"}
    error = {"message": exc.reason, "extensions": {"code": code}}
    body = request_error_body(media_type, {"errors": [error]})
    response = Response(orjson.dumps(body), status_code=status, headers=headers)
    response.headers["content-type"] = content_type_of(media_type).decode()
    return response

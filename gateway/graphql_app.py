"""The /graphql endpoint: Strawberry's ASGI view with our context, orjson and error logging."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.extensions import SchemaExtension
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from gateway.graphiql import graphiql_page
from gateway.observe import current_request
from gateway.runtime import Runtime
from graph.errors import classify
from resolvers.context import Context, HealthReports
from resolvers.loaders import BatchHook
from security.operation import LIMIT_EXCEEDED, document_violation
from security.persisted import PersistedQueryError, pending
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
        """Strawberry answers a malformed request (bad JSON, too many batched operations,
        a mutation over GET) with a plain-text error; answer a GraphQL error with a code."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            code = LIMIT_EXCEEDED if exc.reason == "Too many operations" else "BAD_REQUEST"
            body = {"data": None, "errors": [{"message": exc.reason, "extensions": {"code": code}}]}
            response = Response(
                orjson.dumps(body), status_code=exc.status_code, media_type="application/json"
            )
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

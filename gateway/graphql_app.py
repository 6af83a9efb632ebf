"""The /graphql endpoint: Strawberry's ASGI view with our context, orjson and error logging."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from gateway.graphiql import graphiql_page
from gateway.runtime import Runtime
from resolvers.context import Context
from upstreams.config import CallContext


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
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql", multipart_uploads_enabled=False)
        self._runtime = runtime
        self._request_timeout = request_timeout
        self._default_page_size = default_page_size
        self._max_page_size = max_page_size

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state = request.scope.get("state", {})
        call = CallContext(
            authorization=request.headers.get("authorization"),
            request_id=state.get("request_id"),
            deadline=time.monotonic() + self._request_timeout,
        )
        return Context.create(
            self._runtime.upstreams,
            call,
            default_page_size=self._default_page_size,
            max_page_size=self._max_page_size,
            request=request,
            response=response,
        )

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(graphiql_page())

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

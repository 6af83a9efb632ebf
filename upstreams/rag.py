"""The rag service's client (UPSTREAMS.md, "## rag")."""

from __future__ import annotations

from upstreams.config import CallContext
from upstreams.services import Record, Service


class RagClient(Service):
    async def query(self, ctx: CallContext, query: str, *, session_id: str = "default") -> Record:
        body = {"query": query, "session_id": session_id}
        return await self.client.request(ctx, "POST", "/api/samples/rag/query", json=body)

    async def process(
        self,
        ctx: CallContext,
        filename: str,
        content: bytes,
        content_type: str = "application/octet-stream",
    ) -> Record:
        """Upload one lab submission document for extraction."""
        files = {"file": (filename, content, content_type)}
        return await self.client.request(ctx, "POST", "/api/rag/process", files=files)

    async def submissions(self, ctx: CallContext) -> Record:
        return await self.client.request(ctx, "GET", "/api/submissions")

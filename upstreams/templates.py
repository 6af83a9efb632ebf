"""The templates service's client (UPSTREAMS.md, "## templates").

The release's list ignores its query (always the 50 newest active templates), its PUT
replaces the stored metadata (where template_type, tags and is_public live), its clone is a
stub, its field PUT cannot clear a value, and every error is a bare status. The client
therefore exposes the routes as they are (``list`` sends no parameters, ``data`` is the one
view of the stored metadata); resolvers compose what the release cannot do in one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from upstreams.config import CallContext
from upstreams.services import (
    Ids,
    MaybeRecords,
    Page,
    Record,
    Records,
    Service,
    batched,
    fan_out,
    fan_out_ids,
    list_of,
    paged,
    pascal,
    seg,
)

# The release's one list page: LIMIT 50, newest first (its query string is ignored).
LIST_LIMIT = 50
# The fields of each template asked for (None for an unknown one).
FieldLists = list[Records | None]


class TemplatesClient(Service):
    _ENUMS = frozenset({"status", "field_type"})

    async def list(self, ctx: CallContext) -> Page:
        """The newest active templates (at most ``LIST_LIMIT``) and the count of all of them:
        the release takes no page, size or filter."""
        payload = await self.client.request(ctx, "GET", "/templates")
        return paged(
            payload,
            "templates",
            total="total_count",
            size="page_size",
            page=1,
            page_size=LIST_LIMIT,
        )

    async def get(self, ctx: CallContext, template_id: str) -> Record:
        return await self.client.request(ctx, "GET", f"/templates/{seg(template_id)}")

    async def data(self, ctx: CallContext, template_id: str) -> Record:
        """The template with its stored ``metadata`` (``GET /templates/{id}/data``)."""
        payload = await self.client.request(ctx, "GET", f"/templates/{seg(template_id)}/data")
        template = payload.get("template") if isinstance(payload, dict) else None
        return template if isinstance(template, dict) else {}

    async def get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        if not self.client.config.batch:
            return await fan_out_ids(self.client, ids, lambda i: self.get(ctx, i))

        async def fetch(chunk: Ids) -> Records:
            # [extension] GET /templates?ids=: the release would answer the 50 newest.
            payload = await self.client.request(
                ctx, "GET", "/templates", params={"ids": ",".join(chunk)}
            )
            return list_of(payload, "templates")

        return await batched(self.client, ids, fetch)

    async def data_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        """``data`` for each id (None for an unknown one): the release has no batch form."""
        return await fan_out_ids(self.client, ids, lambda i: self.data(ctx, i))

    async def fields(self, ctx: CallContext, template_id: str) -> Records:
        path = f"/templates/{seg(template_id)}/fields"
        return list_of(await self.client.request(ctx, "GET", path), "fields")

    async def fields_many(self, ctx: CallContext, template_ids: Sequence[str]) -> FieldLists:
        """The fields of each template, one call per distinct template (no batch route)."""
        return await fan_out(
            list(template_ids),
            lambda i: self.fields(ctx, i),
            width=self.client.config.bulkhead.max_concurrency,
        )

    async def create(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
        body = pascal(dict(data), self._ENUMS)
        return await self.client.request(ctx, "POST", "/templates", json=body)

    async def create_field(
        self, ctx: CallContext, template_id: str, data: Mapping[str, Any]
    ) -> Record:
        body = pascal(dict(data), self._ENUMS)
        path = f"/templates/{seg(template_id)}/fields"
        payload = await self.client.request(ctx, "POST", path, json=body)
        field = payload.get("field") if isinstance(payload, dict) else None
        return field if isinstance(field, dict) else {}

    async def update(self, ctx: CallContext, template_id: str, data: Mapping[str, Any]) -> Record:
        """PUT as the release takes it: ``metadata`` replaces the stored one (send it whole)."""
        body = pascal(dict(data), self._ENUMS)
        path = f"/templates/{seg(template_id)}"
        return await self.client.request(ctx, "PUT", path, json=body)

    async def delete(self, ctx: CallContext, template_id: str) -> Any:
        """Soft delete: the template leaves the list and its reads answer 404."""
        return await self.client.request(ctx, "DELETE", f"/templates/{seg(template_id)}")

    async def update_field(
        self, ctx: CallContext, template_id: str, field_id: str, data: Mapping[str, Any]
    ) -> Record:
        """PUT a field: each key given replaces the stored value, a null keeps it (COALESCE:
        a value cannot be cleared); 404 for a field that is not the template's."""
        body = pascal(dict(data), self._ENUMS)
        path = f"/templates/{seg(template_id)}/fields/{seg(field_id)}"
        payload = await self.client.request(ctx, "PUT", path, json=body)
        field = payload.get("field") if isinstance(payload, dict) else None
        return field if isinstance(field, dict) else {}

    async def delete_field(self, ctx: CallContext, template_id: str, field_id: str) -> Any:
        """DELETE a field (for good); 404 for a field that is not the template's."""
        path = f"/templates/{seg(template_id)}/fields/{seg(field_id)}"
        return await self.client.request(ctx, "DELETE", path)

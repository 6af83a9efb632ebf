"""The templates service's client (UPSTREAMS.md, "## templates").

The release's list ignores its query (always the 50 newest active templates), its PUT
replaces the stored metadata (where template_type, tags and is_public live), its clone is a
stub, its field PUT cannot clear a value, and every error is a bare status. The client
therefore exposes the routes as they are (``list`` sends no parameters, ``data`` is the one
view of the stored metadata); resolvers compose what the release cannot do in one call.

Templates by id (``get``, ``get_many``, ``data``, ``data_many``) and each template's fields
(``fields``, ``fields_many``) are reference reads, through the response cache; the list is
not (it is the newest templates, not a record).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from upstreams.config import CallContext
from upstreams.services import (
    Ids,
    MaybeRecords,
    Page,
    RawRead,
    Record,
    Records,
    Service,
    batched,
    cached,
    cached_many,
    canonical_id,
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
        return await cached(
            self.client, ctx, "template", canonical_id(template_id), self._raw_get(template_id)
        )

    async def data(self, ctx: CallContext, template_id: str) -> Record:
        """The template with its stored ``metadata`` (``GET /templates/{id}/data``)."""
        return await cached(
            self.client, ctx, "data", canonical_id(template_id), self._raw_data(template_id)
        )

    async def get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        return await cached_many(self.client, ctx, "template", ids, self._raw_get_many)

    async def data_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        """``data`` for each id (None for an unknown one): the release has no batch form."""

        async def fetch(call: CallContext, distinct: Ids) -> Sequence[Any]:
            return await fan_out_ids(self.client, distinct, lambda i: self._raw_data(i)(call))

        return await cached_many(self.client, ctx, "data", ids, fetch)

    async def fields(self, ctx: CallContext, template_id: str) -> Records:
        return await cached(
            self.client, ctx, "fields", canonical_id(template_id), self._raw_fields(template_id)
        )

    async def fields_many(self, ctx: CallContext, template_ids: Sequence[str]) -> FieldLists:
        """The fields of each template, one call per distinct template (no batch route)."""

        async def fetch(call: CallContext, distinct: Ids) -> Sequence[Any]:
            return await fan_out(
                distinct,
                lambda i: self._raw_fields(i)(call),
                width=self.client.config.bulkhead.max_concurrency,
            )

        return await cached_many(self.client, ctx, "fields", template_ids, fetch)

    # -- the raw reads the cache stores --------------------------------------------------

    def _raw_get(self, template_id: str) -> RawRead:
        async def read(call: CallContext) -> Any:
            return await self.client.request(
                call, "GET", f"/templates/{seg(template_id)}", raw=True
            )

        return read

    def _raw_data(self, template_id: str) -> RawRead:
        async def read(call: CallContext) -> Any:
            path = f"/templates/{seg(template_id)}/data"
            payload = await self.client.request(call, "GET", path, raw=True)
            template = payload.get("template") if isinstance(payload, dict) else None
            return template if isinstance(template, dict) else {}

        return read

    def _raw_fields(self, template_id: str) -> RawRead:
        async def read(call: CallContext) -> Any:
            path = f"/templates/{seg(template_id)}/fields"
            return list_of(await self.client.request(call, "GET", path, raw=True), "fields")

        return read

    async def _raw_get_many(self, call: CallContext, ids: Ids) -> Sequence[Any]:
        if not self.client.config.batch:
            return await fan_out_ids(self.client, ids, lambda i: self._raw_get(i)(call))

        async def fetch(chunk: Ids) -> Records:
            # [extension] GET /templates?ids=: the release would answer the 50 newest.
            payload = await self.client.request(
                call, "GET", "/templates", params={"ids": ",".join(chunk)}, raw=True
            )
            return list_of(payload, "templates")

        return await batched(self.client, ids, fetch)

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

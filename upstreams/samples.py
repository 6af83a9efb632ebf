"""The samples service's client (UPSTREAMS.md, "## samples").

The release's list answers 500 to any of its filters (its count query binds nothing), so
the filters are never sent: ``matching`` reads every page and filters here. Enums and
sample types are written in the service's own spelling (``InStorage``, ``Cell Culture``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from upstreams.config import CallContext
from upstreams.normalize import canonical, to_pascal
from upstreams.services import (
    Ids,
    MaybeRecords,
    Page,
    Record,
    Records,
    Service,
    batched,
    canonical_id,
    fan_out_ids,
    list_of,
    pascal,
    scan,
    seg,
)

# The release's exact list; any other spelling is a 400 validation_error.
SAMPLE_TYPES = (
    "DNA",
    "RNA",
    "Protein",
    "Cell Culture",
    "Tissue",
    "Blood",
    "Serum",
    "Plasma",
    "Urine",
    "Saliva",
    "Swab",
    "Environmental",
    "Other",
)
_TYPE_KEYS = {t.casefold().replace(" ", "_"): t for t in SAMPLE_TYPES}
# The list filters the gateway applies itself: the release's own (``status`` ...
# ``created_before``), and the ones it has no parameter for (``statuses``, ``sample_types``:
# any of several; ``ids``: among these samples; ``collected_after``/``collected_before``:
# the collection date, inclusive).
FILTERS = frozenset(
    {
        "status",
        "sample_type",
        "template_id",
        "search",
        "created_after",
        "created_before",
        "statuses",
        "sample_types",
        "ids",
        "collected_after",
        "collected_before",
    }
)
# The largest page the list serves.
MAX_PAGE_SIZE = 1000
# The most items one POST /samples/batch takes (SAMPLE_MAX_BATCH_SIZE).
MAX_BATCH = 100


def sample_type_name(value: str) -> str:
    """The service's own name of a sample type (``"cell_culture"`` → ``"Cell Culture"``);
    an unknown type is passed on for the service to reject."""
    key = value.strip().casefold().replace(" ", "_").replace("-", "_")
    return _TYPE_KEYS.get(key, value)


def _with_type(data: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(data)
    if isinstance(out.get("sample_type"), str):
        out["sample_type"] = sample_type_name(out["sample_type"])
    return out


def _moment(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _within(value: Any, after: datetime | None, before: datetime | None) -> bool:
    """Whether a record's instant lies in [after, before] (a missing one never does)."""
    if after is None and before is None:
        return True
    if not isinstance(value, datetime):
        return False
    return (after is None or value >= after) and (before is None or value <= before)


def _matcher(filters: Mapping[str, Any]) -> Any:
    """A predicate over canonical records: the release's filters as its SQL means them,
    and the ones the gateway adds."""
    statuses: set[str] | None = None
    if filters.get("status"):
        statuses = {canonical(str(filters["status"]))}
    if "statuses" in filters:
        wanted = {canonical(str(s)) for s in filters["statuses"]}
        statuses = wanted if statuses is None else statuses & wanted
    types: set[str] | None = None
    if "sample_type" in filters:
        types = {sample_type_name(str(filters["sample_type"]))}
    if "sample_types" in filters:
        wanted = {sample_type_name(str(t)) for t in filters["sample_types"]}
        types = wanted if types is None else types & wanted
    template_id = canonical_id(filters["template_id"]) if "template_id" in filters else None
    ids = {canonical_id(i) for i in filters["ids"]} if "ids" in filters else None
    search = str(filters["search"]).casefold() if "search" in filters else None
    created = [_moment(filters[k]) if k in filters else None for k in _CREATED]
    collected = [_moment(filters[k]) if k in filters else None for k in _COLLECTED]

    def matches(r: Record) -> bool:
        if statuses is not None and r.get("status") not in statuses:
            return False
        if types is not None and r.get("sample_type") not in types:
            return False
        if "template_id" in filters and canonical_id(r.get("template_id")) != template_id:
            return False
        if ids is not None and canonical_id(r.get("id")) not in ids:
            return False
        if search is not None and not (
            search in str(r.get("name") or "").casefold()
            or search in str(r.get("barcode") or "").casefold()
        ):
            return False
        return _within(r.get("created_at"), *created) and _within(
            r.get("collection_date"), *collected
        )

    return matches


_CREATED = ("created_after", "created_before")
_COLLECTED = ("collected_after", "collected_before")


class SamplesClient(Service):
    _ENUMS = frozenset({"status", "new_status"})

    async def get(self, ctx: CallContext, sample_id: str) -> Record:
        return await self.client.request(ctx, "GET", f"/samples/{seg(sample_id)}")

    async def get_by_barcode(self, ctx: CallContext, barcode: str) -> Record:
        path = f"/samples/barcode/{seg(barcode)}"
        return await self.client.request(ctx, "GET", path)

    async def page(self, ctx: CallContext, *, page: int = 1, page_size: int = 50) -> Page:
        """One page of every sample, newest first (the release pages correctly)."""
        params = {"page": page, "page_size": page_size}
        payload = await self.client.request(ctx, "GET", "/samples", params=params)
        return Page(
            items=list_of(payload, "samples"),
            total_count=int(payload.get("total_count", 0)),
            page=int(payload.get("page", page)),
            page_size=int(payload.get("page_size", page_size)),
        )

    async def matching(self, ctx: CallContext, **filters: Any) -> Records:
        """Every sample the filters admit, newest first: all pages read, filtered here."""
        unknown = set(filters) - FILTERS
        if unknown:
            raise TypeError(f"unknown sample filter(s): {', '.join(sorted(unknown))}")
        active = {k: v for k, v in filters.items() if v is not None}
        items = await scan(
            self.name,
            lambda number: self.page(ctx, page=number, page_size=MAX_PAGE_SIZE),
            max_items=self.max_scan_items,
        )
        if not active:
            return items
        matches = _matcher(active)
        return [r for r in items if matches(r)]

    async def list(
        self, ctx: CallContext, *, page: int = 1, page_size: int = 50, **filters: Any
    ) -> Page:
        """A page of samples; with filters, a page of ``matching``'s answer."""
        if not any(v is not None for v in filters.values()):
            return await self.page(ctx, page=page, page_size=page_size)
        items = await self.matching(ctx, **filters)
        start = (max(page, 1) - 1) * page_size
        return Page(
            items=items[start : start + page_size],
            total_count=len(items),
            page=page,
            page_size=page_size,
        )

    async def get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        if not self.client.config.batch:
            return await fan_out_ids(self.client, ids, lambda i: self.get(ctx, i))

        async def fetch(chunk: Ids) -> Records:
            params = {"ids": ",".join(chunk), "page": 1, "page_size": len(chunk)}
            return list_of(
                await self.client.request(ctx, "GET", "/samples", params=params), "samples"
            )

        return await batched(self.client, ids, fetch)

    async def create(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
        body = pascal(_with_type(data), self._ENUMS)
        return await self.client.request(ctx, "POST", "/samples", json=body)

    async def update(self, ctx: CallContext, sample_id: str, data: Mapping[str, Any]) -> Record:
        body = pascal(_with_type(data), self._ENUMS)
        path = f"/samples/{seg(sample_id)}"
        return await self.client.request(ctx, "PUT", path, json=body)

    async def change_status(
        self,
        ctx: CallContext,
        sample_id: str,
        new_status: str,
        *,
        reason: str | None = None,
    ) -> Record:
        body: dict[str, Any] = {"new_status": to_pascal(new_status)}
        if reason is not None:
            body["reason"] = reason
        path = f"/samples/{seg(sample_id)}/status"
        return await self.client.request(ctx, "PUT", path, json=body)

    async def delete(self, ctx: CallContext, sample_id: str) -> Any:
        return await self.client.request(ctx, "DELETE", f"/samples/{seg(sample_id)}")

    async def create_batch(self, ctx: CallContext, samples: Sequence[Mapping[str, Any]]) -> Record:
        """At most ``MAX_BATCH`` items; the release ignores a batch-level template id, so
        each item carries its own."""
        body = {"samples": pascal([_with_type(s) for s in samples], self._ENUMS)}
        return await self.client.request(ctx, "POST", "/samples/batch", json=body)

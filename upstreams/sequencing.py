"""The sequencing service's client (UPSTREAMS.md, "## sequencing").

The release's job list answers ``JobResponse`` summaries (no description, sample sheet,
creator or metadata), newest first, and ignores every filter: ``list`` sends only ``page``
and ``limit``, and ``scan`` reads every page for the gateway to filter itself. A job's
detail, status change and cancel answer the full job. A sample sheet answers the envelope
``{data: {entries, entry_count, sample_sheet, validation}, success}``; ``sample_sheet``
flattens it to the sheet with ``entries`` beside its own keys. The sample-sheet and
workflow lists answer 500 to any filter: ``sample_sheets`` and ``workflows`` send only
``page`` and ``page_size``.

Which samples a sheet lists (``sheet_samples``) is a reference read through the response
cache: the only link from a job to its samples, read for every list of samples with their
jobs. The sheets themselves (status, validation) are read live.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from upstreams.config import CallContext
from upstreams.errors import UpstreamBadResponse
from upstreams.normalize import canonical, to_pascal
from upstreams.services import (
    MAX_BATCH_IDS,
    Ids,
    MaybeRecords,
    Page,
    Record,
    Records,
    Service,
    batched,
    cached_many,
    chunks,
    fan_out_ids,
    list_of,
    paged,
    pascal,
    scan,
    seg,
    unique_ids,
)

# GET /jobs caps ``limit`` at this.
MAX_JOBS_PER_PAGE = 100
# GET /sample-sheets and GET /workflows cap ``page_size`` at this (0 panics the handler).
MAX_SHEETS_PER_PAGE = 100
MAX_WORKFLOWS_PER_PAGE = 100


def _data(payload: Any) -> dict[str, Any]:
    data = payload.get("data") if isinstance(payload, dict) else None
    return data if isinstance(data, dict) else {}


def _workflow(record: Record) -> Record:
    """``workflow_type`` travels PascalCase (serde's default) and is not one of
    ``normalize``'s enum keys: canonicalise it here."""
    kind = record.get("workflow_type")
    if isinstance(kind, str):
        record["workflow_type"] = canonical(kind)
    return record


def _data_page(payload: Any, key: str, *, page: int, page_size: int) -> Page:
    """A ``{data: {pagination: {total_count, page_size, page}, <key>: [...]}}`` list page."""
    return paged(
        _data(payload), key, total="total_count", size="page_size", page=page, page_size=page_size
    )


class SequencingClient(Service):
    _ENUMS = frozenset({"status", "priority"})

    async def list(self, ctx: CallContext, *, page: int = 1, limit: int = 50) -> Page:
        """One page of job summaries, newest first (the release has no list filters)."""
        params = {"page": page, "limit": limit}
        payload = await self.client.request(ctx, "GET", "/jobs", params=params)
        return paged(payload, "jobs", total="total", size="limit", page=page, page_size=limit)

    async def scan(self, ctx: CallContext) -> Records:
        """Every job summary, newest first (``UpstreamUnsupported`` past the scan limit)."""
        return await scan(
            self.name,
            lambda page: self.list(ctx, page=page, limit=MAX_JOBS_PER_PAGE),
            max_items=self.max_scan_items,
        )

    async def get(self, ctx: CallContext, job_id: str) -> Record:
        return await self.client.request(ctx, "GET", f"/jobs/{seg(job_id)}")

    async def get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        """Full jobs by id: ``GET /jobs?ids=`` [extension] when configured, else one GET each."""
        if not self.client.config.batch:
            return await fan_out_ids(self.client, ids, lambda i: self.get(ctx, i))

        async def fetch(chunk: Ids) -> Records:
            params = {"ids": ",".join(chunk)}  # a batch answers every match: no limit
            return list_of(await self.client.request(ctx, "GET", "/jobs", params=params), "jobs")

        return await batched(self.client, ids, fetch)

    async def jobs_with_samples(self, ctx: CallContext, sample_ids: Sequence[str]) -> Records:
        """[extension] ``GET /jobs?sample_ids=``: the full jobs whose sample sheet holds any of
        these samples (which job holds which sample, only the sheets say)."""
        jobs: dict[str, Record] = {}
        distinct = unique_ids(sample_ids)
        for chunk in chunks(distinct, min(self.client.config.batch_size, MAX_BATCH_IDS)):
            params = {"sample_ids": ",".join(chunk)}
            payload = await self.client.request(ctx, "GET", "/jobs", params=params)
            jobs.update((str(j.get("id")), j) for j in list_of(payload, "jobs"))
        return list(jobs.values())

    async def create(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
        """Create a job; the release answers its summary (JobResponse)."""
        body = pascal(dict(data), self._ENUMS)
        return await self.client.request(ctx, "POST", "/jobs", json=body)

    async def change_status(
        self, ctx: CallContext, job_id: str, status: str, *, notes: str | None = None
    ) -> Record:
        body: dict[str, Any] = {"status": to_pascal(status)}
        if notes is not None:
            body["notes"] = notes
        path = f"/jobs/{seg(job_id)}/status"
        return await self.client.request(ctx, "PUT", path, json=body)

    async def cancel(self, ctx: CallContext, job_id: str) -> Record:
        path = f"/jobs/{seg(job_id)}/cancel"
        return await self.client.request(ctx, "POST", path)

    async def sample_sheets(self, ctx: CallContext, *, page: int = 1, page_size: int = 20) -> Page:
        """One page of sample sheets (without entries), newest first; no filters (any answers
        500 on the release)."""
        params = {"page": page, "page_size": max(1, page_size)}
        payload = await self.client.request(ctx, "GET", "/sample-sheets", params=params)
        return _data_page(payload, "sample_sheets", page=page, page_size=max(1, page_size))

    async def sheet_samples(self, ctx: CallContext, sheet_ids: Sequence[str]) -> MaybeRecords:
        """For each sheet, aligned (None for an unknown one), ``{"entries": [{"sample_id"}]}``:
        the samples it lists, in its order, through the response cache (no batch route: one
        sheet read per missing id). Only ids: nothing in it to normalise."""

        async def fetch(call: CallContext, distinct: Ids) -> Sequence[Any]:
            return await fan_out_ids(self.client, distinct, lambda i: self._raw_entries(call, i))

        return await cached_many(self.client, ctx, "sheet_samples", sheet_ids, fetch, plain=True)

    async def _raw_entries(self, ctx: CallContext, sheet_id: str) -> Any:
        path = f"/sample-sheets/{seg(sheet_id)}"
        data = _data(await self.client.request(ctx, "GET", path, raw=True))
        if not isinstance(data.get("sample_sheet"), dict):
            raise UpstreamBadResponse(self.name, "The sample sheet answer has no sample_sheet")
        entries = data.get("entries")
        listed = entries if isinstance(entries, list) else []
        samples = [{"sample_id": e.get("sample_id")} for e in listed if isinstance(e, dict)]
        return {"entries": samples}

    async def create_sample_sheet(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
        """``POST /sample-sheets``; answers the new sheet (without entries)."""
        payload = await self.client.request(ctx, "POST", "/sample-sheets", json=dict(data))
        sheet = _data(payload)
        if "id" not in sheet:
            raise UpstreamBadResponse(self.name, "The sample sheet create answer has no sheet")
        return sheet

    async def workflows(self, ctx: CallContext, *, page: int = 1, page_size: int = 20) -> Page:
        """One page of workflow records, newest first; no filters (any answers 500)."""
        params = {"page": page, "page_size": max(1, page_size)}
        payload = await self.client.request(ctx, "GET", "/workflows", params=params)
        found = _data_page(payload, "workflows", page=page, page_size=max(1, page_size))
        for item in found.items:
            _workflow(item)
        return found

    async def workflow(self, ctx: CallContext, workflow_id: str) -> Record:
        """``GET /workflows/{id}``: the workflow record (its executions are left out)."""
        payload = await self.client.request(ctx, "GET", f"/workflows/{seg(workflow_id)}")
        workflow = _data(payload).get("workflow")
        if not isinstance(workflow, dict):
            raise UpstreamBadResponse(self.name, "The workflow answer has no workflow")
        return _workflow(workflow)

    async def sample_sheet(self, ctx: CallContext, sheet_id: str) -> Record:
        """The sheet's own keys plus ``entries``, ``entry_count`` and ``validation``."""
        path = f"/sample-sheets/{seg(sheet_id)}"
        payload = await self.client.request(ctx, "GET", path)
        data = payload.get("data") if isinstance(payload, dict) else None
        sheet = data.get("sample_sheet") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(sheet, dict):
            raise UpstreamBadResponse(self.name, "The sample sheet answer has no sample_sheet")
        entries = data.get("entries")
        return {
            **sheet,
            "entries": entries if isinstance(entries, list) else [],
            "entry_count": data.get("entry_count"),
            "validation": data.get("validation"),
        }

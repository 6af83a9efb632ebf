"""The sequencing service's client (UPSTREAMS.md, "## sequencing")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from upstreams.config import CallContext
from upstreams.normalize import to_pascal
from upstreams.services import (
    MAX_BATCH_IDS,
    Ids,
    JobsPerSample,
    MaybeRecords,
    Page,
    Record,
    Records,
    Service,
    batched,
    canonical_id,
    chunks,
    fan_out_ids,
    list_of,
    pascal,
    seg,
    unique_ids,
)


class SequencingClient(Service):
    _ENUMS = frozenset({"status", "priority"})

    async def list(
        self, ctx: CallContext, *, page: int = 1, limit: int = 50, **filters: Any
    ) -> Page:
        params: dict[str, Any] = {**filters, "page": page, "limit": limit}
        for key in ("status", "priority"):
            if isinstance(params.get(key), str):
                params[key] = to_pascal(params[key])
        payload = await self.client.request(ctx, "GET", "/jobs", params=params)
        pagination = payload.get("pagination", {}) if isinstance(payload, dict) else {}
        items = list_of(payload, "jobs")
        return Page(
            items=items,
            total_count=int(pagination.get("total", len(items))),
            page=int(pagination.get("page", page)),
            page_size=int(pagination.get("limit", limit)),
        )

    async def get(self, ctx: CallContext, job_id: str) -> Record:
        return await self.client.request(ctx, "GET", f"/jobs/{seg(job_id)}")

    async def get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        if not self.client.config.batch:
            return await fan_out_ids(self.client, ids, lambda i: self.get(ctx, i))

        async def fetch(chunk: Ids) -> Records:
            params = {"ids": ",".join(chunk)}  # a batch answers every match: no limit
            return list_of(await self.client.request(ctx, "GET", "/jobs", params=params), "jobs")

        return await batched(self.client, ids, fetch)

    async def jobs_for_samples(self, ctx: CallContext, sample_ids: Sequence[str]) -> JobsPerSample:
        """The jobs whose sample sheet holds each sample, aligned with ``sample_ids``.

        Uses the [extension] filter ``/jobs?sample_ids=``; when its answer lacks the
        ``sample_jobs`` index, the jobs' sample sheets say which job holds which sample.
        """
        distinct = unique_ids(sample_ids)
        by_sample: dict[str, dict[str, Record]] = {k: {} for k in distinct}
        for chunk in chunks(distinct, min(self.client.config.batch_size, MAX_BATCH_IDS)):
            params = {"sample_ids": ",".join(chunk)}
            payload = await self.client.request(ctx, "GET", "/jobs", params=params)
            jobs = {str(j.get("id")): j for j in list_of(payload, "jobs")}
            index = payload.get("sample_jobs") if isinstance(payload, dict) else None
            if not isinstance(index, dict):
                index = await self._index_by_sheets(ctx, jobs.values())
            for sample_id, job_ids in index.items():
                key = canonical_id(sample_id)
                if key in by_sample:
                    by_sample[key].update((j, jobs[j]) for j in job_ids if j in jobs)
        return [list(by_sample.get(canonical_id(i) or "", {}).values()) for i in sample_ids]

    async def _index_by_sheets(self, ctx: CallContext, jobs: Iterable[Record]) -> dict[str, Ids]:
        by_sheet: dict[str, Ids] = {}
        for job in jobs:
            if job.get("sample_sheet_id"):
                by_sheet.setdefault(str(job["sample_sheet_id"]), []).append(str(job["id"]))
        sheets = await fan_out_ids(self.client, list(by_sheet), lambda i: self.sample_sheet(ctx, i))
        index: dict[str, Ids] = {}
        for sheet_id, sheet in zip(by_sheet, sheets, strict=True):
            for entry in (sheet or {}).get("entries", []):
                index.setdefault(str(entry.get("sample_id")), []).extend(by_sheet[sheet_id])
        return index

    async def create(self, ctx: CallContext, data: Mapping[str, Any]) -> Record:
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

    async def sample_sheet(self, ctx: CallContext, sheet_id: str) -> Record:
        path = f"/sample-sheets/{seg(sheet_id)}"
        return await self.client.request(ctx, "GET", path)

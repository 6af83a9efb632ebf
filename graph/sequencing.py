"""Sequencing: jobs and their sample sheets.

Scalars are plain attributes; relations (sample sheet, samples, creator, assignee) resolve
through the request's DataLoaders (see ``resolvers.sequencing``).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.pagination import After, Before, Connection, First, Last, connection_args
from graph.permissions import requires
from graph.values import member
from resolvers import sequencing as sequencing_resolvers
from resolvers import storage as storage_resolvers
from resolvers.context import Context
from security import rbac

if TYPE_CHECKING:
    from graph.samples import Sample
    from graph.users import User

LazySample = Annotated["Sample", strawberry.lazy("graph.samples")]
LazyUser = Annotated["User", strawberry.lazy("graph.users")]


@strawberry.enum(description="Where a sequencing job is in its life cycle.")
class JobStatus(Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    VALIDATED = "validated"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ON_HOLD = "on_hold"


@strawberry.enum(description="How urgently a sequencing job should run, lowest first.")
class JobPriority(Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"
    CRITICAL = "critical"


async def _user(info: Info[Context, None], user_id: strawberry.ID | None) -> User | None:
    from graph.users import User

    if user_id is None:
        return None
    ctx = info.context
    record = await ctx.loaders.of(ctx.upstreams.auth.get_many).load(str(user_id))
    return None if record is None else User.from_record(record)


@strawberry.type(description="One sample's line of a sample sheet: its well and indexes.")
class SampleSheetEntry:
    sample_id: strawberry.ID = strawberry.field(
        description="The samples service's id of the sample (the sheet stores it as text)."
    )
    sample_name: str | None
    well: str | None
    plate: str | None
    project: str | None
    description: str | None
    lane: int | None = strawberry.field(description="Not recorded by the release: null.")
    index_i7: str | None = strawberry.field(description="The first index (index1).")
    index_i5: str | None = strawberry.field(description="The second index (index2).")

    @strawberry.field(description="The sample itself.")
    async def sample(self, info: Info[Context, None]) -> LazySample | None:
        from graph.samples import Sample

        records = await storage_resolvers.samples_by_id(info.context, [str(self.sample_id)])
        return Sample.from_record(records[0]) if records else None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> SampleSheetEntry:
        return cls(
            sample_id=strawberry.ID(str(r["sample_id"])),
            sample_name=r.get("sample_name"),
            well=r.get("sample_well"),
            plate=r.get("sample_plate"),
            project=r.get("project"),
            description=r.get("description"),
            lane=None,
            index_i7=r.get("index1"),
            index_i5=r.get("index2"),
        )


@strawberry.type(description="The plate layout of a sequencing run: which sample in which well.")
class SampleSheet:
    id: strawberry.ID
    name: str
    platform_id: strawberry.ID | None
    version: str | None = strawberry.field(description='The sheet format version ("1.0").')
    status: str | None = strawberry.field(
        description="draft, validating, validated, valid, invalid, in_use, generated or archived."
    )
    sample_count: int
    entries: list[SampleSheetEntry] = strawberry.field(
        description="Ordered by well. Bounded by the plate (at most a few hundred wells): "
        "a plain list."
    )
    created_by_id: strawberry.ID | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> SampleSheet:
        entries = [SampleSheetEntry.from_record(e) for e in r.get("entries") or ()]
        version = r.get("version")
        return cls(
            id=strawberry.ID(r["id"]),
            name=r.get("name") or "",
            platform_id=r.get("platform_id"),
            version=None if version is None else str(version),
            status=r.get("status"),
            sample_count=int(r.get("sample_count") or len(entries)),
            entries=entries,
            created_by_id=r.get("created_by"),
            created_at=r.get("created_at"),
            updated_at=r.get("updated_at"),
        )


@strawberry.type(
    description="A sequencing job: one run of a sample sheet on a platform. The job list "
    "answers summaries: the fields only the job's detail has load it (one batched call)."
)
class SequencingJob:
    id: strawberry.ID
    name: str
    status: JobStatus | None
    priority: JobPriority | None
    platform_id: strawberry.ID = strawberry.field(
        description="The platform's name (illumina_novaseq, illumina_hiseq, ion_torrent, "
        "nanopore): the release names platforms, it has no platform records."
    )
    platform_name: str | None = strawberry.field(description="The same name as platformId.")
    workflow_id: strawberry.ID | None = strawberry.field(
        description="A free workflow name (e.g. standard_wgs)."
    )
    estimated_completion: datetime | None
    created_at: datetime | None
    record: strawberry.Private[dict[str, Any]]

    async def _detail(self, info: Info[Context, None]) -> dict[str, Any]:
        if sequencing_resolvers.is_detail(self.record):
            return self.record
        detail = await sequencing_resolvers.job_detail(info.context, str(self.id))
        return self.record if detail is None else detail

    async def _id_of(self, info: Info[Context, None], key: str) -> strawberry.ID | None:
        value = (await self._detail(info)).get(key)
        return None if value is None else strawberry.ID(str(value))

    @strawberry.field
    async def description(self, info: Info[Context, None]) -> str | None:
        value: str | None = (await self._detail(info)).get("description")
        return value

    @strawberry.field
    async def sample_sheet_id(self, info: Info[Context, None]) -> strawberry.ID | None:
        return await self._id_of(info, "sample_sheet_id")

    @strawberry.field
    async def run_id(self, info: Info[Context, None]) -> str | None:
        value = (await self._detail(info)).get("run_id")
        return None if value is None else str(value)

    @strawberry.field(
        description="The creator's user id. The release records a random id for every job "
        "it creates (its create route does not read the caller)."
    )
    async def created_by_id(self, info: Info[Context, None]) -> strawberry.ID | None:
        return await self._id_of(info, "created_by")

    @strawberry.field
    async def assigned_to_id(self, info: Info[Context, None]) -> strawberry.ID | None:
        return await self._id_of(info, "assigned_to")

    @strawberry.field
    async def estimated_start(self, info: Info[Context, None]) -> datetime | None:
        value: datetime | None = (await self._detail(info)).get("estimated_start")
        return value

    @strawberry.field
    async def actual_start(self, info: Info[Context, None]) -> datetime | None:
        value: datetime | None = (await self._detail(info)).get("actual_start")
        return value

    @strawberry.field
    async def actual_completion(self, info: Info[Context, None]) -> datetime | None:
        value: datetime | None = (await self._detail(info)).get("actual_completion")
        return value

    @strawberry.field
    async def metadata(self, info: Info[Context, None]) -> JSON | None:
        return (await self._detail(info)).get("metadata")

    @strawberry.field
    async def updated_at(self, info: Info[Context, None]) -> datetime | None:
        value: datetime | None = (await self._detail(info)).get("updated_at")
        return value

    @strawberry.field(
        description="Who created the job (administrators).",
        permission_classes=[requires(rbac.ADMINISTER)],
    )
    async def created_by(self, info: Info[Context, None]) -> LazyUser | None:
        return await _user(info, await self._id_of(info, "created_by"))

    @strawberry.field(
        description="Who runs the job (administrators).",
        permission_classes=[requires(rbac.ADMINISTER)],
    )
    async def assigned_to(self, info: Info[Context, None]) -> LazyUser | None:
        return await _user(info, await self._id_of(info, "assigned_to"))

    @strawberry.field(description="The job's sample sheet, with wells and indexes.")
    async def sample_sheet(self, info: Info[Context, None]) -> SampleSheet | None:
        sheet_id = await self._id_of(info, "sample_sheet_id")
        if sheet_id is None:
            return None
        record = await sequencing_resolvers.sample_sheet(info.context, str(sheet_id))
        return None if record is None else SampleSheet.from_record(record)

    @strawberry.field(description="The samples on the job's sample sheet, in sheet order.")
    async def samples(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[LazySample] | None:
        from graph.samples import Sample

        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        sheet_id = await self._id_of(info, "sample_sheet_id")
        sheet = None
        if sheet_id is not None:
            sheet = await sequencing_resolvers.sample_sheet(ctx, str(sheet_id))
        ids = list(dict.fromkeys(str(e["sample_id"]) for e in (sheet or {}).get("entries", [])))
        page = await storage_resolvers.samples_of_ids(ctx, ids, request)
        return Connection.build(page, Sample.from_record)

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> SequencingJob:
        """From a full job or a list summary (the detail-only fields then load it)."""
        platform = r.get("platform_id")
        return cls(
            id=strawberry.ID(r["id"]),
            name=r.get("name") or "",
            status=member(JobStatus, r.get("status"), service="sequencing", field="status"),
            priority=member(JobPriority, r.get("priority"), service="sequencing", field="priority"),
            platform_id=strawberry.ID(str(platform)),
            platform_name=None if platform is None else str(platform),
            workflow_id=r.get("workflow_id"),
            estimated_completion=r.get("estimated_completion"),
            created_at=r.get("created_at"),
            record=r,
        )


SequencingJobConnection = Connection[SequencingJob]


@strawberry.input(description="Narrows the job list; every given condition must hold.")
class SequencingJobFilter:
    status: JobStatus | None = None
    priority: JobPriority | None = None
    platform: str | None = strawberry.field(
        default=None, description="A platform name (e.g. `illumina_novaseq`)."
    )


def _filters(f: SequencingJobFilter | None) -> dict[str, object]:
    if f is None:
        return {}
    values = {
        "status": f.status.value if f.status else None,
        "priority": f.priority.value if f.priority else None,
        "platform": f.platform,
    }
    return {k: v for k, v in values.items() if v is not None}


@strawberry.input(description="A new sequencing job.")
class SubmitSequencingJobInput:
    name: str
    platform_id: strawberry.ID = strawberry.field(
        description="A platform name: illumina_novaseq, illumina_hiseq, ion_torrent or "
        "nanopore (NOT_FOUND for another)."
    )
    workflow_id: strawberry.ID = strawberry.field(
        description="A workflow name, not checked by the service (e.g. standard_wgs)."
    )
    sample_sheet_id: strawberry.ID | None = None
    description: str | None = None
    priority: JobPriority = JobPriority.NORMAL
    estimated_start: datetime | None = None
    metadata: JSON | None = None
    draft: bool = strawberry.field(
        default=False, description="Keep the job in DRAFT instead of submitting it."
    )


@strawberry.input(description="Move a job to another status.")
class ChangeSequencingJobStatusInput:
    id: strawberry.ID
    status: JobStatus
    notes: str | None = None


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Sequencing jobs, newest first, as a cursor connection (`first` at most "
        "100). The release ignores the list's filters: with a filter the gateway reads every "
        "job and filters itself.",
    )
    async def sequencing_jobs(
        self,
        info: Info[Context, None],
        filter: SequencingJobFilter | None = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> SequencingJobConnection | None:
        ctx = info.context
        request = connection_args(
            ctx, first, after, last, before, maximum=sequencing_resolvers.MAX_JOBS_PER_PAGE
        )
        page = await sequencing_resolvers.jobs_page(ctx, request, _filters(filter))
        return SequencingJobConnection.build(page, SequencingJob.from_record)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="One sequencing job by id; null when there is none.",
    )
    async def sequencing_job(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> SequencingJob | None:
        record = await sequencing_resolvers.job(info.context, id)
        return None if record is None else SequencingJob.from_record(record)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[requires(rbac.SUBMIT_SEQUENCING)],
        description="Create a sequencing job and submit it (or keep a draft).",
    )
    async def submit_sequencing_job(
        self, info: Info[Context, None], input: SubmitSequencingJobInput
    ) -> SequencingJob | None:
        data = {
            "name": input.name,
            "description": input.description,
            "priority": input.priority.value,
            "platform_id": input.platform_id,
            "workflow_id": input.workflow_id,
            "sample_sheet_id": input.sample_sheet_id,
            "estimated_start": input.estimated_start.isoformat() if input.estimated_start else None,
            "metadata": input.metadata,
        }
        record = await sequencing_resolvers.submit(info.context, data, draft=input.draft)
        return SequencingJob.from_record(record)

    @strawberry.mutation(
        permission_classes=[requires(rbac.SUBMIT_SEQUENCING)],
        description="Move a job to another status (not out of a final one).",
    )
    async def change_sequencing_job_status(
        self, info: Info[Context, None], input: ChangeSequencingJobStatusInput
    ) -> SequencingJob | None:
        record = await sequencing_resolvers.change_status(
            info.context, input.id, input.status.value, input.notes
        )
        return SequencingJob.from_record(record)

    @strawberry.mutation(
        permission_classes=[requires(rbac.AUTHENTICATED)],
        description="Cancel a job that has not finished.",
    )
    async def cancel_sequencing_job(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> SequencingJob | None:
        # Principal investigators and administrators may cancel any job; others their own.
        any_job = rbac.allows(rbac.CANCEL_SEQUENCING, info.context.principal)
        record = await sequencing_resolvers.cancel(info.context, id, any_job=any_job)
        return SequencingJob.from_record(record)

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

from graph.pagination import Connection, window
from graph.permissions import requires
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


def _enum(enum: type[Enum], value: Any) -> Any:
    """The member for a record's value, or None when the service sent one we do not know."""
    try:
        return None if value is None else enum(value)
    except ValueError:
        return None


async def _user(info: Info[Context, None], user_id: strawberry.ID | None) -> User | None:
    from graph.users import User

    if user_id is None:
        return None
    ctx = info.context
    record = await ctx.loaders.of(ctx.upstreams.auth.get_many).load(str(user_id))
    return None if record is None else User.from_record(record)


@strawberry.type(description="One sample's line of a sample sheet: its well and indexes.")
class SampleSheetEntry:
    sample_id: strawberry.ID
    sample_name: str | None
    well: str | None
    lane: int | None
    index_i7: str | None
    index_i5: str | None

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
            well=r.get("well"),
            lane=r.get("lane"),
            index_i7=r.get("index_i7"),
            index_i5=r.get("index_i5"),
        )


@strawberry.type(description="The plate layout of a sequencing run: which sample in which well.")
class SampleSheet:
    id: strawberry.ID
    name: str
    platform_id: strawberry.ID | None
    version: int | None
    status: str | None = strawberry.field(description="draft or validated.")
    sample_count: int
    entries: list[SampleSheetEntry] = strawberry.field(
        description="Bounded by the plate (at most a few hundred wells): a plain list."
    )
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> SampleSheet:
        entries = [SampleSheetEntry.from_record(e) for e in r.get("entries") or ()]
        return cls(
            id=strawberry.ID(r["id"]),
            name=r.get("name") or "",
            platform_id=r.get("platform_id"),
            version=r.get("version"),
            status=r.get("status"),
            sample_count=int(r.get("sample_count") or len(entries)),
            entries=entries,
            created_at=r.get("created_at"),
            updated_at=r.get("updated_at"),
        )


@strawberry.type(description="A sequencing job: one run of a sample sheet on a platform.")
class SequencingJob:
    id: strawberry.ID
    name: str
    description: str | None
    status: JobStatus | None
    priority: JobPriority | None
    platform_id: strawberry.ID
    platform_name: str | None
    workflow_id: strawberry.ID | None
    sample_sheet_id: strawberry.ID | None
    run_id: str | None
    created_by_id: strawberry.ID | None
    assigned_to_id: strawberry.ID | None
    estimated_start: datetime | None
    estimated_completion: datetime | None
    actual_start: datetime | None
    actual_completion: datetime | None
    metadata: JSON | None
    created_at: datetime | None
    updated_at: datetime | None

    @strawberry.field(
        description="Who created the job (administrators).",
        permission_classes=[requires(rbac.ADMINISTER)],
    )
    async def created_by(self, info: Info[Context, None]) -> LazyUser | None:
        return await _user(info, self.created_by_id)

    @strawberry.field(
        description="Who runs the job (administrators).",
        permission_classes=[requires(rbac.ADMINISTER)],
    )
    async def assigned_to(self, info: Info[Context, None]) -> LazyUser | None:
        return await _user(info, self.assigned_to_id)

    @strawberry.field(description="The job's sample sheet, with wells and indexes.")
    async def sample_sheet(self, info: Info[Context, None]) -> SampleSheet | None:
        if self.sample_sheet_id is None:
            return None
        record = await sequencing_resolvers.sample_sheet(info.context, str(self.sample_sheet_id))
        return None if record is None else SampleSheet.from_record(record)

    @strawberry.field(description="The samples on the job's sample sheet, in sheet order.")
    async def samples(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[LazySample] | None:
        from graph.samples import Sample

        ctx = info.context
        win = window(first, after, default=ctx.default_page_size, maximum=ctx.max_page_size)
        sheet = None
        if self.sample_sheet_id is not None:
            sheet = await sequencing_resolvers.sample_sheet(ctx, str(self.sample_sheet_id))
        ids = list(dict.fromkeys(str(e["sample_id"]) for e in (sheet or {}).get("entries", [])))
        records = await storage_resolvers.samples_by_id(
            ctx, ids[win.offset : win.offset + win.first]
        )
        return Connection.build([Sample.from_record(r) for r in records], win, len(ids))

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> SequencingJob:
        metadata = r.get("metadata")
        return cls(
            id=strawberry.ID(r["id"]),
            name=r.get("name") or "",
            description=r.get("description"),
            status=_enum(JobStatus, r.get("status")),
            priority=_enum(JobPriority, r.get("priority")),
            platform_id=strawberry.ID(str(r.get("platform_id"))),
            platform_name=metadata.get("platform_name") if isinstance(metadata, dict) else None,
            workflow_id=r.get("workflow_id"),
            sample_sheet_id=r.get("sample_sheet_id"),
            run_id=r.get("run_id"),
            created_by_id=r.get("created_by"),
            assigned_to_id=r.get("assigned_to"),
            estimated_start=r.get("estimated_start"),
            estimated_completion=r.get("estimated_completion"),
            actual_start=r.get("actual_start"),
            actual_completion=r.get("actual_completion"),
            metadata=metadata,
            created_at=r.get("created_at"),
            updated_at=r.get("updated_at"),
        )


SequencingJobConnection = Connection[SequencingJob]


@strawberry.input(description="Narrows the job list; every given condition must hold.")
class SequencingJobFilter:
    status: JobStatus | None = None
    priority: JobPriority | None = None
    platform: str | None = strawberry.field(
        default=None, description="A platform id or name (e.g. `NovaSeq 6000`)."
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
    platform_id: strawberry.ID
    workflow_id: strawberry.ID
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
        description="Sequencing jobs, newest first, as a cursor connection (`first` at most 100).",
    )
    async def sequencing_jobs(
        self,
        info: Info[Context, None],
        filter: SequencingJobFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> SequencingJobConnection | None:
        ctx = info.context
        maximum = min(ctx.max_page_size, sequencing_resolvers.MAX_JOBS_PER_PAGE)
        win = window(first, after, default=min(ctx.default_page_size, maximum), maximum=maximum)
        items, total = await sequencing_resolvers.jobs_page(ctx, win, _filters(filter))
        return SequencingJobConnection.build(
            [SequencingJob.from_record(r) for r in items], win, total
        )

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
    ) -> SequencingJob:
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
    ) -> SequencingJob:
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
    ) -> SequencingJob:
        # Principal investigators and administrators may cancel any job; others their own.
        any_job = rbac.allows(rbac.CANCEL_SEQUENCING, info.context.principal)
        record = await sequencing_resolvers.cancel(info.context, id, any_job=any_job)
        return SequencingJob.from_record(record)

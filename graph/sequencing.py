"""Sequencing: jobs, their sample sheets, the platforms and workflows a job names.

Scalars of the record already loaded are plain attributes; what needs another call (a
list summary's detail-only fields, the sample sheet, samples, creator, assignee) is a
nullable field that resolves through the request's DataLoaders (``resolvers.sequencing``).
Fields the release always sends (UPSTREAMS.md, "## sequencing": the non-optional members
of ``SequencingJob``/``JobResponse``, ``SampleSheet`` and ``SampleSheetEntry``) are
non-null; a value the schema cannot represent (an unknown status) is that field's
UPSTREAM_BAD_RESPONSE error, never a null.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.live import event_values, watched_ids
from graph.nodes import Node, register
from graph.ordering import OrderDirection
from graph.pagination import (
    After,
    Before,
    Connection,
    First,
    First100,
    Last,
    Last100,
    connection_args,
)
from graph.payloads import UserError, attempt, user_errors_field
from graph.permissions import refusal, requires
from graph.values import member, required
from resolvers import sequencing as sequencing_resolvers
from resolvers import storage as storage_resolvers
from resolvers.context import Context
from resolvers.errors import BadUserInput, parse_id
from resolvers.live import JOBS, Change, Watch, changes
from security import rbac

if TYPE_CHECKING:
    from graph.samples import Sample
    from graph.users import Person

LazySample = Annotated["Sample", strawberry.lazy("graph.samples")]
LazyPerson = Annotated["Person", strawberry.lazy("graph.users")]

SERVICE = "sequencing"


@strawberry.enum(description="Where a sequencing job is in its life cycle.")
class JobStatus(Enum):
    DRAFT = strawberry.enum_value(
        "draft", description="Created and not yet submitted (`submitSequencingJob` submits it)."
    )
    SUBMITTED = strawberry.enum_value("submitted", description="Submitted, awaiting validation.")
    VALIDATED = strawberry.enum_value("validated", description="Checked and ready to queue.")
    QUEUED = strawberry.enum_value("queued", description="Waiting for an instrument.")
    RUNNING = strawberry.enum_value("running", description="On the instrument now.")
    COMPLETED = strawberry.enum_value("completed", description="Finished successfully (final).")
    FAILED = strawberry.enum_value("failed", description="The run failed; it may be re-queued.")
    CANCELLED = strawberry.enum_value("cancelled", description="Cancelled (final).")
    ON_HOLD = strawberry.enum_value(
        "on_hold", description="Paused before running; it may be re-queued."
    )


@strawberry.enum(
    description="How urgently a sequencing job should run, lowest first: the sequencing "
    "service's five-step scale (LOW < NORMAL < HIGH < URGENT < CRITICAL). It is not the "
    "notifications' `NotificationPriority` scale (LOW, MEDIUM, HIGH, CRITICAL, URGENT), "
    "whose steps and order differ."
)
class JobPriority(Enum):
    LOW = strawberry.enum_value("low", description="Lowest: run when nothing else waits.")
    NORMAL = strawberry.enum_value("normal", description="The usual priority (the default).")
    HIGH = strawberry.enum_value("high", description="Ahead of normal jobs.")
    URGENT = strawberry.enum_value("urgent", description="Ahead of high jobs.")
    CRITICAL = strawberry.enum_value("critical", description="Highest: run first.")


@strawberry.enum(
    description="A sequencing platform a job can run on. The release has no platform "
    "records: it accepts exactly these four names (and answers 404 `Platform not found` to "
    "any other)."
)
class SequencingPlatform(Enum):
    ILLUMINA_NOVASEQ = strawberry.enum_value(
        "illumina_novaseq", description="Illumina NovaSeq (`illumina_novaseq` on the wire)."
    )
    ILLUMINA_HISEQ = strawberry.enum_value(
        "illumina_hiseq", description="Illumina HiSeq (`illumina_hiseq` on the wire)."
    )
    ION_TORRENT = strawberry.enum_value(
        "ion_torrent", description="Ion Torrent (`ion_torrent` on the wire)."
    )
    NANOPORE = strawberry.enum_value(
        "nanopore", description="Oxford Nanopore (`nanopore` on the wire)."
    )


@strawberry.enum(description="Where a sample sheet is in its life cycle.")
class SampleSheetStatus(Enum):
    DRAFT = strawberry.enum_value("draft", description="Created, not yet validated.")
    VALIDATING = strawberry.enum_value("validating", description="Being validated.")
    VALIDATED = strawberry.enum_value("validated", description="Validation found no error.")
    VALID = strawberry.enum_value("valid", description="Marked valid.")
    INVALID = strawberry.enum_value("invalid", description="Validation found errors.")
    IN_USE = strawberry.enum_value("in_use", description="Used by a job.")
    GENERATED = strawberry.enum_value("generated", description="Its instrument file is written.")
    ARCHIVED = strawberry.enum_value("archived", description="Kept for the record only.")


@strawberry.enum(description="What kind of analysis a sequencing workflow performs.")
class WorkflowType(Enum):
    WHOLE_GENOME = strawberry.enum_value("whole_genome", description="Whole-genome sequencing.")
    EXOME = strawberry.enum_value("exome", description="Exome sequencing.")
    TARGETED_SEQUENCING = strawberry.enum_value(
        "targeted_sequencing", description="Targeted (panel) sequencing."
    )
    RNA_SEQ = strawberry.enum_value("rna_seq", description="RNA sequencing.")
    CHIP_SEQ = strawberry.enum_value("chip_seq", description="ChIP sequencing.")
    BISULFITE = strawberry.enum_value("bisulfite", description="Bisulfite (methylation).")
    SINGLE_CELL = strawberry.enum_value("single_cell", description="Single-cell sequencing.")
    METAGENOMICS = strawberry.enum_value("metagenomics", description="Metagenomics.")
    CUSTOM = strawberry.enum_value("custom", description="A lab-defined workflow.")


def _enum(enum: type[Enum], r: dict[str, Any], key: str) -> Any:
    return member(enum, required(r, key, service=SERVICE), service=SERVICE, field=key)


def _wire(value: Enum) -> str:
    """An enum member's canonical wire value (strawberry.enum_value hides its type)."""
    return str(value.value)


def _id(value: Any) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


async def _person(info: Info[Context, None], user_id: Any) -> Person | None:
    from graph.users import person

    return await person(info, None if user_id is None else str(user_id))


@strawberry.type(
    description="One line of a sample sheet: a sample, its well and its index sequences."
)
class SampleSheetEntry:
    id: strawberry.ID = strawberry.field(description="The entry's own UUID.")
    sample_id: strawberry.ID = strawberry.field(
        description="The samples service's id of the sample (the sheet stores it as text)."
    )
    sample_name: str = strawberry.field(description="The sample's name as the sheet has it.")
    well: str | None = strawberry.field(description="The plate well (e.g. `A01`); null if none.")
    plate: str | None = strawberry.field(description="The plate's name; null if none.")
    project: str = strawberry.field(description="The project the sheet files it under.")
    description: str | None = strawberry.field(description="Free text; null if none.")
    index_i7: str = strawberry.field(
        description="The first (i7) index sequence (the service's `index1`)."
    )
    index_i5: str | None = strawberry.field(
        description="The second (i5) index sequence (`index2`); null for single indexing."
    )

    @strawberry.field(
        description="The sample itself (one batched call to the samples service); null when "
        "the samples service does not know it."
    )
    async def sample(self, info: Info[Context, None]) -> LazySample | None:
        from graph.samples import Sample

        records = await storage_resolvers.samples_by_id(info.context, [str(self.sample_id)])
        return Sample.from_record(records[0]) if records else None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> SampleSheetEntry:
        return cls(
            id=strawberry.ID(str(required(r, "id", service=SERVICE))),
            sample_id=strawberry.ID(str(required(r, "sample_id", service=SERVICE))),
            sample_name=required(r, "sample_name", service=SERVICE),
            well=r.get("sample_well"),
            plate=r.get("sample_plate"),
            project=required(r, "project", service=SERVICE),
            description=r.get("description"),
            index_i7=required(r, "index1", service=SERVICE),
            index_i5=r.get("index2"),
        )


@strawberry.type(description="The plate layout of a sequencing run: which sample in which well.")
class SampleSheet(Node):
    name: str = strawberry.field(description="The sheet's name.")
    platform: SequencingPlatform = strawberry.field(
        description="The platform the sheet is laid out for."
    )
    format_version: str = strawberry.field(
        description="The version of the sheet file format the service writes (the release: "
        '"1.0"). Not a revision counter (unlike `Template.version`).'
    )
    status: SampleSheetStatus = strawberry.field(
        description="Where the sheet is in its life cycle."
    )
    sample_count: int = strawberry.field(description="How many sample rows the sheet holds.")
    created_by_id: strawberry.ID = strawberry.field(
        description="The creator's user id as the service recorded it: the caller for sheets "
        "created through `createSampleSheet`; a random id for sheets created without one."
    )
    created_at: datetime = strawberry.field(description="When the sheet was created.")
    updated_at: datetime = strawberry.field(description="When the sheet last changed.")
    record: strawberry.Private[dict[str, Any]]

    @strawberry.field(
        description="The sheet's lines, ordered by well (bounded by the plate: at most a few "
        "hundred, a plain list). A sheet from the `sampleSheets` list loads them (one call "
        "per sheet: the service has no batch of sheets)."
    )
    async def entries(self, info: Info[Context, None]) -> list[SampleSheetEntry] | None:
        record: dict[str, Any] | None = self.record
        if record is None or "entries" not in record:
            record = await sequencing_resolvers.sample_sheet(info.context, str(self.id))
        if record is None:
            return None
        return [SampleSheetEntry.from_record(e) for e in record.get("entries") or ()]

    @strawberry.field(
        description="Who created the sheet (a public profile, any lab role); null when the "
        "directory does not know the recorded id."
    )
    async def created_by(self, info: Info[Context, None]) -> LazyPerson | None:
        return await _person(info, self.created_by_id)

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> SampleSheet:
        return cls(
            id=strawberry.ID(str(r["id"])),
            name=required(r, "name", service=SERVICE),
            platform=_enum(SequencingPlatform, r, "platform_id"),
            format_version=str(required(r, "version", service=SERVICE)),
            status=_enum(SampleSheetStatus, r, "status"),
            sample_count=required(r, "sample_count", service=SERVICE),
            created_by_id=strawberry.ID(str(required(r, "created_by", service=SERVICE))),
            created_at=required(r, "created_at", service=SERVICE),
            updated_at=required(r, "updated_at", service=SERVICE),
            record=r,
        )


@strawberry.type(
    description="A sequencing job: one run of a sample sheet on a platform. The job list "
    "answers summaries: the fields only the job's detail has are nullable and load it (one "
    "batched call per request)."
)
class SequencingJob(Node):
    name: str = strawberry.field(description="The job's name.")
    status: JobStatus = strawberry.field(description="Where the job is in its life cycle.")
    priority: JobPriority = strawberry.field(
        description="How urgently it should run (the sequencing scale, not the notifications')."
    )
    platform: SequencingPlatform = strawberry.field(description="The platform it runs on.")
    workflow_name: str = strawberry.field(
        description="The workflow the job names, free text as given at creation (e.g. "
        "`standard_wgs`). The release does not check it, and it is not the id of a "
        "`workflows` record."
    )
    estimated_completion: datetime | None = strawberry.field(
        description="When the job should finish; no route of the release sets it (null)."
    )
    created_at: datetime = strawberry.field(description="When the job was created.")
    record: strawberry.Private[dict[str, Any]]

    async def _detail(self, info: Info[Context, None]) -> dict[str, Any]:
        if sequencing_resolvers.is_detail(self.record):
            return self.record
        detail = await sequencing_resolvers.job_detail(info.context, str(self.id))
        return self.record if detail is None else detail

    async def _value(self, info: Info[Context, None], key: str) -> Any:
        return (await self._detail(info)).get(key)

    @strawberry.field(description="Free text about the job; null if none.")
    async def description(self, info: Info[Context, None]) -> str | None:
        value: str | None = await self._value(info, "description")
        return value

    @strawberry.field(description="The id of the job's sample sheet; null if it has none.")
    async def sample_sheet_id(self, info: Info[Context, None]) -> strawberry.ID | None:
        return _id(await self._value(info, "sample_sheet_id"))

    @strawberry.field(description="The instrument run's id once the job ran; null before.")
    async def run_id(self, info: Info[Context, None]) -> str | None:
        value = await self._value(info, "run_id")
        return None if value is None else str(value)

    @strawberry.field(
        description="The creator's user id as the service recorded it. The release records "
        "a random id for every job it creates (its create route does not read the caller): "
        "for those jobs it names nobody."
    )
    async def created_by_id(self, info: Info[Context, None]) -> strawberry.ID | None:
        return _id(await self._value(info, "created_by"))

    @strawberry.field(description="The assignee's user id; null while nobody is assigned.")
    async def assigned_to_id(self, info: Info[Context, None]) -> strawberry.ID | None:
        return _id(await self._value(info, "assigned_to"))

    @strawberry.field(description="When the job is planned to start; null if not planned.")
    async def estimated_start(self, info: Info[Context, None]) -> datetime | None:
        value: datetime | None = await self._value(info, "estimated_start")
        return value

    @strawberry.field(description="When the job last started running; null before.")
    async def actual_start(self, info: Info[Context, None]) -> datetime | None:
        value: datetime | None = await self._value(info, "actual_start")
        return value

    @strawberry.field(
        description="When the job completed, failed or was cancelled; null while it is not "
        "finished."
    )
    async def actual_completion(self, info: Info[Context, None]) -> datetime | None:
        value: datetime | None = await self._value(info, "actual_completion")
        return value

    @strawberry.field(
        description="Caller-defined data given at creation (any JSON object; `{}` when none): "
        "the gateway does not interpret it."
    )
    async def metadata(self, info: Info[Context, None]) -> JSON | None:
        return await self._value(info, "metadata")

    @strawberry.field(description="When the job last changed.")
    async def updated_at(self, info: Info[Context, None]) -> datetime | None:
        value: datetime | None = await self._value(info, "updated_at")
        return value

    @strawberry.field(
        description="Who created the job (a public profile, any lab role); null when the "
        "recorded id names nobody the directory knows, as for every job the release created "
        "(see `createdById`)."
    )
    async def created_by(self, info: Info[Context, None]) -> LazyPerson | None:
        return await _person(info, await self._value(info, "created_by"))

    @strawberry.field(
        description="Who runs the job (a public profile, any lab role); null while nobody is "
        "assigned."
    )
    async def assigned_to(self, info: Info[Context, None]) -> LazyPerson | None:
        return await _person(info, await self._value(info, "assigned_to"))

    @strawberry.field(
        description="The job's sample sheet, with wells and indexes; null if it has none or "
        "the sheet is gone."
    )
    async def sample_sheet(self, info: Info[Context, None]) -> SampleSheet | None:
        sheet_id = await self._value(info, "sample_sheet_id")
        if sheet_id is None:
            return None
        record = await sequencing_resolvers.sample_sheet(info.context, str(sheet_id))
        return None if record is None else SampleSheet.from_record(record)

    @strawberry.field(
        description="The samples on the job's sample sheet, in sheet order (empty without a sheet)."
    )
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
        sheet_id = await self._value(info, "sample_sheet_id")
        sheet = None
        if sheet_id is not None:
            sheet = await sequencing_resolvers.sample_sheet(ctx, str(sheet_id))
        ids = list(dict.fromkeys(str(e["sample_id"]) for e in (sheet or {}).get("entries", [])))
        page = await storage_resolvers.samples_of_ids(ctx, ids, request)
        return Connection.build(page, Sample.from_record)

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> SequencingJob:
        """From a full job or a list summary (the detail-only fields then load it)."""
        return cls(
            id=strawberry.ID(str(r["id"])),
            name=required(r, "name", service=SERVICE),
            status=_enum(JobStatus, r, "status"),
            priority=_enum(JobPriority, r, "priority"),
            platform=_enum(SequencingPlatform, r, "platform_id"),
            workflow_name=str(required(r, "workflow_id", service=SERVICE)),
            estimated_completion=r.get("estimated_completion"),
            created_at=required(r, "created_at", service=SERVICE),
            record=r,
        )


@strawberry.type(
    description="A workflow record of the sequencing service (`GET /workflows`). The release "
    "has no route that creates one, and jobs name workflows by free text (`workflowName`), "
    "not by these ids."
)
class SequencingWorkflow(Node):
    name: str = strawberry.field(description="The workflow's name.")
    description: str = strawberry.field(description="What the workflow does.")
    version_label: str = strawberry.field(
        description="The workflow's own version label, free text (e.g. `2.1`)."
    )
    workflow_type: WorkflowType = strawberry.field(description="What kind of analysis it is.")
    estimated_duration_ms: float | None = strawberry.field(
        description="How long a run of it takes, in milliseconds (the service records "
        "minutes); null if not recorded."
    )
    is_active: bool = strawberry.field(description="Whether jobs may use it now.")
    created_by_id: strawberry.ID = strawberry.field(description="The creator's user id.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @strawberry.field(
        description="Who created it (a public profile, any lab role); null when the directory "
        "does not know the id."
    )
    async def created_by(self, info: Info[Context, None]) -> LazyPerson | None:
        return await _person(info, self.created_by_id)

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> SequencingWorkflow:
        minutes = r.get("estimated_duration_minutes")
        return cls(
            id=strawberry.ID(str(r["id"])),
            name=required(r, "name", service=SERVICE),
            description=required(r, "description", service=SERVICE),
            version_label=str(required(r, "version", service=SERVICE)),
            workflow_type=_enum(WorkflowType, r, "workflow_type"),
            estimated_duration_ms=None if minutes is None else float(minutes) * 60_000.0,
            is_active=bool(required(r, "is_active", service=SERVICE)),
            created_by_id=strawberry.ID(str(required(r, "created_by", service=SERVICE))),
            created_at=required(r, "created_at", service=SERVICE),
            updated_at=required(r, "updated_at", service=SERVICE),
        )


SequencingJobConnection = Connection[SequencingJob]
SampleSheetConnection = Connection[SampleSheet]
SequencingWorkflowConnection = Connection[SequencingWorkflow]


async def _fetch_jobs(ctx: Context, ids: Sequence[str]) -> list[SequencingJob | None]:
    records = await ctx.loaders.of(ctx.upstreams.sequencing.get_many).load_many(list(ids))
    return [None if r is None else SequencingJob.from_record(r) for r in records]


async def _fetch_sheets(ctx: Context, ids: Sequence[str]) -> list[SampleSheet | None]:
    records = await sequencing_resolvers.sample_sheets_by_id(ctx, ids)
    return [None if r is None else SampleSheet.from_record(r) for r in records]


async def _fetch_workflows(ctx: Context, ids: Sequence[str]) -> list[SequencingWorkflow | None]:
    records = await sequencing_resolvers.workflows_by_id(ctx, ids)
    return [None if r is None else SequencingWorkflow.from_record(r) for r in records]


register("SequencingJob", rbac.READ_LIMS, _fetch_jobs)
register("SampleSheet", rbac.READ_LIMS, _fetch_sheets)
register("SequencingWorkflow", rbac.READ_LIMS, _fetch_workflows)


@strawberry.enum(description="What the job list can be sorted by.")
class SequencingJobOrderField(Enum):
    CREATED_AT = strawberry.enum_value(
        "created_at",
        description="Creation time. DESC (newest first) is the service's own order and costs "
        "nothing extra; ASC reads the whole list (bounded by TRACSEQ_MAX_SCAN_ITEMS).",
    )
    UPDATED_AT = strawberry.enum_value(
        "updated_at",
        description="Last change. Only job details carry it: every job's detail is loaded "
        "(one call each on the release, at most 1000 jobs).",
    )
    PRIORITY = strawberry.enum_value(
        "priority", description="Priority by rank (LOW < NORMAL < ... < CRITICAL)."
    )
    NAME = strawberry.enum_value("name", description="Name, case-insensitively.")


@strawberry.input(description="How the job list is sorted (ties keep newest first).")
class SequencingJobOrder:
    field: SequencingJobOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(description="Which way.")


@strawberry.input(
    description="Narrows the job list; every given condition must hold. The release ignores "
    "list filters: the gateway reads every job summary (bounded by TRACSEQ_MAX_SCAN_ITEMS) "
    "and filters itself; a condition on the creator, assignee or sample also loads every "
    "remaining job's detail (at most 1000 jobs; narrow by the other conditions first)."
)
class SequencingJobFilter:
    statuses: list[JobStatus] | None = strawberry.field(
        default=None, description="Jobs in any of these statuses."
    )
    priorities: list[JobPriority] | None = strawberry.field(
        default=None, description="Jobs of any of these priorities."
    )
    platforms: list[SequencingPlatform] | None = strawberry.field(
        default=None, description="Jobs on any of these platforms."
    )
    sample_id: strawberry.ID | None = strawberry.field(
        default=None, description="Jobs whose sample sheet lists this sample (its UUID)."
    )
    created_by_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Jobs whose recorded creator is this user (a UUID). The release records "
        "a random creator for every job created through it, so those jobs never match "
        "anyone: only jobs whose creator was recorded otherwise (imported, cloned from "
        "one) do.",
    )
    assigned_to_id: strawberry.ID | None = strawberry.field(
        default=None, description="Jobs assigned to this user (a UUID)."
    )
    created_after: datetime | None = strawberry.field(
        default=None, description="Jobs created at or after this time (RFC 3339)."
    )
    created_before: datetime | None = strawberry.field(
        default=None, description="Jobs created before this time (RFC 3339)."
    )
    mine: bool | None = strawberry.field(
        default=None,
        description="true: jobs assigned to the caller. Assignee only, not creator: the "
        "release records a random creator for the jobs it creates, so 'created by me' "
        "cannot be told. false or null: no condition.",
    )


def _query(
    info: Info[Context, None], f: SequencingJobFilter | None, order: SequencingJobOrder | None
) -> sequencing_resolvers.JobQuery:
    def values(items: list[Any] | None) -> frozenset[str] | None:
        return None if items is None else frozenset(_wire(i) for i in items)

    def uuid_of(value: Any, name: str) -> str | None:
        return None if value is None else parse_id(str(value), f"filter.{name}")

    order_key: str | None = None
    descending = True
    if order is not None:
        descending = order.direction is OrderDirection.DESC
        if not (order.field is SequencingJobOrderField.CREATED_AT and descending):
            order_key = _wire(order.field)
    if f is None:
        return sequencing_resolvers.JobQuery(order=order_key, descending=descending)
    assigned = uuid_of(f.assigned_to_id, "assignedToId")
    if f.mine:
        principal = info.context.principal
        if principal is None:
            raise BadUserInput("`mine` needs a caller: log in", field=["filter", "mine"])
        me = parse_id(principal.id, "filter.mine")
        if assigned is not None and assigned != me:
            raise BadUserInput(
                "`mine` and another `assignedToId` cannot both hold",
                field=["filter", "assignedToId"],
            )
        assigned = me
    return sequencing_resolvers.JobQuery(
        statuses=values(f.statuses),
        priorities=values(f.priorities),
        platforms=values(f.platforms),
        sample_id=uuid_of(f.sample_id, "sampleId"),
        created_by_id=uuid_of(f.created_by_id, "createdById"),
        assigned_to_id=assigned,
        created_after=f.created_after,
        created_before=f.created_before,
        order=order_key,
        descending=descending,
    )


@strawberry.input(description="One sample's row of a new sample sheet.")
class SampleSheetRowInput:
    sample_id: strawberry.ID = strawberry.field(
        description="The sample's UUID; it must exist in the samples service."
    )
    sample_name: str = strawberry.field(description="The name to print on the sheet.")
    plate: str | None = strawberry.field(default=None, description="The plate's name.")
    well: str | None = strawberry.field(default=None, description="The well (e.g. `A01`).")
    index_i7_id: str | None = strawberry.field(
        default=None, description="The i7 index's name (e.g. `N701`)."
    )
    index_i7: str | None = strawberry.field(
        default=None, description="The i7 index sequence (A, C, G, T, N)."
    )
    index_i5_id: str | None = strawberry.field(
        default=None, description="The i5 index's name (e.g. `S502`)."
    )
    index_i5: str | None = strawberry.field(
        default=None, description="The i5 index sequence (A, C, G, T, N)."
    )
    project: str | None = strawberry.field(default=None, description="The project to file under.")
    description: str | None = strawberry.field(default=None, description="Free text.")

    def wire(self) -> dict[str, Any]:
        """The row as the service's ``samples_data`` keys it."""
        row = {
            "Sample_ID": str(self.sample_id),
            "Sample_Name": self.sample_name,
            "Sample_Plate": self.plate,
            "Sample_Well": self.well,
            "I7_Index_ID": self.index_i7_id,
            "index": self.index_i7,
            "I5_Index_ID": self.index_i5_id,
            "index2": self.index_i5,
            "Sample_Project": self.project,
            "Description": self.description,
        }
        return {k: v for k, v in row.items() if v is not None}


@strawberry.input(description="A new sample sheet (it starts as DRAFT).")
class CreateSampleSheetInput:
    name: str = strawberry.field(description="The sheet's name; not blank.")
    platform: SequencingPlatform = strawberry.field(description="The platform it is laid out for.")
    samples: list[SampleSheetRowInput] = strawberry.field(
        description="Its rows, at least one; each sample must exist."
    )
    run_parameters: JSON | None = strawberry.field(
        default=None,
        description="Caller-defined run settings (any JSON; `{}` when null), stored as given.",
    )


@strawberry.input(description="A new sequencing job; it is created as DRAFT.")
class CreateSequencingJobInput:
    name: str = strawberry.field(description="The job's name; not blank.")
    platform: SequencingPlatform = strawberry.field(description="The platform it runs on.")
    workflow_name: str = strawberry.field(
        description="The workflow, free text (e.g. `standard_wgs`); not blank. Not checked."
    )
    sample_sheet_id: strawberry.ID | None = strawberry.field(
        default=None, description="Its sample sheet's id; the sheet must exist."
    )
    description: str | None = strawberry.field(default=None, description="Free text.")
    priority: JobPriority = strawberry.field(
        default=JobPriority.NORMAL, description="How urgently it should run."
    )
    estimated_start: datetime | None = strawberry.field(
        default=None, description="When it is planned to start (RFC 3339)."
    )
    metadata: JSON | None = strawberry.field(
        default=None, description="Caller-defined data (a JSON object), stored as given."
    )


@strawberry.input(description="The draft job to submit.")
class SubmitSequencingJobInput:
    id: strawberry.ID = strawberry.field(description="The job's id; it must be DRAFT.")


@strawberry.input(description="Move a job to another status.")
class ChangeSequencingJobStatusInput:
    id: strawberry.ID = strawberry.field(description="The job's id.")
    status: JobStatus = strawberry.field(
        description="The status to move to. Allowed: DRAFT→SUBMITTED; SUBMITTED→VALIDATED, "
        "CANCELLED; VALIDATED→QUEUED, ON_HOLD, CANCELLED; QUEUED→RUNNING, ON_HOLD, "
        "CANCELLED; RUNNING→COMPLETED, FAILED, CANCELLED; ON_HOLD→QUEUED, CANCELLED; "
        "FAILED→QUEUED, CANCELLED. Another move is INVALID_TRANSITION."
    )


@strawberry.input(description="The job to cancel.")
class CancelSequencingJobInput:
    id: strawberry.ID = strawberry.field(description="The job's id; it must not be finished.")


_JOB_DESCRIPTION = "The job as it is now; null when userErrors is not empty."


@strawberry.type(description="The outcome of `createSequencingJob`.")
class CreateSequencingJobPayload:
    sequencing_job: SequencingJob | None = strawberry.field(
        default=None, description="The new DRAFT job; null when userErrors is not empty."
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of `submitSequencingJob`.")
class SubmitSequencingJobPayload:
    sequencing_job: SequencingJob | None = strawberry.field(
        default=None, description=_JOB_DESCRIPTION
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of `changeSequencingJobStatus`.")
class ChangeSequencingJobStatusPayload:
    sequencing_job: SequencingJob | None = strawberry.field(
        default=None, description=_JOB_DESCRIPTION
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of `cancelSequencingJob`.")
class CancelSequencingJobPayload:
    sequencing_job: SequencingJob | None = strawberry.field(
        default=None, description=_JOB_DESCRIPTION
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of `createSampleSheet`.")
class CreateSampleSheetPayload:
    sample_sheet: SampleSheet | None = strawberry.field(
        default=None, description="The new DRAFT sheet; null when userErrors is not empty."
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Sequencing jobs, newest first unless `orderBy` says otherwise, as a "
        f"cursor connection (`first`/`last` at most {sequencing_resolvers.MAX_JOBS_PER_PAGE}, "
        "the service's largest page). Filters and other orders are applied by the gateway "
        "(see `SequencingJobFilter`).",
    )
    async def sequencing_jobs(
        self,
        info: Info[Context, None],
        filter: Annotated[
            SequencingJobFilter | None,
            strawberry.argument(description="Only the jobs that meet every given condition."),
        ] = None,
        order_by: Annotated[
            SequencingJobOrder | None,
            strawberry.argument(description="The order; default newest first (CREATED_AT DESC)."),
        ] = None,
        first: First100 = None,
        after: After = None,
        last: Last100 = None,
        before: Before = None,
    ) -> SequencingJobConnection | None:
        ctx = info.context
        request = connection_args(
            ctx, first, after, last, before, maximum=sequencing_resolvers.MAX_JOBS_PER_PAGE
        )
        page = await sequencing_resolvers.jobs_page(ctx, request, _query(info, filter, order_by))
        return SequencingJobConnection.build(page, SequencingJob.from_record)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="One sequencing job by id; null when there is none.",
    )
    async def sequencing_job(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The job's UUID.")],
    ) -> SequencingJob | None:
        record = await sequencing_resolvers.job(info.context, id)
        return None if record is None else SequencingJob.from_record(record)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Sample sheets, newest first, as a cursor connection (`first`/`last` at "
        "most 100, the service's largest page). The release answers 500 to any filter of "
        "this list: it has none here.",
    )
    async def sample_sheets(
        self,
        info: Info[Context, None],
        first: First100 = None,
        after: After = None,
        last: Last100 = None,
        before: Before = None,
    ) -> SampleSheetConnection | None:
        ctx = info.context
        request = connection_args(
            ctx, first, after, last, before, maximum=sequencing_resolvers.MAX_SHEETS_PER_PAGE
        )
        page = await sequencing_resolvers.sample_sheets_page(ctx, request)
        return SampleSheetConnection.build(page, SampleSheet.from_record)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="One sample sheet by id, with its entries; null when there is none.",
    )
    async def sample_sheet(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The sheet's UUID.")],
    ) -> SampleSheet | None:
        key = parse_id(str(id), "id")
        record = await sequencing_resolvers.sample_sheet(info.context, key)
        return None if record is None else SampleSheet.from_record(record)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="The platforms a job can run on, for a submission form. The release has "
        "no platform records and no route that lists them: these are the four names its job "
        "create route accepts (no upstream call).",
    )
    def platforms(self) -> list[SequencingPlatform] | None:
        return list(SequencingPlatform)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="The sequencing service's workflow records, newest first, as a cursor "
        "connection (`first`/`last` at most 100). The release has no route that creates one "
        "(its table is filled out of band, and is empty in a fresh install), and its list "
        "answers 500 to any filter. A job names its workflow by free text (`workflowName`).",
    )
    async def workflows(
        self,
        info: Info[Context, None],
        first: First100 = None,
        after: After = None,
        last: Last100 = None,
        before: Before = None,
    ) -> SequencingWorkflowConnection | None:
        ctx = info.context
        request = connection_args(
            ctx, first, after, last, before, maximum=sequencing_resolvers.MAX_WORKFLOWS_PER_PAGE
        )
        page = await sequencing_resolvers.workflows_page(ctx, request)
        return SequencingWorkflowConnection.build(page, SequencingWorkflow.from_record)


async def _authorise(info: Info[Context, None], job_id: str, rule: str) -> None:
    """FORBIDDEN unless the caller meets ``rule`` on the job (a rule its creator may meet
    too: the job is read to tell; a job that does not exist has no creator)."""
    principal = info.context.principal
    if rbac.allows(rule, principal):
        return
    key = parse_id(job_id, "input.id")
    record = await sequencing_resolvers.job_detail(info.context, key)
    if not rbac.allows_on(rule, principal, None if record is None else record.get("created_by")):
        raise refusal(info, rule, on=f"job {key}")


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[requires(rbac.SUBMIT_SEQUENCING)],
        description="Create a sequencing job; it stays DRAFT until `submitSequencingJob`.",
    )
    async def create_sequencing_job(
        self,
        info: Info[Context, None],
        input: Annotated[
            CreateSequencingJobInput, strawberry.argument(description="The job to create.")
        ],
    ) -> CreateSequencingJobPayload | None:
        data = {
            "name": input.name,
            "description": input.description,
            "priority": _wire(input.priority),
            "platform_id": _wire(input.platform),
            "workflow_id": input.workflow_name,
            "sample_sheet_id": input.sample_sheet_id,
            "estimated_start": input.estimated_start.isoformat() if input.estimated_start else None,
            "metadata": input.metadata,
        }

        async def work() -> CreateSequencingJobPayload:
            record = await sequencing_resolvers.create(info.context, data)
            return CreateSequencingJobPayload(sequencing_job=SequencingJob.from_record(record))

        return await attempt(CreateSequencingJobPayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.SUBMIT_SEQUENCING)],
        description="Submit a DRAFT job (it becomes SUBMITTED). A job in another status is "
        'INVALID_TRANSITION on `["input", "id"]`.',
    )
    async def submit_sequencing_job(
        self,
        info: Info[Context, None],
        input: Annotated[
            SubmitSequencingJobInput, strawberry.argument(description="The draft job to submit.")
        ],
    ) -> SubmitSequencingJobPayload | None:
        async def work() -> SubmitSequencingJobPayload:
            record = await sequencing_resolvers.submit(info.context, str(input.id))
            return SubmitSequencingJobPayload(sequencing_job=SequencingJob.from_record(record))

        return await attempt(SubmitSequencingJobPayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.SUBMIT_SEQUENCING)],
        description="Move a job to another status along the service's transitions (see "
        "`ChangeSequencingJobStatusInput.status`); another move is INVALID_TRANSITION on "
        '`["input", "status"]`. Moving to CANCELLED is for the same callers as '
        "`cancelSequencingJob` (FORBIDDEN otherwise).",
    )
    async def change_sequencing_job_status(
        self,
        info: Info[Context, None],
        input: Annotated[
            ChangeSequencingJobStatusInput, strawberry.argument(description="What to do.")
        ],
    ) -> ChangeSequencingJobStatusPayload | None:
        async def work() -> ChangeSequencingJobStatusPayload:
            await _authorise(info, str(input.id), rbac.job_status_rule(_wire(input.status)))
            record = await sequencing_resolvers.change_status(
                info.context, str(input.id), _wire(input.status), None
            )
            return ChangeSequencingJobStatusPayload(
                sequencing_job=SequencingJob.from_record(record)
            )

        return await attempt(ChangeSequencingJobStatusPayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.MANAGE_SEQUENCING_JOB)],
        description="Cancel a job that has not finished (a finished one is INVALID_TRANSITION "
        'on `["input", "id"]`). Principal investigators and administrators may cancel any '
        "job; lab technicians and research scientists only a job whose recorded creator they "
        "are (FORBIDDEN otherwise, and for a job that does not exist).",
    )
    async def cancel_sequencing_job(
        self,
        info: Info[Context, None],
        input: Annotated[
            CancelSequencingJobInput, strawberry.argument(description="The job to cancel.")
        ],
    ) -> CancelSequencingJobPayload | None:
        async def work() -> CancelSequencingJobPayload:
            await _authorise(info, str(input.id), rbac.MANAGE_SEQUENCING_JOB)
            record = await sequencing_resolvers.cancel(info.context, str(input.id))
            return CancelSequencingJobPayload(sequencing_job=SequencingJob.from_record(record))

        return await attempt(CancelSequencingJobPayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.SUBMIT_SEQUENCING)],
        description="Create a sample sheet (DRAFT) with the caller as its creator. A blank "
        "name or sample name, a malformed or unknown sample id, and rows the service refuses "
        "are userErrors on their input fields.",
    )
    async def create_sample_sheet(
        self,
        info: Info[Context, None],
        input: Annotated[
            CreateSampleSheetInput, strawberry.argument(description="The sheet to create.")
        ],
    ) -> CreateSampleSheetPayload | None:
        async def work() -> CreateSampleSheetPayload:
            record = await sequencing_resolvers.create_sample_sheet(
                info.context,
                input.name,
                _wire(input.platform),
                [row.wire() for row in input.samples],
                input.run_parameters,
            )
            return CreateSampleSheetPayload(sample_sheet=SampleSheet.from_record(record))

        return await attempt(CreateSampleSheetPayload, work())


@strawberry.type(description="A sequencing job moved to another status.")
class SequencingJobEvent:
    job: SequencingJob | None = strawberry.field(description="The job as it is after the change.")
    previous_status: JobStatus | None = strawberry.field(
        description="The status before; null when the gateway did not know it (a job first "
        "seen in its new status)."
    )
    status: JobStatus = strawberry.field(description="The status now.")
    changed_at: datetime = strawberry.field(description="When the job changed (its `updatedAt`).")

    @classmethod
    def of(cls, change: Change) -> SequencingJobEvent:
        values = event_values(JobStatus, change, SERVICE)
        return cls(job=SequencingJob.from_record({**change.record}), **values)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Each status change of the sequencing jobs watched (QUEUED to RUNNING to "
        "COMPLETED, ...): a change made through any gateway replica at once, one made at "
        "the sequencing service directly within TRACSEQ_SUBSCRIPTION_POLL_INTERVAL.",
    )
    async def sequencing_job_updated(
        self,
        info: Info[Context, None],
        ids: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(description="Only these jobs; null: every job."),
        ] = None,
    ) -> AsyncGenerator[SequencingJobEvent, None]:
        watch = Watch(ids=watched_ids(ids))
        return (SequencingJobEvent.of(c) async for c in changes(info.context, JOBS, watch))

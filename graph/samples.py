"""Samples: the Sample type, its relations to the other services, and the sample root fields.

Scalars are plain attributes (no resolver per field); relations to other services resolve
through the request's DataLoaders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.enums import SampleStatus
from graph.errors import BadUserInput, parse_id
from graph.pagination import After, Before, Connection, First, Last, connection_args
from graph.permissions import requires
from graph.sequencing import SequencingJob
from graph.storage import SampleStorage
from graph.templates import Template
from graph.users import User
from graph.values import member
from resolvers import samples as sample_resolvers
from resolvers import sequencing as sequencing_resolvers
from resolvers import storage as storage_resolvers
from resolvers import users as user_resolvers
from resolvers.context import Context
from security import rbac


@strawberry.type(description="A biological sample registered in the lab.")
class Sample:
    id: strawberry.ID
    name: str
    barcode: str
    sample_type: str
    status: SampleStatus
    template_id: strawberry.ID | None
    source_type: str | None
    source_identifier: str | None
    collection_date: datetime | None
    collection_location: str | None
    collector: str | None
    concentration: float | None
    volume: float | None
    unit: str | None
    quality_score: float | None
    metadata: JSON | None
    notes: str | None
    created_at: datetime
    updated_at: datetime
    created_by_id: strawberry.ID | None

    @strawberry.field(description="The template the sample was recorded with.")
    async def template(self, info: Info[Context, None]) -> Template | None:
        if self.template_id is None:
            return None
        ctx = info.context
        record = await ctx.loaders.of(ctx.upstreams.templates.get_many).load(str(self.template_id))
        return None if record is None else Template.from_record(record)

    @strawberry.field(
        description="Where the sample sits: position, container chain and location; "
        "null when it is not in storage."
    )
    async def storage(self, info: Info[Context, None]) -> SampleStorage | None:
        record = await storage_resolvers.sample_storage(info.context, str(self.id))
        return None if record is None else SampleStorage.from_record(record)

    @strawberry.field(description="Sequencing jobs whose sample sheet lists this sample.")
    async def sequencing_jobs(self, info: Info[Context, None]) -> list[SequencingJob]:
        records = await sequencing_resolvers.jobs_for_sample(info.context, str(self.id))
        return [SequencingJob.from_record(r) for r in records]

    @strawberry.field(
        description="The user who registered the sample (administrators).",
        permission_classes=[requires(rbac.ADMINISTER)],
    )
    async def created_by(self, info: Info[Context, None]) -> User | None:
        if self.created_by_id is None:
            return None
        record = await user_resolvers.user_by_id(info.context, str(self.created_by_id))
        return None if record is None else User.from_record(record)

    @strawberry.field(description="The statuses this sample may move to next.")
    def allowed_next_statuses(self) -> list[SampleStatus]:
        if isinstance(self.status, Exception):
            raise self.status
        return [SampleStatus(v) for v in sample_resolvers.NEXT_STATUSES[self.status.value]]

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Sample:
        return cls(
            id=strawberry.ID(r["id"]),
            name=r.get("name") or "",
            barcode=r.get("barcode") or "",
            sample_type=r.get("sample_type") or "",
            status=member(SampleStatus, r.get("status"), service="samples", field="status"),
            template_id=r.get("template_id"),
            source_type=r.get("source_type"),
            source_identifier=r.get("source_identifier"),
            collection_date=r.get("collection_date"),
            collection_location=r.get("collection_location"),
            collector=r.get("collector"),
            concentration=r.get("concentration"),
            volume=r.get("volume"),
            unit=r.get("unit"),
            quality_score=r.get("quality_score"),
            metadata=r.get("metadata"),
            notes=r.get("notes"),
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            created_by_id=r.get("created_by"),
        )


SampleConnection = Connection[Sample]


@strawberry.input(description="Narrows a sample list; every given condition must hold.")
class SampleFilter:
    status: SampleStatus | None = None
    sample_type: str | None = None
    template_id: strawberry.ID | None = None
    search: str | None = strawberry.field(
        default=None, description="Part of the name or the barcode, in any case."
    )
    created_after: datetime | None = None
    created_before: datetime | None = None


def _filters(f: SampleFilter | None) -> dict[str, object]:
    if f is None:
        return {}
    values = {
        "status": f.status.value if f.status else None,
        "sample_type": f.sample_type,
        "template_id": parse_id(f.template_id, "filter.templateId") if f.template_id else None,
        "search": f.search,
        "created_after": _instant(f.created_after, "filter.createdAfter"),
        "created_before": _instant(f.created_before, "filter.createdBefore"),
    }
    return {k: v for k, v in values.items() if v is not None}


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="One sample by id or by barcode; null when there is none.",
    )
    async def sample(
        self,
        info: Info[Context, None],
        id: strawberry.ID | None = None,
        barcode: str | None = None,
    ) -> Sample | None:
        record = await sample_resolvers.sample(info.context, id=id, barcode=barcode)
        return None if record is None else Sample.from_record(record)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Samples, newest first, as a cursor connection.",
    )
    async def samples(
        self,
        info: Info[Context, None],
        filter: SampleFilter | None = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> SampleConnection | None:
        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        page = await sample_resolvers.samples_page(ctx, request, _filters(filter))
        return SampleConnection.build(page, Sample.from_record)


@strawberry.input(description="A new sample. Without a barcode the samples service makes one.")
class CreateSampleInput:
    name: str
    sample_type: str
    barcode: str | None = None
    template_id: strawberry.ID | None = None
    source_type: str | None = None
    source_identifier: str | None = None
    collection_date: datetime | None = None
    collection_location: str | None = None
    collector: str | None = None
    concentration: float | None = None
    volume: float | None = None
    unit: str | None = None
    quality_score: float | None = None
    metadata: JSON | None = None
    notes: str | None = None


@strawberry.input(description="Changes to a sample; fields left out stay as they are.")
class UpdateSampleInput:
    name: str | None = strawberry.UNSET
    sample_type: str | None = strawberry.UNSET
    barcode: str | None = strawberry.UNSET
    template_id: strawberry.ID | None = strawberry.UNSET
    source_type: str | None = strawberry.UNSET
    source_identifier: str | None = strawberry.UNSET
    collection_date: datetime | None = strawberry.UNSET
    collection_location: str | None = strawberry.UNSET
    collector: str | None = strawberry.UNSET
    concentration: float | None = strawberry.UNSET
    volume: float | None = strawberry.UNSET
    unit: str | None = strawberry.UNSET
    quality_score: float | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET


@strawberry.input(description="Move a sample along its workflow.")
class ChangeSampleStatusInput:
    id: strawberry.ID
    status: SampleStatus
    reason: str | None = None
    metadata: JSON | None = None
    notify: bool | None = None


@strawberry.type(description="Why one item of a batch failed.")
class ItemError:
    code: str
    message: str


@strawberry.type(description="The outcome of one item of `createSamples`, by its position.")
class CreateSampleResult:
    index: int
    sample: Sample | None
    error: ItemError | None


@strawberry.type(description="The outcome of `createSamples`: every item succeeds or fails alone.")
class CreateSamplesPayload:
    results: list[CreateSampleResult]
    created_count: int
    failed_count: int


@strawberry.type(description="The outcome of `deleteSample`.")
class DeleteSamplePayload:
    id: strawberry.ID
    deleted: bool


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[requires(rbac.WRITE_SAMPLES)], description="Register one sample."
    )
    async def create_sample(
        self, info: Info[Context, None], input: CreateSampleInput
    ) -> Sample | None:
        record = await sample_resolvers.create_sample(info.context, _record(input))
        return Sample.from_record(record)

    @strawberry.mutation(
        permission_classes=[requires(rbac.WRITE_SAMPLES)],
        description="Register up to 100 samples in one call; one bad item fails alone.",
    )
    async def create_samples(
        self,
        info: Info[Context, None],
        input: list[CreateSampleInput],
        template_id: strawberry.ID | None = None,
    ) -> CreateSamplesPayload | None:
        outcomes = await sample_resolvers.create_samples(
            info.context,
            [_record(item) for item in input],
            template_id=parse_id(template_id, "templateId") if template_id else None,
        )
        results = [
            CreateSampleResult(
                index=o.index,
                sample=Sample.from_record(o.record) if o.record is not None else None,
                error=ItemError(code=o.error_code, message=o.error) if o.error else None,
            )
            for o in outcomes
        ]
        created = sum(1 for r in results if r.sample is not None)
        return CreateSamplesPayload(
            results=results, created_count=created, failed_count=len(results) - created
        )

    @strawberry.mutation(
        permission_classes=[requires(rbac.WRITE_SAMPLES)],
        description="Change some fields of a sample.",
    )
    async def update_sample(
        self, info: Info[Context, None], id: strawberry.ID, input: UpdateSampleInput
    ) -> Sample | None:
        changes = _record(input)
        record = await sample_resolvers.update_sample(info.context, parse_id(id, "id"), changes)
        return Sample.from_record(record)

    @strawberry.mutation(
        permission_classes=[requires(rbac.WRITE_SAMPLES)],
        description="Move a sample to another status. An illegal move is BAD_USER_INPUT with "
        "`extensions.allowedNextStatuses`.",
    )
    async def change_sample_status(
        self, info: Info[Context, None], input: ChangeSampleStatusInput
    ) -> Sample | None:
        record = await sample_resolvers.change_status(
            info.context,
            parse_id(input.id, "input.id"),
            input.status.value,
            reason=input.reason,
            metadata=input.metadata,
            notify=input.notify,
        )
        return Sample.from_record(record)

    @strawberry.mutation(
        permission_classes=[requires(rbac.DELETE_SAMPLES)],
        description="Delete a sample: it stays readable, with status DELETED.",
    )
    async def delete_sample(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> DeleteSamplePayload | None:
        sample_id = parse_id(id, "id")
        await sample_resolvers.delete_sample(info.context, sample_id)
        return DeleteSamplePayload(id=strawberry.ID(sample_id), deleted=True)


def _record(value: CreateSampleInput | UpdateSampleInput) -> dict[str, Any]:
    """An input object as the samples service's snake_case body; UNSET fields left out."""
    out: dict[str, Any] = {}
    for name, field_value in vars(value).items():
        if field_value is strawberry.UNSET or (
            field_value is None and isinstance(value, CreateSampleInput)
        ):
            continue
        if name == "template_id" and field_value is not None:
            field_value = parse_id(field_value, "templateId")
        elif name == "collection_date":
            field_value = sample_resolvers.collection_date(field_value, "collectionDate")
        out[name] = field_value
    return out


def _instant(value: datetime | None, argument: str) -> datetime | None:
    """A filter bound as an aware UTC instant (naive values are UTC)."""
    if value is None:
        return None
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise BadUserInput(f"`{argument}` is outside the years 1 to 9999 once in UTC") from None

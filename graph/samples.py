"""Samples: the Sample type, its relations to the other services, and the sample root fields.

Scalars are plain attributes (no resolver per field); relations to other services resolve
through the request's DataLoaders.

Nullability follows the samples service's contract (UPSTREAMS.md, "## samples"): the fields
it always sends (`id`, `name`, `barcode`, `sample_type`, `status`, `created_at`,
`updated_at`) are non-null, the optional ones nullable, and every relation (another
service, or another call) nullable, so that one failing service nulls only its own fields.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import UTC, date, datetime, time
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.enums import SampleStatus, SampleType
from graph.errors import BadUserInput, parse_id
from graph.execution import batched, converted, only
from graph.live import event_values, watched_ids, watched_statuses
from graph.nodes import Node, register
from graph.ordering import OrderDirection, sort_records
from graph.pagination import After, Before, Connection, First, Last, connection_args
from graph.payloads import UserError, UserErrorCode, attempt, user_error, user_errors_field
from graph.permissions import requires
from graph.sequencing import SequencingJob
from graph.storage import SampleStorage
from graph.templates import Template
from graph.users import Person, person
from graph.values import built, fields_of, member, required
from resolvers import samples as sample_resolvers
from resolvers import sequencing as sequencing_resolvers
from resolvers import storage as storage_resolvers
from resolvers.context import Context
from resolvers.live import SAMPLES, Change, Watch, changes
from resolvers.loaders import load_each
from security import rbac

_UNIT = (
    "in the unit `unit` names (the samples service records one free-text unit per sample "
    "and checks none)"
)
_CREATOR_NOTE = (
    "The samples service does not record the creator of a sample it creates (its create "
    "ignores created_by): null for those; only samples recorded before carry one."
)


# The relations of a list of samples, one loader call for the list (see graph.execution):
# each sample's value, or the error in its place.


async def _templates(ctx: Context, samples: Sequence[Sample]) -> list[Any]:
    ids = [str(s.template_id) for s in samples if s.template_id is not None]
    found = await load_each(ctx.loaders.of(ctx.upstreams.templates.get_many), ids)
    return [
        None
        if s.template_id is None
        else converted(found[str(s.template_id)], Template.from_record)
        for s in samples
    ]


async def _storage(ctx: Context, samples: Sequence[Sample]) -> list[Any]:
    found = await storage_resolvers.samples_storage(ctx, [str(s.id) for s in samples])
    return [converted(found[str(s.id)], SampleStorage.from_record) for s in samples]


def _jobs(records: list[dict[str, Any]]) -> list[SequencingJob]:
    return [SequencingJob.from_record(r) for r in records]


async def _sequencing_jobs(ctx: Context, samples: Sequence[Sample]) -> list[Any]:
    found = await sequencing_resolvers.jobs_for_samples(ctx, [str(s.id) for s in samples])
    return [converted(found[str(s.id)], _jobs) for s in samples]


@strawberry.type(description="A biological sample registered in the lab.")
class Sample(Node):
    id: strawberry.ID = strawberry.field(description="The sample's UUID.")
    name: str = strawberry.field(description="The sample's name (1 to 255 characters).")
    barcode: str = strawberry.field(
        description="The sample's unique barcode; the samples service makes one "
        "(`LAB-YYYYMMDDHHMMSS-NNNN`) when the creator gives none."
    )
    sample_type: SampleType = strawberry.field(description="The kind of material.")
    status: SampleStatus = strawberry.field(description="Where the sample is in the workflow.")
    template_id: strawberry.ID | None = strawberry.field(
        description="The UUID of the template the sample was recorded with; null for none."
    )
    source_type: str | None = strawberry.field(
        description="What the sample was taken from (free text, e.g. patient, culture)."
    )
    source_identifier: str | None = strawberry.field(
        description="The source's own identifier (free text)."
    )
    collection_date: datetime | None = strawberry.field(
        description="When the sample was collected: an RFC 3339 instant (the samples "
        "service stores a UTC timestamp, not a calendar day); null when not recorded."
    )
    collection_location: str | None = strawberry.field(
        description="Where the sample was collected (free text)."
    )
    collector: str | None = strawberry.field(
        description="Who collected the sample (free text, not a user)."
    )
    concentration: float | None = strawberry.field(
        description=f"The sample's concentration, {_UNIT}."
    )
    volume: float | None = strawberry.field(description=f"The sample's volume, {_UNIT}.")
    unit: str | None = strawberry.field(
        description="The unit of `volume` and `concentration` as the creator wrote it (free "
        "text, e.g. `mL`, `ng/uL`); null when none was given."
    )
    quality_score: float | None = strawberry.field(
        description="A quality score as the creator gave it; the samples service defines "
        "no scale and checks no range."
    )
    metadata: JSON | None = strawberry.field(
        description="Caller-defined data (any JSON; a template's field values live here); "
        "the gateway does not interpret it."
    )
    notes: str | None = strawberry.field(description="Free-text notes.")
    created_at: datetime = strawberry.field(description="When the sample was registered.")
    updated_at: datetime = strawberry.field(
        description="When the sample last changed (an update, a status change or a delete)."
    )
    created_by_id: strawberry.ID | None = strawberry.field(
        description="The user id of who registered the sample. " + _CREATOR_NOTE
    )

    @strawberry.field(
        description="The template the sample was recorded with; null for none (or when the "
        "templates service fails, with an error naming it).",
        metadata=batched(_templates),
    )
    async def template(self, info: Info[Context, None]) -> Template | None:
        return only(await _templates(info.context, [self]))

    @strawberry.field(
        description="Where the sample sits: position, container chain and location; "
        "null when it is not in storage (or when the storage service fails, with an error).",
        metadata=batched(_storage),
    )
    async def storage(self, info: Info[Context, None]) -> SampleStorage | None:
        return only(await _storage(info.context, [self]))

    @strawberry.field(
        description="Sequencing jobs whose sample sheet lists this sample, newest first; "
        "null when the sequencing service fails (with an error naming it).",
        metadata=batched(_sequencing_jobs),
    )
    async def sequencing_jobs(self, info: Info[Context, None]) -> list[SequencingJob] | None:
        return only(await _sequencing_jobs(info.context, [self]))

    @strawberry.field(
        description="Who registered the sample (a profile every lab role may read). "
        + _CREATOR_NOTE
    )
    async def created_by(self, info: Info[Context, None]) -> Person | None:
        if self.created_by_id is None:
            return None
        return await person(info, str(self.created_by_id))

    @strawberry.field(
        description="The statuses this sample may move to next (the samples service's "
        "workflow); empty for a final status."
    )
    def allowed_next_statuses(self) -> list[SampleStatus]:
        if isinstance(self.status, Exception):
            raise self.status
        return [SampleStatus(v) for v in sample_resolvers.NEXT_STATUSES[str(self.status.value)]]

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Sample:
        # The record's keys are the attributes' names (but created_by), so the object is a
        # copy of the record over every field's None (see graph.values.built).
        values = {**_SAMPLE_FIELDS, **r}
        values["id"] = strawberry.ID(r["id"])
        values["created_by_id"] = values.pop("created_by", None)
        for key in _SAMPLE_ALWAYS:
            if values[key] is None:
                values[key] = required(r, key, service="samples")
        values["sample_type"] = member(
            SampleType, values["sample_type"], service="samples", field="sample_type"
        )
        values["status"] = member(SampleStatus, values["status"], service="samples", field="status")
        return built(cls, values)


# The fields the samples service always sends (non-null in the graph).
_SAMPLE_ALWAYS = ("name", "barcode", "sample_type", "status", "created_at", "updated_at")
_SAMPLE_FIELDS = fields_of(Sample)


async def _fetch(ctx: Context, ids: Sequence[str]) -> list[Sample | None]:
    records = await sample_resolvers.samples_many(ctx, ids)
    return [None if r is None else Sample.from_record(r) for r in records]


register("Sample", rbac.READ_LIMS, _fetch)

SampleConnection = Connection[Sample]


# -- lists: filter and order ----------------------------------------------------------------


@strawberry.input(description="Narrows a sample list; every given condition must hold.")
class SampleFilter:
    statuses: list[SampleStatus] | None = strawberry.field(
        default=None, description="Samples in any of these statuses; null or empty: any."
    )
    sample_types: list[SampleType] | None = strawberry.field(
        default=None, description="Samples of any of these types; null or empty: any."
    )
    template_id: strawberry.ID | None = strawberry.field(
        default=None, description="Samples recorded with this template (its UUID)."
    )
    container_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Samples stored in this container or anywhere beneath it (its UUID); "
        "an unknown container is BAD_USER_INPUT.",
    )
    location_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Samples stored in any container at this storage location (its UUID); "
        "an unknown location is BAD_USER_INPUT.",
    )
    created_by_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Samples registered by this user. Always UPSTREAM_UNSUPPORTED on the "
        "release: the samples service does not record who creates a sample, so the answer "
        "would miss every sample created through it.",
    )
    search: str | None = strawberry.field(
        default=None, description="Part of the name or the barcode, in any case."
    )
    created_after: datetime | None = strawberry.field(
        default=None, description="Registered at or after this instant (inclusive)."
    )
    created_before: datetime | None = strawberry.field(
        default=None, description="Registered at or before this instant (inclusive)."
    )
    collected_after: datetime | None = strawberry.field(
        default=None,
        description="Collected at or after this instant (inclusive); samples without a "
        "collection date are left out.",
    )
    collected_before: datetime | None = strawberry.field(
        default=None,
        description="Collected at or before this instant (inclusive); samples without a "
        "collection date are left out.",
    )
    collected_on: date | None = strawberry.field(
        default=None,
        description="Collected on this calendar day, in UTC (with `collectedAfter` or "
        "`collectedBefore`, both must hold); samples without a collection date are left out.",
    )


@strawberry.enum(description="What a sample list can be sorted by.")
class SampleOrderField(Enum):
    CREATED_AT = strawberry.enum_value("created_at", description="When it was registered.")
    UPDATED_AT = strawberry.enum_value("updated_at", description="When it last changed.")
    NAME = strawberry.enum_value("name", description="Its name, ignoring case.")
    BARCODE = strawberry.enum_value("barcode", description="Its barcode (code point order).")
    COLLECTION_DATE = strawberry.enum_value(
        "collection_date",
        description="When it was collected; samples without a collection date go last.",
    )
    STATUS = strawberry.enum_value(
        "status", description="Its status, in the workflow's order (PENDING first)."
    )


@strawberry.input(description="How a sample list is sorted (ties keep the newest first).")
class SampleOrder:
    field: SampleOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(description="Which way.")


_STATUS_RANK = {str(s.value): i for i, s in enumerate(SampleStatus)}


def _order_key(field: SampleOrderField) -> Callable[[dict[str, Any]], Any]:
    name = str(field.value)
    if field is SampleOrderField.STATUS:
        return lambda r: _STATUS_RANK.get(str(r.get("status")))
    if field is SampleOrderField.NAME:
        return lambda r: r["name"].casefold() if isinstance(r.get("name"), str) else None
    if field is SampleOrderField.BARCODE:
        return lambda r: r["barcode"] if isinstance(r.get("barcode"), str) else None
    return lambda r: r[name] if isinstance(r.get(name), datetime) else None


def _arrange(order: SampleOrder | None) -> Callable[[list[dict[str, Any]]], list[Any]] | None:
    """The gateway-side sort ``order`` asks for; None for the upstream's own order (newest
    first), which costs nothing."""
    if order is None or (
        order.field is SampleOrderField.CREATED_AT and order.direction is OrderDirection.DESC
    ):
        return None
    key = _order_key(order.field)
    return lambda records: sort_records(records, key, order.direction)


def _filters(f: SampleFilter | None) -> dict[str, object]:
    if f is None:
        return {}
    values = {
        "statuses": [str(s.value) for s in f.statuses] if f.statuses else None,
        "sample_types": [str(t.value) for t in f.sample_types] if f.sample_types else None,
        "template_id": parse_id(f.template_id, "filter.templateId") if f.template_id else None,
        "search": f.search,
        "created_after": _instant(f.created_after, "filter.createdAfter"),
        "created_before": _instant(f.created_before, "filter.createdBefore"),
        "collected_after": _instant(f.collected_after, "filter.collectedAfter"),
        "collected_before": _instant(f.collected_before, "filter.collectedBefore"),
    }
    if f.collected_on is not None:
        day = datetime.combine(f.collected_on, time.min, tzinfo=UTC)
        end = datetime.combine(f.collected_on, time.max, tzinfo=UTC)
        after, before = values["collected_after"], values["collected_before"]
        values["collected_after"] = day if after is None else max(after, day)
        values["collected_before"] = end if before is None else min(before, end)
    return {k: v for k, v in values.items() if v is not None}


def _where(f: SampleFilter | None) -> sample_resolvers.Where | None:
    if f is None or (f.container_id is None and f.location_id is None):
        return None
    return sample_resolvers.Where(
        container_id=parse_id(f.container_id, "filter.containerId") if f.container_id else None,
        location_id=parse_id(f.location_id, "filter.locationId") if f.location_id else None,
    )


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="One sample by id; null when there is none.",
    )
    async def sample(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The sample's UUID.")],
    ) -> Sample | None:
        record = await sample_resolvers.sample(info.context, str(id))
        return None if record is None else Sample.from_record(record)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="One sample by barcode; null when there is none.",
    )
    async def sample_by_barcode(
        self,
        info: Info[Context, None],
        barcode: Annotated[str, strawberry.argument(description="The barcode, exactly.")],
    ) -> Sample | None:
        record = await sample_resolvers.sample_by_barcode(info.context, barcode)
        return None if record is None else Sample.from_record(record)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Samples, newest first unless `orderBy` says otherwise, as a cursor "
        "connection. The samples service can neither filter nor sort (its filters answer "
        "500): with a filter or another order the gateway reads the whole list (at most "
        "TRACSEQ_MAX_SCAN_ITEMS samples, UPSTREAM_UNSUPPORTED beyond) and filters, sorts "
        "and pages it itself.",
    )
    async def samples(
        self,
        info: Info[Context, None],
        filter: Annotated[
            SampleFilter | None, strawberry.argument(description="Which samples; null: all.")
        ] = None,
        order_by: Annotated[
            SampleOrder | None,
            strawberry.argument(description="The order; null: newest first (CREATED_AT DESC)."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> SampleConnection | None:
        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        page = await sample_resolvers.samples_page(
            ctx,
            request,
            _filters(filter),
            where=_where(filter),
            created_by=(
                parse_id(filter.created_by_id, "filter.createdById")
                if filter and filter.created_by_id
                else None
            ),
            arrange=_arrange(order_by),
        )
        return SampleConnection.build(page, Sample.from_record)


# -- mutations ------------------------------------------------------------------------------


@strawberry.input(description="A new sample. Without a barcode the samples service makes one.")
class CreateSampleInput:
    name: str = strawberry.field(description="The sample's name (1 to 255 characters).")
    sample_type: SampleType = strawberry.field(description="The kind of material.")
    barcode: str | None = strawberry.field(
        default=None,
        description="A unique barcode; one in use is a userError TAKEN. Null: the samples "
        "service makes one.",
    )
    template_id: strawberry.ID | None = strawberry.field(
        default=None, description="The UUID of the template the sample is recorded with."
    )
    source_type: str | None = strawberry.field(
        default=None, description="What the sample was taken from (free text)."
    )
    source_identifier: str | None = strawberry.field(
        default=None, description="The source's own identifier (free text)."
    )
    collection_date: datetime | None = strawberry.field(
        default=None,
        description="When it was collected: an RFC 3339 instant (stored in UTC; years 1 to "
        "9999 once in UTC).",
    )
    collection_location: str | None = strawberry.field(
        default=None, description="Where it was collected (free text)."
    )
    collector: str | None = strawberry.field(
        default=None, description="Who collected it (free text)."
    )
    concentration: float | None = strawberry.field(
        default=None, description=f"Its concentration, {_UNIT}."
    )
    volume: float | None = strawberry.field(default=None, description=f"Its volume, {_UNIT}.")
    unit: str | None = strawberry.field(
        default=None, description="The unit of `volume` and `concentration` (free text)."
    )
    quality_score: float | None = strawberry.field(
        default=None, description="A quality score (no scale is defined or checked)."
    )
    metadata: JSON | None = strawberry.field(
        default=None, description="Caller-defined data (any JSON), stored as given."
    )
    notes: str | None = strawberry.field(default=None, description="Free-text notes.")


@strawberry.input(
    description="Changes to a sample; fields left out stay as they are. The samples service "
    "can set a field but never clear it: a null is UPSTREAM_UNSUPPORTED, and nothing is "
    "written. It cannot change a sample's template either."
)
class UpdateSampleInput:
    id: strawberry.ID = strawberry.field(description="The UUID of the sample to change.")
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new name (1 to 255 characters)."
    )
    sample_type: SampleType | None = strawberry.field(
        default=strawberry.UNSET, description="A new type."
    )
    barcode: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new unique barcode; one in use is TAKEN."
    )
    source_type: str | None = strawberry.field(
        default=strawberry.UNSET, description="What the sample was taken from (free text)."
    )
    source_identifier: str | None = strawberry.field(
        default=strawberry.UNSET, description="The source's own identifier (free text)."
    )
    collection_date: datetime | None = strawberry.field(
        default=strawberry.UNSET,
        description="When it was collected: an RFC 3339 instant (years 1 to 9999 in UTC).",
    )
    collection_location: str | None = strawberry.field(
        default=strawberry.UNSET, description="Where it was collected (free text)."
    )
    collector: str | None = strawberry.field(
        default=strawberry.UNSET, description="Who collected it (free text)."
    )
    concentration: float | None = strawberry.field(
        default=strawberry.UNSET, description=f"Its concentration, {_UNIT}."
    )
    volume: float | None = strawberry.field(
        default=strawberry.UNSET, description=f"Its volume, {_UNIT}."
    )
    unit: str | None = strawberry.field(
        default=strawberry.UNSET, description="The unit of `volume` and `concentration`."
    )
    quality_score: float | None = strawberry.field(
        default=strawberry.UNSET, description="A quality score (no scale is defined)."
    )
    metadata: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Caller-defined data (any JSON), replacing it."
    )
    notes: str | None = strawberry.field(default=strawberry.UNSET, description="Notes.")


@strawberry.input(description="Move a sample along its workflow.")
class ChangeSampleStatusInput:
    id: strawberry.ID = strawberry.field(description="The UUID of the sample.")
    status: SampleStatus = strawberry.field(
        description="The status to move to; it must be one of `allowedNextStatuses`."
    )
    reason: str | None = strawberry.field(default=None, description="Why (at most 500 characters).")
    metadata: JSON | None = strawberry.field(
        default=None,
        description="Not supported: the samples service stores no data with a status change, "
        "so any value is UPSTREAM_UNSUPPORTED (and nothing is written).",
    )
    notify: bool | None = strawberry.field(
        default=None,
        description="Not supported: the samples service notifies nobody, so `true` is "
        "UPSTREAM_UNSUPPORTED (and nothing is written).",
    )


@strawberry.input(description="Register many samples in one call.")
class CreateSamplesInput:
    samples: list[CreateSampleInput] = strawberry.field(
        description="The samples, 1 to 100 (more is a userError LIMIT_EXCEEDED)."
    )
    template_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A template for every item that names none itself (UUID).",
    )


@strawberry.input(description="The sample to delete.")
class DeleteSampleInput:
    id: strawberry.ID = strawberry.field(description="The UUID of the sample.")


@strawberry.type(description="The outcome of `createSample`.")
class CreateSamplePayload:
    sample: Sample | None = strawberry.field(
        default=None, description="The new sample; null when userErrors is not empty."
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of one item of `createSamples`, by its position.")
class CreateSampleResult:
    index: int = strawberry.field(description="The item's position in `input.samples`, from 0.")
    sample: Sample | None = strawberry.field(
        default=None, description="The new sample; null when the item failed."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="Why this item failed (paths start with `input`, `samples`, its index); "
        "empty when it was created.",
    )


@strawberry.type(description="The outcome of `createSamples`: every item succeeds or fails alone.")
class CreateSamplesPayload:
    samples: list[Sample] | None = strawberry.field(
        default=None,
        description="The samples created, in input order; null when userErrors is not empty.",
    )
    results: list[CreateSampleResult] | None = strawberry.field(
        default=None,
        description="One result per item, in input order; null when userErrors is not empty.",
    )
    created_count: int = strawberry.field(default=0, description="How many were created.")
    failed_count: int = strawberry.field(default=0, description="How many items failed.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="What in the input as a whole the caller can fix (e.g. too many "
        "items); when it is not empty, nothing was created. An item's own failures are in "
        "its result.",
    )


@strawberry.type(description="The outcome of `updateSample`.")
class UpdateSamplePayload:
    sample: Sample | None = strawberry.field(
        default=None, description="The sample as changed; null when userErrors is not empty."
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of `changeSampleStatus`.")
class ChangeSampleStatusPayload:
    sample: Sample | None = strawberry.field(
        default=None,
        description="The sample in its new status. After an illegal move "
        "(INVALID_TRANSITION) it is the sample as it is, unchanged, whose "
        "`allowedNextStatuses` tell where it may go; null for any other user error.",
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type(description="The outcome of `deleteSample`.")
class DeleteSamplePayload:
    deleted_sample_id: strawberry.ID | None = strawberry.field(
        default=None, description="The deleted sample's UUID; null when userErrors is not empty."
    )
    user_errors: list[UserError] = user_errors_field()

    @strawberry.field(
        description="The sample after the delete (status DELETED: the delete is soft and the "
        "sample stays readable), read again; null when userErrors is not empty."
    )
    async def sample(self, info: Info[Context, None]) -> Sample | None:
        if self.deleted_sample_id is None:
            return None
        record = await sample_resolvers.fresh(info.context, str(self.deleted_sample_id))
        return None if record is None else Sample.from_record(record)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[requires(rbac.WRITE_SAMPLES)],
        description="Register one sample. A barcode in use is a userError TAKEN on "
        '`["input", "barcode"]`.',
    )
    async def create_sample(
        self,
        info: Info[Context, None],
        input: Annotated[
            CreateSampleInput, strawberry.argument(description="The sample to register.")
        ],
    ) -> CreateSamplePayload | None:
        async def work() -> CreateSamplePayload:
            record = await sample_resolvers.create_sample(info.context, _record(input, ["input"]))
            return CreateSamplePayload(sample=Sample.from_record(record))

        return await attempt(CreateSamplePayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.WRITE_SAMPLES)],
        description="Register up to 100 samples in one call; one bad item fails alone, with "
        "its userErrors in its result.",
    )
    async def create_samples(
        self,
        info: Info[Context, None],
        input: Annotated[
            CreateSamplesInput, strawberry.argument(description="The samples to register.")
        ],
    ) -> CreateSamplesPayload | None:
        async def work() -> CreateSamplesPayload:
            items = [_item(item, i) for i, item in enumerate(input.samples)]
            template = (
                parse_id(input.template_id, "input.templateId") if input.template_id else None
            )
            outcomes = await sample_resolvers.create_samples(
                info.context, items, template_id=template
            )
            results = [_result(o) for o in outcomes]
            created = [r.sample for r in results if r.sample is not None]
            return CreateSamplesPayload(
                samples=created,
                results=results,
                created_count=len(created),
                failed_count=len(results) - len(created),
            )

        return await attempt(CreateSamplesPayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.WRITE_SAMPLES)],
        description="Change some fields of a sample.",
    )
    async def update_sample(
        self,
        info: Info[Context, None],
        input: Annotated[
            UpdateSampleInput, strawberry.argument(description="The sample and the changes.")
        ],
    ) -> UpdateSamplePayload | None:
        async def work() -> UpdateSamplePayload:
            sample_id = parse_id(input.id, "input.id")
            changes = _record(input, ["input"])
            record = await sample_resolvers.update_sample(info.context, sample_id, changes)
            return UpdateSamplePayload(sample=Sample.from_record(record))

        return await attempt(UpdateSamplePayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.WRITE_SAMPLES)],
        description="Move a sample to another status. An illegal move is a userError "
        'INVALID_TRANSITION on `["input", "status"]`, with the unchanged sample in the '
        "payload (its `allowedNextStatuses`).",
    )
    async def change_sample_status(
        self,
        info: Info[Context, None],
        input: Annotated[
            ChangeSampleStatusInput,
            strawberry.argument(description="The sample and its new status."),
        ],
    ) -> ChangeSampleStatusPayload | None:
        async def work() -> ChangeSampleStatusPayload:
            try:
                record = await sample_resolvers.change_status(
                    info.context,
                    parse_id(input.id, "input.id"),
                    str(input.status.value),
                    reason=input.reason,
                    metadata=input.metadata,
                    notify=input.notify,
                )
            except sample_resolvers.InvalidTransition as exc:
                errors = [e for e in (user_error(exc),) if e is not None]
                return ChangeSampleStatusPayload(
                    sample=Sample.from_record(exc.record), user_errors=errors
                )
            return ChangeSampleStatusPayload(sample=Sample.from_record(record))

        return await attempt(ChangeSampleStatusPayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.DELETE_SAMPLES)],
        description="Delete a sample, softly: it stays readable and listed, with status "
        "DELETED. A sample being sequenced cannot be deleted (a userError CONFLICT).",
    )
    async def delete_sample(
        self,
        info: Info[Context, None],
        input: Annotated[
            DeleteSampleInput, strawberry.argument(description="The sample to delete.")
        ],
    ) -> DeleteSamplePayload | None:
        async def work() -> DeleteSamplePayload:
            sample_id = parse_id(input.id, "input.id")
            await sample_resolvers.delete_sample(info.context, sample_id)
            return DeleteSamplePayload(deleted_sample_id=strawberry.ID(sample_id))

        return await attempt(DeleteSamplePayload, work())


@strawberry.type(description="A sample moved to another status.")
class SampleStatusEvent:
    sample: Sample | None = strawberry.field(
        description="The sample as it is after the change (its relations read when the "
        "event is delivered)."
    )
    previous_status: SampleStatus | None = strawberry.field(
        description="The status before; null when the gateway did not know it (a sample "
        "first seen in its new status)."
    )
    status: SampleStatus = strawberry.field(description="The status now.")
    changed_at: datetime = strawberry.field(
        description="When the sample changed (its `updatedAt`)."
    )

    @classmethod
    def of(cls, change: Change) -> SampleStatusEvent:
        values = event_values(SampleStatus, change, SAMPLES)
        return cls(sample=Sample.from_record({**change.record}), **values)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Each status change of the samples watched, as it happens: a change made "
        "through any gateway replica at once, one made at the samples service directly "
        "within TRACSEQ_SUBSCRIPTION_POLL_INTERVAL.",
    )
    async def sample_status_changed(
        self,
        info: Info[Context, None],
        ids: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(description="Only these samples; null: every sample."),
        ] = None,
        statuses: Annotated[
            list[SampleStatus] | None,
            strawberry.argument(description="Only moves to one of these statuses; null: any."),
        ] = None,
    ) -> AsyncGenerator[SampleStatusEvent, None]:
        watch = Watch(ids=watched_ids(ids), statuses=watched_statuses(statuses))
        return (
            SampleStatusEvent.of(change) async for change in changes(info.context, SAMPLES, watch)
        )


def _result(o: sample_resolvers.ItemOutcome) -> CreateSampleResult:
    if o.record is not None:
        return CreateSampleResult(index=o.index, sample=Sample.from_record(o.record))
    error = UserError(
        field=[str(p) for p in o.field] if o.field is not None else None,
        message=o.error or "not created",
        code=UserErrorCode(o.code),
    )
    return CreateSampleResult(index=o.index, user_errors=[error])


def _item(item: CreateSampleInput, index: int) -> dict[str, Any] | BadUserInput:
    """A batch item's body, or why it cannot be sent (it then fails alone)."""
    try:
        return _record(item, ["input", "samples", index])
    except BadUserInput as exc:
        return exc


def _record(
    value: CreateSampleInput | UpdateSampleInput, prefix: list[str | int]
) -> dict[str, Any]:
    """An input object as the samples service's snake_case body; UNSET fields left out
    (and the id, which travels in the path)."""
    out: dict[str, Any] = {}
    for name, field_value in vars(value).items():
        if name == "id" or (
            field_value is strawberry.UNSET
            or (field_value is None and isinstance(value, CreateSampleInput))
        ):
            continue
        path = sample_resolvers.input_field(prefix, name)
        if name == "template_id" and field_value is not None:
            field_value = parse_id(field_value, ".".join(str(p) for p in path))
        elif name == "collection_date":
            field_value = sample_resolvers.collection_date(field_value, path)
        elif isinstance(field_value, SampleType):
            field_value = str(field_value.value)
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
        raise BadUserInput(
            f"`{argument}` is outside the years 1 to 9999 once in UTC",
            field=argument.split("."),
        ) from None

"""RAG: questions answered from the lab's documents, submissions and document uploads.

``askLab`` answers from the lab's SOPs and protocols and continues a conversation the RAG
service keeps, so it is a mutation (a cache-first client must not replay an answer); each
source links to the samples it names (``LabAnswerSource.samples``). ``uploadLabDocument``
takes a file over the GraphQL multipart request spec and hands it to the RAG service for
extraction. Durations are milliseconds (``...Ms``); the service reports seconds.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from graph.enums import SampleType
from graph.pagination import After, Before, Connection, First, Last, connection_args
from graph.payloads import UserError, attempt, user_errors_field
from graph.permissions import requires
from graph.values import member, required
from resolvers import rag as rag_resolvers
from resolvers.context import Context
from security import rbac
from upstreams.errors import UpstreamBadResponse

if TYPE_CHECKING:
    from graph.samples import Sample

LazySample = Annotated["Sample", strawberry.lazy("graph.samples")]
SERVICE = "rag"


def _ms(r: dict[str, Any], key: str) -> Any:
    """A duration the service sends in seconds, in milliseconds."""
    value = required(r, key, service=SERVICE)
    if isinstance(value, Exception):
        return value
    if not isinstance(value, int | float):
        return UpstreamBadResponse.for_value(SERVICE, key, value)
    return float(value) * 1000.0


async def _samples(info: Info[Context, None], refs: rag_resolvers.SampleRefs) -> list[Sample]:
    from graph.samples import Sample

    return [Sample.from_record(r) for r in await rag_resolvers.samples_named(info.context, refs)]


@strawberry.type(description="A document an answer drew on.")
class LabAnswerSource:
    title: str = strawberry.field(description="The document's title.")
    relevance: float = strawberry.field(
        description="How relevant it is to the question: 0 to 1, higher is more relevant."
    )
    excerpt: str | None = strawberry.field(
        description="The passage of this document that the answer quotes; null when it quotes none."
    )
    _refs: strawberry.Private[rag_resolvers.SampleRefs]

    @strawberry.field(
        description="The first sample this source names (by barcode or id), if it names one "
        "(a samples call)."
    )
    async def sample(self, info: Info[Context, None]) -> LazySample | None:
        found = await _samples(info, self._refs)
        return found[0] if found else None

    @strawberry.field(
        description="Every sample this source names, by barcode or id, in order of appearance "
        "(a samples call; one per distinct barcode)."
    )
    async def samples(self, info: Info[Context, None]) -> list[LazySample] | None:
        return await _samples(info, self._refs)


@strawberry.type(description="An answer from the lab's documents.")
class LabAnswer:
    answer: str = strawberry.field(description="The answer's text.")
    session_id: strawberry.ID = strawberry.field(
        description="The conversation this answer belongs to: pass it to the next `askLab` "
        "to continue it."
    )
    confidence: float = strawberry.field(
        description="How sure the service is of the answer: 0 to 1."
    )
    processing_time_ms: float = strawberry.field(
        description="Milliseconds the RAG service took to answer."
    )
    sources: list[LabAnswerSource] = strawberry.field(
        description="The documents the answer drew on, most relevant first."
    )

    @classmethod
    def from_record(cls, r: dict[str, Any], session_id: str) -> LabAnswer:
        answer = required(r, "answer", service=SERVICE)
        quoted = rag_resolvers.quoted_passages(answer if isinstance(answer, str) else "")
        sources = []
        for source in r.get("sources") or ():
            title = required(source, "title", service=SERVICE)
            text = title if isinstance(title, str) else ""
            excerpt = quoted.get(text)
            sources.append(
                LabAnswerSource(
                    title=title,
                    relevance=required(source, "relevance", service=SERVICE),
                    excerpt=excerpt,
                    _refs=rag_resolvers.SampleRefs.of(text, excerpt or ""),
                )
            )
        echoed = r.get("session_id")
        return cls(
            answer=answer,
            session_id=strawberry.ID(str(echoed if echoed is not None else session_id)),
            confidence=required(r, "confidence_score", service=SERVICE),
            processing_time_ms=_ms(r, "processing_time"),
            sources=sources,
        )


@strawberry.enum(description="Where the RAG service is with a submission document.")
class RagSubmissionStatus(Enum):
    PROCESSING = strawberry.enum_value("processing", description="Being extracted.")
    COMPLETED = strawberry.enum_value("completed", description="Extracted.")
    FAILED = strawberry.enum_value("failed", description="Extraction failed.")


@strawberry.type(
    description="What the RAG service found about the people behind a submission document."
)
class ExtractedAdministrative:
    submitter_email: str | None = strawberry.field(
        description="The first email address in the document; null when it has none."
    )
    submitter_name: str | None = strawberry.field(
        description="The text after `Submitter:`, `Contact:` or `Name:`, as found (it may run "
        "into the next line); null when there is none."
    )


@strawberry.type(description="What the RAG service found about the sample in a document.")
class ExtractedSample:
    sample_code: str | None = strawberry.field(
        description="The first sample code (2-4 capitals, an optional dash, 3-8 digits, e.g. "
        "`RNA-20931`); null when there is none. The document is kept only when it has one."
    )
    sample_type: SampleType | None = strawberry.field(
        description="The first of DNA, RNA, Protein, Plasma, Serum, Tissue, Blood the text "
        "mentions; null when none."
    )
    concentration_text: str | None = strawberry.field(
        description="A concentration with its unit, as written (e.g. `50 ng/μL`); null when "
        "there is none."
    )
    volume_text: str | None = strawberry.field(
        description="A volume with its unit, as written (e.g. `20 uL`); null when none."
    )


@strawberry.type(
    description="What the RAG service extracted from a document. The release's extractor "
    "also sends empty `sequencing` and `storage` sections: it fills neither, so the graph "
    "leaves them out."
)
class ExtractedData:
    administrative: ExtractedAdministrative | None = strawberry.field(
        description="Who submitted it; null when extraction failed (see `error`)."
    )
    sample: ExtractedSample | None = strawberry.field(
        description="The sample it describes; null when extraction failed (see `error`)."
    )
    error: str | None = strawberry.field(description="Why extraction failed; null when it did not.")

    @classmethod
    def from_record(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return UpstreamBadResponse.for_value(SERVICE, "extracted_data", data)
        admin, sample = data.get("administrative"), data.get("sample")
        return cls(
            administrative=None
            if not isinstance(admin, dict)
            else ExtractedAdministrative(
                submitter_email=_text(admin.get("submitter_email")),
                submitter_name=_text(admin.get("submitter_name")),
            ),
            sample=None
            if not isinstance(sample, dict)
            else ExtractedSample(
                sample_code=_text(sample.get("sample_id")),
                sample_type=member(
                    SampleType,
                    _text(sample.get("sample_type")),
                    service=SERVICE,
                    field="extracted_data.sample.sample_type",
                ),
                concentration_text=_text(sample.get("concentration")),
                volume_text=_text(sample.get("volume")),
            ),
            error=_text(data.get("error")),
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@strawberry.type(description="A lab submission document the RAG service has processed and kept.")
class RagSubmission:
    id: strawberry.ID = strawberry.field(
        description="The submission's id: 8 characters (not a UUID: submissions are not "
        "`Node`s, and live in the RAG service's memory until it restarts)."
    )
    filename: str = strawberry.field(description="The uploaded file's name.")
    status: RagSubmissionStatus = strawberry.field(description="Where extraction is.")
    confidence: float = strawberry.field(
        description="The share of the six fields the extractor looks for that it found: 0 to 1."
    )
    extracted_data: ExtractedData = strawberry.field(description="What was extracted.")
    created_at: datetime = strawberry.field(description="When the document was processed.")

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> RagSubmission:
        return cls(
            id=strawberry.ID(str(r["id"])),
            filename=required(r, "filename", service=SERVICE),
            status=member(
                RagSubmissionStatus,
                required(r, "status", service=SERVICE),
                service=SERVICE,
                field="status",
            ),
            confidence=required(r, "confidence_score", service=SERVICE),
            extracted_data=ExtractedData.from_record(r.get("extracted_data")),
            created_at=required(r, "created_at", service=SERVICE),
        )


RagSubmissionConnection = Connection[RagSubmission]


@strawberry.type(description="What the RAG service extracted from an uploaded document.")
class LabDocumentExtraction:
    submission_id: strawberry.ID | None = strawberry.field(
        description="The submission kept for this document; null when the service found no "
        "sample id in it (it then keeps nothing)."
    )
    confidence: float = strawberry.field(
        description="The share of the six fields the extractor looks for that it found: 0 to 1."
    )
    samples_found: int = strawberry.field(
        description="Samples found: 0 or 1 (the extractor looks for one sample id)."
    )
    extracted_data: ExtractedData = strawberry.field(description="What was extracted.")
    processing_time_ms: float = strawberry.field(
        description="Milliseconds the RAG service took to process the document."
    )
    message: str = strawberry.field(description="The service's summary, for a person to read.")

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> LabDocumentExtraction:
        submission_id = r.get("submission_id")
        return cls(
            submission_id=None if submission_id is None else strawberry.ID(str(submission_id)),
            confidence=required(r, "confidence_score", service=SERVICE),
            samples_found=required(r, "samples_found", service=SERVICE),
            extracted_data=ExtractedData.from_record(r.get("extracted_data")),
            processing_time_ms=_ms(r, "processing_time"),
            message=required(r, "message", service=SERVICE),
        )


@strawberry.input(description="A question for the lab's documents.")
class AskLabInput:
    question: str = strawberry.field(
        description=f"The question; not empty, at most {rag_resolvers.MAX_QUESTION_CHARS} "
        "characters."
    )
    session_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The conversation to continue (a `LabAnswer.sessionId`); null starts a "
        "new one with a fresh id.",
    )


@strawberry.type(description="The outcome of `askLab`.")
class AskLabPayload:
    lab_answer: LabAnswer | None = strawberry.field(
        default=None, description="The answer; null when userErrors is not empty."
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.input(description="A lab submission document to extract.")
class UploadLabDocumentInput:
    file: Upload = strawberry.field(
        description="The document, as a file of the multipart request: UTF-8 text, not empty, "
        f"at most {rag_resolvers.MAX_UPLOAD_BYTES // 2**20} MB."
    )


@strawberry.type(description="The outcome of `uploadLabDocument`.")
class UploadLabDocumentPayload:
    extraction: LabDocumentExtraction | None = strawberry.field(
        default=None,
        description="What the service extracted; null when userErrors is not empty.",
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Processed submission documents the RAG service kept, newest first "
        "(held in the service's memory: a restart empties the list).",
    )
    async def rag_submissions(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> RagSubmissionConnection | None:
        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        records = await rag_resolvers.submissions(ctx)
        return await RagSubmissionConnection.from_list(records, request, RagSubmission.from_record)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Ask a question of the lab's documents, continuing the conversation "
        "`input.sessionId` names (or a new one). A mutation: the service keeps the "
        "conversation, so an answer must not be replayed from a client cache.",
    )
    async def ask_lab(
        self,
        info: Info[Context, None],
        input: Annotated[AskLabInput, strawberry.argument(description="The question.")],
    ) -> AskLabPayload | None:
        async def work() -> AskLabPayload:
            session = rag_resolvers.session_of(input.session_id)
            record = await rag_resolvers.ask(info.context, input.question, session)
            return AskLabPayload(lab_answer=LabAnswer.from_record(record, session))

        return await attempt(AskLabPayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.WRITE_SAMPLES)],
        description="Upload a lab submission document (multipart request; at most 10 MB of "
        "UTF-8 text) for extraction. A file the service cannot read is a user error.",
    )
    async def upload_lab_document(
        self,
        info: Info[Context, None],
        input: Annotated[UploadLabDocumentInput, strawberry.argument(description="The document.")],
    ) -> UploadLabDocumentPayload | None:
        async def work() -> UploadLabDocumentPayload:
            record = await rag_resolvers.upload(info.context, input.file)
            return UploadLabDocumentPayload(extraction=LabDocumentExtraction.from_record(record))

        return await attempt(UploadLabDocumentPayload, work())

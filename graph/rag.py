"""RAG: questions answered from the lab's documents, submissions and document uploads.

``askLab`` answers from the lab's SOPs and protocols; each source links to the samples it
names (``LabAnswerSource.samples``). ``uploadLabDocument`` takes a file over the GraphQL
multipart request spec and hands it to the RAG service for extraction.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.pagination import After, Before, Connection, First, Last, connection_args
from graph.permissions import requires
from resolvers import rag as rag_resolvers
from resolvers.context import Context
from security import rbac

if TYPE_CHECKING:
    from graph.samples import Sample

LazySample = Annotated["Sample", strawberry.lazy("graph.samples")]


async def _samples(info: Info[Context, None], refs: rag_resolvers.SampleRefs) -> list[Sample]:
    from graph.samples import Sample

    return [Sample.from_record(r) for r in await rag_resolvers.samples_named(info.context, refs)]


@strawberry.type(description="A document an answer drew on.")
class LabAnswerSource:
    title: str
    relevance: float | None = strawberry.field(description="0 to 1, higher is more relevant.")
    excerpt: str | None = strawberry.field(
        description="The passage of this document that the answer quotes, if it quotes one."
    )
    _refs: strawberry.Private[rag_resolvers.SampleRefs]

    @strawberry.field(description="The first sample this source names, if it names one.")
    async def sample(self, info: Info[Context, None]) -> LazySample | None:
        found = await _samples(info, self._refs)
        return found[0] if found else None

    @strawberry.field(description="Every sample this source names, by barcode or id.")
    async def samples(self, info: Info[Context, None]) -> list[LazySample]:
        return await _samples(info, self._refs)


@strawberry.type(description="An answer from the lab's documents.")
class LabAnswer:
    answer: str
    session_id: str
    confidence: float | None = strawberry.field(description="0 to 1.")
    processing_time: float | None = strawberry.field(description="Seconds the service took.")
    sources: list[LabAnswerSource]

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> LabAnswer:
        answer = str(r.get("answer") or "")
        quoted = rag_resolvers.quoted_passages(answer)
        sources = []
        for source in r.get("sources") or ():
            title = str(source.get("title") or "")
            excerpt = quoted.get(title)
            sources.append(
                LabAnswerSource(
                    title=title,
                    relevance=source.get("relevance"),
                    excerpt=excerpt,
                    _refs=rag_resolvers.SampleRefs.of(title, excerpt or ""),
                )
            )
        return cls(
            answer=answer,
            session_id=str(r.get("session_id") or ""),
            confidence=r.get("confidence_score"),
            processing_time=r.get("processing_time"),
            sources=sources,
        )


@strawberry.type(description="A lab submission document the RAG service has processed.")
class RagSubmission:
    id: strawberry.ID
    filename: str
    status: str | None = strawberry.field(description="As the service says, e.g. completed.")
    confidence: float | None
    extracted_data: JSON | None
    created_at: datetime | None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> RagSubmission:
        return cls(
            id=strawberry.ID(str(r["id"])),
            filename=str(r.get("filename") or ""),
            status=r.get("status"),
            confidence=r.get("confidence_score"),
            extracted_data=r.get("extracted_data"),
            created_at=r.get("created_at"),
        )


RagSubmissionConnection = Connection[RagSubmission]


@strawberry.type(description="What the RAG service extracted from an uploaded document.")
class LabDocumentUpload:
    success: bool
    submission_id: strawberry.ID | None = strawberry.field(
        description="The submission kept for this document; null when the service found no "
        "sample id in it (it then keeps nothing)."
    )
    confidence: float | None
    samples_found: int
    extracted_data: JSON | None
    processing_time: float | None
    message: str | None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> LabDocumentUpload:
        submission_id = r.get("submission_id")
        return cls(
            success=bool(r.get("success", True)),
            submission_id=None if submission_id is None else strawberry.ID(str(submission_id)),
            confidence=r.get("confidence_score"),
            samples_found=int(r.get("samples_found") or 0),
            extracted_data=r.get("extracted_data"),
            processing_time=r.get("processing_time"),
            message=r.get("message"),
        )


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Ask a question of the lab's documents.",
    )
    async def ask_lab(
        self,
        info: Info[Context, None],
        question: str,
        session_id: Annotated[
            str | None, strawberry.argument(description="Keeps a conversation together.")
        ] = None,
    ) -> LabAnswer | None:
        record = await rag_resolvers.ask(info.context, question, session_id)
        return LabAnswer.from_record(record)

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="Processed submission documents, newest first.",
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
        permission_classes=[requires(rbac.WRITE_SAMPLES)],
        description="Upload a lab submission document (multipart request; at most 10 MB) "
        "for extraction.",
    )
    async def upload_lab_document(
        self, info: Info[Context, None], file: Upload
    ) -> LabDocumentUpload | None:
        record = await rag_resolvers.upload(info.context, file)
        return LabDocumentUpload.from_record(record)

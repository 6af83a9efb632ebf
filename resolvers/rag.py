"""Root resolvers for the RAG service: questions, submissions and document uploads.

A source of an answer names samples when its title, or the passage the answer quotes from
it, carries a sample barcode (``PREFIX-YYYYMMDDHHMMSS-NNNN``) or a sample id. Those samples
load through the request's loaders: ids through the samples batch filter, barcodes through
a de-duplicated fan-out of ``GET /samples/barcode/{barcode}`` (the service has no batch
route for barcodes), whose results also prime the id loader.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resolvers.context import Context
from resolvers.errors import BadUserInput
from upstreams.config import CallContext
from upstreams.samples import SamplesClient
from upstreams.services import fan_out

Record = dict[str, Any]

MAX_QUESTION_CHARS = 2000
MAX_SESSION_CHARS = 200
MAX_UPLOAD_BYTES = 10 * 1024 * 1024

_BARCODE = re.compile(r"\b[A-Z]{2,5}-\d{14}-\d{4}\b")
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\b")
# The RAG service quotes its passages as "According to <title>: <passage>", one a paragraph.
_QUOTE_START = re.compile(r"\n\s*\n(?=According to )")


@dataclass(frozen=True, slots=True)
class SamplesByBarcode:
    """Batch function: the sample of each barcode (None where there is none)."""

    samples: SamplesClient

    async def __call__(self, call: CallContext, barcodes: Sequence[str]) -> list[Any]:
        return await fan_out(
            list(barcodes),
            lambda b: self.samples.get_by_barcode(call, b),
            width=self.samples.client.config.bulkhead.max_concurrency,
        )


@dataclass(frozen=True, slots=True)
class SampleRefs:
    """What a piece of text names: sample barcodes and sample ids, in order of appearance."""

    barcodes: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, *texts: str) -> SampleRefs:
        text = "\n".join(texts)
        barcodes = tuple(dict.fromkeys(_BARCODE.findall(text)))
        ids = tuple(dict.fromkeys(str(uuid.UUID(m)) for m in _UUID.findall(text)))
        return cls(barcodes=barcodes, ids=ids)


def quoted_passages(answer: str) -> dict[str, str]:
    """The passages an answer quotes, by source title (joined when one title has several)."""
    passages: dict[str, list[str]] = {}
    for part in _QUOTE_START.split(answer.strip()):
        title, sep, body = part.removeprefix("According to ").partition(": ")
        if part.startswith("According to ") and sep:
            passages.setdefault(title.strip(), []).append(body.strip())
    return {title: "\n\n".join(bodies) for title, bodies in passages.items()}


async def samples_named(ctx: Context, refs: SampleRefs) -> list[Record]:
    """The samples ``refs`` name that exist, barcodes first, without duplicates."""
    if not refs.barcodes and not refs.ids:
        return []
    by_barcode = ctx.loaders.of(SamplesByBarcode(ctx.upstreams.samples))
    by_id = ctx.loaders.of(ctx.upstreams.samples.get_many)
    found: list[Record | None] = []
    if refs.barcodes:
        found += await by_barcode.load_many(list(refs.barcodes))
        ctx.loaders.prime(ctx.upstreams.samples.get_many, [r for r in found if r])
    if refs.ids:
        found += await by_id.load_many(list(refs.ids))
    unique: dict[str, Record] = {}
    for record in found:
        if record is not None:
            unique.setdefault(str(record["id"]), record)
    return list(unique.values())


def session_of(session_id: str | None) -> str:
    """The conversation to continue: the one named, or a new one (a fresh UUID) rather than
    the release's shared ``"default"`` conversation."""
    if session_id is None:
        return str(uuid.uuid4())
    session = str(session_id).strip()
    if not session:
        raise BadUserInput("`sessionId` must not be empty when given", field=["input", "sessionId"])
    if len(session) > MAX_SESSION_CHARS:
        raise BadUserInput(
            f"`sessionId` must be at most {MAX_SESSION_CHARS} characters",
            field=["input", "sessionId"],
        )
    return session


async def ask(ctx: Context, question: str, session_id: str) -> Record:
    question = question.strip()
    if not question:
        raise BadUserInput("`question` must not be empty", field=["input", "question"])
    if len(question) > MAX_QUESTION_CHARS:
        raise BadUserInput(
            f"`question` must be at most {MAX_QUESTION_CHARS} characters",
            field=["input", "question"],
        )
    record: Record = await ctx.upstreams.rag.query(ctx.call, question, session_id=session_id)
    return record


async def submissions(ctx: Context) -> list[Record]:
    """The submissions the service kept, newest first (it lists them oldest first)."""
    payload = await ctx.upstreams.rag.submissions(ctx.call)
    items = payload.get("submissions") if isinstance(payload, dict) else payload
    records = [r for r in items if isinstance(r, dict)] if isinstance(items, list) else []
    return records[::-1]


async def upload(ctx: Context, file: Any) -> Record:
    """Send one uploaded document to the RAG service; empty or oversized files never leave
    the gateway."""
    content: bytes = await file.read(MAX_UPLOAD_BYTES + 1)
    if not content:
        raise BadUserInput("The uploaded file is empty", field=["input", "file"])
    if len(content) > MAX_UPLOAD_BYTES:
        raise BadUserInput(
            f"The uploaded file is larger than {MAX_UPLOAD_BYTES // 2**20} MB",
            field=["input", "file"],
        )
    filename = getattr(file, "filename", None) or "document"
    content_type = getattr(file, "content_type", None) or "application/octet-stream"
    record: Record = await ctx.upstreams.rag.process(ctx.call, filename, content, content_type)
    if record.get("success") is False:
        # The release answers 200 with success false for a file it cannot read (not UTF-8
        # text): nothing was extracted or kept.
        message = str(record.get("message") or "The RAG service could not process the file")
        raise BadUserInput(message, field=["input", "file"])
    if not record.get("samples_found"):
        # The service keeps a submission only when it found a sample id: the id it answers
        # otherwise names nothing.
        record = {**record, "submission_id": None}
    return record

"""The RAG service (FastAPI in production): bare JSON, errors ``{"detail": ...}``.

A query is answered by real retrieval over the lab documents: the question's terms are
OR-ed in an FTS5 match, passages are ranked by bm25, and the answer quotes the best one to
three passages. Relevance and confidence are derived from the bm25 score.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request as StarletteRequest

from sandbox.options import RELEASE, Options
from sandbox.store import Store
from sandbox.web import ApiError, Request, Response, Route, json_response, now_iso

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
_NO_MATCH = (
    "I could not find relevant documents in the laboratory knowledge base to answer that "
    "question. Try rephrasing it, or ask about sample handling, storage, sequencing or QC."
)
_STOPWORD_TEXT = """
a about above after again all am an and any are as at be been before being below between
both but by can could did do does doing down during each few for from further had has have
having he her here hers how i if in into is it its itself just me more most my no nor not
now of off on once only or other our out over own same she should so some such than that
the their them then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your please tell explain
describe know
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_TERM = re.compile(r"[a-z0-9]+")
_BARCODE = re.compile(r"\b[A-Z]{3}-\d{14}-\d{4}\b")
_FIELD = re.compile(r"^\s*([A-Za-z][A-Za-z _/-]{1,40}?)\s*[:=]\s*(.+?)\s*$")


def render_error(exc: ApiError) -> Response:
    return json_response(
        {"detail": exc.details if exc.details is not None else exc.message}, exc.status
    )


def _unprocessable(kind: str, loc: list[Any], msg: str, value: Any) -> ApiError:
    return ApiError(422, kind, msg, [{"type": kind, "loc": loc, "msg": msg, "input": value}])


def relevance(score: float) -> float:
    """Map a bm25 score (higher is better) into (0, 1)."""
    return round(score / (score + 4.0), 3) if score > 0 else 0.0


class RagService:
    def __init__(self, store: Store, options: Options = RELEASE) -> None:
        self.options = options
        self.store = store

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/api/v1/health", self.health),
            Route("POST", "/api/samples/rag/query", self.query),
            Route("POST", "/api/rag/process", self.process),
            Route("GET", "/api/submissions", self.submissions),
        ]

    async def health(self, req: Request) -> Response:
        documents = self.store.value("SELECT count(*) FROM documents")
        return json_response(
            {"status": "healthy", "service": "rag-service", "documents": documents}
        )

    async def query(self, req: Request) -> Response:
        started = time.perf_counter()
        raw = await req.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _unprocessable("json_invalid", ["body", 0], "JSON decode error", {}) from exc
        if not isinstance(body, dict):
            raise _unprocessable(
                "model_attributes_type", ["body"], "Input should be a valid dictionary", body
            )
        question = body.get("query")
        if question is None:
            raise _unprocessable("missing", ["body", "query"], "Field required", body)
        if not isinstance(question, str):
            raise _unprocessable(
                "string_type", ["body", "query"], "Input should be a valid string", question
            )
        session_id = body.get("session_id", "default")
        if not isinstance(session_id, str):
            raise _unprocessable(
                "string_type", ["body", "session_id"], "Input should be a valid string", session_id
            )
        answer, confidence, sources = self.answer(question)
        return json_response(
            {
                "answer": answer,
                "session_id": session_id,
                "confidence_score": confidence,
                "processing_time": round(time.perf_counter() - started, 4),
                "sources": sources,
            }
        )

    def answer(self, question: str) -> tuple[str, float, list[dict[str, Any]]]:
        """Retrieve the best passages for a question: (answer, confidence, sources)."""
        terms = [t for t in _TERM.findall(question.lower()) if t not in _STOPWORDS]
        terms = list(dict.fromkeys(terms))[:32]
        if not terms:
            return _NO_MATCH, 0.0, []
        match = " OR ".join(f'"{t}"' for t in terms)
        rows = self.store.all(
            "SELECT title, body, -bm25(passages, 2.0, 1.0) AS score FROM passages "
            "WHERE passages MATCH ? ORDER BY rank LIMIT 8",
            (match,),
        )
        if not rows:
            return _NO_MATCH, 0.0, []
        best = rows[0][2]
        chosen = [r for r in rows[:3] if r[2] >= 0.5 * best]
        parts = [f"According to {title}: {body}" for title, body, _ in chosen]
        sources: dict[str, float] = {}
        for title, _, score in rows:
            sources.setdefault(title, relevance(score))
        return (
            "\n\n".join(parts),
            relevance(best),
            [{"title": t, "relevance": r} for t, r in sources.items()],
        )

    async def process(self, req: Request) -> Response:
        started = time.perf_counter()
        content_type = req.header(b"content-type") or ""
        if not content_type.startswith("multipart/form-data"):
            raise _unprocessable("missing", ["body", "file"], "Field required", None)
        form = await StarletteRequest(req.scope, req.receive).form()
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise _unprocessable("missing", ["body", "file"], "Field required", None)
            content = await upload.read(MAX_UPLOAD_BYTES + 1)
            filename = upload.filename or "upload.txt"
        finally:
            await form.close()
        if len(content) > MAX_UPLOAD_BYTES:
            raise ApiError(413, "too_large", "File too large")
        extracted = _extract(filename, content.decode("utf-8", errors="replace"))
        found = len(extracted["samples"])
        confidence = round(min(0.95, 0.35 + 0.1 * found + 0.05 * len(extracted["fields"])), 2)
        if not found:
            confidence = min(confidence, 0.3)
        submission_id = str(uuid.uuid4())
        doc = {
            "id": submission_id,
            "filename": filename,
            "extracted_data": extracted,
            "confidence_score": confidence,
            "created_at": now_iso(),
            "status": "processed" if found else "needs_review",
        }
        self.store.run(
            "INSERT INTO submissions (id, created_at, doc) VALUES (?, ?, ?)",
            (submission_id, doc["created_at"], orjson.dumps(doc).decode()),
        )
        return json_response(
            {
                "success": True,
                "submission_id": submission_id,
                "confidence_score": confidence,
                "samples_found": found,
                "extracted_data": extracted,
                "processing_time": round(time.perf_counter() - started, 4),
                "message": f"Extracted {found} samples from {filename}",
            }
        )

    async def submissions(self, req: Request) -> Response:
        rows = self.store.all("SELECT doc FROM submissions ORDER BY created_at DESC, id")
        docs = [orjson.loads(r[0]) for r in rows]
        return json_response({"submissions": docs, "total": len(docs)})


def _extract(filename: str, text: str) -> dict[str, Any]:
    """Pull ``key: value`` fields and sample lines out of a submission document."""
    fields: dict[str, str] = {}
    samples: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        match = _FIELD.match(line)
        if match is None:
            for barcode in _BARCODE.findall(line):
                samples.append({"barcode": barcode})
            continue
        key = match.group(1).strip().lower().replace(" ", "_")
        value = match.group(2)
        if key in ("sample", "sample_name", "sample_id"):
            current = {"name": value}
            samples.append(current)
        elif current is not None and key in (
            "type",
            "sample_type",
            "volume",
            "concentration",
            "barcode",
            "collection_date",
            "storage",
            "notes",
        ):
            current[key] = value
        else:
            fields.setdefault(key, value)
    return {
        "filename": filename,
        "fields": fields,
        "samples": samples,
        "line_count": len(text.splitlines()),
    }

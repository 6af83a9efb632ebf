"""RAG in the graph: askLab with sources linked to samples, submissions, multipart uploads.

The release answers every question with canned text and three fixed sources that name no
sample; the linking of sources to samples is exercised against a sandbox whose
``rag-canned-answers`` defect is fixed (answers drawn from the lab's documents).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from sandbox.options import Options
from sandbox.runner import SandboxProcess
from tests.conftest import SandboxControl, codes, gateway_client, gql, sandbox_settings
from upstreams.config import Timeouts

ASK = """
mutation($question: String!, $sessionId: ID) {
  askLab(input: {question: $question, sessionId: $sessionId}) {
    labAnswer {
      answer sessionId confidence processingTimeMs
      sources { title relevance excerpt sample { id barcode } samples { id barcode name } }
    }
    userErrors { field message code }
  }
}
"""
EXTRACTED = """
administrative { submitterEmail submitterName }
sample { sampleCode sampleType concentrationText volumeText }
error
"""
SUBMISSIONS = f"""
query($first: Int, $after: String) {{
  ragSubmissions(first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }}
    edges {{ node {{ id filename status confidence extractedData {{ {EXTRACTED} }} createdAt }} }}
  }}
}}
"""
UPLOAD = f"""
mutation($file: Upload!) {{
  uploadLabDocument(input: {{file: $file}}) {{
    extraction {{
      submissionId confidence samplesFound processingTimeMs message
      extractedData {{ {EXTRACTED} }}
    }}
    userErrors {{ field message code }}
  }}
}}
"""
BARCODE = re.compile(r"\b[A-Z]{2,5}-\d{14}-\d{4}\b")
EXCURSION = "Which samples were exposed during the freezer temperature excursion?"

DOCUMENT = """Lab submission form
Contact: Dana Test
Email: dana.test@tracseq.lab
Sample ID: RNA-20931
Concentration: 50 ng/μL
Volume: 20 uL
""".encode()
# No sample id the service recognises: processed, but not kept.
NO_SAMPLE_ID = b"Lab submission form\nSample: RNA aliquot 1\nVolume: 20 uL\n"
CANNED_SOURCES = [
    "Laboratory Management Knowledge Base",
    "Sample Processing Guidelines",
    "Quality Control Standards",
]


@pytest.fixture(scope="module")
def retrieving() -> Iterator[SandboxProcess]:
    """A RAG service that answers from the lab's documents (the release answers canned text)."""
    with SandboxProcess(["rag"], options=Options(fixes=frozenset({"rag-canned-answers"}))) as sb:
        yield sb


def retrieval_settings(sandbox: SandboxProcess, retrieving: SandboxProcess) -> Any:
    return sandbox_settings(sandbox, upstream_urls={**sandbox.urls, "rag": retrieving.urls["rag"]})


async def upload(
    client: httpx.AsyncClient, content: bytes, filename: str = "submission.txt"
) -> httpx.Response:
    """One GraphQL multipart request (the spec: operations, map, then the files)."""
    operations = {"query": UPLOAD, "variables": {"file": None}}  # $file fills input.file
    return await client.post(
        "/graphql",
        data={
            "operations": orjson.dumps(operations).decode(),
            "map": orjson.dumps({"0": ["variables.file"]}).decode(),
        },
        files={"0": (filename, content, "text/plain")},
        # Multipart is a "simple" content type: CSRF prevention wants a preflight header.
        headers={"apollo-require-preflight": "true"},
    )


async def test_ask_lab_on_the_release_answers_canned_text_naming_no_samples(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, ASK, question=EXCURSION, sessionId="graph-test")
        assert control.by_route("rag") == {"POST /api/samples/rag/query": 1}
        assert control.requests() == 1
    assert "errors" not in body, body
    assert body["data"]["askLab"]["userErrors"] == []
    answer = body["data"]["askLab"]["labAnswer"]
    assert answer["answer"].startswith("For sample storage, TracSeq 2.0 supports")
    assert answer["sessionId"] == "graph-test"
    assert answer["confidence"] == 0.85
    assert [s["title"] for s in answer["sources"]] == CANNED_SOURCES
    assert [s["relevance"] for s in answer["sources"]] == [0.9, 0.85, 0.8]
    for source in answer["sources"]:
        assert (source["excerpt"], source["sample"], source["samples"]) == (None, None, [])


async def test_ask_lab_links_sources_to_the_samples_they_name(
    sandbox: Any, retrieving: SandboxProcess, control: SandboxControl
) -> None:
    async with gateway_client(retrieval_settings(sandbox, retrieving)) as client:
        control.reset_stats()
        body = await gql(client, ASK, question=EXCURSION, sessionId="graph-test")
        answer = body["data"]["askLab"]["labAnswer"]
        named = {b for s in answer["sources"] for b in BARCODE.findall(s["excerpt"] or "")}
        # One lookup per distinct barcode named (no batch route for barcodes); the
        # question went to the other sandbox's rag.
        assert control.by_route("samples") == {"GET /samples/barcode/{barcode}": len(named)}
        assert control.requests() == len(named)
    assert "errors" not in body, body
    assert answer["sessionId"] == "graph-test"
    assert 0 < answer["confidence"] <= 1
    assert answer["processingTimeMs"] >= 0
    assert len(named) >= 2
    excursion = next(s for s in answer["sources"] if s["title"].startswith("SOP-030"))
    barcodes = BARCODE.findall(excursion["excerpt"])
    assert [s["barcode"] for s in excursion["samples"]] == barcodes
    assert excursion["sample"] == {"id": excursion["samples"][0]["id"], "barcode": barcodes[0]}
    for source in answer["sources"]:
        if not BARCODE.search(f"{source['title']} {source['excerpt'] or ''}"):
            assert source["sample"] is None
            assert source["samples"] == []


async def test_ask_lab_without_sample_fields_calls_only_rag(
    sandbox: Any, control: SandboxControl
) -> None:
    query = """mutation($q: String!) {
      askLab(input: {question: $q}) { labAnswer { answer sessionId sources { title } } }
    }"""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, query, q=EXCURSION)
        assert control.requests() == control.requests("rag") == 1
    assert body["data"]["askLab"]["labAnswer"]["sources"]


async def test_bad_questions_reach_no_upstream(sandbox: Any, control: SandboxControl) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        empty = await gql(client, ASK, question="   ")
        huge = await gql(client, ASK, question="x" * 5000)
        blank_session = await gql(client, ASK, question="RNA storage", sessionId="")
        missing = await gql(client, "mutation { askLab(input: {}) { labAnswer { answer } } }")
        assert control.requests() == 0
    fields = []
    for body in (empty, huge, blank_session):
        assert "errors" not in body, body
        [error] = body["data"]["askLab"]["userErrors"]
        assert body["data"]["askLab"]["labAnswer"] is None
        assert error["code"] == "INVALID"
        fields.append(error["field"])
    assert fields == [["input", "question"], ["input", "question"], ["input", "sessionId"]]
    assert codes(missing) == ["BAD_USER_INPUT"], missing


async def test_upload_lab_document_over_multipart_then_list_it(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        before = (await gql(client, SUBMISSIONS, first=1))["data"]["ragSubmissions"]
        control.reset_stats()
        response = await upload(client, DOCUMENT, "graph-upload.txt")
        assert control.by_route("rag") == {"POST /api/rag/process": 1}
        after = (await gql(client, SUBMISSIONS, first=1))["data"]["ragSubmissions"]
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["uploadLabDocument"]["userErrors"] == []
    result = body["data"]["uploadLabDocument"]["extraction"]
    assert result["samplesFound"] == 1
    assert result["confidence"] == 1.0
    assert result["processingTimeMs"] >= 0
    assert result["extractedData"] == {
        "administrative": {
            "submitterEmail": "dana.test@tracseq.lab",
            "submitterName": "Dana Test\nEmail",
        },
        "sample": {
            "sampleCode": "RNA-20931",
            "sampleType": "RNA",
            "concentrationText": "50 ng/μL",
            "volumeText": "20 uL",
        },
        "error": None,
    }
    assert after["totalCount"] == before["totalCount"] + 1
    newest = after["edges"][0]["node"]
    assert newest["id"] == result["submissionId"]
    assert newest["filename"] == "graph-upload.txt"
    assert newest["status"] == "COMPLETED"
    assert newest["extractedData"] == result["extractedData"]


async def test_an_upload_without_a_sample_id_is_not_kept_and_names_no_submission(
    sandbox: Any,
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        before = (await gql(client, SUBMISSIONS, first=1))["data"]["ragSubmissions"]
        response = await upload(client, NO_SAMPLE_ID, "no-id.txt")
        after = (await gql(client, SUBMISSIONS, first=1))["data"]["ragSubmissions"]
    result = response.json()["data"]["uploadLabDocument"]["extraction"]
    assert result["samplesFound"] == 0
    assert result["submissionId"] is None
    assert result["message"] == "Document processed but no complete sample information found"
    assert after["totalCount"] == before["totalCount"]


async def test_empty_or_oversized_uploads_are_rejected_before_the_rag_service(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        empty = await upload(client, b"")
        oversized = await upload(client, b"x" * (10 * 1024 * 1024 + 1))
        assert control.requests() == 0
    assert empty.status_code == 200, empty.text
    assert empty.json()["data"] == {
        "uploadLabDocument": {
            "extraction": None,
            "userErrors": [
                {
                    "field": ["input", "file"],
                    "message": "The uploaded file is empty",
                    "code": "INVALID",
                }
            ],
        }
    }
    # Over the upload cap the body itself is refused, before it is parsed.
    assert oversized.status_code == 413
    assert codes(oversized.json()) == ["PAYLOAD_TOO_LARGE"]


@pytest.mark.parametrize(
    "document",
    [
        pytest.param({"query": UPLOAD, "variables": {"file": ""}}, id="json-variable"),
        pytest.param({"query": UPLOAD, "variables": {"file": {"filename": "a.txt"}}}, id="object"),
        pytest.param(
            {"query": UPLOAD.replace("($file: Upload!)", "").replace("$file", '"a.txt"')},
            id="literal",
        ),
    ],
)
async def test_an_upload_that_is_not_a_multipart_file_is_bad_user_input(
    sandbox: Any, control: SandboxControl, document: dict[str, Any]
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        response = await client.post("/graphql", json=document)
        assert control.requests() == 0
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "multipart" in body["errors"][0]["message"]


async def test_submissions_page_forward(sandbox: Any, control: SandboxControl) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        await upload(client, DOCUMENT, "page-1.txt")
        await upload(client, DOCUMENT, "page-2.txt")
        control.reset_stats()
        first = (await gql(client, SUBMISSIONS, first=1))["data"]["ragSubmissions"]
        cursor = first["pageInfo"]["endCursor"]
        second = (await gql(client, SUBMISSIONS, first=1, after=cursor))["data"]["ragSubmissions"]
        assert control.requests() == control.requests("rag") == 2
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["edges"][0]["node"]["filename"] == "page-2.txt"
    assert second["edges"][0]["node"]["filename"] == "page-1.txt"
    assert first["totalCount"] == second["totalCount"] >= 2


async def test_rag_down_or_slow_nulls_only_the_rag_fields(
    sandbox: Any, control: SandboxControl
) -> None:
    query = "{ ragSubmissions(first: 1) { totalCount } templates(first: 1) { totalCount } }"
    ask = """mutation($q: String!) {
      askLab(input: {question: $q}) { labAnswer { answer } }
      sendNotification(input: {title: "", message: "m", notificationType: INFO, recipients: []}) {
        userErrors { code }
      }
    }"""
    control.fault("rag", status=503, times=None)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        down = await gql(client, query)
        down_ask = await gql(client, ask, q=EXCURSION)
    control.clear_faults()
    control.wait_idle("rag")
    control.fault("rag", delay_ms=1500)
    settings = sandbox_settings(sandbox, timeouts=Timeouts(connect=1.0, read=0.3, total=0.6))
    async with gateway_client(settings) as client:
        slow = await gql(client, query)
        slow_ask = await gql(client, ask, q=EXCURSION)
    control.wait_idle("rag")
    for body, asked, code in (
        (down, down_ask, "UPSTREAM_UNAVAILABLE"),
        (slow, slow_ask, "UPSTREAM_TIMEOUT"),
    ):
        assert body["data"]["ragSubmissions"] is None
        assert body["data"]["templates"]["totalCount"] >= 12
        # The failed mutation is null; the next one still ran.
        assert asked["data"]["askLab"] is None
        assert asked["data"]["sendNotification"] == {"userErrors": [{"code": "INVALID"}]}
        for result in (body, asked):
            pairs = {
                (e["extensions"]["code"], e["extensions"]["service"]) for e in result["errors"]
            }
            assert pairs == {(code, "rag")}
            assert "127.0.0.1" not in str(result)

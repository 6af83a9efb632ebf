"""askLab as a mutation with ID sessions and millisecond durations, uploads the service
cannot read as user errors, and gatewayStatus with a service enum."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from tests.conftest import SandboxControl, gateway_client, gql, sandbox_settings

ASK = """mutation($q: String!, $s: ID) {
  askLab(input: {question: $q, sessionId: $s}) {
    labAnswer { sessionId processingTimeMs confidence }
    userErrors { code }
  }
}"""
UPLOAD = """mutation($file: Upload!) {
  uploadLabDocument(input: {file: $file}) {
    extraction { submissionId }
    userErrors { field message code }
  }
}"""


async def test_ask_lab_is_a_mutation_and_a_new_conversation_gets_its_own_id(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        as_query = await gql(
            client, '{ askLab(input: {question: "RNA"}) { labAnswer { answer } } }'
        )
        first = await gql(client, ASK, q="How do I store RNA?")
        second = await gql(client, ASK, q="How do I store RNA?")
        session = first["data"]["askLab"]["labAnswer"]["sessionId"]
        control.reset_stats()
        again = await gql(client, ASK, q="And DNA?", s=session)
        assert control.requests("rag") == 1
    assert as_query["errors"][0]["message"] == "Cannot query field 'askLab' on type 'Query'."
    for body in (first, second, again):
        assert "errors" not in body, body
    # Not the release's one shared "default" conversation: a fresh UUID each time.
    assert str(uuid.UUID(session)) == session
    assert second["data"]["askLab"]["labAnswer"]["sessionId"] != session
    assert again["data"]["askLab"]["labAnswer"]["sessionId"] == session
    answer = first["data"]["askLab"]["labAnswer"]
    assert answer["confidence"] == 0.85
    assert answer["processingTimeMs"] >= 0


async def test_ask_lab_reports_milliseconds_where_the_service_says_seconds(sandbox: Any) -> None:
    types = (
        """{ __type(name: "LabAnswer") { fields { name type { kind name ofType { name } } } } }"""
    )
    async with gateway_client(sandbox_settings(sandbox)) as client:
        body = await gql(client, types)
    fields = {f["name"]: f["type"] for f in body["data"]["__type"]["fields"]}
    assert "processingTime" not in fields
    assert fields["processingTimeMs"] == {
        "kind": "NON_NULL",
        "name": None,
        "ofType": {"name": "Float"},
    }
    assert fields["sessionId"]["ofType"] == {"name": "ID"}


async def test_a_document_the_rag_service_cannot_read_is_a_user_error(
    sandbox: Any, control: SandboxControl
) -> None:
    operations = {"query": UPLOAD, "variables": {"file": None}}
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        response = await client.post(
            "/graphql",
            data={
                "operations": orjson.dumps(operations).decode(),
                "map": orjson.dumps({"0": ["variables.file"]}).decode(),
            },
            files={"0": ("scan.bin", b"\xff\xfe\x00binary", "application/octet-stream")},
            headers={"apollo-require-preflight": "true"},
        )
        assert control.by_route("rag") == {"POST /api/rag/process": 1}
    assert response.json() == {
        "data": {
            "uploadLabDocument": {
                "extraction": None,
                "userErrors": [
                    {
                        "field": ["input", "file"],
                        "message": "Unable to process file. Please upload a text file.",
                        "code": "INVALID",
                    }
                ],
            }
        }
    }


async def test_gateway_status_names_services_with_an_enum(sandbox: Any) -> None:
    query = "{ gatewayStatus { upstreams { service healthy latencyMs breaker } } }"
    async with gateway_client(sandbox_settings(sandbox), role="guest") as guest:
        refused = await gql(guest, query)
    async with gateway_client(sandbox_settings(sandbox), role="data_analyst") as client:
        body = await gql(client, query)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    upstreams = body["data"]["gatewayStatus"]["upstreams"]
    assert [u["service"] for u in upstreams] == [
        "AUTH",
        "SAMPLES",
        "STORAGE",
        "TEMPLATES",
        "SEQUENCING",
        "RAG",
        "NOTIFICATIONS",
    ]
    assert all(u["latencyMs"] >= 0 for u in upstreams)

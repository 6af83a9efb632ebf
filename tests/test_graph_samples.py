"""The first slice of the graph, executed over HTTP against the sandbox."""

from __future__ import annotations

from typing import Any

from tests.conftest import SandboxControl, gateway_client, gql, mint_token, sandbox_settings

SAMPLES_WITH_TEMPLATE = """
query Samples($first: Int, $after: String) {
  samples(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name barcode status templateId template { id name status } } }
  }
}
"""


async def test_samples_with_template_batched_in_two_upstream_requests(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, SAMPLES_WITH_TEMPLATE, first=100)
    assert "errors" not in body
    edges = body["data"]["samples"]["edges"]
    assert len(edges) == 100
    with_template = [e["node"] for e in edges if e["node"]["templateId"]]
    assert with_template, "the seed gives most samples a template"
    assert all(n["template"]["id"] == n["templateId"] for n in with_template)
    assert control.requests() == 2
    assert control.requests("samples") == 1
    assert control.requests("templates") == 1


async def test_samples_with_template_without_batch_extension_fans_out_per_distinct_template(
    sandbox: Any, control: SandboxControl
) -> None:
    settings = sandbox_settings(sandbox, batch_services=frozenset())
    async with gateway_client(settings) as client:
        control.reset_stats()
        body = await gql(client, SAMPLES_WITH_TEMPLATE, first=100)
    assert "errors" not in body
    nodes = [e["node"] for e in body["data"]["samples"]["edges"]]
    distinct = {n["templateId"] for n in nodes if n["templateId"]}
    assert len(distinct) > 1
    assert control.requests("samples") == 1
    assert control.requests("templates") == len(distinct)
    assert control.requests() == 1 + len(distinct)


async def test_cursor_pagination_walks_forward_without_overlap(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        first = (await gql(client, SAMPLES_WITH_TEMPLATE, first=7))["data"]["samples"]
        after = first["pageInfo"]["endCursor"]
        second = (await gql(client, SAMPLES_WITH_TEMPLATE, first=7, after=after))["data"]["samples"]
        both = (await gql(client, SAMPLES_WITH_TEMPLATE, first=14))["data"]["samples"]
    ids = [e["node"]["id"] for e in first["edges"] + second["edges"]]
    assert ids == [e["node"]["id"] for e in both["edges"]]
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert second["pageInfo"]["hasNextPage"] is True
    assert first["totalCount"] == second["totalCount"] >= 1900


async def test_sample_by_id_and_by_barcode_return_the_same_sample(
    sandbox: Any, control: SandboxControl
) -> None:
    query = """query($id: ID, $barcode: String) {
      sample(id: $id, barcode: $barcode) { id barcode status }
    }"""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        listed = await gql(client, SAMPLES_WITH_TEMPLATE, first=1)
        node = listed["data"]["samples"]["edges"][0]["node"]
        by_id = await gql(client, query, id=node["id"])
        by_barcode = await gql(client, query, barcode=node["barcode"])
        missing = await gql(client, query, id="00000000-0000-4000-8000-000000000000")
    assert by_id["data"]["sample"] == by_barcode["data"]["sample"]
    assert by_id["data"]["sample"]["id"] == node["id"]
    assert missing == {"data": {"sample": None}}


async def test_bad_arguments_are_bad_user_input_and_reach_no_upstream(
    sandbox: Any, control: SandboxControl
) -> None:
    sample_query = "query($id: ID) { sample(id: $id) { id } }"
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        bad_id = await gql(client, sample_query, id="not-a-uuid")
        bad_cursor = await gql(client, SAMPLES_WITH_TEMPLATE, first=5, after="garbage!")
        too_many = await gql(client, SAMPLES_WITH_TEMPLATE, first=5000)
        neither = await gql(client, "{ sample { id } }")
    for body in (bad_id, bad_cursor, too_many, neither):
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert control.requests() == 0


async def test_templates_down_nulls_only_the_template_fields(
    sandbox: Any, control: SandboxControl
) -> None:
    control.fault("templates", status=503, times=None)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        body = await gql(client, SAMPLES_WITH_TEMPLATE, first=5)
    nodes = [e["node"] for e in body["data"]["samples"]["edges"]]
    assert len(nodes) == 5
    assert all(n["id"] and n["barcode"] for n in nodes)
    assert all(n["template"] is None for n in nodes if n["templateId"])
    codes = {(e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]}
    assert codes == {("UPSTREAM_UNAVAILABLE", "templates")}
    text = str(body)
    assert "127.0.0.1" not in text
    assert "Traceback" not in text


async def test_graphiql_is_served_on_get(sandbox: Any) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_request_id_and_authorization_are_forwarded_upstream(
    sandbox: Any, control: SandboxControl
) -> None:
    token = mint_token("lab_technician")
    headers = {"x-request-id": "trace-42.abc", "authorization": f"Bearer {token}"}
    async with gateway_client(sandbox_settings(sandbox)) as client:
        response = await client.post(
            "/graphql",
            json={
                "query": "{ samples(first: 2) { totalCount } templates(first: 1) { totalCount } }"
            },
            headers=headers,
        )
    assert response.headers["x-request-id"] == "trace-42.abc"
    # An earlier test's late retry may land in the same window: look for this request's id.
    seen = {
        s: [r for r in control.recent(s) if r["request_id"] == "trace-42.abc"]
        for s in ("samples", "templates")
    }
    assert [len(v) for v in seen.values()] == [1, 1]
    assert all(v[0]["authorization"] == f"Bearer {token}" for v in seen.values())


async def test_malformed_request_id_is_replaced_not_forwarded(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        response = await client.post(
            "/graphql",
            json={"query": "{ samples(first: 1) { totalCount } }"},
            headers={"x-request-id": "bad id\\with spaces" + "x" * 200},
        )
    generated = response.headers["x-request-id"]
    assert generated != ""
    assert " " not in generated
    assert [r["request_id"] for r in control.recent("samples")] == [generated]


async def test_gateway_status_reports_each_upstream_and_its_breaker(
    sandbox: Any, control: SandboxControl
) -> None:
    query = "{ gatewayStatus { healthy upstreams { service healthy status breaker } } }"
    async with gateway_client(sandbox_settings(sandbox)) as client:
        healthy = await gql(client, query)
        control.fault("storage", status=0, times=None)
        degraded = await gql(client, query)
    services = {u["service"]: u for u in healthy["data"]["gatewayStatus"]["upstreams"]}
    assert set(services) == {
        "auth",
        "samples",
        "storage",
        "templates",
        "sequencing",
        "rag",
        "notifications",
    }
    assert healthy["data"]["gatewayStatus"]["healthy"] is True
    assert all(u["breaker"] == "CLOSED" for u in services.values())
    down = {u["service"]: u for u in degraded["data"]["gatewayStatus"]["upstreams"]}
    assert degraded["data"]["gatewayStatus"]["healthy"] is False
    assert down["storage"]["healthy"] is False
    assert down["samples"]["healthy"] is True


SAMPLES_WITH_RELATIONS = """
query($first: Int) {
  samples(first: $first) {
    edges { node {
      id templateId
      template { name }
      storage { path position { id } location { name } containerChain { containerType } }
      sequencingJobs { id name status }
    } }
  }
}
"""


async def test_samples_with_template_storage_and_jobs_take_four_requests_batched(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, SAMPLES_WITH_RELATIONS, first=100)
    assert "errors" not in body, body.get("errors")
    nodes = [e["node"] for e in body["data"]["samples"]["edges"]]
    assert len(nodes) == 100
    stored = [n for n in nodes if n["storage"]]
    assert stored, "the seed places many samples in storage"
    chain = stored[0]["storage"]["containerChain"]
    assert [c["containerType"] for c in chain] == ["FREEZER", "RACK", "BOX", "POSITION"]
    assert any(n["sequencingJobs"] for n in nodes)
    by_service = {s: control.requests(s) for s in ("samples", "templates", "storage", "sequencing")}
    assert by_service == {"samples": 1, "templates": 1, "storage": 1, "sequencing": 1}
    assert control.requests() == 4


async def test_samples_with_relations_without_batch_extensions_stay_within_distinct_keys(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox, batch_services=frozenset())) as client:
        control.reset_stats()
        body = await gql(client, SAMPLES_WITH_RELATIONS, first=100)
    assert "errors" not in body, body.get("errors")
    nodes = [e["node"] for e in body["data"]["samples"]["edges"]]
    templates = {n["templateId"] for n in nodes if n["templateId"]}
    assert control.requests("samples") == 1
    assert control.requests("templates") == len(templates)
    assert control.requests("storage") <= len(nodes)
    # Jobs by sample have no per-sample route on the real service: one call covers all.
    assert control.requests("sequencing") <= 1 + len(nodes)


async def test_storage_down_nulls_storage_but_templates_and_jobs_resolve(
    sandbox: Any, control: SandboxControl
) -> None:
    control.fault("storage", status=503, times=None)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        body = await gql(client, SAMPLES_WITH_RELATIONS, first=10)
    nodes = [e["node"] for e in body["data"]["samples"]["edges"]]
    assert len(nodes) == 10
    assert all(n["storage"] is None for n in nodes)
    assert any(n["template"] for n in nodes)
    errors = {(e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]}
    assert errors == {("UPSTREAM_UNAVAILABLE", "storage")}

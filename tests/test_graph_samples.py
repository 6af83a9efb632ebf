"""The first slice of the graph, executed over HTTP against the sandbox."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

from resolvers.pagination import encode_cursor
from sandbox.runner import SandboxProcess
from tests.conftest import (
    SandboxControl,
    extension_settings,
    gateway_client,
    gql,
    mint_token,
    sandbox_settings,
)


def in_the_seed(sandbox: Any) -> str:
    """A cursor past the samples other tests create (newest first), into the seeded ones:
    the sample at offset 999, as the samples service lists it now."""
    listed = httpx.get(f"{sandbox.urls['samples']}/samples", params={"page": 1000, "page_size": 1})
    return encode_cursor(999, listed.json()["data"]["samples"][0]["id"])


SAMPLES_WITH_TEMPLATE = """
query Samples($first: Int, $after: String) {
  samples(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name barcode status templateId template { id name status } } }
  }
}
"""


async def test_samples_with_template_fan_out_one_request_per_distinct_template(
    sandbox: Any, control: SandboxControl
) -> None:
    seed = in_the_seed(sandbox)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, SAMPLES_WITH_TEMPLATE, first=100, after=seed)
    assert "errors" not in body
    nodes = [e["node"] for e in body["data"]["samples"]["edges"]]
    assert len(nodes) == 100
    with_template = [n for n in nodes if n["templateId"]]
    assert all(n["template"]["id"] == n["templateId"] for n in with_template)
    distinct = {n["templateId"] for n in with_template}
    assert len(distinct) > 1
    assert control.by_route("samples") == {"GET /samples": 1}
    assert control.requests("templates") == len(distinct)
    assert control.requests() == 1 + len(distinct)


async def test_samples_with_template_batched_in_two_requests_with_extensions(
    sandbox_ext: Any, control_ext: SandboxControl
) -> None:
    seed = in_the_seed(sandbox_ext)
    async with gateway_client(extension_settings(sandbox_ext)) as client:
        control_ext.reset_stats()
        body = await gql(client, SAMPLES_WITH_TEMPLATE, first=100, after=seed)
    assert "errors" not in body
    nodes = [e["node"] for e in body["data"]["samples"]["edges"]]
    assert all(n["template"]["id"] == n["templateId"] for n in nodes if n["templateId"])
    assert control_ext.by_route("samples") == {"GET /samples": 1}
    assert control_ext.requests("templates") == 1
    assert control_ext.requests() == 2


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


async def test_sample_by_id_and_sample_by_barcode_return_the_same_sample(
    sandbox: Any, control: SandboxControl
) -> None:
    by_id_query = "query($id: ID!) { sample(id: $id) { id barcode status } }"
    by_barcode_query = (
        "query($barcode: String!) { sampleByBarcode(barcode: $barcode) { id barcode status } }"
    )
    async with gateway_client(sandbox_settings(sandbox)) as client:
        listed = await gql(client, SAMPLES_WITH_TEMPLATE, first=1)
        node = listed["data"]["samples"]["edges"][0]["node"]
        by_id = await gql(client, by_id_query, id=node["id"])
        by_barcode = await gql(client, by_barcode_query, barcode=node["barcode"])
        missing = await gql(client, by_id_query, id="00000000-0000-4000-8000-000000000000")
        no_barcode = await gql(client, by_barcode_query, barcode="NO-SUCH-BARCODE")
    assert by_id["data"]["sample"] == by_barcode["data"]["sampleByBarcode"]
    assert by_id["data"]["sample"]["id"] == node["id"]
    assert missing == {"data": {"sample": None}}
    assert no_barcode == {"data": {"sampleByBarcode": None}}


async def test_bad_arguments_are_bad_user_input_and_reach_no_upstream(
    sandbox: Any, control: SandboxControl
) -> None:
    sample_query = "query($id: ID!) { sample(id: $id) { id } }"
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        bad_id = await gql(client, sample_query, id="not-a-uuid")
        bad_cursor = await gql(client, SAMPLES_WITH_TEMPLATE, first=5, after="garbage!")
        too_many = await gql(client, SAMPLES_WITH_TEMPLATE, first=5000)
        neither = await gql(client, "{ sample { id } }")
        both = await gql(client, '{ sample(id: "x", barcode: "y") { id } }')
    for body in (bad_id, bad_cursor, too_many, neither, both):
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


SAMPLES_WITH_STORAGE = """
query($first: Int, $after: String) {
  samples(first: $first, after: $after) {
    edges { node { id templateId template { name } storage { path } } }
  }
}
"""


async def test_storage_down_nulls_storage_but_templates_resolve(
    sandbox: Any, control: SandboxControl
) -> None:
    control.fault("storage", status=503, times=None)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        body = await gql(client, SAMPLES_WITH_STORAGE, first=10, after=in_the_seed(sandbox))
    nodes = [e["node"] for e in body["data"]["samples"]["edges"]]
    assert len(nodes) == 10
    assert all(n["storage"] is None for n in nodes)
    assert any(n["template"] for n in nodes)
    errors = {(e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]}
    assert errors == {("UPSTREAM_UNAVAILABLE", "storage")}


# ---------------------------------------------------------------- filters the release fails on

FILTERED = """
query($filter: SampleFilter, $first: Int, $after: String, $orderBy: SampleOrder) {
  samples(filter: $filter, first: $first, after: $after, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id status sampleType templateId name barcode createdAt } }
  }
  templates(first: 1) { totalCount }
}
"""


def _every_sample(sb: Any) -> list[dict[str, Any]]:
    """Every sample straight from the sandbox, newest first (unfiltered pages)."""
    url = f"{sb.urls['samples']}/samples"
    first = httpx.get(url, params={"page_size": 1000}).json()["data"]
    samples: list[dict[str, Any]] = list(first["samples"])
    for page in range(2, first["total_pages"] + 1):
        samples += httpx.get(url, params={"page_size": 1000, "page": page}).json()["data"][
            "samples"
        ]
    return samples


async def test_filtered_samples_answer_correct_data_beside_a_sibling_root_field(
    sandbox: Any, control: SandboxControl
) -> None:
    everything = _every_sample(sandbox)
    expected = [s["id"] for s in everything if s["status"] == "InStorage"]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, FILTERED, filter={"statuses": ["IN_STORAGE"]}, first=5)
    assert "errors" not in body, body.get("errors")
    samples = body["data"]["samples"]
    assert samples["totalCount"] == len(expected)
    assert [e["node"]["id"] for e in samples["edges"]] == expected[:5]
    assert {e["node"]["status"] for e in samples["edges"]} == {"IN_STORAGE"}
    assert body["data"]["templates"]["totalCount"] > 0
    # The filter is applied here, over every page, never sent to the release.
    assert control.by_route("samples") == {"GET /samples": -(-len(everything) // 1000)}


async def test_many_filtered_queries_leave_the_samples_breaker_closed(
    sandbox: Any, control: SandboxControl
) -> None:
    status_query = "{ gatewayStatus { upstreams { service breaker openRoutes } } }"
    async with gateway_client(sandbox_settings(sandbox)) as client:
        for status in ("PENDING", "VALIDATED", "IN_STORAGE", "COMPLETED", "FAILED", "DELETED"):
            body = await gql(client, FILTERED, filter={"statuses": [status]}, first=1)
            assert "errors" not in body, body.get("errors")
        status_body = await gql(client, status_query)
        one = await gql(client, "{ samples(first: 1) { edges { node { id } } } }")
    upstreams = {u["service"]: u for u in status_body["data"]["gatewayStatus"]["upstreams"]}
    assert upstreams["SAMPLES"]["breaker"] == "CLOSED"
    assert upstreams["SAMPLES"]["openRoutes"] == []
    assert "errors" not in one
    assert len(one["data"]["samples"]["edges"]) == 1


async def test_every_sample_filter_applies_and_pages_in_the_gateway(
    sandbox: Any, control: SandboxControl
) -> None:
    everything = _every_sample(sandbox)
    template = Counter(s["template_id"] for s in everything if s["template_id"]).most_common(1)[0][
        0
    ]
    after, before = "2025-06-01T00:00:00Z", "2025-09-01T00:00:00Z"
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"sampleTypes": ["DNA"]}, [s["id"] for s in everything if s["sample_type"] == "DNA"]),
        ({"templateId": template}, [s["id"] for s in everything if s["template_id"] == template]),
        (
            {"search": "onc-00"},
            [
                s["id"]
                for s in everything
                if "onc-00" in s["name"].lower() or "onc-00" in s["barcode"].lower()
            ],
        ),
        (
            {"createdAfter": after, "createdBefore": before, "statuses": ["COMPLETED"]},
            [
                s["id"]
                for s in everything
                if after <= s["created_at"] <= before and s["status"] == "Completed"
            ],
        ),
    ]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        for filter_, expected in cases:
            assert len(expected) > 3, filter_
            first = await gql(client, FILTERED, filter=filter_, first=3)
            cursor = first["data"]["samples"]["pageInfo"]["endCursor"]
            rest = await gql(client, FILTERED, filter=filter_, first=1000, after=cursor)
            ids = [e["node"]["id"] for e in first["data"]["samples"]["edges"]]
            ids += [e["node"]["id"] for e in rest["data"]["samples"]["edges"]]
            assert ids == expected, filter_
            assert first["data"]["samples"]["totalCount"] == len(expected)
            assert first["data"]["samples"]["pageInfo"]["hasNextPage"] is True
            assert rest["data"]["samples"]["pageInfo"]["hasNextPage"] is False


# ---------------------------------------------------------------- sample(id): one GET per id


ALIASED = """
query($a: ID!, $b: ID!) {
  one: sample(id: $a) { id }
  two: sample(id: $b) { id }
  again: sample(id: $a) { id name }
}
"""


async def test_samples_by_id_fan_out_once_per_distinct_id(
    sandbox: Any, control: SandboxControl
) -> None:
    ids = [s["id"] for s in _every_sample(sandbox)[:2]]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, ALIASED, a=ids[0], b=ids[1])
    assert "errors" not in body
    assert [body["data"][k]["id"] for k in ("one", "two", "again")] == [ids[0], ids[1], ids[0]]
    assert control.by_route("samples") == {"GET /samples/{id}": 2}


async def test_samples_by_id_are_one_batched_request_with_the_extension(
    sandbox_ext: Any, control_ext: SandboxControl
) -> None:
    ids = [s["id"] for s in _every_sample(sandbox_ext)[:2]]
    async with gateway_client(extension_settings(sandbox_ext)) as client:
        control_ext.reset_stats()
        body = await gql(client, ALIASED, a=ids[0], b=ids[1])
    assert "errors" not in body
    assert [body["data"][k]["id"] for k in ("one", "two", "again")] == [ids[0], ids[1], ids[0]]
    assert control_ext.by_route("samples") == {"GET /samples": 1}


async def test_stored_metadata_nested_too_deep_fails_only_its_field_in_a_list(
    sandbox: Any,
) -> None:
    # Written past the gateway (the service stores 250 levels): shown as it is, a list
    # holding it would nest past what the encoder writes, and the whole answer would fail.
    deep: Any = None
    for _ in range(250):
        deep = [deep]
    with SandboxProcess(["samples"]) as own:
        created = httpx.post(
            f"{own.urls['samples']}/samples",
            json={"name": "GW-deep", "sample_type": "DNA", "metadata": {"a": deep}},
        )
        assert created.status_code == 200, created.text
        settings = sandbox_settings(sandbox, upstream_urls={**sandbox.urls, **own.urls})
        async with gateway_client(settings) as client:
            body = await gql(client, "{ samples(first: 3) { edges { node { name metadata } } } }")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UPSTREAM_BAD_RESPONSE"]
    assert body["errors"][0]["path"] == ["samples", "edges", 0, "node", "metadata"]
    nodes = [edge["node"] for edge in body["data"]["samples"]["edges"]]
    assert nodes[0] == {"name": "GW-deep", "metadata": None}
    assert len(nodes) == 3


async def test_arguments_too_long_for_an_upstream_url_are_bad_user_input(
    sandbox: Any, control: SandboxControl
) -> None:
    # 70,000 characters: past the 64 KiB a URL may hold, in a path and in a query.
    long = "x" * 70_000
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        by_barcode = await gql(
            client, "query($b: String!) { sampleByBarcode(barcode: $b) { id } }", b=long
        )
        available = await gql(
            client,
            "query($z: String!) { availableContainers(temperatureZone: $z) { totalCount } }",
            z=long,
        )
        assert control.requests() == 0
    for body, name, service in (
        (by_barcode, "sampleByBarcode", "samples"),
        (available, "availableContainers", "storage"),
    ):
        assert body["data"] == {name: None}
        assert [e["extensions"] for e in body["errors"]] == [
            {"code": "BAD_USER_INPUT", "service": service}
        ]
        assert (
            body["errors"][0]["message"] == f"A value is too long to send to the {service} service"
        )

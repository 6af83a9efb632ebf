"""Templates in the graph: the list with fields and samples, lookups, mutations, failures."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import SandboxControl, codes, gateway_client, gql, sandbox_settings
from upstreams.config import Timeouts

TEMPLATES_WITH_FIELDS = """
query($first: Int, $after: String) {
  templates(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { node {
      id name status fieldCount
      fields { id templateId name label fieldType isRequired options sortOrder }
    } }
  }
}
"""
TEMPLATE = """
query($id: ID!) {
  template(id: $id) {
    id name description status version tags isPublic usageCount formConfig metadata createdBy
    fields { name fieldType isRequired options sortOrder }
    samples(first: 3) { totalCount edges { node { id templateId } } }
  }
}
"""
CREATE = """
mutation($input: CreateTemplateInput!) {
  createTemplate(input: $input) {
    id name status version category tags isPublic metadata fieldCount
    fields { name label fieldType isRequired options sortOrder }
  }
}
"""
UPDATE = """
mutation($id: ID!, $input: UpdateTemplateInput!) {
  updateTemplate(id: $id, input: $input) { id name description status version tags }
}
"""
CLONE = """
mutation($id: ID!, $input: CloneTemplateInput) {
  cloneTemplate(id: $id, input: $input) { id name status version fields { name fieldType } }
}
"""
ARCHIVE = "mutation($id: ID!) { archiveTemplate(id: $id) { id status } }"


def new_template(**extra: Any) -> dict[str, Any]:
    return {
        "name": f"Test template {uuid.uuid4().hex[:8]}",
        "category": "testing",
        "tags": ["test"],
        "metadata": {"purpose": "graph test"},
        "fields": [
            {"name": "patient_id", "label": "Patient ID", "fieldType": "TEXT", "isRequired": True},
            {"name": "tube", "fieldType": "SELECT", "options": ["EDTA", "SST"]},
            {"name": "fasting", "fieldType": "BOOLEAN"},
        ],
        **extra,
    }


async def test_twelve_templates_with_their_fields_in_thirteen_upstream_requests(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, TEMPLATES_WITH_FIELDS, first=12)
        assert "errors" not in body, body
        nodes = [e["node"] for e in body["data"]["templates"]["edges"]]
        assert len(nodes) == 12
        # One page of templates, then one fields call per template: the service has no
        # batch route for fields, so the loader fans out once per distinct template.
        assert control.by_route("templates") == {
            "GET /templates": 1,
            "GET /templates/{id}/fields": 12,
        }
        assert control.requests() == 13
    for node in nodes:
        assert len(node["fields"]) == node["fieldCount"]
        assert all(f["templateId"] == node["id"] for f in node["fields"])
        assert [f["sortOrder"] for f in node["fields"]] == sorted(
            f["sortOrder"] for f in node["fields"]
        )
    assert body["data"]["templates"]["totalCount"] >= 12


async def test_the_same_template_twice_loads_once(sandbox: Any, control: SandboxControl) -> None:
    query = """query($id: ID!) {
      a: template(id: $id) { id fields { id } }
      b: template(id: $id) { name fields { name } }
    }"""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        listed = await gql(client, TEMPLATES_WITH_FIELDS, first=1)
        template_id = listed["data"]["templates"]["edges"][0]["node"]["id"]
        control.reset_stats()
        body = await gql(client, query, id=template_id)
        assert control.requests() == control.requests("templates") == 2
    assert body["data"]["a"]["id"] == template_id
    assert len(body["data"]["a"]["fields"]) == len(body["data"]["b"]["fields"])


async def test_template_with_fields_and_samples(sandbox: Any, control: SandboxControl) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        listed = await gql(client, "{ templates(first: 100) { edges { node { id usageCount } } } }")
        used = [
            e["node"]["id"] for e in listed["data"]["templates"]["edges"] if e["node"]["usageCount"]
        ]
        control.reset_stats()
        body = await gql(client, TEMPLATE, id=used[0])
        # The template and its fields from templates, one page of samples filtered by it.
        assert control.by_route("templates") == {
            "GET /templates": 1,
            "GET /templates/{id}/fields": 1,
        }
        assert control.requests("samples") == 1
        assert control.requests() == 3
    template = body["data"]["template"]
    assert "errors" not in body, body
    assert template["id"] == used[0]
    samples = template["samples"]
    assert samples["totalCount"] == template["usageCount"] > 0
    assert len(samples["edges"]) == min(3, samples["totalCount"])
    assert all(e["node"]["templateId"] == used[0] for e in samples["edges"])


async def test_template_samples_on_a_list_take_one_samples_page_per_template(
    sandbox: Any, control: SandboxControl
) -> None:
    query = "{ templates(first: 4) { edges { node { id samples(first: 2) { totalCount } } } } }"
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, query)
        # The samples list filters one template at a time: one page per template, at once.
        assert control.requests("templates") == 1
        assert control.requests("samples") == 4
    assert len(body["data"]["templates"]["edges"]) == 4


async def test_unknown_template_is_null_and_a_bad_id_reaches_no_upstream(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        missing = await gql(client, TEMPLATE, id="00000000-0000-4000-8000-000000000000")
        control.reset_stats()
        bad = await gql(client, TEMPLATE, id="../../admin")
        bad_cursor = await gql(client, TEMPLATES_WITH_FIELDS, first=2, after="nope")
        too_many = await gql(client, TEMPLATES_WITH_FIELDS, first=100000)
        update_bad = await gql(client, UPDATE, id="42", input={"name": "x"})
        empty_name = await gql(client, CREATE, input=new_template(name="   "))
        nothing = await gql(client, UPDATE, id=str(uuid.uuid4()), input={})
        archive_bad = await gql(client, ARCHIVE, id="nope")
        assert control.requests() == 0
    assert missing == {"data": {"template": None}}
    for body in (bad, bad_cursor, too_many, update_bad, empty_name, nothing, archive_bad):
        assert codes(body) == ["BAD_USER_INPUT"], body


async def test_create_update_clone_and_archive_a_template(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        created = (await gql(client, CREATE, input=new_template()))["data"]["createTemplate"]
        # Create is one POST; its fields are one more call.
        assert control.by_route("templates") == {
            "POST /templates": 1,
            "GET /templates/{id}/fields": 1,
        }
        updated = await gql(
            client,
            UPDATE,
            id=created["id"],
            input={"description": "Updated", "status": "PUBLISHED", "tags": ["a", "b"]},
        )
        cloned = await gql(client, CLONE, id=created["id"], input={"name": "Cloned one"})
        default_clone = await gql(client, CLONE, id=created["id"])
        archived = await gql(client, ARCHIVE, id=created["id"])
        reread = await gql(client, TEMPLATE, id=created["id"])
    assert created["status"] == "DRAFT"
    assert created["version"] == "1"
    assert created["category"] == "testing"
    assert created["metadata"] == {"purpose": "graph test"}
    assert created["fieldCount"] == 3
    assert [f["fieldType"] for f in created["fields"]] == ["TEXT", "SELECT", "BOOLEAN"]
    assert created["fields"][0]["isRequired"] is True
    assert created["fields"][1]["options"] == ["EDTA", "SST"]
    assert created["fields"][1]["label"] == "tube"

    assert updated["data"]["updateTemplate"] == {
        "id": created["id"],
        "name": created["name"],
        "description": "Updated",
        "status": "PUBLISHED",
        "version": "2",
        "tags": ["a", "b"],
    }
    clone = cloned["data"]["cloneTemplate"]
    assert clone["id"] != created["id"]
    assert clone["name"] == "Cloned one"
    assert clone["status"] == "DRAFT"
    assert [f["name"] for f in clone["fields"]] == ["patient_id", "tube", "fasting"]
    assert default_clone["data"]["cloneTemplate"]["name"] == f"{created['name']} (copy)"
    assert archived["data"]["archiveTemplate"] == {"id": created["id"], "status": "ARCHIVED"}
    assert reread["data"]["template"]["status"] == "ARCHIVED"


async def test_mutating_an_unknown_template_is_not_found(
    sandbox: Any, control: SandboxControl
) -> None:
    unknown = str(uuid.uuid4())
    async with gateway_client(sandbox_settings(sandbox)) as client:
        updated = await gql(client, UPDATE, id=unknown, input={"name": "x"})
        cloned = await gql(client, CLONE, id=unknown)
        archived = await gql(client, ARCHIVE, id=unknown)
    for body in (updated, cloned, archived):
        assert codes(body) == ["NOT_FOUND"], body
        assert body["errors"][0]["extensions"]["service"] == "templates"
        assert body["errors"][0]["message"] == f"No template with id {unknown}"


async def test_templates_down_nulls_only_the_template_fields(
    sandbox: Any, control: SandboxControl
) -> None:
    query = """{
      templates(first: 3) { totalCount }
      samples(first: 2) { edges { node { id templateId template { fields { name } } } } }
      notifications(first: 2) { edges { node { id } } }
    }"""
    control.fault("templates", status=503, times=None)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        body = await gql(client, query)
    assert body["data"]["templates"] is None
    assert len(body["data"]["notifications"]["edges"]) == 2
    nodes = [e["node"] for e in body["data"]["samples"]["edges"]]
    assert len(nodes) == 2
    assert all(n["id"] and n["template"] is None for n in nodes)
    pairs = {(e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]}
    assert pairs == {("UPSTREAM_UNAVAILABLE", "templates")}
    assert "127.0.0.1" not in str(body)
    assert "Traceback" not in str(body)


async def test_slow_fields_time_out_alone(sandbox: Any, control: SandboxControl) -> None:
    control.wait_idle("templates")
    control.fault("templates", delay_ms=1500, path_prefix="/templates/", methods=["GET"])
    settings = sandbox_settings(sandbox, timeouts=Timeouts(connect=1.0, read=0.3, total=0.6))
    async with gateway_client(settings) as client:
        body = await gql(
            client, "{ templates(first: 2) { edges { node { id name fields { name } } } } }"
        )
    control.wait_idle("templates")
    nodes = [e["node"] for e in body["data"]["templates"]["edges"]]
    assert len(nodes) == 2
    assert all(n["id"] and n["name"] and n["fields"] is None for n in nodes)
    pairs = {(e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]}
    assert pairs == {("UPSTREAM_TIMEOUT", "templates")}

"""Templates in the graph on the release's templates service: the list paged and filtered by
the gateway, fields under their real key names, composed create/update/clone, the writes the
release cannot do, relations with exact upstream request counts, and failures."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from resolvers.pagination import encode_cursor
from sandbox.runner import SandboxProcess
from tests.conftest import (
    SandboxControl,
    codes,
    extension_settings,
    gateway_client,
    gql,
    sandbox_settings,
)
from upstreams.config import Timeouts

TEMPLATES_WITH_FIELDS = """
query($first: Int, $after: String, $filter: TemplateFilter) {
  templates(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { node {
      id name status fieldCount
      fields { id templateId name label fieldType isRequired options sortOrder helpText }
    } }
  }
}
"""
PAGE = """
query($first: Int, $after: String, $filter: TemplateFilter) {
  templates(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id name status } }
  }
}
"""
TEMPLATE = """
query($id: ID!) {
  template(id: $id) {
    id name description status revision tags isPublic templateType metadata createdByName
    fields { name label fieldType isRequired options sortOrder }
  }
}
"""
ERRORS = "userErrors { field message code }"
CREATE = f"""
mutation($input: CreateTemplateInput!) {{
  createTemplate(input: $input) {{
    template {{
      id name status revision category tags isPublic templateType metadata fieldCount
      fields {{ name label fieldType isRequired options sortOrder helpText defaultValue }}
    }}
    {ERRORS}
  }}
}}
"""
UPDATE = f"""
mutation($input: UpdateTemplateInput!) {{
  updateTemplate(input: $input) {{
    template {{ id name description status revision tags isPublic templateType metadata }}
    {ERRORS}
  }}
}}
"""
CLONE = f"""
mutation($input: CloneTemplateInput!) {{
  cloneTemplate(input: $input) {{
    template {{
      id name status revision tags isPublic templateType category metadata
      fields {{ name label fieldType options sortOrder }}
    }}
    {ERRORS}
  }}
}}
"""
ARCHIVE = f"""mutation($id: ID!) {{
  archiveTemplate(input: {{id: $id}}) {{ template {{ id status }} {ERRORS} }}
}}"""


def new_template(**extra: Any) -> dict[str, Any]:
    return {
        "name": f"Test template {uuid.uuid4().hex[:8]}",
        "category": "testing",
        "templateType": "collection",
        "tags": ["test"],
        "isPublic": True,
        "metadata": {"purpose": "graph test"},
        "fields": [
            {"name": "patient_id", "label": "Patient ID", "fieldType": "TEXT", "isRequired": True},
            {"name": "tube", "fieldType": "SELECT", "options": ["EDTA", "SST"]},
            {"name": "fasting", "fieldType": "BOOLEAN", "helpText": "Since midnight"},
        ],
        **extra,
    }


def _raw(sb: SandboxProcess) -> httpx.Client:
    return httpx.Client(base_url=sb.urls["templates"], timeout=10)


def _seeded(sb: SandboxProcess, name: str) -> dict[str, Any]:
    with _raw(sb) as raw:
        listed = raw.get("/templates").json()["data"]
    template: dict[str, Any] = {t["name"]: t for t in listed}[name]
    return template


def _raw_create(sb: SandboxProcess, **body: Any) -> dict[str, Any]:
    payload = {"name": f"Raw {uuid.uuid4().hex[:8]}", "template_type": "collection", **body}
    with _raw(sb) as raw:
        response = raw.post("/templates", json=payload)
    assert response.status_code == 200, response.text
    template: dict[str, Any] = response.json()["template"]
    return template


def _delete(sb: SandboxProcess, *template_ids: str) -> None:
    """Tests delete what they create: the release's list shows only the 50 newest."""
    with _raw(sb) as raw:
        for template_id in template_ids:
            raw.delete(f"/templates/{template_id}")


# ------------------------------------------------------------------------------- reads


async def test_fields_carry_their_names_labels_and_order_from_the_release_keys(
    sandbox: Any, control: SandboxControl
) -> None:
    blood = _seeded(sandbox, "Blood Collection")
    with _raw(sandbox) as raw:
        upstream = raw.get(f"/templates/{blood['id']}/fields").json()["fields"]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, TEMPLATE, id=blood["id"])
        assert control.by_route("templates") == {
            "GET /templates/{id}": 1,
            "GET /templates/{id}/fields": 1,
            "GET /templates/{id}/data": 1,
        }
        assert control.requests() == 3
    assert "errors" not in body, body
    template = body["data"]["template"]
    assert [(f["name"], f["label"]) for f in template["fields"]] == [
        (f["field_name"], f["field_label"]) for f in upstream
    ]
    assert template["fields"][0] == {
        "name": "patient_id",
        "label": "Patient ID",
        "fieldType": "TEXT",
        "isRequired": True,
        "options": [],
        "sortOrder": 0,
    }
    tube = {f["name"]: f for f in template["fields"]}["tube_type"]
    assert (tube["fieldType"], tube["options"]) == ("SELECT", ["EDTA", "Heparin", "Citrate", "SST"])
    assert (template["templateType"], template["tags"]) == (
        "collection",
        ["clinical", "collection"],
    )
    assert template["metadata"] == {"owner_department": template["metadata"]["owner_department"]}
    assert template["createdByName"] == "system"


async def test_a_page_of_templates_with_fields_is_one_list_and_one_fields_call_each(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, TEMPLATES_WITH_FIELDS, first=6)
        assert "errors" not in body, body
        nodes = [e["node"] for e in body["data"]["templates"]["edges"]]
        assert len(nodes) == 6
        # fields and fieldCount share one loader: one call per distinct template.
        assert control.by_route("templates") == {
            "GET /templates": 1,
            "GET /templates/{id}/fields": 6,
        }
        assert control.requests() == 7
    for node in nodes:
        assert node["fieldCount"] == len(node["fields"])
        assert all(f["templateId"] == node["id"] and f["name"] for f in node["fields"])


async def test_page_two_follows_page_one_over_the_newest_templates(
    sandbox: Any, control: SandboxControl
) -> None:
    with _raw(sandbox) as raw:
        listed = raw.get("/templates").json()
    ids = [t["id"] for t in listed["data"]]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        first = await gql(client, PAGE, first=4)
        cursor = first["data"]["templates"]["pageInfo"]["endCursor"]
        second = await gql(client, PAGE, first=4, after=cursor)
        assert control.by_route("templates") == {"GET /templates": 2}
    pages = [[e["node"]["id"] for e in b["data"]["templates"]["edges"]] for b in (first, second)]
    assert pages == [ids[0:4], ids[4:8]]
    assert first["data"]["templates"]["totalCount"] == listed["pagination"]["total_count"]
    assert first["data"]["templates"]["pageInfo"]["hasNextPage"] is True


async def test_the_status_and_search_filters_apply_over_the_whole_list(
    sandbox: Any, control: SandboxControl
) -> None:
    with _raw(sandbox) as raw:
        listed = raw.get("/templates").json()["data"]
    published = [t["id"] for t in listed if t["status"] == "Published"]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        by_status = await gql(client, PAGE, first=3, filter={"statuses": ["PUBLISHED"]})
        later = by_status["data"]["templates"]["pageInfo"]["endCursor"]
        rest = await gql(client, PAGE, first=50, after=later, filter={"statuses": ["PUBLISHED"]})
        deprecated = await gql(client, PAGE, filter={"statuses": ["DEPRECATED"]})
        search = await gql(client, PAGE, filter={"search": "BLOOD coll"})
        assert control.by_route("templates") == {"GET /templates": 4}
    got = [e["node"]["id"] for b in (by_status, rest) for e in b["data"]["templates"]["edges"]]
    assert got == published
    assert by_status["data"]["templates"]["totalCount"] == len(published) == 9
    assert [e["node"]["status"] for e in deprecated["data"]["templates"]["edges"]] == ["DEPRECATED"]
    assert [e["node"]["name"] for e in search["data"]["templates"]["edges"]] == ["Blood Collection"]


async def test_metadata_of_listed_templates_loads_once_per_template(
    sandbox: Any, control: SandboxControl
) -> None:
    query = "{ templates(first: 3) { edges { node { id metadata } } } }"
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, query)
        assert control.by_route("templates") == {
            "GET /templates": 1,
            "GET /templates/{id}/data": 3,
        }
    assert "errors" not in body, body
    assert all(isinstance(e["node"]["metadata"], dict) for e in body["data"]["templates"]["edges"])


async def test_the_same_template_twice_loads_once(sandbox: Any, control: SandboxControl) -> None:
    query = """query($id: ID!) {
      a: template(id: $id) { id fields { id } }
      b: template(id: $id) { name fields { name } }
    }"""
    template_id = _seeded(sandbox, "RNA Extraction")["id"]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, query, id=template_id)
        assert control.by_route("templates") == {
            "GET /templates/{id}": 1,
            "GET /templates/{id}/fields": 1,
        }
    assert body["data"]["a"]["id"] == template_id
    assert len(body["data"]["a"]["fields"]) == len(body["data"]["b"]["fields"]) == 4


def _samples_of(sandbox: Any) -> tuple[list[dict[str, Any]], int]:
    """Every sample, read straight from the samples service (its list cannot filter)."""
    with httpx.Client(base_url=sandbox.urls["samples"], timeout=10) as raw:
        first = raw.get("/samples", params={"page": 1, "page_size": 1000}).json()["data"]
        pages = -(-first["total_count"] // 1000)
        samples = list(first["samples"])
        for number in range(2, pages + 1):
            more = raw.get("/samples", params={"page": number, "page_size": 1000}).json()
            samples += more["data"]["samples"]
    return samples, pages


async def test_template_samples_and_usage_count_read_the_samples_list_once_per_request(
    sandbox: Any, control: SandboxControl
) -> None:
    selection = "id usageCount samples(first: 2) { totalCount edges { node { id templateId } } }"
    query = f"""query($a: ID!, $b: ID!) {{
      a: template(id: $a) {{ {selection} }}
      b: template(id: $b) {{ {selection} }}
    }}"""
    ids = [_seeded(sandbox, name)["id"] for name in ("Blood Collection", "RNA Extraction")]
    samples, pages = _samples_of(sandbox)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, query, a=ids[0], b=ids[1])
        # One read of every sample page serves both templates: the release's samples list
        # answers any filter with a 500.
        assert control.by_route("samples") == {"GET /samples": pages}
        assert control.by_route("templates") == {"GET /templates/{id}": 2}
    assert "errors" not in body, body
    for node in (body["data"]["a"], body["data"]["b"]):
        expected = [s["id"] for s in samples if s.get("template_id") == node["id"]]
        assert len(expected) > 2
        assert node["usageCount"] == node["samples"]["totalCount"] == len(expected)
        assert [e["node"]["id"] for e in node["samples"]["edges"]] == expected[:2]
        assert all(e["node"]["templateId"] == node["id"] for e in node["samples"]["edges"])


async def test_unknown_template_is_null_and_bad_arguments_reach_no_upstream(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        missing = await gql(client, TEMPLATE, id="00000000-0000-4000-8000-000000000000")
        control.reset_stats()
        bad = await gql(client, TEMPLATE, id="../../admin")
        bad_cursor = await gql(client, TEMPLATES_WITH_FIELDS, first=2, after="nope")
        too_many = await gql(client, TEMPLATES_WITH_FIELDS, first=100000)
        assert control.requests() == 0
    assert missing == {"data": {"template": None}}
    for body in (bad, bad_cursor, too_many):
        assert codes(body) == ["BAD_USER_INPUT"], body


async def test_invalid_mutation_input_is_a_user_error_on_its_field_and_reaches_no_upstream(
    sandbox: Any, control: SandboxControl
) -> None:
    twice = new_template()
    twice["fields"] = [twice["fields"][0], twice["fields"][0]]
    cases: list[tuple[str, str, dict[str, Any], list[str], str]] = [
        (UPDATE, "updateTemplate", {"id": "42", "name": "x"}, ["input", "id"], "INVALID"),
        (CREATE, "createTemplate", new_template(name="   "), ["input", "name"], "INVALID"),
        (UPDATE, "updateTemplate", {"id": str(uuid.uuid4())}, ["input"], "INVALID"),
        (UPDATE, "updateTemplate", {"id": str(uuid.uuid4()), "name": None}, ["input", "name"],
         "INVALID"),
        (CREATE, "createTemplate", new_template(metadata={"tags": ["x"]}), ["input", "metadata"],
         "INVALID"),
        # The release's create panics (drops the connection) on a non-object metadata.
        (CREATE, "createTemplate", new_template(metadata=5), ["input", "metadata"], "INVALID"),
        (CREATE, "createTemplate", twice, ["input", "fields", "1", "name"], "TAKEN"),
        (CLONE, "cloneTemplate", {"id": "nope"}, ["input", "id"], "INVALID"),
    ]  # fmt: skip
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        answers = [await gql(client, doc, input=given) for doc, _, given, _, _ in cases]
        archived = await gql(client, ARCHIVE, id="nope")
        assert control.requests() == 0
    for body, (_, root, _, path, code) in zip(answers, cases, strict=True):
        assert "errors" not in body, body
        (error,) = body["data"][root]["userErrors"]
        assert (error["field"], error["code"]) == (path, code), body
        assert body["data"][root]["template"] is None
    assert archived["data"]["archiveTemplate"]["userErrors"][0]["field"] == ["input", "id"]


# ------------------------------------------------------------------------------ writes


async def test_create_template_writes_the_template_then_each_field(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, CREATE, input=new_template(formConfig={"layout": "grid"}))
        # The fields are POSTed one by one; one read gives the template as reads show it
        # with its metadata; the fields written answer Template.fields.
        assert control.by_route("templates") == {
            "POST /templates": 1,
            "POST /templates/{id}/fields": 3,
            "GET /templates/{id}/data": 1,
        }
    assert "errors" not in body, body
    assert body["data"]["createTemplate"]["userErrors"] == []
    created = body["data"]["createTemplate"]["template"]
    assert (created["status"], created["revision"], created["category"]) == ("DRAFT", 1, "testing")
    assert (created["tags"], created["isPublic"]) == (["test"], True)
    assert (created["templateType"], created["metadata"]) == (
        "collection",
        {"purpose": "graph test"},
    )
    assert created["fieldCount"] == 3
    assert created["fields"] == [
        {
            "name": "patient_id",
            "label": "Patient ID",
            "fieldType": "TEXT",
            "isRequired": True,
            "options": [],
            "sortOrder": 0,
            "helpText": None,
            "defaultValue": None,
        },
        {
            "name": "tube",
            "label": "tube",
            "fieldType": "SELECT",
            "isRequired": False,
            "options": ["EDTA", "SST"],
            "sortOrder": 1,
            "helpText": None,
            "defaultValue": None,
        },
        {
            "name": "fasting",
            "label": "fasting",
            "fieldType": "BOOLEAN",
            "isRequired": False,
            "options": [],
            "sortOrder": 2,
            "helpText": "Since midnight",
            "defaultValue": None,
        },
    ]
    with _raw(sandbox) as raw:
        stored = raw.get(f"/templates/{created['id']}/fields").json()["fields"]
    assert [f["field_name"] for f in stored] == ["patient_id", "tube", "fasting"]
    _delete(sandbox, created["id"])


async def test_a_failing_field_is_named_and_the_new_template_is_not_kept(
    sandbox: Any, control: SandboxControl
) -> None:
    control.fault("templates", status=500, times=1, methods=["POST"], path_prefix="/templates/")
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, CREATE, input=new_template())
        assert control.by_route("templates") == {
            "POST /templates": 1,
            "POST /templates/{id}/fields": 1,
            "DELETE /templates/{id}": 1,
        }
    assert body["data"] == {"createTemplate": None}
    assert codes(body) == ["UPSTREAM_UNAVAILABLE"]
    error = body["errors"][0]
    assert error["message"] == (
        "Field 'patient_id' (1 of 3) could not be created; the new template was deleted "
        "again, nothing was kept"
    )
    assert error["extensions"]["field"] == "patient_id"
    assert error["extensions"]["service"] == "templates"
    with _raw(sandbox) as raw:
        assert raw.get(f"/templates/{error['extensions']['templateId']}").status_code == 404


async def test_update_template_keeps_tags_public_flag_type_and_metadata(
    sandbox: Any, control: SandboxControl
) -> None:
    raw_template = _raw_create(
        sandbox, tags=["a", "b"], is_public=True, metadata={"purpose": "kept"}
    )
    template_id = raw_template["id"]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        described = await gql(client, UPDATE, input={"id": template_id, "description": "Updated"})
        # Read-modify-write: the stored metadata, then one PUT carrying it whole.
        assert control.by_route("templates") == {
            "GET /templates/{id}/data": 1,
            "PUT /templates/{id}": 1,
        }
        retagged = await gql(
            client,
            UPDATE,
            input={
                "id": template_id,
                "tags": ["c"],
                "isPublic": False,
                "metadata": {"purpose": "new"},
            },
        )
        reread = await gql(client, TEMPLATE, id=template_id)
    assert "errors" not in described, described
    assert described["data"]["updateTemplate"]["userErrors"] == []
    assert described["data"]["updateTemplate"]["template"] == {
        "id": template_id,
        "name": raw_template["name"],
        "description": "Updated",
        "status": "DRAFT",
        "revision": 1,
        "tags": ["a", "b"],
        "isPublic": True,
        "templateType": "collection",
        "metadata": {"purpose": "kept"},
    }
    changed = retagged["data"]["updateTemplate"]["template"]
    assert (changed["tags"], changed["isPublic"], changed["metadata"]) == (
        ["c"],
        False,
        {"purpose": "new"},
    )
    stored = reread["data"]["template"]
    assert (stored["tags"], stored["isPublic"], stored["templateType"]) == (
        ["c"],
        False,
        "collection",
    )
    assert (stored["description"], stored["metadata"]) == ("Updated", {"purpose": "new"})
    _delete(sandbox, template_id)


async def test_update_template_cannot_clear_a_description_and_writes_nothing(
    sandbox: Any, control: SandboxControl
) -> None:
    raw_template = _raw_create(sandbox, tags=["a"], description="Kept")
    template_id = raw_template["id"]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(
            client, UPDATE, input={"id": template_id, "description": None, "name": "n"}
        )
        assert control.requests() == 0
    assert body["data"] == {"updateTemplate": None}
    assert codes(body) == ["UPSTREAM_UNSUPPORTED"]
    assert body["errors"][0]["extensions"]["service"] == "templates"
    assert "cannot clear `description`" in body["errors"][0]["message"]
    with _raw(sandbox) as raw:
        stored = raw.get(f"/templates/{template_id}").json()["template"]
    assert (stored["name"], stored["description"]) == (raw_template["name"], "Kept")
    _delete(sandbox, template_id)


async def test_archive_template_is_unsupported_and_writes_nothing(
    sandbox: Any, control: SandboxControl
) -> None:
    published = _seeded(sandbox, "Blood Collection")
    archived = _seeded(sandbox, "Single-Cell Suspension")
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, ARCHIVE, id=published["id"])
        already = await gql(client, ARCHIVE, id=archived["id"])
        assert control.by_route("templates") == {"GET /templates/{id}": 2}
    assert body["data"] == {"archiveTemplate": None}
    assert codes(body) == ["UPSTREAM_UNSUPPORTED"]
    assert body["errors"][0]["extensions"]["service"] == "templates"
    assert already == {
        "data": {
            "archiveTemplate": {
                "template": {"id": archived["id"], "status": "ARCHIVED"},
                "userErrors": [],
            }
        }
    }
    assert _seeded(sandbox, "Blood Collection") == published


async def test_clone_template_is_composed_by_the_gateway(
    sandbox: Any, control: SandboxControl
) -> None:
    source = _seeded(sandbox, "Tissue Biopsy Intake")
    async with gateway_client(sandbox_settings(sandbox)) as client:
        original = await gql(client, TEMPLATE, id=source["id"])
        control.reset_stats()
        named = await gql(client, CLONE, input={"id": source["id"], "name": "Cloned one"})
        # The source and its fields read, the copy created with its 7 fields, read back.
        assert control.by_route("templates") == {
            "GET /templates/{id}/data": 2,
            "GET /templates/{id}/fields": 1,
            "POST /templates": 1,
            "POST /templates/{id}/fields": 7,
        }
        default = await gql(client, CLONE, input={"id": source["id"]})
    assert "errors" not in named, named
    clone = named["data"]["cloneTemplate"]["template"]
    want = original["data"]["template"]
    assert clone["id"] != source["id"]
    assert (clone["name"], clone["status"], clone["revision"]) == ("Cloned one", "DRAFT", 1)
    assert (clone["tags"], clone["isPublic"], clone["templateType"]) == (
        want["tags"],
        want["isPublic"],
        want["templateType"],
    )
    assert (clone["category"], clone["metadata"]) == (source["category"], want["metadata"])
    assert [(f["name"], f["label"], f["fieldType"], f["options"]) for f in clone["fields"]] == [
        (f["name"], f["label"], f["fieldType"], f["options"]) for f in want["fields"]
    ]
    copy = default["data"]["cloneTemplate"]["template"]
    assert copy["name"] == f"{source['name']} (copy)"
    with _raw(sandbox) as raw:
        fields = raw.get(f"/templates/{clone['id']}/fields").json()["fields"]
    assert len(fields) == 7
    _delete(sandbox, clone["id"], copy["id"])


async def test_mutating_an_unknown_template_is_a_not_found_user_error(
    sandbox: Any, control: SandboxControl
) -> None:
    unknown = str(uuid.uuid4())
    async with gateway_client(sandbox_settings(sandbox)) as client:
        updated = await gql(client, UPDATE, input={"id": unknown, "name": "x"})
        cloned = await gql(client, CLONE, input={"id": unknown})
        archived = await gql(client, ARCHIVE, id=unknown)
    for body, root in ((updated, "updateTemplate"), (cloned, "cloneTemplate"),
                       (archived, "archiveTemplate")):  # fmt: skip
        assert "errors" not in body, body
        assert body["data"][root] == {
            "template": None,
            "userErrors": [
                {
                    "field": ["input", "id"],
                    "message": f"No template with id {unknown}",
                    "code": "NOT_FOUND",
                }
            ],
        }


# ---------------------------------------------------------------------------- failures


async def test_templates_down_nulls_only_the_template_fields(
    sandbox: Any, control: SandboxControl
) -> None:
    query = """{
      templates(first: 3) { totalCount }
      template(id: "00000000-0000-4000-8000-000000000000") { id }
      notifications(first: 2) { edges { node { id } } }
    }"""
    control.fault("templates", status=503, times=None)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        body = await gql(client, query)
    assert body["data"]["templates"] is None
    assert body["data"]["template"] is None
    assert len(body["data"]["notifications"]["edges"]) == 2
    pairs = {(e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]}
    assert pairs == {("UPSTREAM_UNAVAILABLE", "templates")}
    assert "127.0.0.1" not in str(body)
    assert "Traceback" not in str(body)


async def test_slow_fields_time_out_alone(sandbox: Any, control: SandboxControl) -> None:
    control.wait_idle("templates")
    # The fields calls are slow; the list call must not be: its margin (0.8 s) is wide
    # enough for a loaded machine.
    control.fault("templates", delay_ms=2500, path_prefix="/templates/", methods=["GET"])
    settings = sandbox_settings(sandbox, timeouts=Timeouts(connect=1.0, read=0.8, total=1.2))
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


# --------------------------------------------------- more templates than the list returns


@pytest.fixture(scope="module")
def crowded() -> Iterator[SandboxProcess]:
    """A templates service holding 63 active templates: its list returns the 50 newest."""
    with SandboxProcess(["templates"]) as sb:
        with _raw(sb) as raw:
            for index in range(51):
                body = {"name": f"Extra {index:02d}", "template_type": "form"}
                assert raw.post("/templates", json=body).status_code == 200
        yield sb


async def test_past_the_50_newest_templates_filters_and_other_orders_are_unsupported(
    sandbox: Any, crowded: SandboxProcess
) -> None:
    settings = sandbox_settings(
        sandbox, upstream_urls={**sandbox.urls, "templates": crowded.urls["templates"]}
    )
    query = """query($after: String, $filter: TemplateFilter, $orderBy: TemplateOrder) {
      page: templates(first: 10, after: $after, filter: $filter, orderBy: $orderBy) {
        totalCount edges { node { name } }
      }
      count: templates(first: 0) { totalCount }
    }"""
    with _raw(crowded) as raw:
        listed = raw.get("/templates").json()["data"]
    newest = [t["name"] for t in listed]
    own_order = {"field": "CREATED_AT", "direction": "DESC"}
    async with gateway_client(settings) as client:
        within = await gql(client, query, after=encode_cursor(39, listed[39]["id"]))
        # Newest first is the list's own order: no sort, nothing more to read.
        newest_first = await gql(client, query, orderBy=own_order)
        beyond = await gql(client, query, after=encode_cursor(40, listed[40]["id"]))
        filtered = await gql(client, query, filter={"statuses": ["DRAFT"]})
        by_name = await gql(client, query, orderBy={"field": "NAME", "direction": "ASC"})
    assert "errors" not in within, within
    assert [e["node"]["name"] for e in within["data"]["page"]["edges"]] == newest[40:50]
    assert within["data"]["page"]["totalCount"] == within["data"]["count"]["totalCount"] == 63
    assert "errors" not in newest_first, newest_first
    assert [e["node"]["name"] for e in newest_first["data"]["page"]["edges"]] == newest[:10]
    for body, what in ((beyond, "the templates past those cannot be listed"),
                       (filtered, "a filter cannot be applied to all of them"),
                       (by_name, "another order cannot be applied to all of them")):  # fmt: skip
        assert body["data"] == {"page": None, "count": {"totalCount": 63}}
        assert codes(body) == ["UPSTREAM_UNSUPPORTED"]
        assert body["errors"][0]["extensions"]["service"] == "templates"
        assert body["errors"][0]["message"] == (
            f"The templates service lists only its 50 newest templates and holds 63: {what}"
        )


# -------------------------------------------------------------------- with the extension


async def test_sample_templates_load_in_one_batch_with_the_extension(
    sandbox_ext: Any, control_ext: SandboxControl
) -> None:
    query = "{ samples(first: 30) { edges { node { templateId template { id name } } } } }"
    async with gateway_client(extension_settings(sandbox_ext)) as client:
        control_ext.reset_stats()
        body = await gql(client, query)
        assert control_ext.by_route("templates") == {"GET /templates": 1}
    assert "errors" not in body, body
    nodes = [e["node"] for e in body["data"]["samples"]["edges"]]
    assert any(n["templateId"] for n in nodes)
    assert all((n["template"] or {}).get("id") == n["templateId"] for n in nodes if n["templateId"])


async def test_the_extension_does_not_change_the_list_or_the_composed_writes(
    sandbox_ext: Any, control_ext: SandboxControl
) -> None:
    async with gateway_client(extension_settings(sandbox_ext)) as client:
        control_ext.reset_stats()
        listed = await gql(client, PAGE, first=2, filter={"statuses": ["ARCHIVED"]})
        created = await gql(client, CREATE, input=new_template())
        assert control_ext.by_route("templates") == {
            "GET /templates": 1,
            "POST /templates": 1,
            "POST /templates/{id}/fields": 3,
            "GET /templates/{id}/data": 1,
        }
    assert [e["node"]["status"] for e in listed["data"]["templates"]["edges"]] == ["ARCHIVED"]
    template = created["data"]["createTemplate"]["template"]
    assert template["fieldCount"] == 3
    _delete(sandbox_ext, template["id"])

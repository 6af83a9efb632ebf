"""The shape of templates in the graph: what the templates service always sends is non-null
and what needs another call is nullable; values the graph cannot represent are
UPSTREAM_BAD_RESPONSE; Template is a Node; the list's orderBy and filters; mutations take one
input and answer a payload."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
from graphql import GraphQLNonNull, GraphQLObjectType, get_named_type
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from graph.schema import create_schema
from sandbox.runner import SandboxProcess
from tests.conftest import SandboxControl, codes, gateway_client, gql, sandbox_settings
from tests.loopback import serve

TEMPLATE_ID = "7e57a7e5-1111-4222-8333-444455556666"
FIELD_ID = "7e57f1e1-1111-4222-8333-444455556666"


def _template(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "category": "general",
        "created_at": "2024-03-01T10:00:00.123456Z",
        "created_by": "system",
        "description": None,
        "field_count": 0,
        "id": TEMPLATE_ID,
        "is_public": False,
        "is_system": False,
        "name": "Contract breaker",
        "status": "Draft",
        "tags": [],
        "template_type": "form",
        "updated_at": "2024-03-01T10:00:00.123456Z",
        "updated_by": None,
        "usage_count": 0,
        "version": "1",
    }
    return record | changes


def _field(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "default_value": None,
        "field_description": None,
        "field_label": "Odd",
        "field_metadata": {},
        "field_name": "odd",
        "field_options": [],
        "field_order": 0,
        "field_type": "Text",
        "id": FIELD_ID,
        "is_required": False,
        "template_id": TEMPLATE_ID,
        "validation_rules": {},
    }
    return record | changes


@contextlib.asynccontextmanager
async def _templates_service(
    template: dict[str, Any], fields: list[dict[str, Any]]
) -> AsyncIterator[str]:
    """A templates service on a free loopback port that answers ``template`` for any id and
    ``fields`` as its fields (the sandbox, like the release, never sends such values)."""

    async def one(request: Request) -> JSONResponse:
        return JSONResponse({"success": True, "template": template})

    async def listed(request: Request) -> JSONResponse:
        return JSONResponse({"count": len(fields), "fields": fields, "success": True})

    app = Starlette(
        routes=[
            Route("/templates/{template_id}", one),
            Route("/templates/{template_id}/fields", listed),
        ]
    )
    async with serve(app) as url:
        yield url


async def _ask(sandbox: SandboxProcess, url: str, query: str) -> dict[str, Any]:
    settings = sandbox_settings(sandbox)
    settings = dataclasses.replace(
        settings, upstream_urls={**settings.upstream_urls, "templates": url}
    )
    async with gateway_client(settings) as client:
        return await gql(client, query, id=TEMPLATE_ID)


ONE = "query($id: ID!) { template(id: $id) { id name status revision } }"
WITH_FIELDS = "query($id: ID!) { template(id: $id) { id name fields { name fieldType } } }"


# ---------------------------------------------------------------------- bad values


async def test_an_unknown_template_status_is_upstream_bad_response_never_null(
    sandbox: SandboxProcess,
) -> None:
    async with _templates_service(_template(status="Retired"), []) as url:
        body = await _ask(sandbox, url, ONE)
    # status is non-null (every TemplateResponse has one): the template cannot be shown.
    assert body["data"] == {"template": None}
    (error,) = body["errors"]
    assert error["path"] == ["template", "status"]
    assert error["extensions"] == {
        "code": "UPSTREAM_BAD_RESPONSE",
        "service": "templates",
        "field": "status",
    }
    assert "'retired'" in error["message"]


async def test_a_version_that_is_no_whole_number_is_upstream_bad_response(
    sandbox: SandboxProcess,
) -> None:
    async with _templates_service(_template(version="2.5"), []) as url:
        body = await _ask(sandbox, url, ONE)
    assert body["data"] == {"template": None}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["template", "revision"], "UPSTREAM_BAD_RESPONSE")
    ]


async def test_a_create_response_version_reads_as_the_same_revision(
    sandbox: SandboxProcess,
) -> None:
    # The release answers "1.0" on create and "1" on reads: one revision, 1.
    async with _templates_service(_template(version="1.0"), []) as url:
        body = await _ask(sandbox, url, ONE)
    assert body == {
        "data": {
            "template": {
                "id": TEMPLATE_ID,
                "name": "Contract breaker",
                "status": "DRAFT",
                "revision": 1,
            }
        }
    }


async def test_an_unknown_field_type_fails_only_the_fields_of_the_template(
    sandbox: SandboxProcess,
) -> None:
    async with _templates_service(_template(), [_field(field_type="Slider")]) as url:
        body = await _ask(sandbox, url, WITH_FIELDS)
    # fields is nullable (it needs its own call): the template itself is still served.
    assert body["data"] == {
        "template": {"id": TEMPLATE_ID, "name": "Contract breaker", "fields": None}
    }
    (error,) = body["errors"]
    assert error["path"] == ["template", "fields", 0, "fieldType"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "UPSTREAM_BAD_RESPONSE",
        "field_type",
    )


# --------------------------------------------------------------------------- schema


def _type(name: str) -> GraphQLObjectType:
    kind = create_schema()._schema.type_map[name]
    assert isinstance(kind, GraphQLObjectType)
    return kind


def test_template_fields_the_service_always_sends_are_non_null_and_relations_nullable() -> None:
    template = _type("Template")
    required = {
        "id", "name", "templateType", "status", "revision", "tags", "isPublic", "isSystem",
        "createdByName", "createdAt", "updatedAt",
    }  # fmt: skip
    optional = {"description", "category", "fields", "fieldCount", "metadata", "usageCount",
                "samples"}  # fmt: skip
    assert set(template.fields) == required | optional
    assert {n for n, f in template.fields.items() if isinstance(f.type, GraphQLNonNull)} == required
    assert str(template.fields["revision"].type) == "Int!"
    assert str(template.fields["createdByName"].type) == "String!"
    assert str(template.fields["fields"].type) == "[TemplateField!]"
    assert [i.name for i in template.interfaces] == ["Node"]
    field = _type("TemplateField")
    assert {n for n, f in field.fields.items() if not isinstance(f.type, GraphQLNonNull)} == {
        "defaultValue",
        "helpText",
    }


def test_template_mutations_take_one_input_and_answer_a_payload_with_user_errors() -> None:
    mutation = _type("Mutation")
    names = [
        "createTemplate", "updateTemplate", "cloneTemplate", "publishTemplate",
        "archiveTemplate", "deleteTemplate", "addTemplateField", "updateTemplateField",
        "removeTemplateField", "reorderTemplateFields",
    ]  # fmt: skip
    for name in names:
        field = mutation.fields[name]
        upper = name[0].upper() + name[1:]
        assert list(field.args) == ["input"], name
        assert str(field.args["input"].type) == f"{upper}Input!", name
        assert str(field.type) == f"{upper}Payload", name
        payload = get_named_type(field.type)
        assert isinstance(payload, GraphQLObjectType)
        assert str(payload.fields["userErrors"].type) == "[UserError!]!", name


# ------------------------------------------------------------------------------ Node


async def test_a_template_is_refetched_by_id_through_node_and_nodes(
    sandbox: Any, control: SandboxControl
) -> None:
    with httpx.Client(base_url=sandbox.urls["templates"], timeout=10) as raw:
        listed = raw.get("/templates").json()["data"]
    ids = [listed[0]["id"], listed[1]["id"]]
    query = """query($id: ID!, $ids: [ID!]!) {
      node(id: $id) { __typename id ... on Template { name } }
      nodes(ids: $ids) { ... on Template { id name } }
    }"""
    async with gateway_client(sandbox_settings(sandbox)) as client:
        body = await gql(client, query, id=ids[0], ids=ids)
    assert "errors" not in body, body
    assert body["data"]["node"] == {
        "__typename": "Template",
        "id": ids[0],
        "name": listed[0]["name"],
    }
    assert body["data"]["nodes"] == [{"id": t["id"], "name": t["name"]} for t in listed[:2]]


# ---------------------------------------------------------------- order and filters

ORDERED = """query($orderBy: TemplateOrder, $filter: TemplateFilter) {
  templates(first: 50, orderBy: $orderBy, filter: $filter) {
    totalCount edges { node { id name } }
  }
}"""


async def test_order_by_name_and_updated_at_sort_the_whole_list_in_the_gateway(
    sandbox: Any, control: SandboxControl
) -> None:
    with httpx.Client(base_url=sandbox.urls["templates"], timeout=10) as raw:
        listed = raw.get("/templates").json()["data"]
    by_name = sorted(listed, key=lambda t: t["name"].casefold(), reverse=True)
    by_update = sorted(listed, key=lambda t: datetime.fromisoformat(t["updated_at"]))
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        name = await gql(client, ORDERED, orderBy={"field": "NAME", "direction": "DESC"})
        updated = await gql(client, ORDERED, orderBy={"field": "UPDATED_AT", "direction": "ASC"})
        newest = await gql(client, ORDERED, orderBy={"field": "CREATED_AT", "direction": "DESC"})
        assert control.by_route("templates") == {"GET /templates": 3}
    ids = [
        [e["node"]["id"] for e in b["data"]["templates"]["edges"]] for b in (name, updated, newest)
    ]
    assert ids[0] == [t["id"] for t in by_name]
    assert ids[1] == [t["id"] for t in by_update]
    assert ids[2] == [t["id"] for t in listed]


async def test_statuses_take_several_and_the_category_filter_matches_exactly(
    sandbox: Any,
) -> None:
    with httpx.Client(base_url=sandbox.urls["templates"], timeout=10) as raw:
        listed = raw.get("/templates").json()["data"]
    some = [t["id"] for t in listed if t["status"] in ("Archived", "Deprecated")]
    category = listed[0]["category"]
    in_category = [t["id"] for t in listed if t["category"] == category]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        statuses = await gql(client, ORDERED, filter={"statuses": ["ARCHIVED", "DEPRECATED"]})
        by_category = await gql(client, ORDERED, filter={"category": category})
        nothing = await gql(client, ORDERED, filter={"category": category.upper() + "?"})
    assert len(some) >= 2
    assert [e["node"]["id"] for e in statuses["data"]["templates"]["edges"]] == some
    assert statuses["data"]["templates"]["totalCount"] == len(some)
    assert [e["node"]["id"] for e in by_category["data"]["templates"]["edges"]] == in_category
    assert nothing["data"]["templates"] == {"totalCount": 0, "edges": []}
    assert codes(nothing) == []

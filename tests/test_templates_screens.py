"""The template screens a lab UI needs, on the release: editing a form's fields after
creation (add, update, remove, reorder), publish (which the release cannot do) and delete,
and cursors that hold when the head of the list is deleted or added to."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from sandbox.runner import SandboxProcess
from tests.conftest import SandboxControl, codes, gateway_client, gql, sandbox_settings

ERRORS = "userErrors { field message code }"
FIELD = "id templateId name label fieldType isRequired defaultValue options sortOrder helpText"
ADD = f"""mutation($input: AddTemplateFieldInput!) {{
  addTemplateField(input: $input) {{
    templateField {{ {FIELD} }}
    template {{ id fieldCount fields {{ name sortOrder }} }}
    {ERRORS}
  }}
}}"""
UPDATE_FIELD = f"""mutation($input: UpdateTemplateFieldInput!) {{
  updateTemplateField(input: $input) {{
    templateField {{ {FIELD} }}
    template {{ id fields {{ id name label }} }}
    {ERRORS}
  }}
}}"""
REMOVE = f"""mutation($input: RemoveTemplateFieldInput!) {{
  removeTemplateField(input: $input) {{
    removedFieldId
    template {{ id fieldCount fields {{ name }} }}
    {ERRORS}
  }}
}}"""
REORDER = f"""mutation($input: ReorderTemplateFieldsInput!) {{
  reorderTemplateFields(input: $input) {{
    template {{ id fields {{ id name sortOrder }} }}
    {ERRORS}
  }}
}}"""
PUBLISH = f"""mutation($id: ID!) {{
  publishTemplate(input: {{id: $id}}) {{ template {{ id status }} {ERRORS} }}
}}"""
DELETE = f"""mutation($id: ID!) {{
  deleteTemplate(input: {{id: $id}}) {{ deletedTemplateId {ERRORS} }}
}}"""
PAGE = """query($first: Int, $after: String) {
  templates(first: $first, after: $after) {
    pageInfo { endCursor } edges { node { id } }
  }
}"""
TEMPLATE = "query($id: ID!) { template(id: $id) { id } }"


def _raw(sb: SandboxProcess) -> httpx.Client:
    return httpx.Client(base_url=sb.urls["templates"], timeout=10)


def _template_with_fields(sb: SandboxProcess, *names: str) -> tuple[str, list[dict[str, Any]]]:
    """A new template whose fields ``names`` have sort orders 0, 1, ... (raw upstream)."""
    with _raw(sb) as raw:
        body = {"name": f"Screens {uuid.uuid4().hex[:8]}", "template_type": "form"}
        template_id: str = raw.post("/templates", json=body).json()["template"]["id"]
        fields = []
        for order, name in enumerate(names):
            spec = {
                "field_name": name,
                "field_label": name.title(),
                "field_type": "Text",
                "field_order": order,
                "field_description": f"About {name}",
            }
            response = raw.post(f"/templates/{template_id}/fields", json=spec)
            assert response.status_code == 200, response.text
            fields.append(response.json()["field"])
    return template_id, fields


def _stored_fields(sb: SandboxProcess, template_id: str) -> list[dict[str, Any]]:
    with _raw(sb) as raw:
        stored: list[dict[str, Any]] = raw.get(f"/templates/{template_id}/fields").json()["fields"]
    return stored


def _delete(sb: SandboxProcess, *template_ids: str) -> None:
    with _raw(sb) as raw:
        for template_id in template_ids:
            raw.delete(f"/templates/{template_id}")


# ------------------------------------------------------------------------------ fields


async def test_add_template_field_appends_it_after_the_last_field(
    sandbox: Any, control: SandboxControl
) -> None:
    template_id, _ = _template_with_fields(sandbox, "alpha", "beta")
    new = {"name": "gamma", "fieldType": "SELECT", "options": ["x", "y"], "isRequired": True}
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, ADD, input={"templateId": template_id, "templateField": new})
        # The template and its names checked, then one POST; the payload's template.fields
        # come from what was read and written, with no call more.
        assert control.by_route("templates") == {
            "GET /templates/{id}": 1,
            "GET /templates/{id}/fields": 1,
            "POST /templates/{id}/fields": 1,
        }
    assert "errors" not in body, body
    payload = body["data"]["addTemplateField"]
    assert payload["userErrors"] == []
    field = payload["templateField"]
    assert {k: field[k] for k in ("templateId", "name", "label", "fieldType", "sortOrder")} == {
        "templateId": template_id,
        "name": "gamma",
        "label": "gamma",
        "fieldType": "SELECT",
        "sortOrder": 2,
    }
    assert (field["options"], field["isRequired"]) == (["x", "y"], True)
    assert payload["template"]["fieldCount"] == 3
    assert [(f["name"], f["sortOrder"]) for f in payload["template"]["fields"]] == [
        ("alpha", 0),
        ("beta", 1),
        ("gamma", 2),
    ]
    stored = _stored_fields(sandbox, template_id)
    assert [(f["field_name"], f["field_type"]) for f in stored][-1] == ("gamma", "Select")
    _delete(sandbox, template_id)


async def test_add_template_field_with_a_taken_name_or_unknown_template_writes_nothing(
    sandbox: Any, control: SandboxControl
) -> None:
    template_id, _ = _template_with_fields(sandbox, "alpha")
    unknown = str(uuid.uuid4())
    field = {"name": "alpha", "fieldType": "TEXT"}
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        taken = await gql(client, ADD, input={"templateId": template_id, "templateField": field})
        missing = await gql(client, ADD, input={"templateId": unknown, "templateField": field})
        assert "POST /templates/{id}/fields" not in control.by_route("templates")
    assert taken["data"]["addTemplateField"] == {
        "templateField": None,
        "template": None,
        "userErrors": [
            {
                "field": ["input", "templateField", "name"],
                "message": "The template has a field named 'alpha' already",
                "code": "TAKEN",
            }
        ],
    }
    (error,) = missing["data"]["addTemplateField"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "templateId"], "NOT_FOUND")
    assert [f["field_name"] for f in _stored_fields(sandbox, template_id)] == ["alpha"]
    _delete(sandbox, template_id)


async def test_update_template_field_changes_what_is_given_and_keeps_the_rest(
    sandbox: Any, control: SandboxControl
) -> None:
    template_id, fields = _template_with_fields(sandbox, "alpha", "beta")
    changes = {"label": "Alpha!", "isRequired": True, "defaultValue": "a", "fieldType": "DATE"}
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(
            client,
            UPDATE_FIELD,
            input={"templateId": template_id, "fieldId": fields[0]["id"], **changes},
        )
        assert control.by_route("templates") == {
            "GET /templates/{id}": 1,
            "GET /templates/{id}/fields": 1,
            "PUT /templates/{id}/fields/{field_id}": 1,
        }
    assert "errors" not in body, body
    payload = body["data"]["updateTemplateField"]
    assert payload["userErrors"] == []
    field = payload["templateField"]
    assert (field["id"], field["name"], field["label"]) == (fields[0]["id"], "alpha", "Alpha!")
    assert (field["isRequired"], field["defaultValue"], field["fieldType"]) == (True, "a", "DATE")
    assert (field["helpText"], field["sortOrder"]) == ("About alpha", 0)
    assert [f["label"] for f in payload["template"]["fields"]] == ["Alpha!", "Beta"]
    stored = _stored_fields(sandbox, template_id)[0]
    assert (stored["field_label"], stored["field_type"], stored["default_value"]) == (
        "Alpha!",
        "Date",
        "a",
    )
    _delete(sandbox, template_id)


async def test_update_template_field_cannot_clear_help_text_nor_take_a_used_name(
    sandbox: Any, control: SandboxControl
) -> None:
    template_id, fields = _template_with_fields(sandbox, "alpha", "beta")
    target = {"templateId": template_id, "fieldId": fields[1]["id"]}
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        cleared = await gql(client, UPDATE_FIELD, input={**target, "helpText": None})
        assert control.requests() == 0
        renamed = await gql(client, UPDATE_FIELD, input={**target, "name": "alpha"})
        unknown = await gql(
            client, UPDATE_FIELD, input={**target, "fieldId": str(uuid.uuid4()), "label": "x"}
        )
        assert "PUT /templates/{id}/fields/{field_id}" not in control.by_route("templates")
    # The release's PUT keeps the stored value for a null: clearing is not something it does.
    assert cleared["data"] == {"updateTemplateField": None}
    assert codes(cleared) == ["UPSTREAM_UNSUPPORTED"]
    assert "cannot clear `helpText`" in cleared["errors"][0]["message"]
    (taken,) = renamed["data"]["updateTemplateField"]["userErrors"]
    assert (taken["field"], taken["code"]) == (["input", "name"], "TAKEN")
    (missing,) = unknown["data"]["updateTemplateField"]["userErrors"]
    assert (missing["field"], missing["code"]) == (["input", "fieldId"], "NOT_FOUND")
    stored = _stored_fields(sandbox, template_id)[1]
    assert (stored["field_name"], stored["field_description"]) == ("beta", "About beta")
    _delete(sandbox, template_id)


async def test_remove_template_field_deletes_it_and_the_template_shows_the_rest(
    sandbox: Any, control: SandboxControl
) -> None:
    template_id, fields = _template_with_fields(sandbox, "alpha", "beta", "gamma")
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(
            client, REMOVE, input={"templateId": template_id, "fieldId": fields[1]["id"]}
        )
        assert control.by_route("templates") == {
            "GET /templates/{id}": 1,
            "GET /templates/{id}/fields": 1,
            "DELETE /templates/{id}/fields/{field_id}": 1,
        }
        again = await gql(
            client, REMOVE, input={"templateId": template_id, "fieldId": fields[1]["id"]}
        )
    assert body["data"]["removeTemplateField"] == {
        "removedFieldId": fields[1]["id"],
        "template": {
            "id": template_id,
            "fieldCount": 2,
            "fields": [{"name": "alpha"}, {"name": "gamma"}],
        },
        "userErrors": [],
    }
    (error,) = again["data"]["removeTemplateField"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "fieldId"], "NOT_FOUND")
    assert [f["field_name"] for f in _stored_fields(sandbox, template_id)] == ["alpha", "gamma"]
    _delete(sandbox, template_id)


async def test_reorder_template_fields_moves_each_field_with_one_put_per_moved_field(
    sandbox: Any, control: SandboxControl
) -> None:
    template_id, fields = _template_with_fields(sandbox, "alpha", "beta", "gamma", "delta")
    ids = [f["id"] for f in fields]
    # alpha stays first; the other three move.
    order = [ids[0], ids[3], ids[1], ids[2]]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, REORDER, input={"templateId": template_id, "fieldIds": order})
        assert control.by_route("templates") == {
            "GET /templates/{id}": 1,
            "GET /templates/{id}/fields": 1,
            "PUT /templates/{id}/fields/{field_id}": 3,
        }
    assert "errors" not in body, body
    assert body["data"]["reorderTemplateFields"]["template"]["fields"] == [
        {"id": ids[0], "name": "alpha", "sortOrder": 0},
        {"id": ids[3], "name": "delta", "sortOrder": 1},
        {"id": ids[1], "name": "beta", "sortOrder": 2},
        {"id": ids[2], "name": "gamma", "sortOrder": 3},
    ]
    stored = _stored_fields(sandbox, template_id)
    assert [f["field_name"] for f in stored] == ["alpha", "delta", "beta", "gamma"]
    _delete(sandbox, template_id)


async def test_reorder_template_fields_must_name_every_field_once(
    sandbox: Any, control: SandboxControl
) -> None:
    template_id, fields = _template_with_fields(sandbox, "alpha", "beta")
    ids = [f["id"] for f in fields]
    cases = [[ids[0]], [ids[0], ids[0]], [ids[1], ids[0], str(uuid.uuid4())]]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        answers = [
            await gql(client, REORDER, input={"templateId": template_id, "fieldIds": c})
            for c in cases
        ]
        assert "PUT /templates/{id}/fields/{field_id}" not in control.by_route("templates")
    for body in answers:
        (error,) = body["data"]["reorderTemplateFields"]["userErrors"]
        assert (error["field"], error["code"]) == (["input", "fieldIds"], "INVALID"), body
    assert [f["field_name"] for f in _stored_fields(sandbox, template_id)] == ["alpha", "beta"]
    _delete(sandbox, template_id)


# ------------------------------------------------------------------- publish and delete


async def test_publish_template_is_unsupported_on_the_release_and_writes_nothing(
    sandbox: Any, control: SandboxControl
) -> None:
    template_id, _ = _template_with_fields(sandbox)
    with _raw(sandbox) as raw:
        listed = raw.get("/templates").json()["data"]
    published = next(t for t in listed if t["status"] == "Published")
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        draft = await gql(client, PUBLISH, id=template_id)
        already = await gql(client, PUBLISH, id=published["id"])
        assert control.by_route("templates") == {"GET /templates/{id}": 2}
    assert draft["data"] == {"publishTemplate": None}
    assert codes(draft) == ["UPSTREAM_UNSUPPORTED"]
    error = draft["errors"][0]
    assert error["extensions"]["service"] == "templates"
    assert "no publish or status route" in error["message"]
    assert "PUT /templates/{id} ignores `status`" in error["message"]
    assert already["data"]["publishTemplate"] == {
        "template": {"id": published["id"], "status": "PUBLISHED"},
        "userErrors": [],
    }
    with _raw(sandbox) as raw:
        assert raw.get(f"/templates/{template_id}").json()["template"]["status"] == "Draft"
    _delete(sandbox, template_id)


async def test_delete_template_removes_it_from_reads_and_the_list(
    sandbox: Any, control: SandboxControl
) -> None:
    template_id, _ = _template_with_fields(sandbox, "alpha")
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        body = await gql(client, DELETE, id=template_id)
        assert control.by_route("templates") == {"DELETE /templates/{id}": 1}
        read = await gql(client, TEMPLATE, id=template_id)
        again = await gql(client, DELETE, id=template_id)
        listed = await gql(client, PAGE, first=50)
    assert body == {
        "data": {"deleteTemplate": {"deletedTemplateId": template_id, "userErrors": []}}
    }
    assert read == {"data": {"template": None}}
    assert again["data"]["deleteTemplate"] == {
        "deletedTemplateId": None,
        "userErrors": [
            {
                "field": ["input", "id"],
                "message": f"No template with id {template_id}",
                "code": "NOT_FOUND",
            }
        ],
    }
    assert template_id not in [e["node"]["id"] for e in listed["data"]["templates"]["edges"]]


# ----------------------------------------------------------------------------- cursors


def _ids(body: dict[str, Any]) -> list[str]:
    return [e["node"]["id"] for e in body["data"]["templates"]["edges"]]


async def test_deleting_the_head_template_between_pages_neither_repeats_nor_skips(
    sandbox: Any,
) -> None:
    # Three new templates are the three newest: the head of the list, newest first.
    made = [_template_with_fields(sandbox)[0] for _ in range(3)]
    newest = list(reversed(made))
    async with gateway_client(sandbox_settings(sandbox)) as client:
        first = await gql(client, PAGE, first=2)
        assert _ids(first) == newest[:2]
        deleted = await gql(client, DELETE, id=newest[0])
        assert deleted["data"]["deleteTemplate"]["userErrors"] == []
        cursor = first["data"]["templates"]["pageInfo"]["endCursor"]
        second = await gql(client, PAGE, first=2, after=cursor)
    assert "errors" not in second, second
    # The next page starts right after the last item seen (an offset would skip newest[2]).
    assert _ids(second)[0] == newest[2]
    assert not set(_ids(second)) & set(_ids(first))
    _delete(sandbox, *made[:2])


async def test_adding_a_template_at_the_head_between_pages_neither_repeats_nor_skips(
    sandbox: Any,
) -> None:
    made = [_template_with_fields(sandbox)[0] for _ in range(3)]
    newest = list(reversed(made))
    async with gateway_client(sandbox_settings(sandbox)) as client:
        first = await gql(client, PAGE, first=2)
        assert _ids(first) == newest[:2]
        added, _ = _template_with_fields(sandbox)
        cursor = first["data"]["templates"]["pageInfo"]["endCursor"]
        second = await gql(client, PAGE, first=2, after=cursor)
    assert "errors" not in second, second
    # An offset would repeat newest[1], now shifted to offset 2.
    assert _ids(second)[0] == newest[2]
    assert not set(_ids(second)) & set(_ids(first))
    _delete(sandbox, added, *made)

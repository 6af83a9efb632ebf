"""The sandbox's templates service answers as the release does (UPSTREAMS.md, "## templates"):
TemplateResponse and FieldResponse shapes, sorted keys, bare-status errors, the ignored list
query, the PUT that replaces metadata, the clone stub, and the fixes and extension that turn
those off. Also the templates client's ``get_many`` with and without the extension."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from sandbox.options import Options
from sandbox.runner import SandboxProcess
from tests.conftest import SandboxControl
from upstreams.client import UpstreamClient
from upstreams.config import CallContext, UpstreamConfig
from upstreams.pool import HttpPool, create_http_pool
from upstreams.templates import TemplatesClient

UNKNOWN = "00000000-0000-4000-8000-000000000000"
CTX = CallContext(request_id="test-sandbox-templates")
TEMPLATE_KEYS = {
    "id",
    "name",
    "description",
    "template_type",
    "status",
    "version",
    "category",
    "tags",
    "is_public",
    "is_system",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "field_count",
    "usage_count",
}
FIELD_KEYS = {
    "id",
    "template_id",
    "field_name",
    "field_type",
    "field_label",
    "field_description",
    "is_required",
    "field_order",
    "validation_rules",
    "default_value",
    "field_options",
    "field_metadata",
}
FIXES = frozenset({"templates-list-query", "templates-update", "templates-clone"})


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


@pytest.fixture(scope="module")
def base(sandbox: SandboxProcess) -> str:
    return sandbox.urls["templates"]


@pytest.fixture(scope="module")
def fixed() -> Iterator[str]:
    """The templates service alone with its three release defects turned off."""
    with SandboxProcess(["templates"], options=Options(fixes=FIXES)) as sb:
        yield sb.urls["templates"]


def _sorted_everywhere(value: Any) -> bool:
    if isinstance(value, list):
        return all(_sorted_everywhere(v) for v in value)
    if isinstance(value, tuple):  # a JSON object read as (key, value) pairs
        keys = [k for k, _ in value]
        return keys == sorted(keys) and all(_sorted_everywhere(v) for _, v in value)
    return True


def _pairs(response: httpx.Response) -> Any:
    return json.loads(response.text, object_pairs_hook=tuple)


def _create(http: httpx.Client, base: str, **body: Any) -> dict[str, Any]:
    payload = {"name": f"Sandbox test {uuid.uuid4().hex[:8]}", "template_type": "collection"}
    response = http.post(f"{base}/templates", json={**payload, **body})
    assert response.status_code == 200, response.text
    template: dict[str, Any] = response.json()["template"]
    return template


def _field(http: httpx.Client, base: str, template_id: str, **body: Any) -> httpx.Response:
    payload = {"field_name": "f", "field_label": "F", "field_type": "Text", **body}
    return http.post(f"{base}/templates/{template_id}/fields", json=payload)


def test_the_list_ignores_its_query_and_answers_the_50_newest_active(
    http: httpx.Client, base: str
) -> None:
    plain = http.get(f"{base}/templates")
    asked = http.get(
        f"{base}/templates",
        params={"page": 2, "page_size": 1, "status": "Draft", "search": "zzz", "limit": 3},
    )
    assert plain.status_code == asked.status_code == 200
    assert asked.json() == plain.json()
    body = plain.json()
    assert set(body) == {"data", "pagination", "success"}
    assert body["pagination"]["page"] == 1
    assert body["pagination"]["page_size"] == 50
    assert body["pagination"]["total_count"] >= 12
    assert body["pagination"]["total_pages"] == -(-body["pagination"]["total_count"] // 50)
    assert len(body["data"]) == min(50, body["pagination"]["total_count"])
    assert all(set(t) == TEMPLATE_KEYS for t in body["data"])
    created = [t["created_at"] for t in body["data"]]
    assert created == sorted(created, reverse=True)
    assert _sorted_everywhere(_pairs(plain))
    seeded = {t["name"]: t for t in body["data"]}["Blood Collection"]
    assert seeded["version"] in {"1", "2", "3"}
    assert seeded["created_by"] == "system"
    assert (seeded["field_count"], seeded["usage_count"]) == (0, 0)
    assert seeded["tags"] == ["clinical", "collection"]


def test_only_the_data_route_shows_the_stored_metadata(http: httpx.Client, base: str) -> None:
    template = _create(http, base, tags=["t1"], is_public=True, metadata={"purpose": "x"})
    single = http.get(f"{base}/templates/{template['id']}")
    data = http.get(f"{base}/templates/{template['id']}/data")
    assert set(single.json()) == {"success", "template"}
    assert set(single.json()["template"]) == TEMPLATE_KEYS
    assert set(data.json()) == {"data", "template"}
    assert data.json()["data"] == {"sheet_names": [], "sheets": []}
    assert set(data.json()["template"]) == TEMPLATE_KEYS | {"metadata"}
    assert data.json()["template"]["metadata"] == {
        "is_public": True,
        "is_system": False,
        "purpose": "x",
        "tags": ["t1"],
        "template_type": "collection",
    }
    assert _sorted_everywhere(_pairs(data))


def test_create_answers_version_1_0_and_the_category_sent_while_reads_say_1_and_general(
    http: httpx.Client, base: str
) -> None:
    response = http.post(
        f"{base}/templates",
        json={"name": "Versions", "template_type": "qc", "status": "Published"},
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"message", "success", "template"}
    assert body["message"] == "Template created successfully"
    created = body["template"]
    assert set(created) == TEMPLATE_KEYS
    assert (created["version"], created["category"], created["status"]) == ("1.0", None, "Draft")
    assert created["created_by"] == "system"
    assert created["updated_by"] is None
    read = http.get(f"{base}/templates/{created['id']}").json()["template"]
    assert (read["version"], read["category"], read["status"]) == ("1", "general", "Draft")
    assert (read["template_type"], read["tags"], read["is_public"]) == ("qc", [], False)


def test_put_applies_only_name_description_category_and_replaces_the_metadata(
    http: httpx.Client, base: str
) -> None:
    template = _create(http, base, tags=["keep"], is_public=True, metadata={"purpose": "x"})
    response = http.put(
        f"{base}/templates/{template['id']}",
        json={
            "description": "changed",
            "category": "other",
            "status": "Published",
            "tags": ["new"],
            "is_public": True,
            "template_type": "qc",
            "form_config": {"a": 1},
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Template updated successfully"
    updated = body["template"]
    assert (updated["description"], updated["category"]) == ("changed", "other")
    # status ignored; metadata absent → {}: template_type, tags and is_public reset.
    assert (updated["status"], updated["template_type"]) == ("Draft", "form")
    assert (updated["tags"], updated["is_public"]) == ([], False)
    assert updated["updated_by"] == "system"
    assert updated["version"] == "1"
    stored = http.get(f"{base}/templates/{template['id']}/data").json()["template"]
    assert stored["metadata"] == {}
    assert stored["updated_by"] is None


def test_errors_are_bare_statuses_with_empty_bodies(http: httpx.Client, base: str) -> None:
    template = _create(http, base)
    tid = template["id"]
    assert _field(http, base, tid, field_name="dup").status_code == 200
    bare = {
        ("GET", "/templates/nope"): 400,
        ("GET", "/templates/nope/data"): 400,
        ("GET", "/templates/nope/fields"): 400,
        ("DELETE", "/templates/nope"): 400,
        ("GET", f"/templates/{tid}/fields/nope"): 400,
        ("GET", f"/templates/{UNKNOWN}"): 404,
        ("GET", f"/templates/{UNKNOWN}/data"): 404,
        ("DELETE", f"/templates/{UNKNOWN}"): 404,
        ("GET", f"/templates/{tid}/fields/{UNKNOWN}"): 404,
        ("DELETE", f"/templates/{tid}/fields/{UNKNOWN}"): 404,
    }
    for (method, path), status in bare.items():
        response = http.request(method, base + path)
        assert (response.status_code, response.content) == (status, b""), (method, path)
    put_missing = http.put(f"{base}/templates/{UNKNOWN}", json={"name": "x"})
    assert (put_missing.status_code, put_missing.content) == (404, b"")
    # Field create: an unknown template and a duplicate name are the database's bare 500.
    for response in (_field(http, base, UNKNOWN), _field(http, base, tid, field_name="dup")):
        assert (response.status_code, response.content) == (500, b"")
    # The body is read before the entity: a bad body on an unknown id is the framework's 422.
    bad_status = http.put(f"{base}/templates/{UNKNOWN}", json={"status": "published"})
    assert bad_status.status_code == 422
    assert "unknown variant `published`" in bad_status.text
    lower_type = _field(http, base, tid, field_type="text")
    assert lower_type.status_code == 422
    missing_type = http.post(f"{base}/templates", json={"name": "no type"})
    assert missing_type.status_code == 422
    assert "missing field `template_type`" in missing_type.text


def test_delete_is_soft_and_the_fields_stay_listed(http: httpx.Client, base: str) -> None:
    template = _create(http, base)
    tid = template["id"]
    assert _field(http, base, tid, field_name="kept").status_code == 200
    deleted = http.delete(f"{base}/templates/{tid}")
    assert deleted.status_code == 200
    assert deleted.json() == {"message": "Template deleted successfully", "success": True}
    assert http.get(f"{base}/templates/{tid}").status_code == 404
    assert http.get(f"{base}/templates/{tid}/data").status_code == 404
    assert http.delete(f"{base}/templates/{tid}").status_code == 404
    assert tid not in {t["id"] for t in http.get(f"{base}/templates").json()["data"]}
    fields = http.get(f"{base}/templates/{tid}/fields").json()
    assert [f["field_name"] for f in fields["fields"]] == ["kept"]


def test_clone_is_a_stub_that_creates_nothing(http: httpx.Client, base: str) -> None:
    before = http.get(f"{base}/templates").json()["pagination"]["total_count"]
    seeded = http.get(f"{base}/templates").json()["data"][0]["id"]
    for template_id in (seeded, UNKNOWN, "nope"):
        response = http.post(f"{base}/templates/{template_id}/clone", json={"name": "Copy"})
        assert response.status_code == 200
        assert response.json() == {"message": "Template cloning not yet implemented"}
    assert http.get(f"{base}/templates").json()["pagination"]["total_count"] == before


def test_field_routes_answer_field_responses(http: httpx.Client, base: str) -> None:
    template = _create(http, base)
    tid = template["id"]
    full = _field(
        http,
        base,
        tid,
        field_name="tube",
        field_label="Tube",
        field_type="Select",
        field_description="Which tube",
        is_required=True,
        field_order=2,
        validation_rules={"min": 1},
        default_value="EDTA",
        field_options=["EDTA", "SST"],
        field_metadata={"unit": None},
    )
    assert full.status_code == 200
    assert set(full.json()) == {"field", "message", "success"}
    created = full.json()["field"]
    assert set(created) == FIELD_KEYS
    assert created["field_type"] == "Select"
    assert created["field_options"] == ["EDTA", "SST"]
    minimal = _field(http, base, tid, field_name="a_first", field_type="Multiselect").json()
    assert minimal["field"]["is_required"] is False
    assert minimal["field"]["field_order"] == 0
    assert minimal["field"]["validation_rules"] == {}
    assert minimal["field"]["field_options"] == []
    assert minimal["field"]["field_metadata"] == {}
    assert minimal["field"]["default_value"] is None
    listed = http.get(f"{base}/templates/{tid}/fields").json()
    assert set(listed) == {"count", "fields", "success"}
    assert listed["count"] == 2
    assert [f["field_name"] for f in listed["fields"]] == ["a_first", "tube"]
    assert _sorted_everywhere(_pairs(http.get(f"{base}/templates/{tid}/fields")))
    path = f"{base}/templates/{tid}/fields/{created['id']}"
    assert http.get(path).json() == {"field": created, "success": True}
    changed = http.put(path, json={"field_label": "Tube type", "is_required": None})
    assert changed.json()["message"] == "Field updated successfully"
    assert changed.json()["field"] == {**created, "field_label": "Tube type"}
    assert http.delete(path).json() == {"message": "Field deleted successfully", "success": True}
    assert http.get(path).status_code == 404
    assert http.get(f"{base}/templates/{UNKNOWN}/fields").json() == {
        "count": 0,
        "fields": [],
        "success": True,
    }


def test_create_with_a_non_object_metadata_closes_the_connection(
    http: httpx.Client, base: str
) -> None:
    before = http.get(f"{base}/templates").json()["pagination"]["total_count"]
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(f"{base}/templates", json={"name": "x", "template_type": "t", "metadata": 5})
    assert http.get(f"{base}/templates").json()["pagination"]["total_count"] == before


def test_upload_download_export_and_import(http: httpx.Client, base: str) -> None:
    no_file = http.post(f"{base}/templates/upload", files={"template": (None, "{}")})
    assert (no_file.status_code, no_file.content) == (400, b"")
    uploaded = http.post(f"{base}/templates/upload", files={"file": ("plate.csv", b"a,b\n1,2\n")})
    assert uploaded.status_code == 200
    assert uploaded.json()["message"] == "Template uploaded successfully"
    template = uploaded.json()["template"]
    assert (template["name"], template["template_type"]) == ("plate.csv", "csv")
    assert (template["category"], template["tags"]) == ("uploaded", ["csv"])
    metadata = http.get(f"{base}/templates/{template['id']}/data").json()["template"]["metadata"]
    assert metadata["original_filename"] == "plate.csv"
    assert metadata["file_size"] == 8
    assert http.get(f"{base}/templates/upload").status_code == 405
    stubs = {
        ("GET", f"/templates/{UNKNOWN}/download"): "Template downloaded",
        ("GET", "/templates/anything/export"): "Template exported",
        ("POST", "/templates/import"): "Templates imported",
    }
    for (method, path), message in stubs.items():
        response = http.request(method, base + path, json=[1, 2])
        assert response.json() == {"message": message}, path
    # Cleanup: the session sandbox's list holds only 50.
    http.delete(f"{base}/templates/{template['id']}")


def test_the_ids_filter_is_an_extension(
    http: httpx.Client, base: str, sandbox_ext: SandboxProcess
) -> None:
    listing = http.get(f"{base}/templates").json()
    # A seeded template: both sandboxes hold the same seed.
    wanted = {t["name"]: t["id"] for t in listing["data"]}["Blood Collection"]
    ignored = http.get(f"{base}/templates", params={"ids": f"{wanted},{UNKNOWN}"}).json()
    assert ignored == listing
    ext = sandbox_ext.urls["templates"]
    answered = http.get(f"{ext}/templates", params={"ids": f"{wanted},{UNKNOWN}"}).json()
    assert [t["id"] for t in answered["data"]] == [wanted]
    assert set(answered["data"][0]) == TEMPLATE_KEYS
    malformed = http.get(f"{ext}/templates", params={"ids": "nope"})
    assert (malformed.status_code, malformed.content) == (400, b"")


# ------------------------------------------------------------------- with the fixes on


def test_fixed_list_applies_page_size_status_and_search(http: httpx.Client, fixed: str) -> None:
    page = http.get(f"{fixed}/templates", params={"page": 2, "page_size": 5}).json()
    assert page["pagination"] == {"page": 2, "page_size": 5, "total_count": 12, "total_pages": 3}
    everything = http.get(f"{fixed}/templates", params={"page_size": 100}).json()["data"]
    assert [t["id"] for t in page["data"]] == [t["id"] for t in everything[5:10]]
    drafts = http.get(f"{fixed}/templates", params={"status": "Deprecated"}).json()
    assert [t["status"] for t in drafts["data"]] == ["Deprecated"]
    found = http.get(f"{fixed}/templates", params={"search": "blood"}).json()["data"]
    assert [t["name"] for t in found] == ["Blood Collection"]


def test_fixed_update_applies_every_field_and_keeps_the_metadata(
    http: httpx.Client, fixed: str
) -> None:
    template = _create(http, fixed, tags=["keep"], is_public=True, metadata={"purpose": "x"})
    response = http.put(
        f"{fixed}/templates/{template['id']}",
        json={"status": "Archived", "tags": ["new"], "description": "d"},
    )
    updated = response.json()["template"]
    assert (updated["status"], updated["tags"], updated["description"]) == (
        "Archived",
        ["new"],
        "d",
    )
    assert (updated["template_type"], updated["is_public"]) == ("collection", True)
    metadata = http.get(f"{fixed}/templates/{template['id']}/data").json()["template"]["metadata"]
    assert metadata["purpose"] == "x"


def test_fixed_clone_copies_the_template_and_its_fields(http: httpx.Client, fixed: str) -> None:
    template = _create(http, fixed, tags=["t"], metadata={"purpose": "x"})
    for name in ("b", "a"):
        assert _field(http, fixed, template["id"], field_name=name).status_code == 200
    response = http.post(f"{fixed}/templates/{template['id']}/clone")
    assert response.status_code == 200
    clone = response.json()["template"]
    assert clone["id"] != template["id"]
    assert clone["name"] == f"{template['name']} (copy)"
    assert (clone["status"], clone["tags"]) == ("Draft", ["t"])
    fields = http.get(f"{fixed}/templates/{clone['id']}/fields").json()["fields"]
    assert [f["field_name"] for f in fields] == ["a", "b"]
    assert {f["template_id"] for f in fields} == {clone["id"]}
    assert http.post(f"{fixed}/templates/{UNKNOWN}/clone").status_code == 404


# ---------------------------------------------------------------- the client's get_many


@pytest.fixture
async def pool() -> AsyncIterator[HttpPool]:
    pool = create_http_pool(max_connections=50)
    yield pool
    await pool.aclose()


def _client(sb: SandboxProcess, pool: HttpPool, *, batch: bool) -> TemplatesClient:
    config = UpstreamConfig(name="templates", base_url=sb.urls["templates"], batch=batch)
    return TemplatesClient(UpstreamClient(config, pool))


async def test_get_many_fans_out_on_the_release_and_batches_with_the_extension(
    sandbox: SandboxProcess, sandbox_ext: SandboxProcess, pool: HttpPool
) -> None:
    for sb, batch, route, calls in (
        (sandbox, False, "GET /templates/{id}", 3),
        (sandbox_ext, True, "GET /templates", 1),
    ):
        client = _client(sb, pool, batch=batch)
        templates = (await client.list(CTX)).items[:2]
        ids = [t["id"] for t in templates]
        control = SandboxControl(sb)
        control.reset_stats()
        found = await client.get_many(CTX, [*ids, UNKNOWN, ids[0]])
        assert [t["id"] if t else None for t in found] == [*ids, None, ids[0]]
        assert control.by_route("templates") == {route: calls}
        control.close()

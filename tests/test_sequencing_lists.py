"""The job list a lab UI needs (issue 12, item 4): `orderBy`, status/priority/platform lists,
jobs by sample, creator, assignee and creation date, and "mine". The release ignores every
list filter and sort: the gateway reads the summaries (and, for what only details hold,
the details) and filters, sorts and pages itself. Checked against the sandbox's own
answers, read directly."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from sandbox.tokens import mint_token
from tests.conftest import (
    SandboxControl,
    codes,
    extension_settings,
    gateway_client,
    gql,
    sandbox_settings,
)

JOBS = """
query($filter: SequencingJobFilter, $orderBy: SequencingJobOrder, $first: Int, $after: String) {
  sequencingJobs(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id }
  }
}
"""

RANK = {"Low": 0, "Normal": 1, "High": 2, "Urgent": 3, "Critical": 4}


class Truth:
    """Every job (summary and detail) and sheet the sandbox holds, newest first."""

    def __init__(self, sandbox: Any) -> None:
        with httpx.Client(base_url=sandbox.urls["sequencing"], timeout=10) as http:
            self.summaries: list[dict[str, Any]] = http.get("/jobs", params={"limit": 100}).json()[
                "jobs"
            ]
            assert len(self.summaries) < 100, "the seed fits one page"
            self.jobs = [http.get(f"/jobs/{j['id']}").json() for j in self.summaries]
            sheet_ids = {j["sample_sheet_id"] for j in self.jobs if j["sample_sheet_id"]}
            self.sheets = {s: http.get(f"/sample-sheets/{s}").json()["data"] for s in sheet_ids}

    def ids(self, jobs: list[dict[str, Any]]) -> list[str]:
        return [j["id"] for j in jobs]

    def holding(self, sample_id: str) -> list[str]:
        return [
            j["id"]
            for j in self.jobs
            if sample_id
            in {
                e["sample_id"] for e in self.sheets.get(j["sample_sheet_id"], {}).get("entries", [])
            }
        ]


async def _ids(client: httpx.AsyncClient, **variables: Any) -> list[str]:
    body = await gql(client, JOBS, first=100, **variables)
    assert "errors" not in body, body
    connection = body["data"]["sequencingJobs"]
    assert connection["totalCount"] == len(connection["nodes"])
    return [n["id"] for n in connection["nodes"]]


def _order(field: str, direction: str) -> dict[str, str]:
    return {"field": field, "direction": direction}


async def test_order_by_priority_name_and_dates_sorts_in_the_gateway(
    sandbox: Any, control: SandboxControl
) -> None:
    truth = Truth(sandbox)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        control.reset_stats()
        default = await _ids(client, orderBy=_order("CREATED_AT", "DESC"))
        control.reset_stats()
        explicit = await gql(client, JOBS, first=20, orderBy=_order("CREATED_AT", "DESC"))
        default_routes = control.by_route("sequencing")
        control.reset_stats()
        by_priority = await _ids(client, orderBy=_order("PRIORITY", "DESC"))
        priority_routes = control.by_route("sequencing")
        by_name = await _ids(client, orderBy=_order("NAME", "ASC"))
        oldest_first = await _ids(client, orderBy=_order("CREATED_AT", "ASC"))
        control.reset_stats()
        by_update = await _ids(client, orderBy=_order("UPDATED_AT", "DESC"))
        update_routes = control.by_route("sequencing")
        first = (await gql(client, JOBS, first=5, orderBy=_order("PRIORITY", "ASC")))["data"][
            "sequencingJobs"
        ]
        second = (
            await gql(
                client,
                JOBS,
                first=5,
                after=first["pageInfo"]["endCursor"],
                orderBy=_order("PRIORITY", "ASC"),
            )
        )["data"]["sequencingJobs"]
    summaries = truth.summaries
    assert default == truth.ids(summaries)
    # The service's own order pages at the service: one page call.
    assert [n["id"] for n in explicit["data"]["sequencingJobs"]["nodes"]] == default[:20]
    assert default_routes == {"GET /jobs": 1}
    # Stable sorts: ties keep the service's newest-first order.
    assert by_priority == truth.ids(sorted(summaries, key=lambda j: -RANK[j["priority"]]))
    assert by_priority != default
    assert priority_routes == {"GET /jobs": 1}  # summaries carry the priority
    assert by_name == truth.ids(sorted(summaries, key=lambda j: j["name"].casefold()))
    assert oldest_first == truth.ids(sorted(summaries, key=lambda j: j["created_at"]))
    newest_change = sorted(
        truth.jobs, key=lambda j: datetime.fromisoformat(j["updated_at"]), reverse=True
    )
    assert by_update == truth.ids(newest_change)
    assert by_update != default
    assert update_routes == {"GET /jobs": 1, "GET /jobs/{id}": len(summaries)}
    ascending = truth.ids(sorted(summaries, key=lambda j: RANK[j["priority"]]))
    assert [n["id"] for n in first["nodes"] + second["nodes"]] == ascending[:10]


async def test_filters_by_sample_creator_assignee_date_and_status_lists(
    sandbox: Any, control: SandboxControl
) -> None:
    truth = Truth(sandbox)
    counts: dict[str, int] = {}
    for sheet in truth.sheets.values():
        for entry in sheet["entries"]:
            counts[entry["sample_id"]] = counts.get(entry["sample_id"], 0) + 1
    sample_id = max(counts, key=lambda k: counts[k])
    creator = truth.jobs[0]["created_by"]
    assignee = next(j["assigned_to"] for j in truth.jobs if j["assigned_to"])
    middle = truth.summaries[len(truth.summaries) // 2]["created_at"]
    async with gateway_client(sandbox_settings(sandbox)) as client:
        by_sample = await _ids(client, filter={"sampleId": sample_id})
        by_creator = await _ids(client, filter={"createdById": creator})
        by_assignee = await _ids(client, filter={"assignedToId": assignee})
        after = await _ids(client, filter={"createdAfter": middle})
        before = await _ids(client, filter={"createdBefore": middle})
        some = await _ids(client, filter={"statuses": ["COMPLETED", "FAILED"]})
        combined = await _ids(
            client,
            filter={"assignedToId": assignee, "priorities": ["NORMAL", "HIGH"]},
            orderBy=_order("NAME", "DESC"),
        )
    assert by_sample == truth.holding(sample_id)
    assert len(by_sample) == counts[sample_id] >= 2
    assert by_creator == [j["id"] for j in truth.jobs if j["created_by"] == creator]
    assert by_assignee == [j["id"] for j in truth.jobs if j["assigned_to"] == assignee]
    assert 0 < len(by_assignee) < len(truth.jobs)
    assert after == [j["id"] for j in truth.summaries if j["created_at"] >= middle]
    assert before == [j["id"] for j in truth.summaries if j["created_at"] < middle]
    assert sorted(after + before) == sorted(truth.ids(truth.summaries))
    assert some == [j["id"] for j in truth.summaries if j["status"] in ("Completed", "Failed")]
    expected = [
        j
        for j in truth.jobs
        if j["assigned_to"] == assignee and j["priority"] in ("Normal", "High")
    ]
    assert expected
    assert combined == truth.ids(sorted(expected, key=lambda j: j["name"].casefold(), reverse=True))


async def test_mine_is_the_jobs_assigned_to_the_caller(
    sandbox: Any, control: SandboxControl
) -> None:
    truth = Truth(sandbox)
    assignee = next(j["assigned_to"] for j in truth.jobs if j["assigned_to"])
    other = "3c0d9a5e-0a7e-4b8e-9d0b-6d6f6f6f6f03"
    token = mint_token("lab_technician", user_id=assignee)
    async with gateway_client(sandbox_settings(sandbox), token=token) as client:
        mine = await _ids(client, filter={"mine": True})
        not_asked = await _ids(client, filter={"mine": False})
        both = await _ids(client, filter={"mine": True, "assignedToId": assignee})
        clash = await gql(client, JOBS, first=5, filter={"mine": True, "assignedToId": other})
    assert mine == [j["id"] for j in truth.jobs if j["assigned_to"] == assignee]
    assert mine
    assert both == mine
    assert not_asked == truth.ids(truth.summaries)
    assert codes(clash) == ["BAD_USER_INPUT"]
    assert clash["data"] == {"sequencingJobs": None}


async def test_a_list_over_the_scan_limit_is_upstream_unsupported(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox, max_scan_items=10)) as client:
        sorted_body = await gql(client, JOBS, first=5, orderBy=_order("NAME", "ASC"))
        filtered = await gql(client, JOBS, first=5, filter={"statuses": ["RUNNING"]})
        plain = await gql(client, JOBS, first=5)
    for body in (sorted_body, filtered):
        assert codes(body) == ["UPSTREAM_UNSUPPORTED"], body
        assert "TRACSEQ_MAX_SCAN_ITEMS" in body["errors"][0]["message"]
    assert len(plain["data"]["sequencingJobs"]["nodes"]) == 5


async def test_jobs_of_a_sample_with_the_extension_is_one_list_call_and_one_batch(
    sandbox_ext: Any, control_ext: SandboxControl
) -> None:
    truth = Truth(sandbox_ext)
    sample_id = next(iter(truth.sheets.values()))["entries"][0]["sample_id"]
    async with gateway_client(extension_settings(sandbox_ext)) as client:
        control_ext.reset_stats()
        got = await _ids(client, filter={"sampleId": sample_id})
        routes = control_ext.by_route("sequencing")
    assert got == truth.holding(sample_id)
    assert got
    # the summaries, then ?sample_ids= (full jobs: no detail or sheet reads)
    assert routes == {"GET /jobs": 2}

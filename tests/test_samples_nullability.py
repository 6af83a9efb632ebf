"""Issue 12, item 1: one failing service never wipes a response.

Every relation of a sample (another service, or another call) is nullable, so a failing
service nulls its own fields with an error naming it, and the rest of the answer stands.
"""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.seed import DEMO_USERS
from tests.conftest import SandboxControl, gateway_client, gql, sandbox_settings

REPRODUCTION = "{ samples { edges { node { sequencingJobs { id } } } } templates { totalCount } }"


async def test_sequencing_down_nulls_only_the_sequencing_jobs_of_each_sample(
    sandbox: Any, control: SandboxControl
) -> None:
    control.fault("sequencing", status=503, times=None)
    async with gateway_client(sandbox_settings(sandbox)) as client:
        body = await gql(client, REPRODUCTION)
    assert body["data"] is not None
    nodes = [e["node"] for e in body["data"]["samples"]["edges"]]
    assert len(nodes) == 50
    assert all(n == {"sequencingJobs": None} for n in nodes)
    assert body["data"]["templates"]["totalCount"] > 0
    assert body["errors"]
    assert {e["extensions"]["service"] for e in body["errors"]} == {"sequencing"}
    assert {e["path"][-1] for e in body["errors"]} == {"sequencingJobs"}


async def test_created_by_is_a_person_profile_not_the_admin_only_user(
    sandbox: Any, control: SandboxControl
) -> None:
    """`createdBy` was a `User` guarded for administrators; it is now a `Person` (the
    profile every lab role may read). The release does not record the creator of a sample
    it creates: null for those; the seeded (older) samples carry one."""
    query = """query($id: ID!) {
      sample(id: $id) { id createdById createdBy { id fullName role } }
    }"""
    listed = httpx.get(f"{sandbox.urls['samples']}/samples", params={"page": 1000, "page_size": 1})
    (seeded,) = listed.json()["data"]["samples"]  # far past what other tests create
    seeded_id = seeded["id"]
    assert seeded["created_by"]
    email, password, _ = DEMO_USERS[0]
    token = httpx.post(
        f"{sandbox.urls['auth']}/auth/login", json={"email": email, "password": password}
    ).json()["data"]["access_token"]
    async with gateway_client(sandbox_settings(sandbox), token=token) as client:
        old = await gql(client, query, id=seeded_id)
        created = await gql(
            client,
            'mutation { createSample(input: {name: "GW-creator", sampleType: DNA}) '
            "{ sample { id } } }",
        )
        new = await gql(client, query, id=created["data"]["createSample"]["sample"]["id"])
        schema = await gql(
            client, '{ __type(name: "Sample") { fields { name type { kind name } } } }'
        )
    fields = {f["name"]: f["type"] for f in schema["data"]["__type"]["fields"]}
    assert fields["createdBy"] == {"kind": "OBJECT", "name": "Person"}
    assert "errors" not in old, old
    sample = old["data"]["sample"]
    assert sample["createdBy"]["id"] == sample["createdById"]
    assert sample["createdBy"]["fullName"]
    assert sample["createdBy"]["role"]
    assert "errors" not in new, new
    assert (new["data"]["sample"]["createdById"], new["data"]["sample"]["createdBy"]) == (
        None,
        None,
    )

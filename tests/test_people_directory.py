"""People for every lab role: profiles through the directory account, or the caller's own
from /auth/me without one; the people picker; the directory's one shared, renewed login."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings, SettingsError
from sandbox.seed import DEMO_USERS
from tests.conftest import SandboxControl, codes, sandbox_settings, started
from upstreams.auth import RENEW_BEFORE, Directory, DirectoryAccount
from upstreams.config import CallContext
from upstreams.errors import UpstreamStatusError, UpstreamUnavailable

ADMIN, PI, TECH, SCIENTIST, ANALYST, GUEST = DEMO_USERS
CREATORS = """{ notifications(first: 30) {
  nodes { id createdBy { id fullName role } }
} }"""
PEOPLE = """query($search: String, $roles: [Role!], $first: Int) {
  people(search: $search, roles: $roles, first: $first) {
    totalCount nodes { id fullName role }
  }
}"""


def directory_settings(sandbox: Any) -> Settings:
    return sandbox_settings(sandbox, directory=DirectoryAccount(email=ADMIN[0], password=ADMIN[1]))


@asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app over the sandbox, anonymous unless a request sends a token; its auth
    client reads profiles with ``settings.directory`` (the wiring gateway/app.py's lifespan
    does from TRACSEQ_DIRECTORY_*)."""
    app = create_app(settings)
    async with started(app):
        auth = app.state.runtime.upstreams.auth
        if auth.directory is None and settings.directory is not None:
            auth.use_directory(settings.directory)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
            yield c


async def ask(
    client: httpx.AsyncClient, query: str, token: str | None = None, **variables: Any
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def log_in(client: httpx.AsyncClient, account: tuple[str, str, str]) -> str:
    body = await ask(
        client,
        "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
        i={"email": account[0], "password": account[1]},
    )
    token: str = body["data"]["login"]["accessToken"]
    return token


def wire_users(sandbox: Any) -> dict[str, dict[str, Any]]:
    """Every user by id, read from auth directly as the administrator."""
    auth = sandbox.urls["auth"]
    token = httpx.post(f"{auth}/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]}).json()[
        "data"
    ]["access_token"]
    users = httpx.get(f"{auth}/admin/users", headers={"authorization": f"Bearer {token}"})
    return {u["id"]: u for u in users.json()["data"]}


def wire_creators(sandbox: Any) -> list[str]:
    notifications = httpx.get(
        f"{sandbox.urls['notifications']}/notifications", params={"limit": 30}
    )
    return [n["created_by"] for n in notifications.json()]


async def test_a_technician_reads_creators_names_and_roles_through_the_directory(
    sandbox: Any, control: SandboxControl
) -> None:
    users = wire_users(sandbox)
    known = {i for i in wire_creators(sandbox) if i in users}
    async with gateway(directory_settings(sandbox)) as client:
        token = await log_in(client, TECH)
        control.reset_stats()
        body = await ask(client, CREATORS, token)
        # One directory login, then one lookup per distinct creator.
        assert control.by_route("auth") == {
            "POST /auth/login": 1,
            "GET /admin/users/{user_id}": len(set(wire_creators(sandbox))),
        }
        full = await ask(
            client, "{ notifications(first: 1) { nodes { createdBy { user { email } } } } }", token
        )
    assert "errors" not in body, body
    creators = [n["createdBy"] for n in body["data"]["notifications"]["nodes"] if n["createdBy"]]
    assert {c["id"] for c in creators} == known
    for creator in creators:
        user = users[creator["id"]]
        assert creator["fullName"] == f"{user['first_name']} {user['last_name']}"
        assert creator["role"] == user["role"].upper()
    # The full user (and its email) stays for administrators.
    assert codes(full) == ["FORBIDDEN"]


async def test_without_a_directory_other_people_are_null_with_one_error_and_the_caller_is_known(
    sandbox: Any, control: SandboxControl
) -> None:
    users = wire_users(sandbox)
    creators = wire_creators(sandbox)
    demo = {email: account for account in DEMO_USERS for email in [account[0]]}
    # A seeded creator with a demo login who is not an administrator.
    own_id = next(
        i
        for i in creators
        if i in users and users[i]["email"] in demo and users[i]["role"] != "lab_administrator"
    )
    account = demo[users[own_id]["email"]]
    async with gateway(sandbox_settings(sandbox)) as client:
        token = await log_in(client, account)
        control.reset_stats()
        body = await ask(client, CREATORS, token)
        # Only the caller's own profile is read: /auth/me, once.
        assert control.by_route("auth") == {"GET /auth/me": 1}
    nodes = body["data"]["notifications"]["nodes"]
    mine = [n["createdBy"] for n in nodes if n["createdBy"]["id"] == own_id]
    others = [n["createdBy"] for n in nodes if n["createdBy"]["id"] != own_id]
    assert mine
    assert others
    user = users[own_id]
    assert all(
        m
        == {
            "id": own_id,
            "fullName": f"{user['first_name']} {user['last_name']}",
            "role": user["role"].upper(),
        }
        for m in mine
    )
    assert all(o["fullName"] is None and o["role"] is None for o in others)
    [error] = body["errors"]
    assert error["extensions"] == {"code": "UPSTREAM_UNSUPPORTED", "service": "auth"}
    assert "directory account" in error["message"]
    assert "TRACSEQ_DIRECTORY_EMAIL" in error["message"]


async def test_an_administrator_reads_people_with_its_own_token_without_a_directory(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway(sandbox_settings(sandbox)) as client:
        token = await log_in(client, ADMIN)
        control.reset_stats()
        body = await ask(client, PEOPLE, token, search="KELLER tomas")
        assert control.by_route("auth") == {"GET /admin/users": 1}
    assert "errors" not in body, body
    [tomas] = body["data"]["people"]["nodes"]
    assert (tomas["fullName"], tomas["role"]) == ("Tomas Keller", "LAB_TECHNICIAN")
    assert body["data"]["people"]["totalCount"] == 1


async def test_people_picker_for_a_technician_searches_names_and_filters_roles(
    sandbox: Any,
) -> None:
    users = wire_users(sandbox)
    async with gateway(directory_settings(sandbox)) as client:
        token = await log_in(client, TECH)
        technicians = await ask(client, PEOPLE, token, roles=["LAB_TECHNICIAN"], first=100)
        leads = await ask(
            client, PEOPLE, token, roles=["PRINCIPAL_INVESTIGATOR", "LAB_ADMINISTRATOR"]
        )
        by_name = await ask(client, PEOPLE, token, search="priya")
        by_email = await ask(client, PEOPLE, token, search="pi@tracseq.lab")
        email_field = await ask(client, "{ people { nodes { email } } }", token)
    for body in (technicians, leads, by_name, by_email):
        assert "errors" not in body, body
    expected = {i for i, u in users.items() if u["role"] == "lab_technician"}
    assert {p["id"] for p in technicians["data"]["people"]["nodes"]} == expected
    assert technicians["data"]["people"]["totalCount"] == len(expected)
    assert {p["role"] for p in leads["data"]["people"]["nodes"]} == {
        "PRINCIPAL_INVESTIGATOR",
        "LAB_ADMINISTRATOR",
    }
    assert [p["fullName"] for p in by_name["data"]["people"]["nodes"]] == ["Priya Natarajan"]
    # Searching never matches (or reveals) emails; a Person has no email at all.
    assert by_email["data"]["people"]["nodes"] == []
    assert email_field["errors"][0]["message"] == "Cannot query field 'email' on type 'Person'."


async def test_people_without_a_directory_is_unsupported_for_a_technician_and_forbidden_to_guests(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway(sandbox_settings(sandbox)) as client:
        token = await log_in(client, TECH)
        guest = await log_in(client, GUEST)
        control.reset_stats()
        body = await ask(client, PEOPLE, token)
        as_guest = await ask(client, PEOPLE, guest)
        assert control.requests() == 0
    assert body["data"] == {"people": None}
    [error] = body["errors"]
    assert error["extensions"] == {"code": "UPSTREAM_UNSUPPORTED", "service": "auth"}
    assert codes(as_guest) == ["FORBIDDEN"]


async def test_concurrent_requests_share_one_directory_login(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway(directory_settings(sandbox)) as client:
        token = await log_in(client, SCIENTIST)
        control.reset_stats()
        bodies = await asyncio.gather(*(ask(client, PEOPLE, token, first=3) for _ in range(8)))
        later = await ask(client, PEOPLE, token, first=3)
        assert control.by_route("auth") == {"POST /auth/login": 1, "GET /admin/users": 9}
    for body in [*bodies, later]:
        assert "errors" not in body, body
        assert len(body["data"]["people"]["nodes"]) == 3


async def test_a_revoked_directory_session_logs_in_again_once(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway(directory_settings(sandbox)) as client:
        token = await log_in(client, ANALYST)
        first = await ask(client, PEOPLE, token, first=1)
        # Every other session of the directory's account ends (as a password reset would).
        auth = sandbox.urls["auth"]
        own = httpx.post(
            f"{auth}/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]}
        ).json()["data"]
        bearer = {"authorization": f"Bearer {own['access_token']}"}
        sessions = httpx.get(f"{auth}/admin/sessions", headers=bearer).json()["data"]
        for session in sessions:
            if session["user_email"] == ADMIN[0] and session["id"] != own["session_id"]:
                httpx.post(
                    f"{auth}/auth/logout", json={"session_id": session["id"]}, headers=bearer
                ).raise_for_status()
        control.reset_stats()
        again = await ask(client, PEOPLE, token, first=1)
        assert control.by_route("auth") == {"GET /admin/users": 2, "POST /auth/login": 1}
    assert "errors" not in first, first
    assert "errors" not in again, again


def test_directory_settings_go_together() -> None:
    both = Settings.from_env(
        {"TRACSEQ_DIRECTORY_EMAIL": "dir@tracseq.lab", "TRACSEQ_DIRECTORY_PASSWORD": "secret"}
    )
    assert both.directory == DirectoryAccount(email="dir@tracseq.lab", password="secret")
    assert "secret" not in repr(both.directory)
    assert Settings.from_env({}).directory is None
    with pytest.raises(SettingsError, match="TRACSEQ_DIRECTORY_PASSWORD"):
        Settings.from_env({"TRACSEQ_DIRECTORY_EMAIL": "dir@tracseq.lab"})


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _auth_login(clock: _Clock, calls: list[CallContext], *, fail: bool = False) -> Any:
    async def login(call: CallContext) -> dict[str, Any]:
        calls.append(call)
        await asyncio.sleep(0)
        if fail:
            raise UpstreamStatusError(
                "auth", 401, "Invalid credentials", code="INVALID_CREDENTIALS"
            )
        expires = datetime.fromtimestamp(clock.now + 3600, UTC)
        return {"access_token": f"token-{len(calls)}", "expires_at": expires}

    return login


async def test_directory_logs_in_once_for_concurrent_reads_and_again_before_the_hour_ends() -> None:
    clock, calls = _Clock(), list[CallContext]()
    directory = Directory(_auth_login(clock, calls), clock=clock)
    ctx = CallContext(authorization="Bearer callers-own", request_id="r1")
    tokens = await asyncio.gather(*(directory.token(ctx) for _ in range(10)))
    assert tokens == ["token-1"] * 10
    # The caller's token never travels with the directory's login.
    assert [c.authorization for c in calls] == [None]
    clock.now += 3600 - RENEW_BEFORE - 1
    assert await directory.token(ctx) == "token-1"
    clock.now += 2  # within RENEW_BEFORE of the session's end
    assert await directory.token(ctx) == "token-2"
    assert len(calls) == 2


async def test_directory_retries_a_refused_token_once_after_a_new_login() -> None:
    clock, calls = _Clock(), list[CallContext]()
    directory = Directory(_auth_login(clock, calls), clock=clock)
    seen: list[str | None] = []

    async def read(call: CallContext) -> str:
        seen.append(call.authorization)
        if len(seen) == 1:
            raise UpstreamStatusError("auth", 404, "Session not found", code="SESSION_NOT_FOUND")
        return "users"

    assert await directory.read(CallContext(), read) == "users"
    assert seen == ["Bearer token-1", "Bearer token-2"]

    async def forbidden(call: CallContext) -> str:
        raise UpstreamStatusError("auth", 403, "Administrator privileges required")

    with pytest.raises(UpstreamStatusError):
        await directory.read(CallContext(), forbidden)
    assert len(calls) == 2  # a 403 is not a refused token: no new login


async def test_a_directory_that_cannot_log_in_is_unavailable_not_the_callers_failure() -> None:
    clock, calls = _Clock(), list[CallContext]()
    directory = Directory(_auth_login(clock, calls, fail=True), clock=clock)
    results = await asyncio.gather(
        *(directory.token(CallContext()) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, UpstreamUnavailable) for r in results)
    assert len(calls) == 1
    with pytest.raises(UpstreamUnavailable, match="TRACSEQ_DIRECTORY_EMAIL"):
        await directory.token(CallContext())
    assert len(calls) == 2


async def test_users_refetch_through_node_for_administrators_only(sandbox: Any) -> None:
    users = wire_users(sandbox)
    tomas = next(i for i, u in users.items() if u["email"] == TECH[0])
    query = "query($id: ID!) { node(id: $id) { __typename id ... on User { email } } }"
    async with gateway(sandbox_settings(sandbox)) as client:
        admin = await ask(client, query, await log_in(client, ADMIN), id=tomas)
        tech = await ask(client, query, await log_in(client, PI), id=tomas)
    assert admin == {"data": {"node": {"__typename": "User", "id": tomas, "email": TECH[0]}}}
    # Other roles see people as Person, which is not a Node: nothing to refetch.
    assert tech == {"data": {"node": None}}

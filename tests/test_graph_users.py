"""Users and auth in the graph: login, me, refresh, logout, user lookups, and User relations."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.seed import DEMO_USERS
from tests.conftest import SandboxControl, codes, gateway_client, sandbox_settings

ADMIN = DEMO_USERS[0]
GUEST = DEMO_USERS[-1]

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { accessToken refreshToken expiresAt sessionId role }
}
"""
LOGIN_WITH_USER = """
mutation Login($input: LoginInput!) {
  login(input: $input) { accessToken sessionId user { id email role fullName status } }
}
"""
ME = "{ me { id email role firstName lastName fullName status emailVerified lastLoginAt } }"
LOGOUT = "mutation { logout { sessionId success } }"
REFRESH = """
mutation Refresh($input: RefreshTokenInput!) {
  refreshToken(input: $input) { accessToken refreshToken sessionId user { email } }
}
"""


async def gql(
    client: httpx.AsyncClient, query: str, token: str | None = None, **variables: Any
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    # 401: the gateway refused the token itself (malformed, expired or revoked).
    assert response.status_code in (200, 401), response.text
    body: dict[str, Any] = response.json()
    return body


async def login(client: httpx.AsyncClient, account: tuple[str, str, str]) -> dict[str, Any]:
    email, password, _ = account
    body = await gql(client, LOGIN, input={"email": email, "password": password})
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["login"]
    return payload


async def test_login_me_logout_and_the_old_token_fails(
    sandbox: Any, control: SandboxControl
) -> None:
    email, password, role = GUEST
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        control.reset_stats()
        logged_in = await gql(client, LOGIN_WITH_USER, input={"email": email, "password": password})
        assert control.requests("auth") == 2  # login, then the user with the new token
        session = logged_in["data"]["login"]
        token = session["accessToken"]
        me = await gql(client, ME, token)
        logged_out = await gql(client, LOGOUT, token)
        after = await gql(client, ME, token)
        # The revoked token is refused at the gateway: auth is not asked a fifth time.
        assert control.requests() == control.requests("auth") == 4
    assert session["user"]["email"] == email
    assert session["user"]["role"] == role.upper()
    assert me["data"]["me"]["id"] == session["user"]["id"]
    assert me["data"]["me"]["fullName"] == "Grace Hopper"
    assert me["data"]["me"]["status"] == "ACTIVE"
    assert logged_out == {"data": {"logout": {"sessionId": session["sessionId"], "success": True}}}
    assert after["data"] is None
    assert codes(after) == ["UNAUTHENTICATED"]


async def test_login_answers_tokens_without_calling_auth_twice(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        control.reset_stats()
        session = await login(client, ADMIN)
        assert control.requests() == 1
    assert session["role"] == "LAB_ADMINISTRATOR"
    assert session["accessToken"].count(".") == 2
    assert session["refreshToken"] != session["accessToken"]
    assert session["expiresAt"].endswith(("Z", "+00:00"))


async def test_bad_credentials_are_unauthenticated_with_the_upstream_message(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        control.reset_stats()
        body = await gql(client, LOGIN, input={"email": ADMIN[0], "password": "not-the-password"})
        assert control.requests("auth") == 1
    assert body["data"] == {"login": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["extensions"]["service"] == "auth"
    assert error["message"] == "Invalid email or password"


async def test_anonymous_me_and_logout_are_unauthenticated_without_upstream_calls(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        control.reset_stats()
        me = await gql(client, ME)
        logout = await gql(client, LOGOUT)
        garbage = await gql(client, LOGOUT, "not-a-jwt")
        empty = await gql(client, LOGIN, input={"email": " ", "password": "x"})
        assert control.requests() == 0
    assert me["data"] == {"me": None}
    assert codes(me) == ["UNAUTHENTICATED"]
    assert codes(logout) == ["UNAUTHENTICATED"]
    assert codes(garbage) == ["UNAUTHENTICATED"]
    assert codes(empty) == ["BAD_USER_INPUT"]


async def test_refresh_token_issues_a_new_session_and_ends_the_old_one(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        first = await login(client, GUEST)
        control.reset_stats()
        refreshed = await gql(client, REFRESH, input={"refreshToken": first["refreshToken"]})
        assert control.requests("auth") == 2  # refresh, then the user with the new token
        second = refreshed["data"]["refreshToken"]
        old_me = await gql(client, ME, first["accessToken"])
        new_me = await gql(client, ME, second["accessToken"])
        reused = await gql(client, REFRESH, input={"refreshToken": first["refreshToken"]})
        blank = await gql(client, REFRESH, input={"refreshToken": ""})
    assert second["sessionId"] != first["sessionId"]
    assert second["user"]["email"] == GUEST[0]
    assert codes(old_me) == ["UNAUTHENTICATED"]
    assert new_me["data"]["me"]["email"] == GUEST[0]
    assert reused["data"] == {"refreshToken": None}
    assert codes(reused) == ["UNAUTHENTICATED"]
    assert codes(blank) == ["BAD_USER_INPUT"]


async def test_administrators_list_users_and_look_one_up(
    sandbox: Any, control: SandboxControl
) -> None:
    query = """query($first: Int, $after: String) {
      users(first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { id email role } }
      }
    }"""
    one = "query($id: ID!) { user(id: $id) { id email department position labAffiliation } }"
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        token = (await login(client, ADMIN))["accessToken"]
        control.reset_stats()
        page1 = (await gql(client, query, token, first=5))["data"]["users"]
        page2 = await gql(client, query, token, first=5, after=page1["pageInfo"]["endCursor"])
        node = page1["edges"][0]["node"]
        found = await gql(client, one, token, id=node["id"])
        missing = await gql(client, one, token, id="00000000-0000-4000-8000-000000000000")
        assert control.requests("auth") == 4
        control.reset_stats()
        bad = await gql(client, one, token, id="not-a-uuid")
        assert control.requests() == 0
    assert page1["totalCount"] == len(DEMO_USERS) + 8
    assert page1["pageInfo"]["hasNextPage"] is True
    ids = [e["node"]["id"] for e in page1["edges"] + page2["data"]["users"]["edges"]]
    assert len(set(ids)) == 10
    assert found["data"]["user"]["email"] == node["email"]
    assert found["data"]["user"]["labAffiliation"] == "TracSeq Genomics Laboratory"
    assert missing == {"data": {"user": None}}
    assert codes(bad) == ["BAD_USER_INPUT"]


async def test_users_is_forbidden_to_a_guest_and_unauthenticated_to_anonymous(
    sandbox: Any, control: SandboxControl
) -> None:
    query = "{ users { totalCount } }"
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        token = (await login(client, GUEST))["accessToken"]
        as_guest = await gql(client, query, token)
        anonymous = await gql(client, query)
    assert as_guest["data"] == {"users": None}
    assert codes(as_guest) == ["FORBIDDEN"]
    assert codes(anonymous) == ["UNAUTHENTICATED"]


async def test_notification_creators_load_in_one_deduplicated_fan_out(
    sandbox: Any, control: SandboxControl
) -> None:
    query = """{ notifications(first: 30) {
      edges { node { id createdById createdBy { id email role } } }
    } }"""
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        token = (await login(client, ADMIN))["accessToken"]
        control.reset_stats()
        body = await gql(client, query, token)
        nodes = [e["node"] for e in body["data"]["notifications"]["edges"]]
        distinct = {n["createdById"] for n in nodes if n["createdById"]}
        assert "errors" not in body, body
        assert len(distinct) > 1
        assert len(nodes) > len(distinct)
        # One notifications call; one auth call per distinct creator (auth has no batch route).
        assert control.requests("notifications") == 1
        assert control.requests("auth") == len(distinct)
    # Notifications other tests sent name their test principals, whom auth does not know.
    resolved = [n for n in nodes if n["createdBy"] is not None]
    assert resolved
    assert all(n["createdBy"]["id"] == n["createdById"] for n in resolved)


async def test_auth_down_nulls_only_the_user_fields(sandbox: Any, control: SandboxControl) -> None:
    query = "{ me { id } notifications(first: 3) { edges { node { id createdBy { id } } } } }"
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        token = (await login(client, ADMIN))["accessToken"]
        control.fault("auth", status=503, times=None)
        body = await gql(client, query, token)
    assert body["data"]["me"] is None
    nodes = [e["node"] for e in body["data"]["notifications"]["edges"]]
    assert len(nodes) == 3
    assert all(n["id"] and n["createdBy"] is None for n in nodes)
    pairs = {(e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]}
    assert pairs == {("UPSTREAM_UNAVAILABLE", "auth")}
    assert token not in str(body)
    assert "127.0.0.1" not in str(body)

"""Users and auth in the graph: login, me, refresh, logout, user lookups, and User relations."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from sandbox.seed import DEMO_USERS
from tests.conftest import (
    REDIS_URL,
    SandboxControl,
    codes,
    gateway_client,
    sandbox_settings,
)

ADMIN = DEMO_USERS[0]
TECH = DEMO_USERS[2]
GUEST = DEMO_USERS[-1]

# Answered by the gateway itself: only the token decides whether it is served.
TYPENAME = "{ __typename }"
LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) {
    accessToken refreshToken expiresAt sessionId role userErrors { field message code }
  }
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
  refreshToken(input: $input) {
    accessToken refreshToken sessionId user { email } userErrors { field message code }
  }
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


async def login(
    client: httpx.AsyncClient, account: tuple[str, str, str], *, remember_me: bool = False
) -> dict[str, Any]:
    email, password, _ = account
    body = await gql(
        client, LOGIN, input={"email": email, "password": password, "rememberMe": remember_me}
    )
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


async def test_login_without_remember_me_has_no_refresh_token(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        control.reset_stats()
        session = await login(client, ADMIN)
        assert control.requests() == 1
        remembered = await login(client, ADMIN, remember_me=True)
    assert session["role"] == "LAB_ADMINISTRATOR"
    assert session["accessToken"].count(".") == 2
    assert session["refreshToken"] is None
    assert session["expiresAt"].endswith(("Z", "+00:00"))
    # A refresh token is an opaque UUID, not a JWT.
    assert remembered["refreshToken"].count("-") == 4
    assert remembered["refreshToken"].count(".") == 0


async def test_unknown_email_and_wrong_password_are_the_same_error(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        control.reset_stats()
        wrong = await gql(client, LOGIN, input={"email": ADMIN[0], "password": "not-it"})
        unknown = await gql(
            client, LOGIN, input={"email": "nobody@tracseq.lab", "password": "not-it"}
        )
        assert control.by_route("auth") == {"POST /auth/login": 2}
    assert "errors" not in wrong, wrong
    assert wrong == unknown
    assert wrong["data"]["login"] == {
        "accessToken": None,
        "refreshToken": None,
        "expiresAt": None,
        "sessionId": None,
        "role": None,
        "userErrors": [
            {"field": None, "message": "Invalid email or password", "code": "INVALID_CREDENTIALS"}
        ],
    }


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
    assert "errors" not in empty, empty
    assert empty["data"]["login"]["userErrors"] == [
        {"field": ["input", "email"], "message": "`email` must not be empty", "code": "INVALID"}
    ]


async def test_refresh_token_issues_a_new_session_and_ends_the_old_one(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        first = await login(client, GUEST, remember_me=True)
        control.reset_stats()
        refreshed = await gql(client, REFRESH, input={"refreshToken": first["refreshToken"]})
        assert control.requests("auth") == 2  # refresh, then the user with the new token
        second = refreshed["data"]["refreshToken"]
        new_me = await gql(client, ME, second["accessToken"])
        reused = await gql(client, REFRESH, input={"refreshToken": first["refreshToken"]})
        blank = await gql(client, REFRESH, input={"refreshToken": ""})
    assert "errors" not in refreshed, refreshed
    assert second["sessionId"] != first["sessionId"]
    assert second["refreshToken"] not in (None, first["refreshToken"])
    assert second["user"]["email"] == GUEST[0]
    assert new_me["data"]["me"]["email"] == GUEST[0]
    assert "errors" not in reused, reused
    assert reused["data"]["refreshToken"]["accessToken"] is None
    assert reused["data"]["refreshToken"]["user"] is None
    assert reused["data"]["refreshToken"]["userErrors"] == [
        {
            "field": ["input", "refreshToken"],
            "message": "The refresh token is invalid, expired or already used",
            "code": "INVALID_TOKEN",
        }
    ]
    [blank_error] = blank["data"]["refreshToken"]["userErrors"]
    assert (blank_error["field"], blank_error["code"]) == (["input", "refreshToken"], "INVALID")


async def test_after_a_refresh_the_gateway_refuses_the_old_token_at_once(
    sandbox: Any, control: SandboxControl
) -> None:
    """The gateway verifies tokens itself: the old session must be revoked at the gateway,
    for GraphQL and REST alike, without asking any upstream."""
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        first = await login(client, GUEST, remember_me=True)
        old = {"authorization": f"Bearer {first['accessToken']}"}
        before = await client.post("/graphql", json={"query": TYPENAME}, headers=old)
        refreshed = await gql(client, REFRESH, input={"refreshToken": first["refreshToken"]})
        second = refreshed["data"]["refreshToken"]
        control.reset_stats()
        graph = await client.post("/graphql", json={"query": TYPENAME}, headers=old)
        rest = await client.get("/api/samples", headers=old)
        assert control.requests() == 0
        # The new session's refresh token is remembered too: refreshing again ends it.
        third = (await gql(client, REFRESH, input={"refreshToken": second["refreshToken"]}))[
            "data"
        ]["refreshToken"]
        renewed = {"authorization": f"Bearer {second['accessToken']}"}
        again = await client.post("/graphql", json={"query": TYPENAME}, headers=renewed)
        latest = {"authorization": f"Bearer {third['accessToken']}"}
        works = await client.post("/graphql", json={"query": TYPENAME}, headers=latest)
    assert before.status_code == 200
    assert "errors" not in before.json()
    assert graph.status_code == rest.status_code == again.status_code == 401
    assert graph.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert works.status_code == 200
    assert "errors" not in works.json()


async def test_refresh_of_a_session_begun_elsewhere_ends_the_callers_own_bearer_session(
    sandbox: Any, control: SandboxControl
) -> None:
    """A login the gateway never saw (straight at auth): the refresh token's session is not
    known, so the caller's bearer session is checked with auth after the refresh."""
    email, password, _ = GUEST
    direct = httpx.post(
        f"{sandbox.urls['auth']}/auth/login",
        json={"email": email, "password": password, "remember_me": True},
    ).json()["data"]
    other = httpx.post(
        f"{sandbox.urls['auth']}/auth/login",
        json={"email": ADMIN[0], "password": ADMIN[1], "remember_me": True},
    ).json()["data"]
    query = "mutation($t: String!) { refreshToken(input: {refreshToken: $t}) { sessionId } }"
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        control.reset_stats()
        own = await gql(client, query, direct["access_token"], t=direct["refresh_token"])
        assert control.by_route("auth") == {"POST /auth/refresh": 1, "POST /validate/token": 1}
        # Refreshing someone else's session leaves the caller's own (live) session alone.
        bystander = await login(client, TECH)
        theirs = await gql(client, query, bystander["accessToken"], t=other["refresh_token"])
        old = await client.post(
            "/graphql",
            json={"query": TYPENAME},
            headers={"authorization": f"Bearer {direct['access_token']}"},
        )
        kept = await client.post(
            "/graphql",
            json={"query": TYPENAME},
            headers={"authorization": f"Bearer {bystander['accessToken']}"},
        )
    assert "errors" not in own, own
    assert "errors" not in theirs, theirs
    assert old.status_code == 401
    assert kept.status_code == 200
    assert "errors" not in kept.json()


async def test_a_refresh_on_one_replica_revokes_the_old_session_on_another(
    sandbox: Any, redis_client: Any
) -> None:
    settings = sandbox_settings(sandbox)
    settings = dataclasses.replace(
        settings, security=dataclasses.replace(settings.security, redis_url=REDIS_URL)
    )
    async with (
        gateway_client(settings, role=None) as one,
        gateway_client(settings, role=None) as two,
    ):
        first = await login(one, GUEST, remember_me=True)
        old = {"authorization": f"Bearer {first['accessToken']}"}
        before = await one.post("/graphql", json={"query": TYPENAME}, headers=old)
        refreshed = await gql(two, REFRESH, input={"refreshToken": first["refreshToken"]})
        after = await one.post("/graphql", json={"query": TYPENAME}, headers=old)
    assert before.status_code == 200
    assert "errors" not in refreshed, refreshed
    assert after.status_code == 401
    await redis_client.delete(f"tracseq:revoked:{first['sessionId']}")


async def test_administrators_list_users_and_look_one_up(
    sandbox: Any, control: SandboxControl
) -> None:
    query = """query($first: Int, $after: String) {
      users(first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { id email role } }
      }
    }"""
    one = "query($id: ID!) { user(id: $id) { id email department jobTitle labAffiliation } }"
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
      edges { node { id createdBy { id fullName role user { email } } } }
    } }"""
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        token = (await login(client, ADMIN))["accessToken"]
        wire = httpx.get(f"{sandbox.urls['notifications']}/notifications", params={"limit": 30})
        distinct = {n["created_by"] for n in wire.json()}
        control.reset_stats()
        body = await gql(client, query, token)
        nodes = [e["node"] for e in body["data"]["notifications"]["edges"]]
        assert "errors" not in body, body
        assert len(distinct) > 1
        assert len(nodes) > len(distinct)
        # One notifications call; one auth call per distinct creator (auth has no batch
        # route), shared by the profile and the full user.
        assert control.requests("notifications") == 1
        assert control.requests("auth") == len(distinct)
    # Notifications other tests sent name their test principals, whom auth does not know.
    creators = [n["createdBy"] for n in nodes if n["createdBy"] is not None]
    assert creators
    assert {c["id"] for c in creators} <= distinct
    assert all(c["fullName"] and c["role"] and c["user"]["email"] for c in creators)


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


async def test_admin_reads_with_a_session_auth_does_not_know_are_unauthenticated(
    sandbox: Any,
) -> None:
    # A minted token verifies at the gateway, but auth knows no such session: the
    # caller's credentials failed, not the service and not the lookup.
    unknown = "00000000-0000-4000-8000-000000000000"
    async with gateway_client(sandbox_settings(sandbox), role="lab_administrator") as client:
        one = await gql(client, "query($id: ID!) { user(id: $id) { id } }", id=unknown)
        node = await gql(client, "query($id: ID!) { node(id: $id) { id } }", id=unknown)
        listed = await gql(client, "{ users(first: 1) { totalCount } }")
    assert codes(one) == ["UNAUTHENTICATED"]
    assert codes(listed) == ["UNAUTHENTICATED"]
    assert codes(node) == ["UNAUTHENTICATED"]

"""Sessions and tokens: only access tokens are bearer credentials; a revocation lasts as
long as its token can be used; REST login, refresh and logout keep the gateway's session
book as GraphQL does; a bad header is ignored where no token is needed (and only there)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from sandbox.seed import DEMO_USERS
from security.config import JwtConfig, SecurityConfig
from security.runtime import SecurityRuntime
from tests.conftest import (
    REDIS_URL,
    SandboxControl,
    codes,
    gateway_client,
    mint_token,
    sandbox_settings,
)

ADMIN = DEMO_USERS[0]
TECH = DEMO_USERS[2]
GUEST = DEMO_USERS[-1]

# Answered by the gateway itself: only the token decides whether it is served.
TYPENAME = {"query": "{ __typename }"}
SAMPLES = {"query": "{ samples(first: 1) { totalCount } }"}
LOGIN = """
mutation($input: LoginInput!) {
  login(input: $input) { accessToken refreshToken sessionId userErrors { code } }
}
"""
REFRESH = """
mutation($input: RefreshTokenInput!) {
  refreshToken(input: $input) { accessToken refreshToken sessionId userErrors { code } }
}
"""


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def credentials(account: tuple[str, str, str], *, remember_me: bool = True) -> dict[str, Any]:
    return {"email": account[0], "password": account[1], "remember_me": remember_me}


async def rest_login(client: httpx.AsyncClient, account: tuple[str, str, str]) -> dict[str, Any]:
    """A LoginResponse through POST /api/auth/login (with a refresh token)."""
    response = await client.post("/api/auth/login", json=credentials(account))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def graph_refresh(
    client: httpx.AsyncClient, refresh_token: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": REFRESH, "variables": {"input": {"refreshToken": refresh_token}}},
        headers=headers or {},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["refreshToken"]
    assert payload["userErrors"] == [], payload
    return payload


# ---------------------------------------------------------------- only access tokens


async def test_a_refresh_typed_jwt_with_every_access_claim_is_refused_on_both_surfaces(
    sandbox: Any, control: SandboxControl
) -> None:
    token = mint_token("lab_administrator", token_type="refresh")
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        control.reset_stats()
        graph = await client.post("/graphql", json=SAMPLES, headers=bearer(token))
        rest = await client.get("/api/samples", headers=bearer(token))
    assert graph.status_code == rest.status_code == 401
    assert codes(graph.json()) == ["UNAUTHENTICATED"]
    assert "not an access token" in graph.json()["errors"][0]["message"]
    assert rest.json()["error"]["code"] == "UNAUTHENTICATED"
    assert control.requests() == 0


async def test_the_refresh_token_auth_hands_out_is_an_opaque_uuid_refused_as_a_bearer(
    sandbox: Any,
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        session = await rest_login(client, GUEST)
        used_as_bearer = await client.post(
            "/graphql", json=TYPENAME, headers=bearer(session["refresh_token"])
        )
    assert uuid.UUID(session["refresh_token"]).version == 4
    assert used_as_bearer.status_code == 401
    assert codes(used_as_bearer.json()) == ["UNAUTHENTICATED"]


# ---------------------------------------------------------------- how long a revocation lasts


async def test_a_revocation_outlasts_the_token_expiry_by_the_verifiers_leeway() -> None:
    """The verifier accepts a token up to the leeway past its ``exp``; its revoked session
    must stay revoked that long, not only until ``exp``."""
    now = [time.time()]
    runtime = SecurityRuntime(SecurityConfig(jwt=JwtConfig(leeway=30)), clock=lambda: now[0])
    # Expired five seconds ago: still accepted, within the leeway.
    token = mint_token("lab_technician", lifetime=-5)
    principal = runtime.verifier.verify(token)
    await runtime.revoke(principal.session_id, principal.expires_at)
    now[0] += 10
    assert runtime.verifier.verify(token).session_id == principal.session_id
    assert await runtime.is_revoked(principal.session_id)
    now[0] = principal.expires_at + 31
    assert not await runtime.is_revoked(principal.session_id)


async def test_a_revocation_in_redis_lives_until_the_expiry_plus_the_leeway(
    redis_client: Any,
) -> None:
    runtime = SecurityRuntime(SecurityConfig(jwt=JwtConfig(leeway=30), redis_url=REDIS_URL))
    await runtime.start()
    session = f"leeway-test-{time.monotonic_ns()}"
    try:
        await runtime.revoke(session, expires_at=time.time() - 5)
        ttl = await redis_client.ttl(f"tracseq:revoked:{session}")
    finally:
        await runtime.close()
        await redis_client.delete(f"tracseq:revoked:{session}")
    assert 20 < ttl <= 26


# ---------------------------------------------------------------- REST login, refresh, logout


async def test_rest_logout_revokes_the_session_at_the_gateway(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        session = await rest_login(client, TECH)
        headers = bearer(session["access_token"])
        before = await client.post("/graphql", json=TYPENAME, headers=headers)
        out = await client.post(
            "/api/auth/logout", json={"session_id": session["session_id"]}, headers=headers
        )
        control.reset_stats()
        graph = await client.post("/graphql", json=TYPENAME, headers=headers)
        rest = await client.get("/api/samples", headers=headers)
        assert control.requests() == 0
    assert before.status_code == 200
    assert out.status_code == 200, out.text
    assert graph.status_code == rest.status_code == 401
    assert codes(graph.json()) == ["UNAUTHENTICATED"]
    assert graph.headers["www-authenticate"].startswith("Bearer")


async def test_rest_logout_naming_another_session_is_forbidden_and_ends_nothing(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        caller = await rest_login(client, TECH)
        other = await rest_login(client, GUEST)
        control.reset_stats()
        refused = await client.post(
            "/api/auth/logout",
            json={"session_id": other["session_id"]},
            headers=bearer(caller["access_token"]),
        )
        assert control.requests() == 0
        # Both sessions still live, at auth and at the gateway.
        others = await client.get("/api/users/me", headers=bearer(other["access_token"]))
        own = await client.post("/graphql", json=TYPENAME, headers=bearer(caller["access_token"]))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "FORBIDDEN"
    assert others.status_code == 200
    assert own.status_code == 200


async def test_rest_refresh_ends_the_old_session_at_the_gateway_and_links_the_new_one(
    sandbox: Any, control: SandboxControl
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        first = await rest_login(client, GUEST)
        refreshed = await client.post(
            "/api/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert refreshed.status_code == 200, refreshed.text
        second = refreshed.json()["data"]
        control.reset_stats()
        old = await client.post("/graphql", json=TYPENAME, headers=bearer(first["access_token"]))
        assert control.requests() == 0
        # The new refresh token is linked too: trading it (over GraphQL) ends its session.
        third = await graph_refresh(client, second["refresh_token"])
        renewed = await client.post(
            "/graphql", json=TYPENAME, headers=bearer(second["access_token"])
        )
        latest = await client.post("/graphql", json=TYPENAME, headers=bearer(third["accessToken"]))
    assert old.status_code == renewed.status_code == 401
    assert latest.status_code == 200


async def test_a_rest_login_links_its_refresh_token_for_a_later_refresh(sandbox: Any) -> None:
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        first = await rest_login(client, GUEST)
        await graph_refresh(client, first["refresh_token"])
        old = await client.post("/graphql", json=TYPENAME, headers=bearer(first["access_token"]))
    assert old.status_code == 401


async def test_rest_refresh_of_a_session_begun_elsewhere_ends_the_callers_bearer_session(
    sandbox: Any, control: SandboxControl
) -> None:
    """A login the gateway never saw: the refresh token's session is not known, so the
    caller's own bearer session is checked with auth after the refresh."""
    direct = httpx.post(f"{sandbox.urls['auth']}/auth/login", json=credentials(GUEST)).json()[
        "data"
    ]
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        control.reset_stats()
        refreshed = await client.post(
            "/api/auth/refresh",
            json={"refresh_token": direct["refresh_token"]},
            headers=bearer(direct["access_token"]),
        )
        assert control.by_route("auth") == {"POST /auth/refresh": 1, "POST /validate/token": 1}
        old = await client.post("/graphql", json=TYPENAME, headers=bearer(direct["access_token"]))
    assert refreshed.status_code == 200, refreshed.text
    assert old.status_code == 401


# ---------------------------------------------------------------- public routes, bad headers


BAD_TOKENS = [
    "not-a-jwt",
    mint_token("guest", lifetime=-3600),
    mint_token("guest", token_type="refresh"),
]
BAD_IDS = ["garbage", "expired", "refresh-typed"]


@pytest.mark.parametrize("token", BAD_TOKENS, ids=BAD_IDS)
async def test_rest_login_and_refresh_ignore_a_bad_bearer_header_and_do_not_forward_it(
    sandbox: Any, control: SandboxControl, token: str
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        control.reset_stats()
        login = await client.post("/api/auth/login", json=credentials(GUEST), headers=bearer(token))
        assert login.status_code == 200, login.text
        refresh = await client.post(
            "/api/auth/refresh",
            json={"refresh_token": login.json()["data"]["refresh_token"]},
            headers=bearer(token),
        )
        sent = control.recent("auth")
        protected = await client.get("/api/users/me", headers=bearer(token))
    assert refresh.status_code == 200, refresh.text
    assert [r["route"] for r in sent] == ["POST /auth/login", "POST /auth/refresh"]
    assert [r["authorization"] for r in sent] == [None, None]
    assert protected.status_code == 401
    assert protected.json()["error"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("token", BAD_TOKENS, ids=BAD_IDS)
async def test_graphql_login_and_refresh_run_as_anonymous_with_a_bad_bearer_header(
    sandbox: Any, control: SandboxControl, token: str
) -> None:
    variables = {"input": {"email": GUEST[0], "password": GUEST[1], "rememberMe": True}}
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        control.reset_stats()
        login = await client.post(
            "/graphql", json={"query": LOGIN, "variables": variables}, headers=bearer(token)
        )
        assert login.status_code == 200, login.text
        session = login.json()["data"]["login"]
        refreshed = await graph_refresh(client, session["refreshToken"], bearer(token))
        sent = control.recent("auth")
    assert session["userErrors"] == []
    assert refreshed["sessionId"] not in (None, session["sessionId"])
    assert [r["route"] for r in sent] == ["POST /auth/login", "POST /auth/refresh"]
    assert [r["authorization"] for r in sent] == [None, None]


async def test_a_revoked_session_header_is_ignored_by_login_and_refused_elsewhere(
    sandbox: Any,
) -> None:
    variables = {"input": {"email": TECH[0], "password": TECH[1], "rememberMe": False}}
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        session = await rest_login(client, TECH)
        revoked = bearer(session["access_token"])
        await client.post(
            "/api/auth/logout", json={"session_id": session["session_id"]}, headers=revoked
        )
        login = await client.post(
            "/graphql", json={"query": LOGIN, "variables": variables}, headers=revoked
        )
        me = await client.post("/graphql", json={"query": "{ me { id } }"}, headers=revoked)
    assert login.status_code == 200
    assert login.json()["data"]["login"]["accessToken"]
    assert me.status_code == 401
    assert me.json()["errors"][0]["message"] == "This session has ended; log in again"


@pytest.mark.parametrize(
    "document",
    [
        "mutation { logout { success } }",
        'mutation { login(input: {email: "a@b.lab", password: "x"}) { accessToken } '
        "logout { success } }",
        "mutation { ...F } fragment F on Mutation { logout { success } }",
        'mutation { ... on Mutation { login(input: {email: "a@b.lab", password: "x"}) '
        "{ accessToken } } __typename }",
        "{ __typename }",
        "{ noSuchField }",
    ],
    ids=["logout", "login-and-logout", "fragment", "inline-and-typename", "typename", "invalid"],
)
async def test_any_operation_that_is_not_all_public_is_refused_with_a_bad_header(
    sandbox: Any, control: SandboxControl, document: str
) -> None:
    async with gateway_client(sandbox_settings(sandbox), role=None) as client:
        control.reset_stats()
        response = await client.post(
            "/graphql", json={"query": document}, headers=bearer("not-a-jwt")
        )
        assert control.requests() == 0
    assert response.status_code == 401
    assert codes(response.json()) == ["UNAUTHENTICATED"]
    assert response.json()["data"] is None
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'

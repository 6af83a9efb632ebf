"""The sandbox's auth service over real HTTP, as the release answers (UPSTREAMS.md, "## auth"):
sorted envelopes, the LoginResponse, server-side sessions, refresh rotation, the check
order of protected routes, the user views, and /validate/token."""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

import httpx
import jwt
import orjson
import pytest

from sandbox.runner import SandboxProcess
from sandbox.seed import DEMO_USERS
from sandbox.services.auth import DEFAULT_JWT_SECRET
from sandbox.tokens import mint_token

ADMIN = DEMO_USERS[0]
TECH = DEMO_USERS[2]
SERVICE = {"Authorization": "Service service_tests"}
ME_KEYS = [
    "created_at",
    "department",
    "email",
    "email_verified",
    "first_name",
    "id",
    "lab_affiliation",
    "last_login_at",
    "last_name",
    "position",
    "role",
    "status",
]


@pytest.fixture
def auth(sandbox: SandboxProcess) -> str:
    return sandbox.urls["auth"]


def _login(base: str, account: tuple[str, str, str] = ADMIN, **extra: Any) -> dict[str, Any]:
    email, password, _ = account
    response = httpx.post(
        f"{base}/auth/login", json={"email": email, "password": password, **extra}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _error(response: httpx.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    assert list(error) == ["code", "message", "timestamp"]
    assert error["timestamp"].endswith("+00:00")
    return response.status_code, error["code"], error["message"]


def test_login_answers_a_sorted_envelope_without_a_refresh_token_by_default(auth: str) -> None:
    email, password, role = ADMIN
    response = httpx.post(f"{auth}/auth/login", json={"email": email, "password": password})
    body = response.json()
    assert list(body) == ["data", "success"]
    data = body["data"]
    assert list(data) == [
        "access_token",
        "email",
        "expires_at",
        "refresh_token",
        "role",
        "session_id",
        "user_id",
    ]
    assert data["refresh_token"] is None
    assert (data["email"], data["role"]) == (email, role)
    assert response.content.startswith(b'{"data":{"access_token":')


def test_access_tokens_carry_exactly_the_release_claims(auth: str) -> None:
    data = _login(auth)
    token = data["access_token"]
    header = orjson.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert list(header.items()) == [("typ", "JWT"), ("alg", "HS256")]
    claims = jwt.decode(
        token,
        DEFAULT_JWT_SECRET,
        algorithms=["HS256"],
        audience="lab-management-system",
        issuer="auth-service",
    )
    assert list(claims) == ["sub", "email", "role", "exp", "iat", "iss", "aud", "jti"]
    assert claims["exp"] == claims["iat"] + 3600
    assert claims["jti"] == data["session_id"]
    assert claims["sub"] == data["user_id"]
    assert (claims["iss"], claims["aud"]) == ("auth-service", "lab-management-system")


def test_refresh_rotates_the_session_and_the_old_one_dies(auth: str) -> None:
    first = _login(auth, remember_me=True)
    assert uuid.UUID(first["refresh_token"]).version == 4
    refreshed = httpx.post(f"{auth}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()["data"]
    assert second["session_id"] != first["session_id"]
    assert uuid.UUID(second["refresh_token"]).version == 4
    assert second["refresh_token"] != first["refresh_token"]
    old = httpx.get(f"{auth}/auth/me", headers=_bearer(first["access_token"]))
    assert _error(old) == (404, "SESSION_NOT_FOUND", "Session not found")
    reused = httpx.post(f"{auth}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert _error(reused) == (401, "TOKEN_INVALID", "Token invalid")
    new = httpx.get(f"{auth}/auth/me", headers=_bearer(second["access_token"]))
    assert new.json()["data"]["email"] == ADMIN[0]
    # The new refresh token works in turn.
    again = httpx.post(f"{auth}/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert again.status_code == 200


def test_login_tells_an_unknown_email_from_a_wrong_password(auth: str) -> None:
    unknown = httpx.post(
        f"{auth}/auth/login", json={"email": "nobody@tracseq.lab", "password": "whatever"}
    )
    wrong = httpx.post(f"{auth}/auth/login", json={"email": ADMIN[0], "password": "wrong"})
    invalid = httpx.post(f"{auth}/auth/login", json={"email": "not-an-email", "password": "x"})
    assert _error(unknown) == (404, "USER_NOT_FOUND", "User not found")
    assert _error(wrong) == (401, "INVALID_CREDENTIALS", "Invalid credentials")
    assert _error(invalid) == (400, "VALIDATION_ERROR", "Validation error: Invalid email format")


def test_protected_routes_check_header_token_session_then_role(auth: str) -> None:
    tech = _login(auth, TECH)
    admin = _login(auth)
    # A token signed with the shared secret for the admin's own session, but not the one
    # auth issued: the session stores another token's hash.
    forged = mint_token(
        "lab_administrator", user_id=admin["user_id"], session_id=admin["session_id"]
    )
    cases = {
        "none": {},
        "lowercase scheme": {"Authorization": f"bearer {admin['access_token']}"},
        "garbage": _bearer("not-a-jwt"),
        "other secret": _bearer(mint_token(secret="another-secret-of-at-least-32-bytes!!")),
        "expired": _bearer(mint_token(lifetime=-3600)),
        "unknown session": _bearer(mint_token()),
        "forged": _bearer(forged),
        "not an admin": _bearer(tech["access_token"]),
    }
    answers = {
        name: _error(httpx.get(f"{auth}/admin/users", headers=h)) for name, h in cases.items()
    }
    required = "Authentication failed: Authorization header with Bearer token is required"
    assert answers == {
        "none": (401, "AUTHENTICATION_FAILED", required),
        "lowercase scheme": (401, "AUTHENTICATION_FAILED", required),
        "garbage": (401, "JWT_ERROR", "JWT error: InvalidToken"),
        "other secret": (401, "JWT_ERROR", "JWT error: InvalidSignature"),
        "expired": (401, "JWT_ERROR", "JWT error: ExpiredSignature"),
        "unknown session": (404, "SESSION_NOT_FOUND", "Session not found"),
        "forged": (401, "TOKEN_INVALID", "Token invalid"),
        "not an admin": (
            403,
            "AUTHORIZATION_FAILED",
            "Authorization failed: Administrator privileges required",
        ),
    }


def test_me_and_admin_user_views_have_the_release_keys(auth: str) -> None:
    headers = _bearer(_login(auth)["access_token"])
    me = httpx.get(f"{auth}/auth/me", headers=headers).json()
    listed = httpx.get(f"{auth}/admin/users", headers=headers).json()["data"]
    one = httpx.get(f"{auth}/admin/users/{listed[0]['id']}", headers=headers).json()["data"]
    missing = httpx.get(f"{auth}/admin/users/{uuid.uuid4()}", headers=headers)
    assert list(me) == ["data", "success"]
    assert list(me["data"]) == ME_KEYS
    assert me["data"]["email"] == ADMIN[0]
    assert sorted([*ME_KEYS, "failed_login_attempts", "locked_until"]) == list(listed[0])
    assert list(one) == sorted([*ME_KEYS, "failed_login_attempts", "locked_until", "updated_at"])
    assert len(listed) == len(DEMO_USERS) + 8 <= 100
    created = [u["created_at"] for u in listed]
    assert created == sorted(created, reverse=True)
    assert _error(missing) == (404, "USER_NOT_FOUND", "User not found")


def test_validate_token_is_false_only_for_an_ended_session(auth: str) -> None:
    session = _login(auth)
    token = session["access_token"]

    def validate(candidate: str, headers: dict[str, str] = SERVICE) -> httpx.Response:
        return httpx.post(f"{auth}/validate/token", json={"token": candidate}, headers=headers)

    live = validate(token).json()
    as_bearer = validate(token, _bearer(token)).json()
    unknown = validate(mint_token()).json()
    garbage = validate("garbage")
    expired = validate(mint_token(lifetime=-3600))
    anonymous = validate(token, {})
    logged_out = httpx.post(
        f"{auth}/auth/logout", json={"session_id": session["session_id"]}, headers=_bearer(token)
    )
    ended = validate(token).json()
    assert live == as_bearer
    assert list(live["data"]) == ["email", "expires_at", "role", "session_id", "user_id", "valid"]
    assert live["data"]["valid"] is True
    assert live["data"]["session_id"] == session["session_id"]
    # Whole seconds, from the token's exp.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", live["data"]["expires_at"])
    nothing = {
        "email": None,
        "expires_at": None,
        "role": None,
        "session_id": None,
        "user_id": None,
        "valid": False,
    }
    assert unknown == {"data": nothing, "success": True}
    assert _error(garbage) == (401, "JWT_ERROR", "JWT error: InvalidToken")
    assert _error(expired) == (401, "JWT_ERROR", "JWT error: ExpiredSignature")
    assert _error(anonymous) == (
        401,
        "AUTHENTICATION_FAILED",
        "Authentication failed: Service authentication required",
    )
    assert logged_out.json() == {"message": "Logged out successfully", "success": True}
    assert ended == {"data": nothing, "success": True}


def test_logout_revokes_whichever_session_the_body_names(auth: str) -> None:
    caller = _login(auth, TECH)
    victim = _login(auth)
    logout = httpx.post(
        f"{auth}/auth/logout",
        json={"session_id": victim["session_id"]},
        headers=_bearer(caller["access_token"]),
    )
    unknown = httpx.post(
        f"{auth}/auth/logout",
        json={"session_id": str(uuid.uuid4())},
        headers=_bearer(caller["access_token"]),
    )
    victim_me = httpx.get(f"{auth}/auth/me", headers=_bearer(victim["access_token"]))
    caller_me = httpx.get(f"{auth}/auth/me", headers=_bearer(caller["access_token"]))
    assert logout.status_code == unknown.status_code == 200
    assert _error(victim_me) == (404, "SESSION_NOT_FOUND", "Session not found")
    assert caller_me.status_code == 200

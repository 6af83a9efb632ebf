"""The sandbox's auth service over real HTTP, as the release answers (UPSTREAMS.md, "## auth"):
sorted envelopes, the LoginResponse, server-side sessions, refresh rotation, the check
order of protected routes, the user views, /validate/token and /validate/permissions,
registration and the password-reset routes, and the admin session, audit and account routes.

Tests that add, disable or delete accounts, or read the audit log, use a private auth-only
sandbox (``own``), so the shared one keeps its seeded users."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator
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
GUEST = DEMO_USERS[5]
NEW_PASSWORD = "Sequenc3rs"  # the password of the accounts these tests register
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


@pytest.fixture(scope="module")
def own() -> Iterator[str]:
    """A private auth service for tests that change accounts or read the audit log."""
    with SandboxProcess(["auth"]) as sb:
        yield sb.urls["auth"]


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


def _admin_get(base: str, path: str) -> Any:
    headers = _bearer(_login(base)["access_token"])
    response = httpx.get(f"{base}{path}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _register(base: str, email: str, password: str = NEW_PASSWORD, **extra: Any) -> httpx.Response:
    body = {"email": email, "password": password, "first_name": "Ada", "last_name": "Byron"}
    return httpx.post(f"{base}/auth/register", json={**body, **extra})


# -- /health/ready ---------------------------------------------------------------------------


def test_readiness_answers_ready_with_a_database_check(auth: str) -> None:
    response = httpx.get(f"{auth}/health/ready")
    body = response.json()
    assert response.status_code == 200
    assert list(body) == ["checks", "service", "status", "timestamp", "version"]
    assert body["checks"] == {"database": "healthy"}
    assert (body["service"], body["status"]) == ("auth-service", "ready")
    assert body["timestamp"].endswith("+00:00")


# -- registration ----------------------------------------------------------------------------


def test_register_makes_an_active_verified_guest_and_drops_the_profile_fields(own: str) -> None:
    response = _register(
        own,
        "new.guest@tracseq.lab",
        department="Genomics",
        position="Postdoc",
        lab_affiliation="Elsewhere",
    )
    body = response.json()
    assert response.status_code == 200, response.text
    assert list(body) == ["message", "success", "user_id"]
    assert (body["message"], body["success"]) == ("User registered successfully", True)
    login = _login(own, ("new.guest@tracseq.lab", NEW_PASSWORD, "guest"))
    assert (login["user_id"], login["role"]) == (body["user_id"], "guest")
    user = _admin_get(own, f"/admin/users/{body['user_id']}")
    assert {k: user[k] for k in ("department", "position", "lab_affiliation")} == {
        "department": None,
        "position": None,
        "lab_affiliation": None,
    }
    assert (user["first_name"], user["last_name"]) == ("Ada", "Byron")
    assert (user["status"], user["email_verified"], user["failed_login_attempts"]) == (
        "active",
        True,
        0,
    )


def test_register_refuses_a_taken_email_before_judging_the_password(own: str) -> None:
    taken = _register(own, ADMIN[0])
    taken_weak = _register(own, ADMIN[0], password="weakpassword")
    assert _error(taken) == (409, "USER_ALREADY_EXISTS", "User already exists")
    assert _error(taken_weak) == (409, "USER_ALREADY_EXISTS", "User already exists")


def test_register_joins_the_field_messages_then_checks_strength_one_rule_at_a_time(
    auth: str,
) -> None:
    everything = httpx.post(
        f"{auth}/auth/register",
        json={"email": "nope", "password": "Short1", "first_name": "", "last_name": ""},
    )
    # The field messages in the request struct's order; the release's order comes from a
    # hash map and may differ from run to run.
    assert _error(everything) == (
        400,
        "VALIDATION_ERROR",
        "Validation error: Invalid email format, Password must be at least 8 characters, "
        "First name is required, Last name is required",
    )
    weak = {
        "nouppercase1": "Password must contain at least one uppercase letter",
        "NOLOWERCASE1": "Password must contain at least one lowercase letter",
        "NoNumbersHere": "Password must contain at least one number",
    }
    answers = {
        password: _error(_register(auth, "weak.password@tracseq.lab", password))
        for password in weak
    }
    assert answers == {
        password: (400, "VALIDATION_ERROR", f"Validation error: {message}")
        for password, message in weak.items()
    }
    # None of them created the account.
    assert _error(
        httpx.post(
            f"{auth}/auth/login",
            json={"email": "weak.password@tracseq.lab", "password": "nouppercase1"},
        )
    ) == (404, "USER_NOT_FOUND", "User not found")


def test_register_body_shape_errors_are_framework_rejections(auth: str) -> None:
    missing = httpx.post(
        f"{auth}/auth/register",
        json={"email": "x@tracseq.lab", "password": NEW_PASSWORD, "last_name": "B"},
    )
    bad_profile = _register(auth, "typed@tracseq.lab", department=True)
    assert (missing.status_code, missing.text) == (
        422,
        "Failed to deserialize the JSON body into the target type: missing field `first_name`",
    )
    assert bad_profile.status_code == 422
    assert bad_profile.text.endswith("department: invalid type: boolean `true`, expected a string")


# -- password reset and email verification ---------------------------------------------------


def test_forgot_password_answers_the_same_for_known_and_unknown_emails(auth: str) -> None:
    known = httpx.post(f"{auth}/auth/forgot-password", json={"email": ADMIN[0]})
    unknown = httpx.post(f"{auth}/auth/forgot-password", json={"email": "nobody@tracseq.lab"})
    invalid = httpx.post(f"{auth}/auth/forgot-password", json={"email": "not-an-email"})
    expected = (
        b'{"message":"If an account with that email exists, password reset instructions '
        b'have been sent.","success":true}'
    )
    assert (known.status_code, known.content) == (200, expected)
    assert (unknown.status_code, unknown.content) == (200, expected)
    assert _error(invalid) == (400, "VALIDATION_ERROR", "Validation error: Invalid email format")


def test_reset_password_never_succeeds_because_no_token_is_ever_delivered(auth: str) -> None:
    httpx.post(f"{auth}/auth/forgot-password", json={"email": TECH[0]})

    def reset(token: str, new_password: str) -> httpx.Response:
        return httpx.post(
            f"{auth}/auth/reset-password", json={"token": token, "new_password": new_password}
        )

    assert _error(reset(str(uuid.uuid4()), "N3wPassword")) == (
        401,
        "TOKEN_INVALID",
        "Token invalid",
    )
    assert _error(reset("", "short")) == (
        400,
        "VALIDATION_ERROR",
        "Validation error: Token is required, Password must be at least 8 characters",
    )
    assert _error(reset("whatever", "alllowercase1")) == (
        400,
        "VALIDATION_ERROR",
        "Validation error: Password must contain at least one uppercase letter",
    )
    # The old password still works.
    assert _login(auth, TECH)["role"] == TECH[2]


def test_verify_email_is_disabled_but_parses_the_body_first(auth: str) -> None:
    disabled = httpx.post(f"{auth}/auth/verify-email", json={"token": ""})
    missing = httpx.post(f"{auth}/auth/verify-email", json={})
    assert _error(disabled) == (501, "FEATURE_DISABLED", "Feature disabled: email verification")
    assert (missing.status_code, missing.text) == (
        422,
        "Failed to deserialize the JSON body into the target type: missing field `token`",
    )


# -- sessions --------------------------------------------------------------------------------


def test_revoking_a_session_by_id_works_only_on_the_callers_own(auth: str) -> None:
    mine = _login(auth, TECH)
    my_other = _login(auth, TECH)
    theirs = _login(auth)
    headers = _bearer(mine["access_token"])
    other_user = httpx.delete(f"{auth}/auth/sessions/{theirs['session_id']}", headers=headers)
    unknown = httpx.delete(f"{auth}/auth/sessions/{uuid.uuid4()}", headers=headers)
    own_other = httpx.delete(f"{auth}/auth/sessions/{my_other['session_id']}", headers=headers)
    again = httpx.delete(f"{auth}/auth/sessions/{my_other['session_id']}", headers=headers)
    anonymous = httpx.delete(f"{auth}/auth/sessions/{my_other['session_id']}")
    assert _error(other_user) == (404, "SESSION_NOT_FOUND", "Session not found")
    assert _error(unknown) == (404, "SESSION_NOT_FOUND", "Session not found")
    assert own_other.json() == {"message": "Session revoked successfully", "success": True}
    assert _error(again) == (404, "SESSION_NOT_FOUND", "Session not found")
    assert _error(anonymous)[:2] == (401, "AUTHENTICATION_FAILED")
    revoked = httpx.get(f"{auth}/auth/me", headers=_bearer(my_other["access_token"]))
    assert _error(revoked) == (404, "SESSION_NOT_FOUND", "Session not found")
    for session in (mine, theirs):
        assert httpx.get(f"{auth}/auth/me", headers=_bearer(session["access_token"])).is_success


def test_own_sessions_list_the_most_recently_used_first(auth: str) -> None:
    older = _login(auth, GUEST)
    newer = _login(auth, GUEST)
    # Using the older session makes it the most recently used one.
    httpx.get(f"{auth}/auth/me", headers=_bearer(older["access_token"]))
    listed = httpx.get(f"{auth}/auth/sessions", headers=_bearer(older["access_token"]))
    ids = [s["id"] for s in listed.json()["data"]]
    assert ids.index(older["session_id"]) == 0
    assert newer["session_id"] in ids


# -- /validate/permissions -------------------------------------------------------------------


def _permissions(
    base: str, token: str, role: str, headers: dict[str, str] = SERVICE, **extra: Any
) -> httpx.Response:
    return httpx.post(
        f"{base}/validate/permissions",
        json={"token": token, "required_role": role, **extra},
        headers=headers,
    )


def test_validate_permissions_ranks_roles_and_explains_a_refusal(auth: str) -> None:
    admin = _login(auth)
    guest = _login(auth, GUEST)
    tech = _login(auth, TECH)
    allowed = _permissions(auth, admin["access_token"], "lab_technician", resource="samples")
    same_rank = _permissions(auth, tech["access_token"], "lab_technician")
    refused = _permissions(auth, guest["access_token"], "lab_administrator")
    as_bearer = _permissions(
        auth, tech["access_token"], "research_scientist", _bearer(admin["access_token"])
    )
    assert allowed.content == (
        b'{"data":{"authorized":true,"reason":null,"user":{"email":"admin@tracseq.lab","id":"'
        + admin["user_id"].encode()
        + b'","role":"lab_administrator"}},"success":true}'
    )
    assert same_rank.json()["data"]["authorized"] is True
    assert as_bearer.json()["data"]["user"]["role"] == "lab_technician"
    assert refused.json() == {
        "data": {
            "authorized": False,
            "reason": "Insufficient permissions. Required: LabAdministrator, User has: Guest",
            "user": None,
        },
        "success": True,
    }
    lower = _permissions(auth, tech["access_token"], "principal_investigator").json()
    assert lower["data"]["reason"] == (
        "Insufficient permissions. Required: PrincipalInvestigator, User has: LabTechnician"
    )


def test_validate_permissions_refuses_ended_sessions_and_rejects_bad_tokens(auth: str) -> None:
    session = _login(auth, TECH)
    token = session["access_token"]
    httpx.post(
        f"{auth}/auth/logout", json={"session_id": session["session_id"]}, headers=_bearer(token)
    )
    ended = _permissions(auth, token, "guest").json()
    unknown = _permissions(auth, mint_token(), "guest").json()
    invalid = {
        "data": {"authorized": False, "reason": "Invalid or expired token", "user": None},
        "success": True,
    }
    assert ended == unknown == invalid
    assert _error(_permissions(auth, "garbage", "guest")) == (
        401,
        "JWT_ERROR",
        "JWT error: InvalidToken",
    )
    assert _error(_permissions(auth, "", "guest")) == (
        400,
        "VALIDATION_ERROR",
        "Validation error: Token is required",
    )
    assert _error(_permissions(auth, token, "guest", {})) == (
        401,
        "AUTHENTICATION_FAILED",
        "Authentication failed: Service authentication required",
    )
    bad_role = _permissions(auth, mint_token(), "LabAdministrator")
    assert bad_role.status_code == 422
    assert bad_role.text.endswith(
        "required_role: unknown variant `LabAdministrator`, expected one of `guest`, "
        "`data_analyst`, `research_scientist`, `lab_technician`, `principal_investigator`, "
        "`lab_administrator`"
    )


def test_validate_token_requires_a_non_empty_token(auth: str) -> None:
    empty = httpx.post(f"{auth}/validate/token", json={"token": ""}, headers=SERVICE)
    assert _error(empty) == (400, "VALIDATION_ERROR", "Validation error: Token is required")


# -- admin account routes --------------------------------------------------------------------


def test_admin_delete_removes_the_account_and_its_sessions(own: str) -> None:
    user_id = _register(own, "to.delete@tracseq.lab").json()["user_id"]
    victim = _login(own, ("to.delete@tracseq.lab", NEW_PASSWORD, "guest"))
    headers = _bearer(_login(own)["access_token"])
    deleted = httpx.delete(f"{own}/admin/users/{user_id}", headers=headers)
    again = httpx.delete(f"{own}/admin/users/{user_id}", headers=headers)
    after = httpx.get(f"{own}/admin/users/{user_id}", headers=headers)
    victim_me = httpx.get(f"{own}/auth/me", headers=_bearer(victim["access_token"]))
    relogin = httpx.post(
        f"{own}/auth/login", json={"email": "to.delete@tracseq.lab", "password": NEW_PASSWORD}
    )
    assert deleted.json() == {"message": "User deleted successfully", "success": True}
    assert _error(again) == (404, "USER_NOT_FOUND", "User not found")
    assert _error(after) == (404, "USER_NOT_FOUND", "User not found")
    assert _error(victim_me) == (404, "SESSION_NOT_FOUND", "Session not found")
    assert _error(relogin) == (404, "USER_NOT_FOUND", "User not found")


def test_admin_disable_revokes_every_session_and_enable_lets_the_user_back(own: str) -> None:
    user_id = _register(own, "to.disable@tracseq.lab").json()["user_id"]
    account = ("to.disable@tracseq.lab", NEW_PASSWORD, "guest")
    first, second = _login(own, account), _login(own, account)
    headers = _bearer(_login(own)["access_token"])
    disabled = httpx.post(f"{own}/admin/users/{user_id}/disable", headers=headers)
    status = _admin_get(own, f"/admin/users/{user_id}")["status"]
    sessions_after = [
        _error(httpx.get(f"{own}/auth/me", headers=_bearer(s["access_token"])))
        for s in (first, second)
    ]
    refused = httpx.post(f"{own}/auth/login", json={"email": account[0], "password": account[1]})
    enabled = httpx.post(f"{own}/admin/users/{user_id}/enable", headers=headers)
    assert disabled.json() == {"message": "User disabled successfully", "success": True}
    assert status == "inactive"
    assert sessions_after == [(404, "SESSION_NOT_FOUND", "Session not found")] * 2
    assert _error(refused) == (403, "ACCOUNT_DISABLED", "Account disabled")
    assert enabled.json() == {"message": "User enabled successfully", "success": True}
    assert _admin_get(own, f"/admin/users/{user_id}")["status"] == "active"
    # Enabling opens no session: the revoked ones stay dead, a new login works.
    assert httpx.get(f"{own}/auth/me", headers=_bearer(first["access_token"])).status_code == 404
    assert _login(own, account)["user_id"] == user_id


def test_admin_account_routes_check_the_caller_then_the_target(own: str) -> None:
    guest = _bearer(_login(own, GUEST)["access_token"])
    admin = _bearer(_login(own)["access_token"])
    target = _admin_get(own, "/admin/users")[0]["id"]
    forbidden = (
        403,
        "AUTHORIZATION_FAILED",
        "Authorization failed: Administrator privileges required",
    )
    for method, path in [
        ("DELETE", f"/admin/users/{target}"),
        ("POST", f"/admin/users/{target}/disable"),
        ("POST", f"/admin/users/{target}/enable"),
        ("GET", "/admin/sessions"),
        ("GET", "/admin/audit-log"),
    ]:
        assert _error(httpx.request(method, f"{own}{path}", headers=guest)) == forbidden, path
        assert _error(httpx.request(method, f"{own}{path}"))[:2] == (
            401,
            "AUTHENTICATION_FAILED",
        ), path
    for action in ("disable", "enable"):
        missing = httpx.post(f"{own}/admin/users/{uuid.uuid4()}/{action}", headers=admin)
        assert _error(missing) == (404, "USER_NOT_FOUND", "User not found")
    assert _admin_get(own, f"/admin/users/{target}")["status"] == "active"


def test_admin_sessions_list_live_sessions_with_their_user_revoked_ones_included(
    own: str,
) -> None:
    ended = _login(own, TECH)
    httpx.post(
        f"{own}/auth/logout",
        json={"session_id": ended["session_id"]},
        headers=_bearer(ended["access_token"]),
    )
    admin = _login(own)
    response = httpx.get(f"{own}/admin/sessions", headers=_bearer(admin["access_token"]))
    sessions = response.json()["data"]
    by_id = {s["id"]: s for s in sessions}
    assert list(sessions[0]) == [
        "created_at",
        "device_info",
        "expires_at",
        "id",
        "ip_address",
        "last_used_at",
        "revoked",
        "user_email",
        "user_id",
        "user_name",
    ]
    # The admin's session was just used by this very request.
    assert sessions[0]["id"] == admin["session_id"]
    assert by_id[ended["session_id"]]["revoked"] is True
    assert by_id[admin["session_id"]]["revoked"] is False
    tech = by_id[ended["session_id"]]
    assert (tech["user_email"], tech["user_name"], tech["user_id"]) == (
        TECH[0],
        "Tomas Keller",
        ended["user_id"],
    )
    assert (tech["device_info"], tech["ip_address"]) == (None, None)
    used = [s["last_used_at"] for s in sessions]
    assert used == sorted(used, reverse=True)
    assert len(sessions) <= 100


def test_admin_audit_log_records_the_events_the_release_writes_newest_first(own: str) -> None:
    user_id = _register(own, "audited@tracseq.lab").json()["user_id"]
    first = _login(own, ("audited@tracseq.lab", NEW_PASSWORD, "guest"), remember_me=True)
    httpx.post(f"{own}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    httpx.post(f"{own}/auth/forgot-password", json={"email": "audited@tracseq.lab"})
    httpx.post(f"{own}/auth/forgot-password", json={"email": "nobody@tracseq.lab"})
    admin = _login(own)
    log = httpx.get(f"{own}/admin/audit-log", headers=_bearer(admin["access_token"]))
    entries = log.json()["data"]
    assert list(entries[0]) == [
        "details",
        "event_id",
        "event_type",
        "id",
        "ip_address",
        "severity",
        "timestamp",
        "user_agent",
        "user_email",
        "user_id",
    ]
    recent = [(e["event_type"], e["user_id"]) for e in entries[:5]]
    assert recent == [
        ("LOGIN_SUCCESS", admin["user_id"]),
        ("PASSWORD_RESET_REQUESTED", user_id),
        ("TOKEN_REFRESHED", user_id),
        ("LOGIN_SUCCESS", user_id),
        ("USER_CREATED", user_id),
    ]
    newest = entries[0]
    assert isinstance(newest["id"], int)
    assert uuid.UUID(newest["event_id"])
    assert (newest["severity"], newest["details"], newest["user_email"]) == ("MEDIUM", None, None)
    assert (newest["ip_address"], newest["user_agent"]) == (None, None)
    stamps = [e["timestamp"] for e in entries]
    assert stamps == sorted(stamps, reverse=True)
    assert len(entries) <= 100

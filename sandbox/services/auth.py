"""The auth service: HS256 JWTs, server-side sessions, snake_case roles.

A login creates a session whose id is the ``jti`` of both tokens it issues. Logout and
refresh delete the session, so a token whose session is gone gets 404 ``SESSION_NOT_FOUND``
from ``/auth/me``. Errors: ``{"error": {"code", "message", "timestamp"}}``. Only this
service checks tokens (on ``/auth/me`` and ``/admin/*``).
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import orjson
from jwt.warnings import InsecureKeyLengthWarning

from sandbox.options import RELEASE, Options
from sandbox.passwords import verify_password
from sandbox.store import Store
from sandbox.web import (
    ApiError,
    Request,
    Response,
    Route,
    iso,
    json_response,
    now_iso,
    opt_bool,
    opt_str,
    raw_json,
    req_str,
)

DEFAULT_JWT_SECRET = "tracseq-dev-secret-change-me-in-production"  # noqa: S105 - documented dev default
ISSUER = "auth-service"
AUDIENCE = "lab-management-system"
ACCESS_TTL = timedelta(hours=1)
REFRESH_TTL = timedelta(days=30)
ROLES = (
    "guest",
    "data_analyst",
    "research_scientist",
    "lab_technician",
    "principal_investigator",
    "lab_administrator",
)
ADMIN_USER_LIMIT = 100


def render_error(exc: ApiError) -> Response:
    return json_response(
        {"error": {"code": exc.code.upper(), "message": exc.message, "timestamp": now_iso()}},
        exc.status,
    )


def _ok(data: Any, message: str | None = None) -> Response:
    body: dict[str, Any] = {"success": True, "data": data}
    if message is not None:
        body["message"] = message
    return json_response(body)


@contextlib.contextmanager
def _quiet_short_keys() -> Iterator[None]:
    """Silence PyJWT's warning about HMAC keys under 32 bytes: a short ``--jwt-secret`` is
    the operator's choice, and the sandbox must not spam its log with it on every request."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
        yield


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    def __init__(
        self, store: Store, jwt_secret: str = DEFAULT_JWT_SECRET, options: Options = RELEASE
    ) -> None:
        self.options = options
        self.store = store
        self.secret = jwt_secret

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/health", self.health),
            Route("POST", "/auth/login", self.login),
            Route("POST", "/auth/refresh", self.refresh),
            Route("POST", "/auth/logout", self.logout),
            Route("GET", "/auth/me", self.me),
            Route("POST", "/validate/token", self.validate),
            Route("GET", "/admin/users", self.list_users),
            Route("GET", "/admin/users/{id:uuid}", self.get_user),
        ]

    async def health(self, req: Request) -> Response:
        return json_response({"status": "healthy", "service": "auth-service", "database": "ok"})

    def _issue(self, user: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC).replace(microsecond=0)
        session_id = str(uuid.uuid4())
        claims = {
            "sub": user["id"],
            "email": user["email"],
            "role": user["role"],
            "iat": int(now.timestamp()),
            "iss": ISSUER,
            "aud": AUDIENCE,
            "jti": session_id,
        }
        access_exp = now + ACCESS_TTL
        refresh_exp = now + REFRESH_TTL
        with _quiet_short_keys():
            access = jwt.encode({**claims, "exp": int(access_exp.timestamp())}, self.secret)
            refresh = jwt.encode({**claims, "exp": int(refresh_exp.timestamp())}, self.secret)
        self.store.run(
            "INSERT INTO sessions (id, user_id, refresh_hash, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (session_id, user["id"], _digest(refresh), iso(now), iso(refresh_exp)),
        )
        return {
            "user_id": user["id"],
            "email": user["email"],
            "role": user["role"],
            "access_token": access,
            "refresh_token": refresh,
            "expires_at": iso(access_exp),
            "session_id": session_id,
        }

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            with _quiet_short_keys():
                claims: dict[str, Any] = jwt.decode(
                    token,
                    self.secret,
                    algorithms=["HS256"],
                    audience=AUDIENCE,
                    issuer=ISSUER,
                    options={"require": ["exp", "sub", "jti"]},
                )
        except jwt.PyJWTError as exc:
            raise ApiError(401, "JWT_ERROR", f"Invalid token: {exc}") from exc
        return claims

    def _bearer(self, req: Request) -> dict[str, Any]:
        header = req.header(b"authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "JWT_ERROR", "Missing or malformed Authorization header")
        return self._decode(token.strip())

    def _user(self, user_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT doc FROM users WHERE id = ?", (user_id,))
        if row is None:
            raise ApiError(404, "USER_NOT_FOUND", f"User not found: {user_id}")
        user: dict[str, Any] = orjson.loads(row[0])
        return user

    def _principal(self, req: Request) -> dict[str, Any]:
        claims = self._bearer(req)
        if self.store.value("SELECT 1 FROM sessions WHERE id = ?", (claims["jti"],)) is None:
            raise ApiError(404, "SESSION_NOT_FOUND", "Session not found or expired")
        return self._user(claims["sub"])

    async def login(self, req: Request) -> Response:
        body = await req.json()
        email = req_str(body, "email").strip().lower()
        password = req_str(body, "password")
        opt_bool(body, "remember_me")
        row = self.store.one("SELECT salt, password_hash, doc FROM users WHERE email = ?", (email,))
        if row is None or not verify_password(password, row[0], row[1]):
            raise ApiError(401, "INVALID_CREDENTIALS", "Invalid email or password")
        user: dict[str, Any] = orjson.loads(row[2])
        if user["status"] != "active":
            raise ApiError(403, "ACCOUNT_DISABLED", f"Account is {user['status']}")
        user["last_login_at"] = now_iso()
        self.store.run(
            "UPDATE users SET doc = ? WHERE id = ?", (orjson.dumps(user).decode(), user["id"])
        )
        return _ok(self._issue(user), "Login successful")

    async def refresh(self, req: Request) -> Response:
        body = await req.json()
        token = req_str(body, "refresh_token")
        claims = self._decode(token)
        row = self.store.one("SELECT refresh_hash FROM sessions WHERE id = ?", (claims["jti"],))
        if row is None:
            raise ApiError(404, "SESSION_NOT_FOUND", "Session not found or expired")
        if row[0] != _digest(token):
            raise ApiError(401, "JWT_ERROR", "Not a refresh token for this session")
        self.store.run("DELETE FROM sessions WHERE id = ?", (claims["jti"],))
        return _ok(self._issue(self._user(claims["sub"])), "Token refreshed")

    async def logout(self, req: Request) -> Response:
        body = await req.json()
        session_id = opt_str(body, "session_id")
        if session_id is None:
            session_id = self._bearer(req)["jti"]
        if not self.store.run("DELETE FROM sessions WHERE id = ?", (session_id,)):
            raise ApiError(404, "SESSION_NOT_FOUND", "Session not found or expired")
        return _ok(None, "Logged out successfully")

    async def me(self, req: Request) -> Response:
        return _ok(self._principal(req))

    async def validate(self, req: Request) -> Response:
        body = await req.json()
        token = req_str(body, "token")
        try:
            claims = self._decode(token)
        except ApiError:
            claims = None
        if claims is None or (
            self.store.value("SELECT 1 FROM sessions WHERE id = ?", (claims["jti"],)) is None
        ):
            return _ok(
                {
                    "valid": False,
                    "user_id": None,
                    "email": None,
                    "role": None,
                    "session_id": None,
                    "expires_at": None,
                }
            )
        return _ok(
            {
                "valid": True,
                "user_id": claims["sub"],
                "email": claims.get("email"),
                "role": claims.get("role"),
                "session_id": claims["jti"],
                "expires_at": iso(datetime.fromtimestamp(claims["exp"], UTC)),
            }
        )

    def _admin(self, req: Request) -> None:
        user = self._principal(req)
        if user["role"] != "lab_administrator":
            raise ApiError(403, "INSUFFICIENT_PERMISSIONS", "Administrator role required")

    async def list_users(self, req: Request) -> Response:
        self._admin(req)
        rows = self.store.all(
            "SELECT doc FROM users ORDER BY created_at, id LIMIT ?", (ADMIN_USER_LIMIT,)
        )
        return raw_json(b'{"success":true,"data":[' + ",".join(r[0] for r in rows).encode() + b"]}")

    async def get_user(self, req: Request) -> Response:
        self._admin(req)
        return _ok(self._user(req.params["id"]))

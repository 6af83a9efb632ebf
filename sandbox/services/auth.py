"""The auth service as the release answers (UPSTREAMS.md, "## auth").

- Envelopes ``{"data", "success"}`` or ``{"message", "success"}`` with keys sorted at every
  level (``json!``); errors ``{"error": {"code", "message", "timestamp"}}`` with a
  ``+00:00`` timestamp.
- Access tokens are HS256 JWTs whose ``jti`` is the session id; ``exp = iat + 1 h``.
  Sessions live server-side (``user_sessions``): a token is accepted only while its session
  lives, is not revoked and stores this token's SHA-256.
- Refresh tokens are random UUID v4 strings, stored hashed, and only handed out when the
  login says ``remember_me: true``; they live as long as their session. A refresh revokes
  the old session and opens a new one.
- Login tells an unknown email (404 USER_NOT_FOUND) from a wrong password (401
  INVALID_CREDENTIALS), as the release does.
- Self-registration makes active, verified ``guest`` accounts and drops the profile fields;
  password reset never delivers a token, so every reset is 401 TOKEN_INVALID; email
  verification is switched off (501).
- The security audit log holds the events the release writes (LOGIN_SUCCESS,
  TOKEN_REFRESHED, USER_CREATED, PASSWORD_RESET_REQUESTED), all ``MEDIUM`` and with no
  email, address, agent or details.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import orjson
from jwt.warnings import InsecureKeyLengthWarning

from sandbox.options import RELEASE, Options
from sandbox.passwords import hash_password, new_salt, verify_password
from sandbox.store import Store
from sandbox.web import (
    ApiError,
    Request,
    Response,
    Route,
    empty_response,
    iso,
    opt_bool,
    opt_enum,
    opt_str,
    raw_json,
    req_str,
    req_uuid,
)

DEFAULT_JWT_SECRET = "tracseq-dev-secret-change-me-in-production"  # noqa: S105 - documented dev default
ISSUER = "auth-service"
AUDIENCE = "lab-management-system"
ACCESS_TTL = timedelta(hours=1)
LEEWAY_SECONDS = 60
ROLES = (
    "guest",
    "data_analyst",
    "research_scientist",
    "lab_technician",
    "principal_investigator",
    "lab_administrator",
)
ADMIN_USER_LIMIT = 100
ADMIN_LIST_LIMIT = 100
PASSWORD_MIN_LENGTH = 8

# The wire views of a stored user (UPSTREAMS.md): /auth/me, /admin/users items, and
# /admin/users/{id}.
ME_VIEW = (
    "id",
    "email",
    "first_name",
    "last_name",
    "role",
    "status",
    "email_verified",
    "last_login_at",
    "created_at",
    "department",
    "position",
    "lab_affiliation",
)
LIST_VIEW = (*ME_VIEW, "failed_login_attempts", "locked_until")
DETAIL_VIEW = (*LIST_VIEW, "updated_at")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS user_sessions (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, token_hash TEXT NOT NULL,
    refresh_token_hash TEXT, created_at TEXT NOT NULL, last_used_at TEXT NOT NULL,
    expires_at TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, revoked_at TEXT);
CREATE INDEX IF NOT EXISTS user_sessions_refresh ON user_sessions (refresh_token_hash);
CREATE INDEX IF NOT EXISTS user_sessions_user ON user_sessions (user_id);
CREATE TABLE IF NOT EXISTS security_audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, event_type TEXT NOT NULL,
    user_id TEXT, severity TEXT NOT NULL, timestamp TEXT NOT NULL);
"""
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BEARER_REQUIRED = "Authorization header with Bearer token is required"


def _sorted(obj: Any, status: int = 200) -> Response:
    """serde_json without ``preserve_order``: keys sorted at every level."""
    return raw_json(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS), status)


def _data(data: Any) -> Response:
    return _sorted({"data": data, "success": True})


def _message(message: str) -> Response:
    return _sorted({"message": message, "success": True})


def render_error(exc: ApiError) -> Response:
    timestamp = datetime.now(UTC).isoformat()  # chrono's to_rfc3339: "+00:00"
    return _sorted(
        {"error": {"code": exc.code.upper(), "message": exc.message, "timestamp": timestamp}},
        exc.status,
    )


def _authentication(message: str) -> ApiError:
    return ApiError(401, "AUTHENTICATION_FAILED", f"Authentication failed: {message}")


def _session_not_found() -> ApiError:
    return ApiError(404, "SESSION_NOT_FOUND", "Session not found")


def _token_invalid() -> ApiError:
    return ApiError(401, "TOKEN_INVALID", "Token invalid")


def _validation(problems: list[str]) -> ApiError:
    """The validator crate's field messages, joined as the release joins them."""
    return ApiError(400, "VALIDATION_ERROR", "Validation error: " + ", ".join(problems))


def _check(problems: list[str]) -> None:
    if problems:
        raise _validation(problems)


def _password_weakness(password: str) -> str | None:
    """The release's password strength rules at their defaults (upper, lower and a number
    required; symbols not), reported one at a time. Its own length rule repeats the
    request's 8-character minimum and so never fires first."""
    if not any(c.isupper() for c in password):
        return "Password must contain at least one uppercase letter"
    if not any(c.islower() for c in password):
        return "Password must contain at least one lowercase letter"
    if not any(c.isnumeric() for c in password):
        return "Password must contain at least one number"
    return None


def _role_variant(role: str) -> str:
    """A UserRole as Rust's ``{:?}`` prints it: the variant name (``LabAdministrator``)."""
    return "".join(part.capitalize() for part in role.split("_"))


@contextlib.contextmanager
def _quiet_short_keys() -> Iterator[None]:
    """Silence PyJWT's warning about HMAC keys under 32 bytes: a short ``--jwt-secret`` is
    the operator's choice, and the sandbox must not spam its log with it on every request."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
        yield


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _view(user: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: user.get(k) for k in keys}


def _jwt_error(exc: jwt.PyJWTError) -> ApiError:
    """jsonwebtoken's error kinds, as the release prints them."""
    kinds: list[tuple[type[jwt.PyJWTError], str]] = [
        (jwt.InvalidSignatureError, "InvalidSignature"),
        (jwt.ExpiredSignatureError, "ExpiredSignature"),
        (jwt.InvalidIssuerError, "InvalidIssuer"),
        (jwt.InvalidAudienceError, "InvalidAudience"),
        (jwt.ImmatureSignatureError, "ImmatureSignature"),
    ]
    kind = next((name for cls, name in kinds if isinstance(exc, cls)), "InvalidToken")
    return ApiError(401, "JWT_ERROR", f"JWT error: {kind}")


class AuthService:
    def __init__(
        self, store: Store, jwt_secret: str = DEFAULT_JWT_SECRET, options: Options = RELEASE
    ) -> None:
        self.options = options
        self.store = store
        self.secret = jwt_secret
        store.conn.executescript(_SCHEMA)

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/health", self.health),
            Route("GET", "/health/ready", self.ready),
            Route("POST", "/auth/login", self.login),
            Route("POST", "/auth/register", self.register),
            Route("POST", "/auth/refresh", self.refresh),
            Route("POST", "/auth/forgot-password", self.forgot_password),
            Route("POST", "/auth/reset-password", self.reset_password),
            Route("POST", "/auth/verify-email", self.verify_email),
            Route("POST", "/auth/logout", self.logout),
            Route("GET", "/auth/me", self.me),
            Route("GET", "/auth/sessions", self.sessions),
            Route("DELETE", "/auth/sessions/{session_id:uuid}", self.revoke_own_session),
            Route("POST", "/validate/token", self.validate),
            Route("POST", "/validate/permissions", self.validate_permissions),
            Route("GET", "/admin/users", self.list_users),
            Route("GET", "/admin/users/{user_id:uuid}", self.get_user),
            Route("DELETE", "/admin/users/{user_id:uuid}", self.delete_user),
            Route("POST", "/admin/users/{user_id:uuid}/disable", self.disable_user),
            Route("POST", "/admin/users/{user_id:uuid}/enable", self.enable_user),
            Route("GET", "/admin/sessions", self.list_sessions),
            Route("GET", "/admin/audit-log", self.audit_log),
        ]

    async def health(self, req: Request) -> Response:
        return _sorted(
            {
                "service": "auth-service",
                "status": "healthy",
                "timestamp": datetime.now(UTC).isoformat(),
                "version": "0.1.0",
            }
        )

    async def ready(self, req: Request) -> Response:
        # The release answers a bare 503 when its database check fails.
        try:
            self.store.value("SELECT 1")
        except sqlite3.Error:
            return empty_response(503)
        return _sorted(
            {
                "checks": {"database": "healthy"},
                "service": "auth-service",
                "status": "ready",
                "timestamp": datetime.now(UTC).isoformat(),
                "version": "0.1.0",
            }
        )

    # -- tokens and sessions ---------------------------------------------------------------

    def _open_session(self, user: dict[str, Any], *, with_refresh: bool) -> dict[str, Any]:
        now = datetime.now(UTC)
        expires = now + ACCESS_TTL
        session_id = str(uuid.uuid4())
        # The release's AuthClaims, in struct order.
        claims = {
            "sub": user["id"],
            "email": user["email"],
            "role": user["role"],
            "exp": int(expires.timestamp()),
            "iat": int(now.timestamp()),
            "iss": ISSUER,
            "aud": AUDIENCE,
            "jti": session_id,
        }
        with _quiet_short_keys():
            access = jwt.encode(claims, self.secret, algorithm="HS256", sort_headers=False)
        refresh = str(uuid.uuid4()) if with_refresh else None
        self.store.run(
            "INSERT INTO user_sessions (id, user_id, token_hash, refresh_token_hash, "
            "created_at, last_used_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                user["id"],
                _digest(access),
                None if refresh is None else _digest(refresh),
                iso(now),
                iso(now),
                iso(expires),
            ),
        )
        return {
            "access_token": access,
            "email": user["email"],
            "expires_at": iso(expires),
            "refresh_token": refresh,
            "role": user["role"],
            "session_id": session_id,
            "user_id": user["id"],
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
                    leeway=LEEWAY_SECONDS,
                    options={"require": ["exp", "sub", "jti"], "verify_iat": False},
                )
        except jwt.PyJWTError as exc:
            raise _jwt_error(exc) from exc
        return claims

    def _validate_token(self, token: str) -> dict[str, Any]:
        """The release's validate_token: claims, then the live session storing this token."""
        claims = self._decode(token)
        row = self.store.one(
            "SELECT user_id, token_hash FROM user_sessions "
            "WHERE id = ? AND expires_at > ? AND revoked = 0",
            (str(claims["jti"]), iso(datetime.now(UTC))),
        )
        if row is None:
            raise _session_not_found()
        if row[0] != claims["sub"] or row[1] != _digest(token):
            raise _token_invalid()
        self.store.run(
            "UPDATE user_sessions SET last_used_at = ? WHERE id = ?",
            (iso(datetime.now(UTC)), claims["jti"]),
        )
        return claims

    def _audit(self, event_type: str, user_id: str) -> None:
        self.store.run(
            "INSERT INTO security_audit_log (event_id, event_type, user_id, severity, timestamp) "
            "VALUES (?, ?, ?, 'MEDIUM', ?)",
            (str(uuid.uuid4()), event_type, user_id, iso(datetime.now(UTC))),
        )

    def _revoke(self, where: str, params: tuple[Any, ...]) -> int:
        return self.store.run(
            f"UPDATE user_sessions SET revoked = 1, revoked_at = ? WHERE revoked = 0 AND {where}",
            (iso(datetime.now(UTC)), *params),
        )

    # -- users -----------------------------------------------------------------------------

    def _user(self, user_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT doc FROM users WHERE id = ?", (user_id,))
        if row is None:
            raise ApiError(404, "USER_NOT_FOUND", "User not found")
        user: dict[str, Any] = orjson.loads(row[0])
        return user

    def _save(self, user: dict[str, Any]) -> None:
        self.store.run(
            "UPDATE users SET doc = ? WHERE id = ?", (orjson.dumps(user).decode(), user["id"])
        )

    @staticmethod
    def _can_login(user: dict[str, Any]) -> bool:
        return bool(user.get("email_verified")) and user.get("status") == "active"

    def _caller(self, req: Request, *, admin: bool = False) -> tuple[dict[str, Any], str]:
        """The protected routes' middleware, in the release's order: the Bearer header, the
        token and its session, the user, an active account, the administrator role."""
        header = req.header(b"authorization") or ""
        if not header.startswith("Bearer "):
            raise _authentication(_BEARER_REQUIRED)
        claims = self._validate_token(header[len("Bearer ") :])
        user = self._user(claims["sub"])
        if not self._can_login(user):
            raise ApiError(403, "ACCOUNT_DISABLED", "Account disabled")
        if admin and user["role"] != "lab_administrator":
            raise ApiError(
                403,
                "AUTHORIZATION_FAILED",
                "Authorization failed: Administrator privileges required",
            )
        return user, str(claims["jti"])

    # -- public routes ---------------------------------------------------------------------

    async def login(self, req: Request) -> Response:
        body = await req.json()
        email = req_str(body, "email")
        password = req_str(body, "password")
        remember_me = opt_bool(body, "remember_me") or False
        problems = []
        if not _EMAIL.match(email):
            problems.append("Invalid email format")
        if not password:
            problems.append("Password is required")
        _check(problems)
        row = self.store.one("SELECT salt, password_hash, doc FROM users WHERE email = ?", (email,))
        if row is None:
            raise ApiError(404, "USER_NOT_FOUND", "User not found")
        user: dict[str, Any] = orjson.loads(row[2])
        if not self._can_login(user):
            if not user.get("email_verified"):
                raise ApiError(403, "ACCOUNT_NOT_VERIFIED", "Account not verified")
            raise ApiError(403, "ACCOUNT_DISABLED", "Account disabled")
        if not verify_password(password, row[0], row[1]):
            # Counted, but the release never locks an account for it.
            user["failed_login_attempts"] = int(user.get("failed_login_attempts") or 0) + 1
            self._save(user)
            raise ApiError(401, "INVALID_CREDENTIALS", "Invalid credentials")
        user["failed_login_attempts"] = 0
        user["locked_until"] = None
        user["last_login_at"] = iso(datetime.now(UTC))
        self._save(user)
        session = self._open_session(user, with_refresh=remember_me)
        self._audit("LOGIN_SUCCESS", user["id"])
        return _data(session)

    async def refresh(self, req: Request) -> Response:
        body = await req.json()
        token = req_str(body, "refresh_token")
        row = self.store.one(
            "SELECT id, user_id FROM user_sessions "
            "WHERE refresh_token_hash = ? AND expires_at > ? AND revoked = 0",
            (_digest(token), iso(datetime.now(UTC))),
        )
        if row is None:
            raise _token_invalid()
        user = self._user(row[1])
        if not self._can_login(user):
            raise ApiError(403, "ACCOUNT_DISABLED", "Account disabled")
        self._revoke("id = ?", (row[0],))
        session = self._open_session(user, with_refresh=True)
        self._audit("TOKEN_REFRESHED", user["id"])
        return _data(session)

    async def register(self, req: Request) -> Response:
        body = await req.json()
        email = req_str(body, "email")
        password = req_str(body, "password")
        first_name = req_str(body, "first_name")
        last_name = req_str(body, "last_name")
        # Parsed (so a wrong type is a 422), then dropped: the release never stores them.
        for ignored in ("department", "position", "lab_affiliation"):
            opt_str(body, ignored)
        problems = []
        if not _EMAIL.match(email):
            problems.append("Invalid email format")
        if len(password) < PASSWORD_MIN_LENGTH:
            problems.append("Password must be at least 8 characters")
        if not first_name:
            problems.append("First name is required")
        if not last_name:
            problems.append("Last name is required")
        _check(problems)
        # The release looks for the email before it judges the password's strength.
        if self.store.one("SELECT 1 FROM users WHERE email = ?", (email,)) is not None:
            raise ApiError(409, "USER_ALREADY_EXISTS", "User already exists")
        weakness = _password_weakness(password)
        if weakness is not None:
            raise _validation([weakness])
        now = iso(datetime.now(UTC))
        user: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "email": email,
            "first_name": first_name,
            "last_name": last_name,
            "role": "guest",
            "status": "active",
            # Email verification is off by default, so new accounts count as verified.
            "email_verified": True,
            "last_login_at": None,
            "created_at": now,
            "department": None,
            "position": None,
            "lab_affiliation": None,
            "failed_login_attempts": 0,
            "locked_until": None,
            "password_changed_at": None,
            "updated_at": now,
        }
        salt = new_salt()
        self.store.run(
            "INSERT INTO users (id, email, role, salt, password_hash, created_at, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                user["id"],
                email,
                "guest",
                salt,
                hash_password(password, salt),
                now,
                orjson.dumps(user).decode(),
            ),
        )
        self._audit("USER_CREATED", user["id"])
        return _sorted(
            {"message": "User registered successfully", "success": True, "user_id": user["id"]}
        )

    async def forgot_password(self, req: Request) -> Response:
        body = await req.json()
        email = req_str(body, "email")
        _check([] if _EMAIL.match(email) else ["Invalid email format"])
        row = self.store.one("SELECT id FROM users WHERE email = ?", (email,))
        if row is not None:
            # The release stores a reset token here and mails it only when email is
            # enabled (it is not by default): nobody ever learns the token.
            self._audit("PASSWORD_RESET_REQUESTED", row[0])
        return _message(
            "If an account with that email exists, password reset instructions have been sent."
        )

    async def reset_password(self, req: Request) -> Response:
        body = await req.json()
        token = req_str(body, "token")
        new_password = req_str(body, "new_password")
        problems = []
        if not token:
            problems.append("Token is required")
        if len(new_password) < PASSWORD_MIN_LENGTH:
            problems.append("Password must be at least 8 characters")
        _check(problems)
        weakness = _password_weakness(new_password)
        if weakness is not None:
            raise _validation([weakness])
        # No reset token is ever delivered, so none can match.
        raise _token_invalid()

    async def verify_email(self, req: Request) -> Response:
        body = await req.json()
        req_str(body, "token")
        raise ApiError(501, "FEATURE_DISABLED", "Feature disabled: email verification")

    def _service_caller(self, req: Request) -> None:
        """The /validate/* middleware: a live Bearer token or any ``Service service_*`` key."""
        header = req.header(b"authorization") or ""
        if header.startswith("Bearer "):
            self._validate_token(header[len("Bearer ") :])
        elif not (header.startswith("Service ") and header[8:].startswith("service_")):
            message = (
                "Invalid service key"
                if header.startswith("Service ")
                else "Service authentication required"
            )
            raise _authentication(message)

    async def validate(self, req: Request) -> Response:
        self._service_caller(req)
        body = await req.json()
        token = req_str(body, "token")
        _check([] if token else ["Token is required"])
        try:
            claims = self._validate_token(token)
        except ApiError as exc:
            if exc.code not in ("TOKEN_INVALID", "SESSION_NOT_FOUND"):
                raise
            return _data(
                {
                    "email": None,
                    "expires_at": None,
                    "role": None,
                    "session_id": None,
                    "user_id": None,
                    "valid": False,
                }
            )
        expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
        return _data(
            {
                "email": claims.get("email"),
                "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "role": claims.get("role"),
                "session_id": claims["jti"],
                "user_id": claims["sub"],
                "valid": True,
            }
        )

    async def validate_permissions(self, req: Request) -> Response:
        self._service_caller(req)
        body = await req.json()
        token = req_str(body, "token")
        required = opt_enum(body, "required_role", ROLES, required=True)
        opt_str(body, "resource")  # accepted, never consulted
        _check([] if token else ["Token is required"])
        try:
            claims = self._validate_token(token)
        except ApiError as exc:
            if exc.code not in ("TOKEN_INVALID", "SESSION_NOT_FOUND"):
                raise
            return _data({"authorized": False, "reason": "Invalid or expired token", "user": None})
        role = str(claims.get("role"))
        level = ROLES.index(role) if role in ROLES else 0
        if level >= ROLES.index(str(required)):
            user = {"email": claims.get("email"), "id": claims["sub"], "role": role}
            return _data({"authorized": True, "reason": None, "user": user})
        reason = (
            f"Insufficient permissions. Required: {_role_variant(str(required))}, "
            f"User has: {_role_variant(role)}"
        )
        return _data({"authorized": False, "reason": reason, "user": None})

    # -- protected routes ------------------------------------------------------------------

    async def logout(self, req: Request) -> Response:
        self._caller(req)
        body = await req.json()
        # Revokes whichever session the body names, the caller's or not; unknown ids too.
        self._revoke("id = ?", (req_uuid(body, "session_id"),))
        return _message("Logged out successfully")

    async def me(self, req: Request) -> Response:
        user, _ = self._caller(req)
        return _data(_view(user, ME_VIEW))

    async def sessions(self, req: Request) -> Response:
        user, _ = self._caller(req)
        rows = self.store.all(
            "SELECT id, created_at, expires_at, last_used_at FROM user_sessions "
            "WHERE user_id = ? AND revoked = 0 AND expires_at > ? "
            "ORDER BY last_used_at DESC, id",
            (user["id"], iso(datetime.now(UTC))),
        )
        return _data(
            [
                {
                    "created_at": created,
                    "device_info": None,
                    "expires_at": expires,
                    "id": session_id,
                    "ip_address": None,
                    "last_used_at": used,
                }
                for session_id, created, expires, used in rows
            ]
        )

    async def revoke_own_session(self, req: Request) -> Response:
        user, _ = self._caller(req)
        if not self._revoke("id = ? AND user_id = ?", (req.params["session_id"], user["id"])):
            raise _session_not_found()
        return _message("Session revoked successfully")

    async def list_users(self, req: Request) -> Response:
        self._caller(req, admin=True)
        rows = self.store.all(
            "SELECT doc FROM users ORDER BY created_at DESC, id LIMIT ?", (ADMIN_USER_LIMIT,)
        )
        return _data([_view(orjson.loads(r[0]), LIST_VIEW) for r in rows])

    async def get_user(self, req: Request) -> Response:
        self._caller(req, admin=True)
        return _data(_view(self._user(req.params["user_id"]), DETAIL_VIEW))

    async def delete_user(self, req: Request) -> Response:
        self._caller(req, admin=True)
        user_id = req.params["user_id"]
        if not self.store.run("DELETE FROM users WHERE id = ?", (user_id,)):
            raise ApiError(404, "USER_NOT_FOUND", "User not found")
        self.store.run("DELETE FROM user_sessions WHERE user_id = ?", (user_id,))
        return _message("User deleted successfully")

    async def disable_user(self, req: Request) -> Response:
        return self._set_status(req, "inactive", "User disabled successfully")

    async def enable_user(self, req: Request) -> Response:
        return self._set_status(req, "active", "User enabled successfully")

    def _set_status(self, req: Request, status: str, message: str) -> Response:
        self._caller(req, admin=True)
        user = self._user(req.params["user_id"])
        user["status"] = status
        user["updated_at"] = iso(datetime.now(UTC))
        self._save(user)
        if status != "active":
            self._revoke("user_id = ?", (user["id"],))
        return _message(message)

    async def list_sessions(self, req: Request) -> Response:
        self._caller(req, admin=True)
        rows = self.store.all(
            "SELECT s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked, "
            "u.email, u.doc FROM user_sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.expires_at > ? ORDER BY s.last_used_at DESC, s.id LIMIT ?",
            (iso(datetime.now(UTC)), ADMIN_LIST_LIMIT),
        )
        sessions = []
        for session_id, user_id, created, used, expires, revoked, email, doc in rows:
            user = orjson.loads(doc)
            sessions.append(
                {
                    "created_at": created,
                    "device_info": None,
                    "expires_at": expires,
                    "id": session_id,
                    "ip_address": None,
                    "last_used_at": used,
                    "revoked": bool(revoked),
                    "user_email": email,
                    "user_id": user_id,
                    "user_name": f"{user['first_name']} {user['last_name']}",
                }
            )
        return _data(sessions)

    async def audit_log(self, req: Request) -> Response:
        self._caller(req, admin=True)
        rows = self.store.all(
            "SELECT id, event_id, event_type, user_id, severity, timestamp "
            "FROM security_audit_log ORDER BY timestamp DESC, id DESC LIMIT ?",
            (ADMIN_LIST_LIMIT,),
        )
        return _data(
            [
                {
                    "details": None,
                    "event_id": event_id,
                    "event_type": event_type,
                    "id": row_id,
                    "ip_address": None,
                    "severity": severity,
                    "timestamp": timestamp,
                    "user_agent": None,
                    "user_email": None,
                    "user_id": user_id,
                }
                for row_id, event_id, event_type, user_id, severity, timestamp in rows
            ]
        )

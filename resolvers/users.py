"""Root resolvers for users and authentication.

The auth service is the one that checks tokens: the gateway forwards the caller's bearer
token (``ctx.call.authorization``) and maps auth's answers onto error codes. A token whose
session is gone gets 404 ``SESSION_NOT_FOUND`` from auth; to a client that is
UNAUTHENTICATED, not NOT_FOUND.

Login: auth answers an unknown email with 404 ``USER_NOT_FOUND`` and a wrong password with
401 ``INVALID_CREDENTIALS``; both reach the client as the same user error
(``INVALID_CREDENTIALS``), so that nobody learns which emails have accounts. A refresh
token auth refuses is the user error ``INVALID_TOKEN``.

Sessions: the gateway verifies tokens itself, so a session that auth ends must be revoked
there as well. Login, refresh and logout tell the gateway's session book
(``ctx.sessions``), which keeps the rules, for the REST passthrough too; what it needs to
ask auth (whether the caller's session still lives) is ``session_ended``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from resolvers.context import Context
from resolvers.errors import (
    INVALID_CREDENTIALS,
    INVALID_TOKEN,
    BadUserInput,
    GraphError,
    Unauthenticated,
)
from upstreams.auth import AuthClient
from upstreams.config import CallContext
from upstreams.errors import UpstreamError, UpstreamStatusError, UpstreamUnsupported

Record = dict[str, Any]

# The one answer to a failed login, whatever auth's reason.
LOGIN_FAILED = "Invalid email or password"


def _as_unauthenticated(exc: UpstreamStatusError) -> GraphError | UpstreamStatusError:
    """401, or 404 for a session or user that is gone: the credentials are no good."""
    if exc.status in (401, 404):
        return Unauthenticated(exc.message, service=exc.service)
    return exc


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


async def user_by_id(ctx: Context, user_id: str) -> Record | None:
    """One user through the request's user loader; None when unknown or not a UUID."""
    key = _uuid(str(user_id))
    if key is None:
        return None
    return (await users_by_id(ctx, [key]))[0]


async def users_by_id(ctx: Context, ids: Sequence[str]) -> list[Record | None]:
    """Users through the request's user loader (administrators' reads of /admin/users);
    auth refusing the caller's own token or session is UNAUTHENTICATED."""
    try:
        records: list[Record | None] = await ctx.loaders.of(ctx.upstreams.auth.get_many).load_many(
            list(ids)
        )
    except UpstreamStatusError as exc:
        raise _as_unauthenticated(exc) from None
    return records


# Where a person's profile comes from, for this caller (``profile_source``).
CALLER = "caller"  # an administrator: the caller's own token reads /admin/users
DIRECTORY = "directory"  # the directory account reads /admin/users
SELF = "self"  # no directory: the caller's own profile, from /auth/me
UNDISCLOSED = "undisclosed"  # no directory: auth shows this caller nobody else

DIRECTORY_MISSING = (
    "Names and roles of other people need the gateway's directory account, which is not "
    "configured (TRACSEQ_DIRECTORY_EMAIL and TRACSEQ_DIRECTORY_PASSWORD): auth lets only "
    "administrators read other users"
)


def profile_source(ctx: Context, user_id: str, *, administrator: bool) -> str:
    """How the profile of ``user_id`` is read for this caller (``administrator``: the
    caller may read /admin/users with its own token)."""
    if administrator:
        return CALLER
    if ctx.upstreams.auth.directory is not None:
        return DIRECTORY
    if ctx.principal is not None and _uuid(ctx.principal.id) == user_id:
        return SELF
    return UNDISCLOSED


async def request_notice(call: CallContext, keys: Sequence[str]) -> list[dict[str, bool]]:
    """Batch function: one mutable notice per request (its loader caches it), so that a
    response reports a missing directory account once."""
    return [{"reported": False} for _ in keys]


async def person(ctx: Context, user_id: str, *, administrator: bool) -> Record | None:
    """The user record behind a person's profile, for any lab role; None when unknown or
    not a UUID. Raises ``UpstreamUnsupported`` when the caller may not read it (no
    directory account, another person, a caller who is not an administrator)."""
    key = _uuid(str(user_id))
    if key is None:
        return None
    auth = ctx.upstreams.auth
    source = profile_source(ctx, key, administrator=administrator)
    if source == CALLER:
        return await user_by_id(ctx, key)
    if source == DIRECTORY:
        found: Record | None = await ctx.loaders.of(auth.directory_get_many).load(key)
        return found
    if source == SELF:
        try:
            own: Record | None = await ctx.loaders.of(auth.own_profile).load(key)
        except UpstreamStatusError as exc:
            raise _as_unauthenticated(exc) from None
        return own
    raise UpstreamUnsupported(auth.name, DIRECTORY_MISSING)


async def people(ctx: Context, *, administrator: bool) -> list[Record]:
    """The users a people picker lists: at most the 100 newest (auth's /admin/users does
    not page), read with an administrator's own token or the directory account."""
    auth = ctx.upstreams.auth
    if administrator:
        return await users(ctx)
    if auth.directory is None:
        raise UpstreamUnsupported(auth.name, DIRECTORY_MISSING)
    records = await auth.directory_users(ctx.call)
    ctx.loaders.prime(auth.directory_get_many, records)
    return records


async def users(ctx: Context) -> list[Record]:
    """Every user auth lists (administrators only; auth answers at most 100)."""
    try:
        records = await ctx.upstreams.auth.list_users(ctx.call)
    except UpstreamStatusError as exc:
        raise _as_unauthenticated(exc) from None
    ctx.loaders.prime(ctx.upstreams.auth.get_many, records)
    return records


async def me(ctx: Context) -> Record | None:
    """The caller's own user; None for an anonymous caller (no upstream call)."""
    if ctx.principal is None:
        return None
    return await session_user(ctx, ctx.call)


async def session_user(ctx: Context, call: CallContext) -> Record:
    """The user whose token ``call`` carries."""
    try:
        record: Record = await ctx.upstreams.auth.me(call)
    except UpstreamStatusError as exc:
        raise _as_unauthenticated(exc) from None
    ctx.loaders.prime(ctx.upstreams.auth.get_many, [record])
    return record


def with_token(ctx: Context, access_token: str) -> CallContext:
    """The caller's call context, speaking with ``access_token`` instead of its own."""
    return dataclasses.replace(ctx.call, authorization=f"Bearer {access_token}")


async def login(ctx: Context, email: str, password: str, *, remember_me: bool) -> Record:
    """A LoginResponse (its ``refresh_token`` is None unless ``remember_me``)."""
    email = email.strip()
    for name, value in (("email", email), ("password", password)):
        if not value:
            raise BadUserInput(f"`{name}` must not be empty", field=["input", name])
    try:
        record: Record = await ctx.upstreams.auth.login(
            ctx.call, email, password, remember_me=remember_me
        )
    except UpstreamStatusError as exc:
        if exc.status == 401 or (exc.status == 404 and exc.code == "USER_NOT_FOUND"):
            raise BadUserInput(LOGIN_FAILED, user_code=INVALID_CREDENTIALS) from None
        raise
    await _opened(ctx, record)
    return record


def _expiry(record: Record) -> float:
    expires = record.get("expires_at")
    return expires.timestamp() if isinstance(expires, datetime) else 0.0


async def _opened(ctx: Context, record: Record) -> None:
    """Tell the session book of the session a LoginResponse opened."""
    if ctx.sessions is None:
        return
    token = record.get("refresh_token")
    await ctx.sessions.opened(
        str(record["session_id"]), _expiry(record), token if isinstance(token, str) else None
    )


async def session_ended(auth: AuthClient, call: CallContext, access_token: str) -> bool:
    """Whether auth says the session of ``access_token`` has ended; True when auth cannot
    tell (the refresh has succeeded, so failing closed costs at most a login)."""
    try:
        answer = await auth.validate_token(call, access_token)
    except UpstreamError:
        return True
    return not answer.get("valid")


async def refresh(ctx: Context, refresh_token: str) -> Record:
    """A new token pair; the refresh token's session ends, at auth and here."""
    token = refresh_token.strip()
    if not token:
        raise BadUserInput("`refreshToken` must not be empty", field=["input", "refreshToken"])
    try:
        record: Record = await ctx.upstreams.auth.refresh(ctx.call, token)
    except UpstreamStatusError as exc:
        if exc.status in (401, 404):
            raise BadUserInput(
                "The refresh token is invalid, expired or already used",
                field=["input", "refreshToken"],
                user_code=INVALID_TOKEN,
            ) from None
        raise
    if ctx.sessions is not None:
        bearer = _bearer(ctx.call.authorization)

        async def caller_ended() -> bool:
            return bearer is not None and await session_ended(ctx.upstreams.auth, ctx.call, bearer)

        await ctx.sessions.refreshed(token, ctx.principal, caller_ended)
    await _opened(ctx, record)
    return record


def _bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def logout(ctx: Context) -> str:
    """End the caller's session (its verified token's ``jti``), at auth and at the gateway;
    returns the session id."""
    principal = ctx.principal
    if principal is None:
        raise Unauthenticated("Log in first: logout ends the session of the caller's token")
    try:
        await ctx.upstreams.auth.logout(ctx.call, principal.session_id)
    except UpstreamStatusError as exc:
        raise _as_unauthenticated(exc) from None
    finally:
        # Revoked here even when auth fails: the caller asked for its session to end.
        if ctx.sessions is not None:
            await ctx.sessions.ended(principal)
    return principal.session_id

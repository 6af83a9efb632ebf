"""Root resolvers for users and authentication.

The auth service is the one that checks tokens: the gateway forwards the caller's bearer
token (``ctx.call.authorization``) and maps auth's answers onto error codes. A token whose
session is gone gets 404 ``SESSION_NOT_FOUND`` from auth; to a client that is
UNAUTHENTICATED, not NOT_FOUND.

Login: auth answers an unknown email with 404 ``USER_NOT_FOUND`` and a wrong password with
401 ``INVALID_CREDENTIALS``; both reach the client as the same UNAUTHENTICATED error, so
that nobody learns which emails have accounts.

Refresh: the gateway verifies tokens itself, so a session that auth ends must be revoked
here as well. Auth's refresh tokens are opaque, and its refresh answer does not name the
session it ended: the gateway remembers, for every login and refresh that passes through
it, which session a refresh token belongs to (in the shared revocation store). When the
refresh token's session is not known (it began before this gateway learnt of it) and the
caller sent a bearer token, auth is asked whether that session still lives.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from resolvers.context import Context
from resolvers.errors import BadUserInput, GraphError, Unauthenticated
from upstreams.config import CallContext
from upstreams.errors import UpstreamError, UpstreamStatusError

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
    record: Record | None = await ctx.loaders.of(ctx.upstreams.auth.get_many).load(key)
    return record


async def person(ctx: Context, user_id: str) -> Record | None:
    """The user record behind a person's profile; None when unknown or not a UUID.

    Read with the caller's own token: auth lets only administrators read other users.
    """
    return await user_by_id(ctx, user_id)


async def users(ctx: Context) -> list[Record]:
    """Every user auth lists (administrators only; auth answers at most 100)."""
    records = await ctx.upstreams.auth.list_users(ctx.call)
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
    if not email or not password:
        raise BadUserInput("`email` and `password` must not be empty")
    try:
        record: Record = await ctx.upstreams.auth.login(
            ctx.call, email, password, remember_me=remember_me
        )
    except UpstreamStatusError as exc:
        if exc.status == 401 or (exc.status == 404 and exc.code == "USER_NOT_FOUND"):
            raise Unauthenticated(LOGIN_FAILED, service=exc.service) from None
        raise
    await _link(ctx, record)
    return record


def _expiry(record: Record) -> float:
    expires = record.get("expires_at")
    return expires.timestamp() if isinstance(expires, datetime) else 0.0


async def _link(ctx: Context, record: Record) -> None:
    """Remember which session the new refresh token belongs to."""
    token = record.get("refresh_token")
    if ctx.sessions is not None and isinstance(token, str) and token:
        await ctx.sessions.link_refresh(token, str(record["session_id"]), _expiry(record))


async def _session_ended(ctx: Context, access_token: str) -> bool:
    """Whether auth says the session of ``access_token`` has ended; True when auth cannot
    tell (the refresh has succeeded, so failing closed costs at most a login)."""
    try:
        answer = await ctx.upstreams.auth.validate_token(ctx.call, access_token)
    except UpstreamError:
        return True
    return not answer.get("valid")


async def refresh(ctx: Context, refresh_token: str) -> Record:
    """A new token pair; the refresh token's session ends, at auth and here."""
    token = refresh_token.strip()
    if not token:
        raise BadUserInput("`refreshToken` must not be empty")
    sessions = ctx.sessions
    old = None if sessions is None else await sessions.refresh_session(token)
    try:
        record: Record = await ctx.upstreams.auth.refresh(ctx.call, token)
    except UpstreamStatusError as exc:
        raise _as_unauthenticated(exc) from None
    if sessions is not None:
        if old is not None:
            await sessions.revoke(*old)
        caller, bearer = ctx.principal, _bearer(ctx.call.authorization)
        if (
            caller is not None
            and bearer is not None
            and old is None
            and await _session_ended(ctx, bearer)
        ):
            await sessions.revoke(caller.session_id, caller.expires_at)
    await _link(ctx, record)
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
            await ctx.sessions.revoke(principal.session_id, principal.expires_at)
    return principal.session_id

"""Root resolvers for users and authentication.

The auth service is the one that checks tokens: the gateway forwards the caller's bearer
token (``ctx.call.authorization``) and maps auth's answers onto error codes. A token whose
session is gone gets 404 ``SESSION_NOT_FOUND`` from auth; to a client that is
UNAUTHENTICATED, not NOT_FOUND.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from resolvers.context import Context
from resolvers.errors import BadUserInput, GraphError, Unauthenticated
from upstreams.config import CallContext
from upstreams.errors import UpstreamStatusError

Record = dict[str, Any]


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
    email = email.strip()
    if not email or not password:
        raise BadUserInput("`email` and `password` must not be empty")
    # Bad credentials: auth answers 401 INVALID_CREDENTIALS, which is UNAUTHENTICATED.
    return await ctx.upstreams.auth.login(ctx.call, email, password, remember_me=remember_me)


async def refresh(ctx: Context, refresh_token: str) -> Record:
    """A new token pair; the refresh token's session ends, at auth and here."""
    token = refresh_token.strip()
    if not token:
        raise BadUserInput("`refreshToken` must not be empty")
    try:
        record: Record = await ctx.upstreams.auth.refresh(ctx.call, token)
    except UpstreamStatusError as exc:
        raise _as_unauthenticated(exc) from None
    if ctx.sessions is not None and (old := ctx.sessions.principal_of_token(token)):
        await ctx.sessions.revoke(old.session_id, old.expires_at)
    return record


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

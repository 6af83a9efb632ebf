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

import jwt

from resolvers.context import Context
from resolvers.errors import UNAUTHENTICATED, BadUserInput, GraphError
from upstreams.config import CallContext
from upstreams.errors import UpstreamStatusError

Record = dict[str, Any]


class Unauthenticated(GraphError):
    code = UNAUTHENTICATED


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def unverified_claims(authorization: str | None) -> dict[str, Any] | None:
    """The claims of the caller's bearer token, decoded WITHOUT verifying it.

    Used only to read the session id (``jti``) that logout ends; auth itself checks the
    token on every call it receives. This is the one place where the gateway reads a token:
    the place where verification goes.
    """
    token = bearer_token(authorization)
    if token is None:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


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
    if bearer_token(ctx.call.authorization) is None:
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
    if not refresh_token.strip():
        raise BadUserInput("`refreshToken` must not be empty")
    try:
        return await ctx.upstreams.auth.refresh(ctx.call, refresh_token.strip())
    except UpstreamStatusError as exc:
        raise _as_unauthenticated(exc) from None


async def logout(ctx: Context) -> str:
    """End the caller's session (the ``jti`` of its token); returns the session id."""
    claims = unverified_claims(ctx.call.authorization)
    session_id = None if claims is None else claims.get("jti")
    if not isinstance(session_id, str) or not session_id:
        raise Unauthenticated("Log in first: logout ends the session of the caller's token")
    try:
        await ctx.upstreams.auth.logout(ctx.call, session_id)
    except UpstreamStatusError as exc:
        raise _as_unauthenticated(exc) from None
    return session_id

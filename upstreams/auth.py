"""The auth service's client (UPSTREAMS.md, "## auth").

Only auth checks tokens, so its admin routes answer for the caller's token as much as for
the user asked for: a 404 that is not ``USER_NOT_FOUND`` (``SESSION_NOT_FOUND``: the
caller's session is gone or was never issued by auth) is the caller's failure, and must not
read as "no such user" in a fan-out that treats 404 as absent.

People's profiles: auth has no public profile route, and lets only administrators read
other users (``/admin/users``). A deployment may configure a *directory account*: an
administrator account the gateway logs in with (``Directory``), used only to read the
users behind the small profiles (id, name, role) that every lab role sees.

Users by id (``get_user``, ``get_many``, and through it ``directory_get_many``) are reference
reads, through the response cache: auth answers them for the caller's token, so their cache
keys hold the caller's role (``upstreams.cache.BY_ROLE``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import structlog

from upstreams.client import UpstreamClient
from upstreams.config import CallContext
from upstreams.errors import UpstreamNotFound, UpstreamStatusError, UpstreamUnavailable
from upstreams.services import (
    MaybeRecords,
    RawRead,
    Record,
    Records,
    Service,
    cached,
    cached_many,
    canonical_id,
    fan_out_ids,
    list_of,
    seg,
)

log = structlog.get_logger()
T = TypeVar("T")

USER_NOT_FOUND = "USER_NOT_FOUND"
# What /validate/* accepts from a service that validates someone else's token.
SERVICE_AUTHORIZATION = "Service service_tracseq-gateway"


def _caller_refused(exc: UpstreamNotFound) -> UpstreamStatusError:
    """The same 404, as an error that is not "not found"."""
    return UpstreamStatusError(
        exc.service, exc.status, exc.message, code=exc.code, details=exc.details
    )


class AuthClient(Service):
    def __init__(self, client: UpstreamClient) -> None:
        super().__init__(client)
        # The directory account's session; None when the deployment configures none.
        self.directory: Directory | None = None

    def use_directory(
        self, account: DirectoryAccount | None, *, clock: Callable[[], float] = time.time
    ) -> None:
        """Read people's profiles with ``account`` (None: no directory account)."""
        if account is None:
            self.directory = None
            return

        async def login(call: CallContext) -> Record:
            return await self.login(call, account.email, account.password)

        self.directory = Directory(login, clock=clock)

    async def directory_users(self, ctx: CallContext) -> Records:
        """``list_users`` as the directory account (at most the 100 newest users)."""
        return await self._directory().read(ctx, self.list_users)

    async def directory_get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        """``get_many`` as the directory account."""
        return await self._directory().read(ctx, lambda call: self.get_many(call, ids))

    def _directory(self) -> Directory:
        if self.directory is None:
            raise RuntimeError("no directory account is configured")
        return self.directory

    async def login(
        self, ctx: CallContext, email: str, password: str, *, remember_me: bool = False
    ) -> Record:
        """A LoginResponse; its ``refresh_token`` is None unless ``remember_me``."""
        body = {"email": email, "password": password, "remember_me": remember_me}
        return await self.client.request(ctx, "POST", "/auth/login", json=body)

    async def refresh(self, ctx: CallContext, refresh_token: str) -> Record:
        body = {"refresh_token": refresh_token}
        return await self.client.request(ctx, "POST", "/auth/refresh", json=body)

    async def logout(self, ctx: CallContext, session_id: str) -> Any:
        body = {"session_id": session_id}
        return await self.client.request(ctx, "POST", "/auth/logout", json=body)

    async def me(self, ctx: CallContext) -> Record:
        return await self.client.request(ctx, "GET", "/auth/me")

    async def validate_token(self, ctx: CallContext, token: str) -> Record:
        """``{valid, session_id, ...}``: ``valid`` is false when the token's session has
        ended; a token that does not even decode is a 401. Asked as a service, so the
        caller's own token does not have to be alive."""
        call = dataclasses.replace(ctx, authorization=SERVICE_AUTHORIZATION)
        # A read that travels as POST: safe to retry.
        return await self.client.request(
            call, "POST", "/validate/token", json={"token": token}, idempotent=True
        )

    async def list_users(self, ctx: CallContext) -> Records:
        """At most the 100 newest users (auth does not page)."""
        return list_of(await self.client.request(ctx, "GET", "/admin/users"), "users")

    async def get_user(self, ctx: CallContext, user_id: str) -> Record:
        return await cached(
            self.client, ctx, "user", canonical_id(user_id), self._raw_user(user_id)
        )

    async def get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        async def fetch(call: CallContext, distinct: list[str]) -> list[Any]:
            # auth has no batch filter: always a fan-out.
            return await fan_out_ids(self.client, distinct, lambda i: self._raw_user(i)(call))

        return await cached_many(self.client, ctx, "user", ids, fetch)

    def _raw_user(self, user_id: str) -> RawRead:
        async def read(call: CallContext) -> Any:
            try:
                return await self.client.request(
                    call, "GET", f"/admin/users/{seg(user_id)}", raw=True
                )
            except UpstreamNotFound as exc:
                if exc.code != USER_NOT_FOUND:
                    raise _caller_refused(exc) from None
                raise

        return read

    async def own_profile(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        """Batch function: the caller's own user (``/auth/me``, one call) for its own id,
        None for any other id (auth shows a non-administrator nobody else)."""
        record = await self.me(ctx)
        own = canonical_id(record.get("id"))
        return [record if canonical_id(i) == own else None for i in ids]


@dataclass(frozen=True, slots=True)
class DirectoryAccount:
    """The administrator account the gateway reads people's profiles with
    (``TRACSEQ_DIRECTORY_EMAIL`` / ``TRACSEQ_DIRECTORY_PASSWORD``)."""

    email: str
    password: str = field(repr=False)


# auth's sessions last one hour; the directory logs in again this long before its ends.
RENEW_BEFORE = 300.0
# Without an expiry in the login answer, a session is taken to last auth's hour.
SESSION_LIFETIME = 3600.0

Login = Callable[[CallContext], Awaitable[Record]]


class Directory:
    """The directory account's session: one login shared by every request of the process.

    The first read logs in (with the context of the request that needed it, without its
    caller's token); reads that arrive while that login is in flight wait for the same
    login, so concurrent requests cost one login. The token is used until ``RENEW_BEFORE``
    seconds before the session's expiry, when the next read logs in again. A read that auth
    refuses (401, or 404 ``SESSION_NOT_FOUND``: the session was revoked, or auth restarted
    without it) forgets the token, logs in once more and is retried once. A login that
    fails is an ``UpstreamUnavailable`` naming the directory account's settings, never the
    caller's UNAUTHENTICATED: the caller's credentials are not at fault.
    """

    def __init__(
        self,
        login: Login,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._login = login
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._flight: asyncio.Future[str] | None = None
        self.logins = 0

    async def token(self, ctx: CallContext) -> str:
        """A live access token of the directory account."""
        if self._token is not None and self._clock() < self._renew_at:
            return self._token
        if self._flight is None:
            flight = asyncio.ensure_future(self._log_in(ctx))
            self._flight = flight
            flight.add_done_callback(self._landed)
        return await asyncio.shield(self._flight)

    def _landed(self, flight: asyncio.Future[str]) -> None:
        if self._flight is flight:
            self._flight = None
        if not flight.cancelled():
            flight.exception()  # retrieved here: a login nobody waits for any more

    async def _log_in(self, ctx: CallContext) -> str:
        self.logins += 1
        call = dataclasses.replace(ctx, authorization=None)
        try:
            record = await self._login(call)
        except UpstreamStatusError as exc:
            log.warning("directory.login_failed", status=exc.status, code=exc.code)
            raise UpstreamUnavailable(
                "auth",
                "The directory account (TRACSEQ_DIRECTORY_EMAIL) could not log in to auth",
            ) from None
        token = str(record["access_token"])
        expires = record.get("expires_at")
        ends = (
            expires.timestamp()
            if isinstance(expires, datetime)
            else self._clock() + SESSION_LIFETIME
        )
        self._token, self._renew_at = token, ends - RENEW_BEFORE
        return token

    def forget(self, token: str) -> None:
        """Drop ``token`` (auth refused it): the next read logs in again."""
        if self._token == token:
            self._token, self._renew_at = None, 0.0

    async def read(self, ctx: CallContext, fetch: Callable[[CallContext], Awaitable[T]]) -> T:
        """``fetch`` with the directory's token; once more after a fresh login when auth
        refuses the token."""
        for attempt in (1, 2):
            token = await self.token(ctx)
            call = dataclasses.replace(ctx, authorization=f"Bearer {token}")
            try:
                return await fetch(call)
            except UpstreamStatusError as exc:
                if attempt == 2 or not _refused(exc):
                    raise
                self.forget(token)
        raise AssertionError("unreachable")  # pragma: no cover


def _refused(exc: UpstreamStatusError) -> bool:
    """auth refused the token itself (not the user asked for)."""
    return exc.status == 401 or (exc.status == 404 and exc.code != USER_NOT_FOUND)

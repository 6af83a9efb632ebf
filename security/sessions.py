"""The gateway's book of auth's sessions: one set of rules for GraphQL and the REST
passthrough alike.

The gateway verifies tokens itself, so a session that auth ends must be revoked here too
(``SecurityRuntime.revoke``), or its access token would still be accepted. Auth's refresh
tokens are opaque, and its refresh answer does not name the session it ends: the gateway
remembers, for every login and refresh that passes through it, which session a refresh
token belongs to (in the shared revocation store). Three events keep the book:

- **opened** (a login, or the new session of a refresh): a refresh token, when the session
  has one, is linked to it;
- **ended** (a logout): the caller's session is revoked;
- **refreshed** (a refresh auth accepted): the refresh token's session is revoked. When no
  login or refresh through the gateway linked that token (its session began before, or
  elsewhere), the caller's own bearer session is revoked if auth says it has ended (a
  client refreshing its own session sends that session's token).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from security import audit
from security.revocation import RefreshLink

SessionEnded = Callable[[], Awaitable[bool]]  # asks auth whether the caller's session ended


class HasSession(Protocol):
    """A caller's session: a ``Principal``, or the resolvers' view of one."""

    @property
    def session_id(self) -> str: ...

    @property
    def expires_at(self) -> float: ...


class SessionStore(Protocol):
    """Where revocations and refresh links are kept (``SecurityRuntime``)."""

    async def revoke(self, session_id: str, expires_at: float) -> None: ...

    async def link_refresh(
        self, refresh_token: str, session_id: str, expires_at: float
    ) -> None: ...

    async def refresh_session(self, refresh_token: str) -> RefreshLink | None: ...


class Sessions:
    """The three events of the module docstring, over one store."""

    def __init__(self, store: SessionStore) -> None:
        self._store = store

    async def opened(self, session_id: str, expires_at: float, refresh_token: str | None) -> None:
        """Auth opened ``session_id`` (its access token expires at ``expires_at``)."""
        if refresh_token:
            await self._store.link_refresh(refresh_token, session_id, expires_at)

    async def ended(self, session: HasSession) -> None:
        """The caller ended its own session."""
        await self._store.revoke(session.session_id, session.expires_at)
        audit.emit(audit.LOGOUT, audit.SUCCEEDED, session=session.session_id)

    async def refreshed(
        self, refresh_token: str, caller: HasSession | None, caller_ended: SessionEnded
    ) -> None:
        """Auth accepted ``refresh_token``, so its session ended; ``caller`` is the session
        of the bearer token sent with the refresh, if one was, and ``caller_ended`` is
        asked only when the refresh token's session is not known."""
        old = await self._store.refresh_session(refresh_token)
        if old is not None:
            await self._store.revoke(*old)
        elif caller is not None and await caller_ended():
            await self._store.revoke(caller.session_id, caller.expires_at)

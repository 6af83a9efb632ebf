"""The auth service's client (UPSTREAMS.md, "## auth").

Only auth checks tokens, so its admin routes answer for the caller's token as much as for
the user asked for: a 404 that is not ``USER_NOT_FOUND`` (``SESSION_NOT_FOUND``: the
caller's session is gone or was never issued by auth) is the caller's failure, and must not
read as "no such user" in a fan-out that treats 404 as absent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from upstreams.config import CallContext
from upstreams.errors import UpstreamNotFound, UpstreamStatusError
from upstreams.services import MaybeRecords, Record, Records, Service, fan_out_ids, list_of, seg

USER_NOT_FOUND = "USER_NOT_FOUND"
# What /validate/* accepts from a service that validates someone else's token.
SERVICE_AUTHORIZATION = "Service service_tracseq-gateway"


def _caller_refused(exc: UpstreamNotFound) -> UpstreamStatusError:
    """The same 404, as an error that is not "not found"."""
    return UpstreamStatusError(
        exc.service, exc.status, exc.message, code=exc.code, details=exc.details
    )


class AuthClient(Service):
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
        try:
            return await self.client.request(ctx, "GET", f"/admin/users/{seg(user_id)}")
        except UpstreamNotFound as exc:
            if exc.code != USER_NOT_FOUND:
                raise _caller_refused(exc) from None
            raise

    async def get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        # auth has no batch filter: always a fan-out.
        return await fan_out_ids(self.client, ids, lambda i: self.get_user(ctx, i))

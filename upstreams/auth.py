"""The auth service's client (UPSTREAMS.md, "## auth")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from upstreams.config import CallContext
from upstreams.services import MaybeRecords, Record, Records, Service, fan_out_ids, list_of, seg


class AuthClient(Service):
    async def login(
        self, ctx: CallContext, email: str, password: str, *, remember_me: bool = False
    ) -> Record:
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
        # A read that travels as POST: safe to retry.
        return await self.client.request(
            ctx, "POST", "/validate/token", json={"token": token}, idempotent=True
        )

    async def list_users(self, ctx: CallContext) -> Records:
        return list_of(await self.client.request(ctx, "GET", "/admin/users"), "users")

    async def get_user(self, ctx: CallContext, user_id: str) -> Record:
        return await self.client.request(ctx, "GET", f"/admin/users/{seg(user_id)}")

    async def get_many(self, ctx: CallContext, ids: Sequence[str]) -> MaybeRecords:
        # auth has no batch filter: always a fan-out.
        return await fan_out_ids(self.client, ids, lambda i: self.get_user(ctx, i))

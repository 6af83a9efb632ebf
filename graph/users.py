"""Users and authentication: the current user, user lookups, login, refresh and logout.

Tokens come from the auth service and are checked by it: ``me`` answers with the user of
the caller's bearer token; ``login`` and ``refreshToken`` hand out a new token pair whose
``user`` is loaded (only when asked for) with the new access token.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from graph.errors import parse_id
from graph.pagination import After, Before, Connection, First, Last, connection_args
from graph.permissions import requires
from graph.values import member
from resolvers import users as user_resolvers
from resolvers.context import Context
from resolvers.errors import Unauthenticated
from security import events, rbac


@strawberry.enum(description="What a user may do in the lab, lowest privilege first.")
class Role(Enum):
    GUEST = "guest"
    DATA_ANALYST = "data_analyst"
    RESEARCH_SCIENTIST = "research_scientist"
    LAB_TECHNICIAN = "lab_technician"
    PRINCIPAL_INVESTIGATOR = "principal_investigator"
    LAB_ADMINISTRATOR = "lab_administrator"


@strawberry.enum(description="Whether a user's account may be used.")
class UserStatus(Enum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    SUSPENDED = "suspended"
    DELETED = "deleted"


@strawberry.type(description="A person with an account in the lab.")
class User:
    id: strawberry.ID
    email: str
    first_name: str | None
    last_name: str | None
    full_name: str = strawberry.field(description="First and last name, or the email.")
    role: Role
    status: UserStatus | None
    email_verified: bool
    last_login_at: datetime | None
    created_at: datetime | None
    department: str | None
    position: str | None
    lab_affiliation: str | None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> User:
        first, last = r.get("first_name"), r.get("last_name")
        email = r.get("email") or ""
        status = r.get("status")
        return cls(
            id=strawberry.ID(r["id"]),
            email=email,
            first_name=first,
            last_name=last,
            full_name=" ".join(p for p in (first, last) if p) or email,
            role=member(Role, r.get("role"), service="auth", field="role"),
            status=member(UserStatus, status, service="auth", field="status"),
            email_verified=bool(r.get("email_verified")),
            last_login_at=r.get("last_login_at"),
            created_at=r.get("created_at"),
            department=r.get("department"),
            position=r.get("position"),
            lab_affiliation=r.get("lab_affiliation"),
        )


UserConnection = Connection[User]


@strawberry.type(
    description="Someone the lab's records name (a creator, an assignee, a sender): the "
    "small profile every lab role may read. Administrators reach the full `User` through "
    "`user`."
)
class Person:
    id: strawberry.ID = strawberry.field(description="The person's user id (a UUID).")
    full_name: str | None = strawberry.field(
        description="First and last name, or the email; null when the gateway cannot read "
        "the directory for this caller."
    )
    role: Role | None = strawberry.field(
        description="The person's role; null when the gateway cannot read the directory for "
        "this caller."
    )

    @strawberry.field(
        description="The person's full user record (administrators).",
        permission_classes=[requires(rbac.ADMINISTER)],
    )
    async def user(self, info: Info[Context, None]) -> User | None:
        record = await user_resolvers.user_by_id(info.context, str(self.id))
        return None if record is None else User.from_record(record)

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Person:
        user = User.from_record(r)
        return cls(id=user.id, full_name=user.full_name, role=user.role)


async def person(info: Info[Context, None], user_id: str | None) -> Person | None:
    """The person with this user id, for any lab role; None for no id, or an id the
    directory does not know."""
    if user_id is None:
        return None
    record = await user_resolvers.person(info.context, str(user_id))
    return None if record is None else Person.from_record(record)


@strawberry.type(description="A new session: its tokens and the user it belongs to.")
class AuthPayload:
    access_token: str = strawberry.field(description="Send as `Authorization: Bearer <token>`.")
    refresh_token: str | None = strawberry.field(
        description="Trade for a new pair with refreshToken. Null unless the login asked for "
        "rememberMe (a refresh always hands out a new one). It lives as long as the session: "
        "one hour."
    )
    expires_at: datetime | None = strawberry.field(description="When the access token expires.")
    session_id: strawberry.ID
    role: Role

    @strawberry.field(description="The session's user (one call to auth, with the new token).")
    async def user(self, info: Info[Context, None]) -> User | None:
        ctx = info.context
        call = user_resolvers.with_token(ctx, self.access_token)
        return User.from_record(await user_resolvers.session_user(ctx, call))

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> AuthPayload:
        return cls(
            access_token=r["access_token"],
            refresh_token=r.get("refresh_token"),
            expires_at=r.get("expires_at"),
            session_id=strawberry.ID(r["session_id"]),
            role=member(Role, r.get("role"), service="auth", field="role"),
        )


@strawberry.type(description="The session that logout ended.")
class LogoutPayload:
    session_id: strawberry.ID
    success: bool


@strawberry.input(description="Credentials of one user.")
class LoginInput:
    email: str
    password: str
    remember_me: bool = False


@strawberry.input(description="The refresh token of a session to renew.")
class RefreshTokenInput:
    refresh_token: str


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[requires(rbac.AUTHENTICATED)],
        description="The caller, from its bearer token; null when anonymous. A token that "
        "is invalid, expired or logged out is an UNAUTHENTICATED error.",
    )
    async def me(self, info: Info[Context, None]) -> User | None:
        record = await user_resolvers.me(info.context)
        return None if record is None else User.from_record(record)

    @strawberry.field(
        permission_classes=[requires(rbac.ADMINISTER)],
        description="One user by id (administrators); null when there is none.",
    )
    async def user(self, info: Info[Context, None], id: strawberry.ID) -> User | None:
        record = await user_resolvers.user_by_id(info.context, parse_id(id, "id"))
        return None if record is None else User.from_record(record)

    @strawberry.field(
        permission_classes=[requires(rbac.ADMINISTER)],
        description="Every user (administrators), as a cursor connection.",
    )
    async def users(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> UserConnection | None:
        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        records = await user_resolvers.users(ctx)
        return await UserConnection.from_list(records, request, User.from_record)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Start a session. Wrong credentials, and an email without an account, are "
        "the same UNAUTHENTICATED error."
    )
    async def login(self, info: Info[Context, None], input: LoginInput) -> AuthPayload | None:
        try:
            record = await user_resolvers.login(
                info.context, input.email, input.password, remember_me=input.remember_me
            )
        except Unauthenticated:
            events.emit(events.LOGIN_FAILED, email=input.email[:256])
            raise
        return AuthPayload.from_record(record)

    @strawberry.mutation(
        description="Trade a refresh token for a new token pair; the old session ends, and "
        "its access token is refused at once."
    )
    async def refresh_token(
        self, info: Info[Context, None], input: RefreshTokenInput
    ) -> AuthPayload | None:
        record = await user_resolvers.refresh(info.context, input.refresh_token)
        return AuthPayload.from_record(record)

    @strawberry.mutation(
        permission_classes=[requires(rbac.AUTHENTICATED)],
        description="End the caller's own session; its tokens stop working.",
    )
    async def logout(self, info: Info[Context, None]) -> LogoutPayload | None:
        session_id = await user_resolvers.logout(info.context)
        return LogoutPayload(session_id=strawberry.ID(session_id), success=True)

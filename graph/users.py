"""Users, people and authentication: the caller, people's profiles, login, refresh, logout.

Tokens come from the auth service and are checked by it: ``me`` answers with the user of
the caller's bearer token; ``login`` and ``refreshToken`` hand out a new token pair whose
``user`` is loaded (only when asked for) with the new access token.

People: auth has no public profile route and lets only administrators read other users.
``Person`` is the small profile (id, name, role) every lab role sees wherever a record
names someone; it is read with the administrator's own token, else with the directory
account (``TRACSEQ_DIRECTORY_EMAIL``), else, without one, only the caller's own profile is
known (``/auth/me``): other people's names and roles are null, with one
UPSTREAM_UNSUPPORTED error per response that says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from graph.errors import parse_id
from graph.nodes import Node, register
from graph.pagination import After, Before, Connection, First, Last, connection_args
from graph.payloads import UserError, attempt, user_errors_field
from graph.permissions import requires
from graph.values import member, required
from resolvers import errors as codes
from resolvers import users as user_resolvers
from resolvers.context import Context
from resolvers.errors import BadUserInput
from security import audit, rbac
from upstreams.errors import UpstreamUnsupported


@strawberry.enum(description="What a user may do in the lab, lowest privilege first.")
class Role(Enum):
    GUEST = strawberry.enum_value(
        "guest", description="A visitor: reads templates only (auth gives it to new accounts)."
    )
    DATA_ANALYST = strawberry.enum_value(
        "data_analyst", description="Reads the lab's records; changes none."
    )
    RESEARCH_SCIENTIST = strawberry.enum_value(
        "research_scientist", description="Registers samples and submits sequencing jobs."
    )
    LAB_TECHNICIAN = strawberry.enum_value(
        "lab_technician", description="Works at the bench: samples, storage, sequencing."
    )
    PRINCIPAL_INVESTIGATOR = strawberry.enum_value(
        "principal_investigator",
        description="Leads a group: also deletes samples, manages templates, cancels jobs.",
    )
    LAB_ADMINISTRATOR = strawberry.enum_value(
        "lab_administrator", description="Runs the lab's system: everything, users included."
    )


@strawberry.enum(description="Whether a user's account may be used.")
class UserStatus(Enum):
    ACTIVE = strawberry.enum_value("active", description="The account may log in.")
    INACTIVE = strawberry.enum_value(
        "inactive", description="Disabled by an administrator; its sessions were ended."
    )
    SUSPENDED = strawberry.enum_value("suspended", description="Suspended; may not log in.")
    DELETED = strawberry.enum_value("deleted", description="Deleted; may not log in.")


def _full_name(r: dict[str, Any]) -> str | None:
    return " ".join(p for p in (r.get("first_name"), r.get("last_name")) if p) or None


@strawberry.type(
    description="A user account in full, as auth keeps it: the caller's own (`me`), or "
    "anyone's for administrators. Other roles see people as `Person`."
)
class User(Node):
    id: strawberry.ID = strawberry.field(description="The user's id (a UUID).")
    email: str = strawberry.field(description="The email the user logs in with.")
    first_name: str = strawberry.field(description="Given name (auth always sends it).")
    last_name: str = strawberry.field(description="Family name (auth always sends it).")
    full_name: str = strawberry.field(
        description="First and last name, or the email when both are empty."
    )
    role: Role = strawberry.field(description="What the user may do.")
    status: UserStatus = strawberry.field(description="Whether the account may be used.")
    email_verified: bool = strawberry.field(
        description="Whether the email was verified (the release cannot verify emails)."
    )
    last_login_at: datetime | None = strawberry.field(
        description="When the user last logged in; null when never."
    )
    created_at: datetime = strawberry.field(description="When the account was created.")
    department: str | None = strawberry.field(description="The user's department, if set.")
    job_title: str | None = strawberry.field(
        description="The user's job title (auth's `position`), if set."
    )
    lab_affiliation: str | None = strawberry.field(
        description="The lab or institution the user belongs to, if set."
    )

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> User:
        email = required(r, "email", service="auth")
        return cls(
            id=strawberry.ID(r["id"]),
            email=email,
            first_name=required(r, "first_name", service="auth"),
            last_name=required(r, "last_name", service="auth"),
            full_name=_full_name(r) or email,
            role=member(Role, required(r, "role", service="auth"), service="auth", field="role"),
            status=member(
                UserStatus,
                required(r, "status", service="auth"),
                service="auth",
                field="status",
            ),
            email_verified=bool(r.get("email_verified")),
            last_login_at=r.get("last_login_at"),
            created_at=required(r, "created_at", service="auth"),
            department=r.get("department"),
            job_title=r.get("position"),
            lab_affiliation=r.get("lab_affiliation"),
        )


async def _fetch_users(ctx: Context, ids: Sequence[str]) -> list[User | None]:
    records = await user_resolvers.users_by_id(ctx, ids)
    return [None if r is None else User.from_record(r) for r in records]


register("User", rbac.ADMINISTER, _fetch_users)

UserConnection = Connection[User]


@strawberry.type(
    description="Someone the lab's records name (a creator, an assignee, a sender): the "
    "small profile every lab role may read. Administrators reach the full `User` through "
    "`user`."
)
class Person:
    id: strawberry.ID = strawberry.field(description="The person's user id (a UUID).")
    _full_name: strawberry.Private[str | None]
    _role: strawberry.Private[Any]
    # The request's shared notice when this caller may not read the profile (no
    # directory account): the first field that needs it reports the one error.
    _notice: strawberry.Private[dict[str, bool] | None] = None

    def _undisclosed(self) -> None:
        notice = self._notice
        if notice is not None and not notice["reported"]:
            notice["reported"] = True
            raise UpstreamUnsupported("auth", user_resolvers.DIRECTORY_MISSING)

    @strawberry.field(
        description="First and last name; null when the account has no name, or when the "
        "gateway has no directory account and the person is not the caller (then the "
        "response carries one UPSTREAM_UNSUPPORTED error that says so). Never the email."
    )
    def full_name(self) -> str | None:
        self._undisclosed()
        return self._full_name

    @strawberry.field(
        description="The person's role; null when the gateway has no directory account and "
        "the person is not the caller (see `fullName`)."
    )
    def role(self) -> Role | None:
        self._undisclosed()
        return self._role

    @strawberry.field(
        description="The person's full user record (administrators; one auth call per "
        "distinct person, shared with the profile).",
        permission_classes=[requires(rbac.ADMINISTER)],
    )
    async def user(self, info: Info[Context, None]) -> User | None:
        record = await user_resolvers.user_by_id(info.context, str(self.id))
        return None if record is None else User.from_record(record)

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Person:
        return cls(
            id=strawberry.ID(str(r["id"])),
            _full_name=_full_name(r),
            _role=member(Role, r.get("role"), service="auth", field="role"),
        )


def _administrator(ctx: Context) -> bool:
    return rbac.allows(rbac.ADMINISTER, ctx.principal)


async def person(info: Info[Context, None], user_id: str | None) -> Person | None:
    """The person with this user id, for any lab role; None for no id, or an id the
    directory does not know. Without a directory account, someone other than the caller
    is a ``Person`` with its id only (its name and role report the one error)."""
    if user_id is None:
        return None
    ctx = info.context
    try:
        record = await user_resolvers.person(ctx, str(user_id), administrator=_administrator(ctx))
    except UpstreamUnsupported:
        notice = await ctx.loaders.of(user_resolvers.request_notice).load("people")
        return Person(id=strawberry.ID(str(user_id)), _full_name=None, _role=None, _notice=notice)
    return None if record is None else Person.from_record(record)


PersonConnection = Connection[Person]


def _matches(record: dict[str, Any], words: list[str], roles: set[str] | None) -> bool:
    if roles is not None and record.get("role") not in roles:
        return False
    name = (_full_name(record) or "").casefold()
    return all(word in name for word in words)


@strawberry.type(description="The outcome of `login` and `refreshToken`: a new session.")
class SessionPayloadFields:
    access_token: str | None = strawberry.field(
        default=None,
        description="Send as `Authorization: Bearer <token>`; null when userErrors is not empty.",
    )
    refresh_token: str | None = strawberry.field(
        default=None,
        description="Trade for a new pair with refreshToken. Null unless the login asked for "
        "rememberMe (a refresh always hands out a new one). It lives as long as the session: "
        "one hour.",
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When the access token expires (one hour after issue)."
    )
    session_id: strawberry.ID | None = strawberry.field(
        default=None, description="The new session's id (the token's `jti`, a UUID)."
    )
    role: Role | None = strawberry.field(default=None, description="The session's user's role.")
    user_errors: list[UserError] = user_errors_field()

    @strawberry.field(
        description="The session's user (one call to auth, with the new token); null when "
        "userErrors is not empty."
    )
    async def user(self, info: Info[Context, None]) -> User | None:
        if self.access_token is None:
            return None
        ctx = info.context
        call = user_resolvers.with_token(ctx, self.access_token)
        return User.from_record(await user_resolvers.session_user(ctx, call))

    @classmethod
    def session(cls, r: dict[str, Any]) -> Any:
        return cls(
            access_token=r["access_token"],
            refresh_token=r.get("refresh_token"),
            expires_at=r.get("expires_at"),
            session_id=strawberry.ID(str(r["session_id"])),
            role=member(Role, r.get("role"), service="auth", field="role"),
        )


@strawberry.type(description="The outcome of `login`: the new session, or why there is none.")
class LoginPayload(SessionPayloadFields):
    pass


@strawberry.type(
    description="The outcome of `refreshToken`: the new session (the old one has ended), or "
    "why there is none."
)
class RefreshTokenPayload(SessionPayloadFields):
    pass


@strawberry.type(description="The outcome of `logout`: the session that ended.")
class LogoutPayload:
    session_id: strawberry.ID | None = strawberry.field(
        default=None, description="The id of the session that ended (the token's `jti`)."
    )
    success: bool | None = strawberry.field(
        default=None, description="True: the session has ended, at auth and at the gateway."
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.input(description="Credentials of one user.")
class LoginInput:
    email: str = strawberry.field(description="The email of the account.")
    password: str = strawberry.field(description="The account's password.")
    remember_me: bool = strawberry.field(
        default=False,
        description="Also hand out a refresh token (it lives as long as the session).",
    )


@strawberry.input(description="The refresh token of a session to renew.")
class RefreshTokenInput:
    refresh_token: str = strawberry.field(
        description="The refresh token a login with rememberMe, or a refresh, handed out."
    )


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
    async def user(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The user's id (a UUID).")],
    ) -> User | None:
        record = await user_resolvers.user_by_id(info.context, parse_id(id, "id"))
        return None if record is None else User.from_record(record)

    @strawberry.field(
        permission_classes=[requires(rbac.ADMINISTER)],
        description="Users (administrators), newest first: at most the 100 newest accounts, "
        "because auth's /admin/users answers no more and does not page.",
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

    @strawberry.field(
        permission_classes=[requires(rbac.READ_LIMS)],
        description="People to pick from (recipients, assignees), newest account first, as "
        "small profiles. Covers at most the 100 newest accounts: auth's /admin/users answers "
        "no more and does not page, so older accounts are neither listed nor counted. Read "
        "with the gateway's directory account (administrators use their own token); without "
        "one it is an UPSTREAM_UNSUPPORTED error for other roles.",
    )
    async def people(
        self,
        info: Info[Context, None],
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Only people whose full name holds every word of this text "
                "(case-insensitive; names only, never emails)."
            ),
        ] = None,
        roles: Annotated[
            list[Role] | None,
            strawberry.argument(description="Only people with one of these roles."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> PersonConnection | None:
        ctx = info.context
        request = connection_args(ctx, first, after, last, before)
        words = (search or "").casefold().split()
        if search is not None and len(search) > 200:
            raise BadUserInput("`search` must be at most 200 characters", field=["search"])
        wanted = None if roles is None else {str(r.value) for r in roles}
        records = await user_resolvers.people(ctx, administrator=_administrator(ctx))
        chosen = [r for r in records if _matches(r, words, wanted)]
        return await PersonConnection.from_list(chosen, request, Person.from_record)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Start a session. Wrong credentials, and an email without an account, are "
        "the same user error (INVALID_CREDENTIALS), so that nobody learns which emails have "
        "accounts."
    )
    async def login(
        self,
        info: Info[Context, None],
        input: Annotated[LoginInput, strawberry.argument(description="The credentials.")],
    ) -> LoginPayload | None:
        async def work() -> LoginPayload:
            try:
                record = await user_resolvers.login(
                    info.context, input.email, input.password, remember_me=input.remember_me
                )
            except BadUserInput as exc:
                if exc.user_code == codes.INVALID_CREDENTIALS:
                    audit.emit(audit.LOGIN, audit.FAILED, email=input.email)
                raise
            audit.emit(
                audit.LOGIN, audit.SUCCEEDED, email=input.email, session=record.get("session_id")
            )
            payload: LoginPayload = LoginPayload.session(record)
            return payload

        return await attempt(LoginPayload, work())

    @strawberry.mutation(
        description="Trade a refresh token for a new token pair; the old session ends, and "
        "its access token is refused at once. A refresh token auth refuses (invalid, "
        "expired or used) is the user error INVALID_TOKEN."
    )
    async def refresh_token(
        self,
        info: Info[Context, None],
        input: Annotated[
            RefreshTokenInput, strawberry.argument(description="The refresh token to trade.")
        ],
    ) -> RefreshTokenPayload | None:
        async def work() -> RefreshTokenPayload:
            record = await user_resolvers.refresh(info.context, input.refresh_token)
            payload: RefreshTokenPayload = RefreshTokenPayload.session(record)
            return payload

        return await attempt(RefreshTokenPayload, work())

    @strawberry.mutation(
        permission_classes=[requires(rbac.AUTHENTICATED)],
        description="End the caller's own session; its tokens stop working. It takes no "
        "input: the session is the caller's token's, and the mutation names no other object.",
    )
    async def logout(self, info: Info[Context, None]) -> LogoutPayload | None:
        session_id = await user_resolvers.logout(info.context)
        return LogoutPayload(session_id=strawberry.ID(session_id), success=True)

"""The passthrough's guard: the same rules as GraphQL, from the same places.

Roles come from ``security.rbac.ROUTE_RULES`` (the one table); the budget was spent before
the guard runs (``security.throttle``: a REST call costs the minimum spend). A route the
table does not cover is refused: new upstream routes are closed until someone writes their
rule. A rule that a record's creator meets too (a sequencing job's) reads the record the
path names to tell. A job's status route is refused by what its body asks for:
``JobStatusTap`` applies ``rbac.job_status_rule`` to the status sent.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.passthrough import Guard, legacy_error
from gateway.rest_routes import LegacyRoute
from gateway.runtime import Runtime
from security import audit, rbac
from security.authentication import bearer_problem
from security.principal import Principal
from upstreams.config import CallContext
from upstreams.errors import UpstreamError

_JOB_STATUS = "/api/sequencing/jobs/{id}/status"
_INVALID_TOKEN = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
# The methods the job status route's rule names (the tap sees no other).
_JOB_STATUS_METHODS = next(r.methods for r in rbac.ROUTE_RULES if r.prefix == _JOB_STATUS)
# A path that ``request.url.path`` spells as it came: printable ASCII without ``?``, ``#``
# and a backslash (which the URL escapes), spaces and controls (which URL parsing strips).
_PLAIN_PATH = re.compile(r"/(?!/)[\x21\x22\x24-\x3e\x40-\x5b\x5d-\x7e]*")


def make_guard(runtime: Runtime) -> Guard:
    async def guard(request: Request, route: LegacyRoute) -> Response | None:
        path, method = _path(request), request.method
        problem = bearer_problem(request.scope)
        if problem is not None:
            return legacy_error(401, "UNAUTHENTICATED", problem, _INVALID_TOKEN)
        principal = _principal(request)
        match = rbac.route_match(path, method)
        if match is None:
            return _forbidden(principal, path, "no access rule covers this route")
        rule = match.rule
        if rbac.allows(rule, principal):
            return None
        if principal is None:
            return legacy_error(
                401,
                "UNAUTHENTICATED",
                "Log in first: this route needs a bearer token",
                {"WWW-Authenticate": "Bearer"},
            )
        if rule == rbac.MANAGE_SEQUENCING_JOB and rbac.may_meet(rule, principal):
            creator = await _job_creator(request, runtime, match.params["id"])
            if rbac.allows_on(rule, principal, creator):
                return None
        return _forbidden(principal, path, f"needs {rbac.RULE_DESCRIPTIONS[rule]}")

    return guard


class JobStatusTap:
    """Reads the status a ``PUT /api/sequencing/jobs/{id}/status`` asks for before it is
    sent: a move to Cancelled needs ``rbac.MANAGE_SEQUENCING_JOB`` on that job. Every
    ``status`` member of the body counts (a JSON object may repeat a key); a body that is
    not JSON goes on to the service, which refuses it."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def wants(self, method: str, path: str) -> bool:
        if method not in _JOB_STATUS_METHODS:
            return False
        match = rbac.route_match(path, method)
        return match is not None and match.route.prefix == _JOB_STATUS

    async def before(self, request: Request, body: bytes) -> Response | None:
        principal = _principal(request)
        path = _path(request)
        match = rbac.route_match(path, request.method)
        rule = rbac.job_status_rule(_statuses(body))
        if rbac.allows(rule, principal) or match is None:
            return None
        creator = await _job_creator(request, self.runtime, match.params["id"])
        if rbac.allows_on(rule, principal, creator):
            return None
        return _forbidden(principal, path, f"cancelling needs {rbac.RULE_DESCRIPTIONS[rule]}")

    async def after(self, request: Request, body: bytes, status: int, answer: bytes) -> None:
        return None


def _statuses(body: bytes) -> list[Any]:
    """Every value of a top-level ``status`` member of a JSON object body."""
    objects: list[list[tuple[str, Any]]] = []

    def keep(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        objects.append(pairs)
        return dict(pairs)

    try:
        document = json.loads(body, object_pairs_hook=keep)
    except (ValueError, RecursionError):
        return []
    if not isinstance(document, dict):
        return []
    # The outermost object is the last one closed.
    return [value for key, value in objects[-1] if key == "status"]


def _path(request: Request) -> str:
    """``request.url.path``, without building the URL when the path is plain."""
    path: str = request.scope["path"]
    if _PLAIN_PATH.fullmatch(path):
        return path
    return request.url.path


def _principal(request: Request) -> Principal | None:
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    return principal


def _forbidden(principal: Principal | None, path: str, why: str) -> Response:
    audit.emit(audit.FORBIDDEN, audit.REFUSED, rule=why)
    return legacy_error(403, "FORBIDDEN", f"Not allowed: {why}")


async def _job_creator(request: Request, runtime: Runtime, job_id: str) -> object:
    """The recorded creator of the job, or None when there is no such job (or it cannot
    be read now: then nobody is taken for its creator)."""
    call = CallContext(
        authorization=request.headers.get("authorization"),
        request_id=request.scope.get("state", {}).get("request_id"),
    )
    try:
        job = await runtime.upstreams.sequencing.get(call, job_id)
    except UpstreamError:
        return None
    return job.get("created_by")

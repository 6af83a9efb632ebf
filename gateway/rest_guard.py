"""The passthrough's guard: the same rules as GraphQL, from the same places.

Roles come from ``security.rbac.ROUTE_RULES`` (the one table); the budget was spent before
the guard runs (``security.throttle``: a REST call costs the minimum spend). A route the
table does not cover is refused: new upstream routes are closed until someone writes their
rule.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from gateway.passthrough import Guard, legacy_error
from gateway.rest_routes import LegacyRoute
from gateway.runtime import Runtime
from security import events, rbac
from security.principal import Principal
from upstreams.config import CallContext
from upstreams.errors import UpstreamError

_CANCEL_JOB = re.compile(r"^/api/sequencing/jobs/([^/]+)/cancel/?$")


def make_guard(runtime: Runtime) -> Guard:
    async def guard(request: Request, route: LegacyRoute) -> Response | None:
        path, method = request.url.path, request.method
        principal: Principal | None = request.scope.get("state", {}).get("principal")
        rule = rbac.route_rule(path, method)
        if rule is None:
            return _forbidden(principal, path, "no access rule covers this route")
        if not rbac.allows(rule, principal):
            if principal is None:
                return legacy_error(
                    401,
                    "UNAUTHENTICATED",
                    "Log in first: this route needs a bearer token",
                    {"WWW-Authenticate": "Bearer"},
                )
            return _forbidden(principal, path, f"needs {rbac.RULE_DESCRIPTIONS[rule]}")
        cancel = _CANCEL_JOB.match(path) if method == "POST" else None
        if (
            cancel
            and principal is not None
            and not rbac.allows(rbac.CANCEL_SEQUENCING, principal)
            and not await _created_by(request, runtime, cancel.group(1), principal)
        ):
            return _forbidden(principal, path, rbac.RULE_DESCRIPTIONS[rbac.CANCEL_SEQUENCING])
        return None

    return guard


def _forbidden(principal: Principal | None, path: str, why: str) -> Response:
    events.emit(
        events.FORBIDDEN,
        principal=getattr(principal, "id", None),
        role=getattr(principal, "role", None),
        path=path,
    )
    return legacy_error(403, "FORBIDDEN", f"Not allowed: {why}")


async def _created_by(
    request: Request, runtime: Runtime, job_id: str, principal: Principal
) -> bool:
    """Whether the caller created the job (only they, PIs and administrators may cancel)."""
    call = CallContext(
        authorization=request.headers.get("authorization"),
        request_id=request.scope.get("state", {}).get("request_id"),
    )
    try:
        job = await runtime.upstreams.sequencing.get(call, job_id)
    except UpstreamError:
        return False  # the relay itself will report a missing job or a down service
    return str(job.get("created_by")) == principal.id

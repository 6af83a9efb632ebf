"""Role-based access: one table of rules, used by GraphQL fields and the REST passthrough.

A *rule* names a set of roles. GraphQL root fields, mutations and the relations that
cross into another domain carry a permission for one rule (``graph`` attaches them); the
passthrough maps each legacy route and method to a rule (``ROUTE_RULES``). README prints
both tables from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from security.principal import ROLES

PUBLIC = "public"  # no token needed (login, refresh)
AUTHENTICATED = "authenticated"  # any valid token, guests included (own profile, logout)
READ_TEMPLATES = "read_templates"
READ_LIMS = "read_lims"
WRITE_SAMPLES = "write_samples"
DELETE_SAMPLES = "delete_samples"
MANAGE_TEMPLATES = "manage_templates"
SUBMIT_SEQUENCING = "submit_sequencing"
CANCEL_SEQUENCING = "cancel_sequencing"
ADMINISTER = "administer"

_ALL = frozenset(ROLES)
_STAFF = _ALL - {"guest"}
_BENCH = frozenset(
    {"lab_technician", "research_scientist", "principal_investigator", "lab_administrator"}
)
_LEADS = frozenset({"principal_investigator", "lab_administrator"})

RULES: dict[str, frozenset[str]] = {
    PUBLIC: _ALL,
    AUTHENTICATED: _ALL,
    READ_TEMPLATES: _ALL,
    READ_LIMS: _STAFF,
    WRITE_SAMPLES: _BENCH,
    DELETE_SAMPLES: _LEADS,
    MANAGE_TEMPLATES: _LEADS,
    SUBMIT_SEQUENCING: _BENCH,
    # The job's creator may cancel it too; the resolver checks that case.
    CANCEL_SEQUENCING: _LEADS,
    ADMINISTER: frozenset({"lab_administrator"}),
}

RULE_DESCRIPTIONS: dict[str, str] = {
    PUBLIC: "anyone, without a token",
    AUTHENTICATED: "any valid token",
    READ_TEMPLATES: "every role, guest included",
    READ_LIMS: "every role except guest",
    WRITE_SAMPLES: "lab_technician, research_scientist, principal_investigator, lab_administrator",
    DELETE_SAMPLES: "principal_investigator, lab_administrator",
    MANAGE_TEMPLATES: "principal_investigator, lab_administrator",
    SUBMIT_SEQUENCING: "lab_technician, research_scientist, principal_investigator, "
    "lab_administrator",
    CANCEL_SEQUENCING: "the job's creator, principal_investigator, lab_administrator",
    ADMINISTER: "lab_administrator",
}


class HasRole(Protocol):
    """A caller with a role: a ``Principal``, or the resolvers' view of one."""

    @property
    def role(self) -> str: ...


def allows(rule: str, principal: HasRole | None) -> bool:
    if rule == PUBLIC:
        return True
    return principal is not None and principal.role in RULES[rule]


@dataclass(frozen=True, slots=True)
class RouteRule:
    """Requests under ``prefix`` (legacy /api path) with one of ``methods`` need ``rule``.

    The longest matching prefix with a matching method wins; ``methods`` empty = any."""

    prefix: str
    methods: frozenset[str]
    rule: str


def _r(prefix: str, methods: str, rule: str) -> RouteRule:
    return RouteRule(prefix, frozenset(methods.split()) if methods else frozenset(), rule)


_READ = "GET HEAD OPTIONS"
ROUTE_RULES: tuple[RouteRule, ...] = (
    _r("/api/auth/login", "", PUBLIC),
    _r("/api/auth/refresh", "", PUBLIC),
    _r("/api/auth", "", AUTHENTICATED),
    _r("/api/users/me", _READ, AUTHENTICATED),
    _r("/api/users", "", ADMINISTER),
    _r("/api/samples/rag", "", READ_LIMS),
    _r("/api/samples", _READ, READ_LIMS),
    _r("/api/samples", "POST PUT PATCH", WRITE_SAMPLES),
    _r("/api/samples", "DELETE", DELETE_SAMPLES),
    _r("/api/storage", _READ, READ_LIMS),
    _r("/api/storage", "POST PUT PATCH DELETE", WRITE_SAMPLES),
    _r("/api/templates", _READ, READ_TEMPLATES),
    _r("/api/templates", "POST PUT PATCH DELETE", MANAGE_TEMPLATES),
    _r("/api/sequencing", _READ, READ_LIMS),
    _r("/api/sequencing", "POST PUT PATCH DELETE", SUBMIT_SEQUENCING),
    _r("/api/rag/process", "POST", WRITE_SAMPLES),
    _r("/api/rag", "", READ_LIMS),
    _r("/api/notifications", _READ, READ_LIMS),
    _r("/api/notifications", "POST PUT PATCH DELETE", ADMINISTER),
)


def route_rule(path: str, method: str) -> str | None:
    """The rule for a legacy request; None when no route of the table covers it."""
    best: RouteRule | None = None
    for rule in ROUTE_RULES:
        if path != rule.prefix and not path.startswith(rule.prefix + "/"):
            continue
        if rule.methods and method not in rule.methods:
            continue
        if best is None or len(rule.prefix) > len(best.prefix):
            best = rule
    return None if best is None else best.rule


def markdown_tables() -> str:
    """The rules and the route table as the README prints them."""
    lines = ["| rule | who |", "|---|---|"]
    lines += [f"| `{rule}` | {RULE_DESCRIPTIONS[rule]} |" for rule in RULES]
    lines += ["", "| legacy path prefix | methods | rule |", "|---|---|---|"]
    for r in ROUTE_RULES:
        methods = " ".join(sorted(r.methods)) or "any"
        lines.append(f"| `{r.prefix}` | {methods} | `{r.rule}` |")
    return "\n".join(lines)

"""Role-based access: one table of rules, used by GraphQL fields and the REST passthrough.

A *rule* names a set of roles (``RULES``). A few rules are also met by the creator of the
record they guard, when the creator holds one of ``CREATOR_ROLES[rule]``: whoever knows
the record asks ``allows_on``; before the record is read, ``may_meet`` tells whether it
could. GraphQL root fields, mutations and the relations that cross into another domain
carry a permission for one rule (``graph`` attaches them); the passthrough maps each
legacy route and method to a rule (``ROUTE_RULES``). README prints both tables from here.

Sequencing jobs: what a job asks for, and whether it is still wanted, is its creator's
(``MANAGE_SEQUENCING_JOB``: edit, cancel, delete); its way through the lab is the bench's
(``SUBMIT_SEQUENCING``: create, clone, submit and every other status move). Cancelling is a
rule on the transition, wherever it is asked for (``job_status_rule``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from security.principal import ROLES

PUBLIC = "public"  # no token needed (login, refresh)
AUTHENTICATED = "authenticated"  # any valid token, guests included (own profile, logout)
READ_TEMPLATES = "read_templates"
READ_LIMS = "read_lims"
WRITE_SAMPLES = "write_samples"
DELETE_SAMPLES = "delete_samples"
DELETE_STORAGE = "delete_storage"
MANAGE_TEMPLATES = "manage_templates"
SUBMIT_SEQUENCING = "submit_sequencing"
MANAGE_SEQUENCING_JOB = "manage_sequencing_job"
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
    DELETE_STORAGE: _LEADS,
    MANAGE_TEMPLATES: _LEADS,
    SUBMIT_SEQUENCING: _BENCH,
    MANAGE_SEQUENCING_JOB: _LEADS,
    ADMINISTER: frozenset({"lab_administrator"}),
}

# The roles that meet a rule on a record they created (and only there).
CREATOR_ROLES: dict[str, frozenset[str]] = {
    MANAGE_SEQUENCING_JOB: _BENCH - _LEADS,
}

RULE_DESCRIPTIONS: dict[str, str] = {
    PUBLIC: "anyone, without a token",
    AUTHENTICATED: "any valid token",
    READ_TEMPLATES: "every role, guest included",
    READ_LIMS: "every role except guest",
    WRITE_SAMPLES: "lab_technician, research_scientist, principal_investigator, lab_administrator",
    DELETE_SAMPLES: "principal_investigator, lab_administrator",
    DELETE_STORAGE: "principal_investigator, lab_administrator",
    MANAGE_TEMPLATES: "principal_investigator, lab_administrator",
    SUBMIT_SEQUENCING: "lab_technician, research_scientist, principal_investigator, "
    "lab_administrator",
    MANAGE_SEQUENCING_JOB: "principal_investigator, lab_administrator, or the job's creator "
    "when a lab_technician or research_scientist",
    ADMINISTER: "lab_administrator",
}


class HasRole(Protocol):
    """A caller with a role: a ``Principal``, or the resolvers' view of one."""

    @property
    def role(self) -> str: ...


class HasIdentity(HasRole, Protocol):
    """A caller with a role and a user id."""

    @property
    def id(self) -> str: ...


def allows(rule: str, principal: HasRole | None) -> bool:
    """Whether the caller's role meets the rule, whatever the record."""
    if rule == PUBLIC:
        return True
    return principal is not None and principal.role in RULES[rule]


def may_meet(rule: str, principal: HasRole | None) -> bool:
    """Whether the caller meets the rule on some record: by role, or as a creator."""
    return allows(rule, principal) or (
        principal is not None and principal.role in CREATOR_ROLES.get(rule, ())
    )


def allows_on(rule: str, principal: HasIdentity | None, created_by: object) -> bool:
    """Whether the caller meets the rule on a record whose creator is ``created_by``
    (None: no such record, so nobody is its creator)."""
    if allows(rule, principal):
        return True
    return (
        principal is not None
        and principal.role in CREATOR_ROLES.get(rule, ())
        and created_by is not None
        and _same_id(principal.id, created_by)
    )


def _same_id(a: object, b: object) -> bool:
    try:
        return uuid.UUID(str(a)) == uuid.UUID(str(b))
    except ValueError:
        return str(a) == str(b)


# Spellings that could name the sequencing service's ``Cancelled``: case, separators and
# the one-l spelling do not matter (stricter than the service, which takes only
# ``Cancelled``, so no spelling slips past).
_CANCELLED = frozenset({"cancelled", "canceled"})
_NOT_LETTERS = re.compile(r"[^a-z]")


def names_cancellation(value: object) -> bool:
    """Whether a status value (a string, or any JSON around strings: the service's JSON
    reader also takes ``{"Cancelled": null}`` for a unit variant) could mean Cancelled."""
    if isinstance(value, str):
        return _NOT_LETTERS.sub("", value.casefold()) in _CANCELLED
    if isinstance(value, Mapping):
        return any(names_cancellation(k) or names_cancellation(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(names_cancellation(v) for v in value)
    return False


def job_status_rule(status: object) -> str:
    """The rule for moving a sequencing job to ``status``: cancelling it is the job's
    creator's or a lead's (``MANAGE_SEQUENCING_JOB``); any other move the bench's."""
    return MANAGE_SEQUENCING_JOB if names_cancellation(status) else SUBMIT_SEQUENCING


@dataclass(frozen=True, slots=True)
class RouteRule:
    """Requests under ``prefix`` (legacy /api path) with one of ``methods`` need ``rule``.

    A prefix matches whole segments; a ``{name}`` segment matches any one segment (empty
    segments of a path are skipped, as a router that collapses ``//`` would). The most
    specific matching prefix with a matching method wins; ``methods`` empty = any."""

    prefix: str
    methods: frozenset[str]
    rule: str

    @property
    def segments(self) -> tuple[str, ...]:
        return _segments(self.prefix)


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """The winning rule for a request, and the path segments its ``{name}`` parts matched."""

    rule: str
    params: Mapping[str, str]
    route: RouteRule


def _r(prefix: str, methods: str, rule: str) -> RouteRule:
    return RouteRule(prefix, frozenset(methods.split()) if methods else frozenset(), rule)


_READ = "GET HEAD OPTIONS"
ROUTE_RULES: tuple[RouteRule, ...] = (
    _r("/api/auth/login", "", PUBLIC),
    _r("/api/auth/refresh", "", PUBLIC),
    _r("/api/auth", "", AUTHENTICATED),
    _r("/api/users/me", _READ, AUTHENTICATED),
    _r("/api/users/me", "POST PUT PATCH DELETE", ADMINISTER),
    _r("/api/samples/rag", "", READ_LIMS),
    _r("/api/samples", _READ, READ_LIMS),
    _r("/api/samples", "POST PUT PATCH", WRITE_SAMPLES),
    _r("/api/samples", "DELETE", DELETE_SAMPLES),
    _r("/api/storage", _READ, READ_LIMS),
    _r("/api/storage", "POST PUT PATCH", WRITE_SAMPLES),
    _r("/api/storage", "DELETE", DELETE_STORAGE),
    _r("/api/templates", _READ, READ_TEMPLATES),
    _r("/api/templates", "POST PUT PATCH DELETE", MANAGE_TEMPLATES),
    _r("/api/sequencing", _READ, READ_LIMS),
    _r("/api/sequencing", "POST PUT PATCH DELETE", SUBMIT_SEQUENCING),
    _r("/api/sequencing/jobs/{id}", "PUT PATCH DELETE", MANAGE_SEQUENCING_JOB),
    # The status route's rule depends on the status asked for: to Cancelled it is
    # MANAGE_SEQUENCING_JOB (the passthrough's job status tap reads the body).
    _r("/api/sequencing/jobs/{id}/status", "PUT", SUBMIT_SEQUENCING),
    _r("/api/sequencing/jobs/{id}/cancel", "POST", MANAGE_SEQUENCING_JOB),
    _r("/api/rag/process", "POST", WRITE_SAMPLES),
    _r("/api/rag", "", READ_LIMS),
    _r("/api/notifications", _READ, READ_LIMS),
    _r("/api/notifications", "POST PUT PATCH DELETE", ADMINISTER),
)


def _segments(path: str) -> tuple[str, ...]:
    return tuple(filter(None, path.split("/")))


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


# One route of the compiled table: its segments (None where a ``{name}`` matches any),
# the names of its parameters by position, and the rule.
_Compiled = tuple[tuple[str | None, ...], tuple[tuple[int, str], ...], RouteRule]


class _RouteTable:
    """``ROUTE_RULES`` compiled once: for each method a rule names (and for every other
    method, the rules that take any), the candidate routes grouped by the leading segments
    every route spells out, most specific first (ties keep the table's order). The first
    candidate that covers a path is the one ``route_match``'s ranking picks."""

    def __init__(self, rules: tuple[RouteRule, ...]) -> None:
        compiled: list[tuple[tuple[int, int], int, _Compiled]] = []
        for index, rule in enumerate(rules):
            segments = rule.segments
            names = tuple((i, s[1:-1]) for i, s in enumerate(segments) if _is_param(s))
            pattern = tuple(None if _is_param(s) else s for s in segments)
            rank = (len(segments), len(segments) - len(names))
            compiled.append((rank, index, (pattern, names, rule)))
        # Ranks descending; the table's order among equal ranks (the first one wins).
        compiled.sort(key=lambda item: (-item[0][0], -item[0][1], item[1]))
        self.depth = min((_literal_lead(pattern) for _, _, (pattern, _, _) in compiled), default=0)
        methods = sorted({m for rule in rules for m in rule.methods})
        self.by_method = {m: self._index(compiled, m) for m in methods}
        self.any_method = self._index(compiled, None)

    def _index(
        self, compiled: list[tuple[tuple[int, int], int, _Compiled]], method: str | None
    ) -> dict[tuple[str, ...], tuple[_Compiled, ...]]:
        index: dict[tuple[str, ...], list[_Compiled]] = {}
        for _, _, entry in compiled:
            pattern, _, rule = entry
            if rule.methods and method not in rule.methods:
                continue
            key = tuple(s for s in pattern[: self.depth] if s is not None)
            index.setdefault(key, []).append(entry)
        return {key: tuple(entries) for key, entries in index.items()}

    def match(self, path: str, method: str) -> RouteMatch | None:
        segments = _segments(path)
        depth = self.depth
        if len(segments) < depth:
            return None
        candidates = self.by_method.get(method, self.any_method).get(segments[:depth], ())
        for pattern, names, rule in candidates:
            if len(segments) < len(pattern):
                continue
            for want, got in zip(pattern, segments, strict=False):
                if want is not None and want != got:
                    break
            else:
                return RouteMatch(rule.rule, {name: segments[i] for i, name in names}, rule)
        return None


def _literal_lead(pattern: tuple[str | None, ...]) -> int:
    """How many leading segments of a route are spelled out (no ``{name}``)."""
    count = 0
    for segment in pattern:
        if segment is None:
            break
        count += 1
    return count


_TABLE = _RouteTable(ROUTE_RULES)


def route_match(path: str, method: str) -> RouteMatch | None:
    """The rule for a legacy request and what its path parameters matched; None when no
    route of the table covers it. (The most specific route wins: the longest prefix, then
    the one with fewer ``{name}`` parts, then the first in ``ROUTE_RULES``.)"""
    return _TABLE.match(path, method)


def route_rule(path: str, method: str) -> str | None:
    """The rule for a legacy request; None when no route of the table covers it."""
    match = route_match(path, method)
    return None if match is None else match.rule


ANONYMOUS = "anonymous"


def verdict(rule: str, role: str) -> str:
    """What the README's role matrix says of a rule for a role (or ``ANONYMOUS``):
    ``yes``, ``no``, or ``creator`` (only on a record the caller created)."""
    if role == ANONYMOUS:
        return "yes" if rule == PUBLIC else "no"
    if role in RULES[rule]:
        return "yes"
    return "creator" if role in CREATOR_ROLES.get(rule, ()) else "no"


def markdown_tables() -> str:
    """The rules (as a role matrix) and the route table as the README prints them."""
    columns = (ANONYMOUS, *ROLES)
    lines = [
        "| rule | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    lines += [
        f"| `{rule}` | " + " | ".join(verdict(rule, role) for role in columns) + " |"
        for rule in RULES
    ]
    lines += ["", "| legacy path | methods | rule |", "|---|---|---|"]
    for r in ROUTE_RULES:
        methods = " ".join(sorted(r.methods)) or "any"
        lines.append(f"| `{r.prefix}` | {methods} | `{r.rule}` |")
    return "\n".join(lines)

"""Threat detection: injection patterns in what a client sends.

Four families of patterns, compiled once (``PATTERNS``; each row runs only on text that
holds its trigger):

- ``sql``: SQL injection: a quote closing a literal into a tautology (``' OR 1=1``), a
  ``UNION SELECT``, a stacked statement that changes the schema or the data
  (``; DROP TABLE``), a comment that cuts the rest of a statement after a quote
  (``admin'--``), time-based probes (``SLEEP(5)``, ``WAITFOR DELAY``), the catalogue;
- ``xss``: script injection: a ``<script>`` (or ``<iframe>``, ``<svg>``, ...) tag, an
  event-handler attribute in a tag (``<img onerror=...>``), a ``javascript:`` URL,
  ``document.cookie``;
- ``traversal``: ``../`` and ``..\\`` (plain or percent-encoded), a NUL byte, the system
  files such probes go for (``/etc/passwd``, ``win.ini``);
- ``command``: a shell command chained on (``; cat /etc/...``, ``&& rm -rf``,
  ``| nc``), command substitution (``$(...)``, backticks) around a command.

Lab data is full of what a naive rule would flag: names, notes and barcodes hold ``;``,
``&``, ``<``, quotes and the words "select", "drop" and "delete". The patterns need the
structure of an attack around such words (a quote that closes a literal, a statement after
a ``;``, a tag), so that text about selecting, dropping or deleting samples passes; the
sandbox's seed data and README's examples are tested to pass whole.

What is scanned (``ThreatDetector``): every string of a GraphQL request, its document's
literal arguments (once per prepared operation, ``screen_document``) and its variables,
input objects and lists included; and a REST call's path, query string and JSON or form
body. Values under an allowed name (``TRACSEQ_THREAT_ALLOW_FIELDS``: arguments, input
fields, JSON keys, query parameters, e.g. free-text notes) are not scanned, nor REST
routes under an allowed prefix (``TRACSEQ_THREAT_ALLOW_ROUTES``). A request's scan is
bounded: at most ``max_scan`` characters in all (``TRACSEQ_THREAT_MAX_SCAN``), the first
ones.

Modes (``TRACSEQ_THREAT_DETECTION``): ``log``, the default, records a
``security.threat_detected`` event and lets the request on; ``block`` records it and
refuses the request (``THREAT_DETECTED``, nothing executed or sent); ``off`` scans nothing.
The event names the family, the pattern and where it was found, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from graphql import (
    ArgumentNode,
    DocumentNode,
    ListValueNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
)

from security import audit

THREAT_DETECTED = "THREAT_DETECTED"
MESSAGE = "The request was refused: an input looks like an injection attack"

FORM = "application/x-www-form-urlencoded"

LOG, BLOCK, OFF = "log", "block", "off"
MODES = (LOG, BLOCK, OFF)
DEFAULT_MAX_SCAN = 65536
# Never scanned: credentials are hashed or compared, never interpolated, and a strong
# password may well look like an attack.
DEFAULT_ALLOW_FIELDS = ("password", "refreshToken", "refresh_token")

_COMMANDS = (
    r"(?:cat|ls|rm|curl|wget|nc|ncat|bash|sh|zsh|python3?|perl|ruby|php|chmod|chown|whoami"
    r"|uname|id|ping|nslookup|powershell|cmd)"
)

# (family, pattern name, triggers, regular expression), matched against the lowercased
# text; a name may take more than one row. A row runs only on text that holds one of its
# triggers (substrings), so that most values cost a few substring tests and no regular
# expression at all; and each expression begins with a literal or a set of characters,
# which the regular expression engine finds at C speed. The names are stable: the audit
# trail's.
PATTERNS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    (
        "sql",
        "tautology",
        ("'", '"', "`"),
        r"['\"`]\s*\)?\s*(?:or|and|\|\|)\s+['\"]?\w+['\"]?\s*(?:=|like\b|<>|!=)\s*['\"]?\w+",
    ),
    ("sql", "union_select", ("union",), r"union(?:\s|/\*.*?\*/)+(?:all\s+|distinct\s+)?select\b"),
    # After a ";": a statement stacked on (SQL) or a command chained on (shell), in one
    # expression (a group names which), so that text full of ";" is searched once.
    (
        "sql",
        "stacked_statement",
        (";",),
        r";\s*(?:(?P<sql__stacked_statement>"
        r"(?:drop|truncate|alter)\s+(?:table|database|schema|user|view)\s+[\w`\"\[]"
        r"|insert\s+into\s+\w+\s*(?:\(|values\b|select\b)"
        r"|update\s+\w+\s+set\s+\w+\s*="
        r"|delete\s+from\s+\w+\s*(?:where\b|;|--)"
        r"|exec(?:ute)?\s+(?:xp_|sp_|master\.)|shutdown\s*(?:--|;))"
        rf"|(?P<command__chained_command>{_COMMANDS}\s+(?:-\w|/|\$|`)"
        r"|(?:whoami|uname|id)\s*(?:$|[;&|])))",
    ),
    (
        "sql",
        "comment_after_quote",
        ("'", '"'),
        r"['\"]\s*\)?\s*(?:;\s*)?(?:--(?:\s|$)|#|/\*)",
    ),
    ("sql", "time_probe", ("(",), r"\((?<=sleep\()\s*\d|\((?<=benchmark\()\s*\d"),
    ("sql", "time_probe", ("'", '"'), r"waitfor\s+delay\s+['\"]"),
    (
        "sql",
        "catalogue",
        ("_",),
        r"information_schema|pg_catalog|xp_cmdshell",
    ),
    (
        "xss",
        "script_tag",
        ("<",),
        r"<\s*/?\s*(?:script|iframe|frame|frameset|object|embed|applet|svg)(?:[\s/>]|$)",
    ),
    (
        "xss",
        "event_handler",
        ("<",),
        r"<[a-z][\w:-]*[^>]*?[\s/\"']on(?:error|load|unload|click|dblclick|mouse\w*|key\w*"
        r"|focus\w*|blur|submit|change|input|toggle|begin|end|animation\w*|transition\w*"
        r"|pointer\w*|touch\w*|drag\w*|drop|copy|paste|cut|scroll|wheel|resize|select|show"
        r"|message|hashchange|pageshow|beforeunload)\s*=",
    ),
    ("xss", "script_url", (":",), r"(?:java|vb)script\s*:"),
    ("xss", "script_url", ("text/html",), r"data\s*:\s*text/html"),
    ("xss", "dom_access", ("document",), r"document\s*\.\s*(?:cookie|domain|write)\b"),
    ("xss", "dom_access", ("window",), r"window\s*\.\s*location\b"),
    # A command after each shell separator (one row each, so that each begins with its
    # own literal): with arguments, or one that needs none.
    *(
        ("command", "chained_command", (trigger,), rf"{separator}\s*{_COMMANDS}\s+(?:-\w|/|\$|`)")
        for trigger, separator in (("&&", "&&"), ("|", r"\|\|?"), ("\n", "\n"))
    ),
    *(
        (
            "command",
            "chained_command",
            (trigger,),
            rf"{separator}\s*(?:whoami|uname|id)\s*(?:$|[;&|])",
        )
        for trigger, separator in (("&&", "&&"), ("||", r"\|\|"), ("\n", "\n"))
    ),
    ("command", "substitution", ("$",), rf"\$\(\s*{_COMMANDS}\b"),
    ("command", "substitution", ("`",), rf"`\s*{_COMMANDS}\b[^`]*`"),
    ("command", "substitution", ("$",), r"\$\{ifs\}"),
    ("traversal", "dot_dot", ("..",), r"\.\.(?:[/\\]|%2f|%5c)"),
    ("traversal", "dot_dot", ("..",), r"\.\.\Z(?<=\A\.\.)"),
    ("traversal", "dot_dot", ("..",), r"[/\\]\.\.\Z"),
    ("traversal", "dot_dot", ("%2e",), r"\.%2e|%2e(?:%2e|\.)"),
    ("traversal", "dot_dot", ("%252e",), r"%252e"),
    ("traversal", "nul_byte", ("\x00", "%00"), r"\x00|%00"),
    ("traversal", "system_file", ("/etc/",), r"/etc/(?:passwd|shadow|hosts)\b"),
    ("traversal", "system_file", ("/proc/self/",), r"/proc/self/"),
    ("traversal", "system_file", (".ini",), r"(?:win|boot)\.ini\b"),
)


class _Pattern:
    __slots__ = ("family", "name", "regex", "triggers", "unbalanced_quote")

    def __init__(self, family: str, name: str, triggers: tuple[str, ...], regex: str) -> None:
        self.family = family
        self.name = name
        self.triggers = triggers
        self.regex = re.compile(_one_value(regex), re.DOTALL)
        # A comment after a quote cuts a statement short when the quote closes a literal,
        # which leaves the value's quotes unbalanced (``admin'--``); text that quotes a
        # word and goes on (``strain 'B6' -- male``) has them balanced.
        self.unbalanced_quote = name == "comment_after_quote"

    def find(self, text: str) -> tuple[int, str, str]:
        """Where in ``text`` (values joined by ``SEPARATOR``) this row matches (-1: it does
        not), and the family and name of what matched: the row's, or the named group's
        (``family__name``) of a row that holds several."""
        found = self.regex.search(text)
        if self.unbalanced_quote:
            while found is not None:
                at = found.start()
                value = text[text.rfind(SEPARATOR, 0, at) + 1 : _end_of_value(text, at)]
                if value.count(text[at]) % 2 == 1:
                    break
                found = self.regex.search(text, at + 1)
        if found is None:
            return -1, self.family, self.name
        group = found.lastgroup
        if group is None:
            return found.start(), self.family, self.name
        family, _, name = group.partition("__")
        return found.start(), family, name


# A request's values are scanned as one text, joined by a character that lab text does not
# hold, that is neither a word character nor white space, and that keeps the text in one
# byte per character (a Unicode noncharacter would make it two: slower to search); the
# patterns treat it as the end of a value.
SEPARATOR = "\x01"


def _one_value(regex: str) -> str:
    """``regex`` confined to one value of a joined text: its anchors are a value's ends,
    and what it skips over never crosses into the next value."""
    return (
        regex.replace(r"\Z(?<=\A\.\.)", r"(?![^\x01])(?<![^\x01]\.\.)")
        .replace(r"\Z", r"(?![^\x01])")
        .replace("(?:$|", r"(?:(?![^\x01])|")
        .replace("|$)", r"|(?![^\x01]))")
        .replace("[^>]", r"[^>\x01]")
        .replace("[^`]", r"[^`\x01]")
        .replace(".*?", r"[^\x01]*?")
    )


def _end_of_value(text: str, at: int) -> int:
    end = text.find(SEPARATOR, at)
    return len(text) if end == -1 else end


_COMPILED = tuple(_Pattern(*pattern) for pattern in PATTERNS)


def _gate(trigger: str) -> str:
    """What is looked for before ``trigger`` itself: its first character that is not a
    letter or a digit (rarer in text, and found faster), or the word itself."""
    for char in trigger:
        if not char.isalnum():
            return char
    return trigger


class _Gate:
    """A gate (``_gate``) and the triggers behind it, each with the rows it lets run (their
    indexes in PATTERNS). Triggers that all begin with their gate are looked for in one
    search (``..`` and ``.ini``: one pass from each ``.``), others one by one."""

    __slots__ = ("gate", "rows", "search", "triggers")

    def __init__(self, gate: str, triggers: list[tuple[str, frozenset[int]]]) -> None:
        self.gate = gate
        self.triggers = tuple(triggers)
        self.rows = dict(triggers)
        together = len(triggers) > 1 and all(t.startswith(gate) and t != gate for t, _ in triggers)
        tails = "|".join(re.escape(t[len(gate) :]) for t, _ in triggers)
        self.search = re.compile(f"{re.escape(gate)}(?:{tails})") if together else None

    def rows_in(self, text: str) -> frozenset[int] | set[int]:
        """The rows the triggers found in ``text`` (which holds the gate) let run."""
        if self.search is not None:
            found: set[int] = set()
            for trigger in set(self.search.findall(text)):
                found |= self.rows[trigger]
            return found
        found = set()
        for trigger, rows in self.triggers:
            if trigger is self.gate or trigger in text:
                found |= rows
        return found


def _gates() -> tuple[_Gate, ...]:
    triggers = dict.fromkeys(t for p in _COMPILED for t in p.triggers)
    by_gate: dict[str, list[tuple[str, frozenset[int]]]] = {}
    for trigger in triggers:
        rows = frozenset(i for i, p in enumerate(_COMPILED) if trigger in p.triggers)
        by_gate.setdefault(_gate(trigger), []).append((trigger, rows))
    return tuple(_Gate(gate, members) for gate, members in by_gate.items())


_GATES = _gates()


@dataclass(frozen=True, slots=True)
class Finding:
    """A pattern matched: its family and name, and where (an argument, a field, a part of
    the REST request)."""

    family: str
    pattern: str
    where: str


@dataclass(frozen=True, slots=True)
class ThreatConfig:
    """``mode`` (log, block, off), the names and REST route prefixes not scanned, and the
    characters scanned per request at most."""

    mode: str = LOG
    allow_fields: frozenset[str] = frozenset(DEFAULT_ALLOW_FIELDS)
    allow_routes: tuple[str, ...] = ()
    max_scan: int = DEFAULT_MAX_SCAN

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}: {self.mode!r}")
        if self.max_scan < 256:
            raise ValueError(f"at least 256 characters must be scanned: {self.max_scan}")
        for prefix in self.allow_routes:
            if not prefix.startswith("/api/"):
                raise ValueError(f"an allowed route is a path under /api/: {prefix!r}")


class _Values:
    """The values of one request to scan, each with where it was found, within a budget of
    characters: the first ones are kept."""

    __slots__ = ("left", "texts", "wheres")

    def __init__(self, budget: int) -> None:
        self.left = budget
        self.texts: list[str] = []
        self.wheres: list[str] = []

    def add(self, text: str, where: str) -> None:
        left = self.left
        if left <= 0 or not text:
            return
        if len(text) > left:
            text = text[:left]
        self.left = left - len(text)
        self.texts.append(text)
        self.wheres.append(where)

    def scan(self) -> Finding | None:
        """The first threat among the values (in PATTERNS' order), or None."""
        texts = self.texts
        if not texts:
            return None
        lowered = (texts[0] if len(texts) == 1 else SEPARATOR.join(texts)).lower()
        rows: set[int] = set()
        for gate in _GATES:
            if gate.gate in lowered:
                rows |= gate.rows_in(lowered)
        for index in sorted(rows):
            at, family, name = _COMPILED[index].find(lowered)
            if at >= 0:
                which = lowered.count(SEPARATOR, 0, at) if len(texts) > 1 else 0
                return Finding(family, name, self.wheres[which])
        return None


def scanned_body(content_type: str | None) -> bool:
    """Whether a REST body of ``content_type`` is scanned: JSON (parsed) and forms; any
    other (an upload's multipart body, binary data) is not."""
    media = _media_type(content_type)
    return _json(media) or media == FORM


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def match(text: str) -> tuple[str, str] | None:
    """(family, pattern) of the first pattern ``text`` matches, or None."""
    values = _Values(len(text))
    values.add(text, "")
    found = values.scan()
    return None if found is None else (found.family, found.pattern)


@dataclass(frozen=True, slots=True)
class DocumentScreen:
    """What a GraphQL document decides once: the first threat among its literal strings
    (None: none), and the argument or input field each variable is given to."""

    literal: Finding | None
    variable_fields: Mapping[str, str]


class ThreatDetector:
    """The scans of the module docstring, for one configuration."""

    def __init__(self, config: ThreatConfig) -> None:
        self.config = config
        self.mode = config.mode
        self.blocking = config.mode == BLOCK
        self._allow = config.allow_fields
        self._routes = config.allow_routes

    @property
    def enabled(self) -> bool:
        return self.mode != OFF

    def refuses(self, finding: Finding | None) -> bool:
        """Record ``finding``, when there is one, in the audit trail; whether the request
        is refused for it."""
        if finding is None:
            return False
        outcome = audit.BLOCKED if self.blocking else audit.ALLOWED
        audit.emit(
            audit.THREAT_DETECTED,
            outcome,
            family=finding.family,
            pattern=finding.pattern,
            where=finding.where,
        )
        return self.blocking

    def screen_document(self, document: DocumentNode) -> DocumentScreen:
        """The document's literal strings scanned, and its variables' places found."""
        values = _Values(self.config.max_scan)
        fields: dict[str, str] = {}
        for name, value in _arguments(document):
            self._literal(value, name, fields, values)
        return DocumentScreen(values.scan(), fields)

    def variables(
        self, screen: DocumentScreen, variables: Mapping[str, Any] | None
    ) -> Finding | None:
        """The first threat in a request's variables, each scanned under the argument or
        input field it is given to."""
        if not variables:
            return None
        values = _Values(self.config.max_scan)
        places = screen.variable_fields
        for name, value in variables.items():
            self._value(value, places.get(name, name), values)
        return values.scan()

    def route_allowed(self, path: str) -> bool:
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self._routes)

    def rest(self, path: str, query: Iterable[tuple[str, str]]) -> Finding | None:
        """The first threat in a REST call's path (decoded) and query parameters."""
        values = _Values(self.config.max_scan)
        values.add(path, "path")
        for name, value in query:
            values.add(name, "query")
            if name not in self._allow:
                values.add(value, f"query.{name}")
        return values.scan()

    def body(self, body: bytes, content_type: str | None, complete: bool) -> Finding | None:
        """The first threat in a REST body: a JSON body's strings, each under its key, or
        a form's fields; its text as it is when it is neither, does not parse, or is only
        the first ``max_scan`` bytes of a longer one (``complete`` False)."""
        values = _Values(self.config.max_scan)
        media = _media_type(content_type)
        parsed: Any = None
        if complete and _json(media):
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                parsed = None
        elif complete and media == FORM:
            parsed = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        if parsed is None:
            values.add(body[: values.left].decode("utf-8", "replace"), "body")
        else:
            self._value(parsed, "body", values)
        return values.scan()

    def _value(self, value: Any, where: str, values: _Values) -> None:
        if where in self._allow or values.left <= 0:
            return
        kind = type(value)  # exact types first: JSON and variables are plain dicts and lists
        if kind is str:
            values.add(value, where)
        elif kind is dict or (kind is not list and isinstance(value, Mapping)):
            for key, item in value.items():
                self._value(item, key if type(key) is str else str(key), values)
        elif kind is list or kind is tuple:
            for item in value:
                self._value(item, where, values)

    def _literal(
        self, value: ValueNode, where: str, fields: dict[str, str], values: _Values
    ) -> None:
        """A literal given to ``where`` added to ``values``; the variables in it are
        recorded under the name they are given to, or under the allowed name they are in
        (an allowed name's whole value goes unscanned, variables included)."""
        if isinstance(value, VariableNode):
            fields.setdefault(value.name.value, where)
            return
        allowed = where in self._allow
        if isinstance(value, StringValueNode):
            if not allowed:
                values.add(value.value, where)
        elif isinstance(value, ObjectValueNode):
            for field in value.fields:
                self._literal(field.value, where if allowed else field.name.value, fields, values)
        elif isinstance(value, ListValueNode):
            for item in value.values:
                self._literal(item, where, fields, values)


def _arguments(document: DocumentNode) -> Iterable[tuple[str, ValueNode]]:
    """Every argument of the document (directives' included) and every variable's default
    as (name, value)."""
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        if isinstance(node, ArgumentNode):
            yield node.name.value, node.value
            continue
        if isinstance(node, VariableDefinitionNode):
            if node.default_value is not None:
                yield node.variable.name.value, node.default_value
            continue
        for key in node.keys:
            if key in ("loc", "value", "name"):
                continue
            child = getattr(node, key, None)
            if isinstance(child, tuple | list):
                stack.extend(c for c in child if hasattr(c, "keys"))
            elif child is not None and hasattr(child, "keys"):
                stack.append(child)

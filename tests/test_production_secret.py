"""Production refuses an HS256 secret anyone could know or guess: one of the repository's
examples, one under 32 bytes, one that does not look random. The refusal names the setting,
never the secret. A mounted secret is read from TRACSEQ_JWT_SECRET_FILE."""

from __future__ import annotations

import base64
import os
import re
import secrets
from pathlib import Path

import pytest

from gateway.settings import Settings, SettingsError
from sandbox.services.auth import DEFAULT_JWT_SECRET as SANDBOX_SECRET
from security.jwt_secret import EXAMPLE_SECRETS, secret_problem

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {"TRACSEQ_ENV": "production", "TRACSEQ_SINGLE_INSTANCE": "true"}


def production(**env: str) -> Settings:
    return Settings.from_env({**PRODUCTION, **env})


def refusal(secret: str) -> str:
    with pytest.raises(SettingsError) as caught:
        production(TRACSEQ_JWT_SECRET=secret)
    message = str(caught.value)
    assert "TRACSEQ_JWT_SECRET" in message
    assert secret not in message
    return message


@pytest.mark.parametrize("secret", sorted(EXAMPLE_SECRETS | {SANDBOX_SECRET}))
def test_production_refuses_every_example_secret_of_the_repository(secret: str) -> None:
    assert "is an example from the repository" in refusal(secret)


def test_a_random_secret_under_32_bytes_is_refused_in_every_environment() -> None:
    assert "at least 32 bytes" in refusal(secrets.token_urlsafe(32)[:31])
    with pytest.raises(SettingsError, match=r"TRACSEQ_JWT_SECRET.*at least 32 bytes"):
        Settings.from_env({"TRACSEQ_JWT_SECRET": secrets.token_urlsafe(32)[:31]})


@pytest.mark.parametrize("secret", ["a" * 40, "ab" * 24, "0123456789" * 4, "-._~" * 10])
def test_production_refuses_a_secret_of_few_distinct_or_skewed_bytes(secret: str) -> None:
    assert "does not look random" in refusal(secret)


@pytest.mark.parametrize(
    "secret",
    [
        "change-me-to-a-long-value-of-our-own-0123456789",
        "CHANGE-ME-TO-A-LONG-VALUE-OF-OUR-OWN-0123456789",
        "our-gateway-signing-secret-for-the-lab-2026",
        "YOUR_PASSWORD_HERE_0123456789_abcdefghijkl",
    ],
)
def test_production_refuses_a_secret_with_a_placeholder_word(secret: str) -> None:
    assert "contains a placeholder word" in refusal(secret)


@pytest.mark.parametrize(
    "secret",
    [
        base64.b64encode(os.urandom(32)).decode(),  # openssl rand -base64 32
        os.urandom(32).hex(),  # openssl rand -hex 32
        secrets.token_urlsafe(32),
    ],
    ids=["openssl-base64", "openssl-hex", "token_urlsafe"],
)
def test_production_accepts_32_random_bytes_as_the_usual_tools_print_them(secret: str) -> None:
    assert production(TRACSEQ_JWT_SECRET=secret).security.jwt.secret == secret


def test_development_still_starts_with_the_default_secret() -> None:
    assert Settings.from_env({}).security.jwt.secret == SANDBOX_SECRET


def test_the_secret_file_is_the_secret_without_its_one_trailing_newline(tmp_path: Path) -> None:
    secret = secrets.token_urlsafe(32)
    path = tmp_path / "jwt-secret"
    path.write_text(secret + "\n", encoding="utf-8")
    settings = production(TRACSEQ_JWT_SECRET_FILE=str(path))
    assert settings.security.jwt.secret == secret


def test_a_secret_file_holding_an_example_is_refused_like_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "jwt-secret"
    path.write_text(SANDBOX_SECRET, encoding="utf-8")
    with pytest.raises(SettingsError, match="is an example") as caught:
        production(TRACSEQ_JWT_SECRET_FILE=str(path))
    assert SANDBOX_SECRET not in str(caught.value)


def test_setting_both_the_secret_and_its_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "jwt-secret"
    path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
    with pytest.raises(SettingsError, match="TRACSEQ_JWT_SECRET and TRACSEQ_JWT_SECRET_FILE"):
        production(TRACSEQ_JWT_SECRET=secrets.token_urlsafe(32), TRACSEQ_JWT_SECRET_FILE=str(path))


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "No such file"), (b"", "is empty"), (b"\xff\xfe" * 20, "not UTF-8")],
    ids=["missing", "empty", "binary"],
)
def test_a_secret_file_that_cannot_be_used_is_a_clear_error(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "jwt-secret"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SettingsError, match=f"TRACSEQ_JWT_SECRET_FILE=.*{reason}"):
        Settings.from_env({"TRACSEQ_JWT_SECRET_FILE": str(path)})


def test_an_unreadable_rs256_public_key_file_is_a_clear_error(tmp_path: Path) -> None:
    env = {"TRACSEQ_JWT_ALGORITHM": "RS256", "TRACSEQ_JWT_PUBLIC_KEY": str(tmp_path / "key.pem")}
    with pytest.raises(SettingsError, match=r"TRACSEQ_JWT_PUBLIC_KEY=.*No such file"):
        Settings.from_env(env)


# A value given to TRACSEQ_JWT_SECRET (YAML, shell, a README table), and a compose default.
ASSIGNED = re.compile(r"""TRACSEQ_JWT_SECRET(?![_A-Z])[`'"]?\s*(?:=|:|\|)\s*[`'"]?([^\s`'"|]+)""")
COMPOSE_DEFAULT = re.compile(r"\$\{TRACSEQ_JWT_SECRET:?-([^}]+)\}")


def repository_secrets() -> set[str]:
    """Every TRACSEQ_JWT_SECRET value deploy/ and README.md show, references left out."""
    files = [ROOT / "README.md", *(p for p in (ROOT / "deploy").rglob("*") if p.is_file())]
    found = set()
    for path in files:
        text = path.read_text(encoding="utf-8")
        found |= set(COMPOSE_DEFAULT.findall(text))
        found |= {v for v in ASSIGNED.findall(text) if not v.startswith(("$", "<"))}
    return found


def test_every_secret_the_repository_shows_is_refused_in_production() -> None:
    shown = repository_secrets()
    assert SANDBOX_SECRET in shown  # README's settings table shows the default
    accepted = {s for s in shown if secret_problem(s) is None}
    assert accepted == set(), "production would accept a secret the repository publishes"

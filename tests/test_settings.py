"""Settings are read once from TRACSEQ_* variables; a bad one stops startup and is named."""

from __future__ import annotations

import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from gateway.settings import DEFAULT_UPSTREAM_URLS, Settings, SettingsError
from upstreams.tls import ClientCertificate


def test_defaults_point_at_the_sandbox() -> None:
    s = Settings.from_env({})
    assert s.upstream_urls == dict(DEFAULT_UPSTREAM_URLS)
    assert s.port == 8000
    assert s.env == "development"
    assert s.batch_services == frozenset()  # the real release offers no batch filter


def test_values_are_typed_and_passed_into_upstream_configs() -> None:
    s = Settings.from_env(
        {
            "TRACSEQ_SAMPLES_URL": "http://samples.internal:9000/",
            "TRACSEQ_UPSTREAM_CONNECT_TIMEOUT": "0.25",
            "TRACSEQ_BREAKER_FAILURE_THRESHOLD": "3",
            "TRACSEQ_BATCH_EXTENSIONS": "samples, templates",
        }
    )
    configs = s.upstream_configs()
    assert configs["samples"].base_url == "http://samples.internal:9000"
    assert configs["samples"].timeouts.connect == 0.25
    assert configs["auth"].breaker.failure_threshold == 3
    assert configs["samples"].batch
    assert configs["templates"].batch
    assert not configs["storage"].batch


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRACSEQ_SAMPLES_URL", "samples:8081"),
        ("TRACSEQ_AUTH_URL", "ftp://auth"),
        ("TRACSEQ_STORAGE_URL", "http://storage:99999"),
        ("TRACSEQ_UPSTREAM_READ_TIMEOUT", "-1"),
        ("TRACSEQ_UPSTREAM_TOTAL_TIMEOUT", "soon"),
        ("TRACSEQ_PORT", "eighty"),
        ("TRACSEQ_BREAKER_FAILURE_RATE", "1.5"),
        ("TRACSEQ_ENV", "staging"),
        ("TRACSEQ_BATCH_EXTENSIONS", "samples,nonsense"),
        ("TRACSEQ_BULKHEAD_MAX_CONCURRENCY", "0"),
        ("TRACSEQ_MAX_DOCUMENT_BYTES", "0"),
        ("TRACSEQ_APQ_MEMORY_BYTES", "lots"),
        ("TRACSEQ_APQ_REDIS_BYTES", "-5"),
        ("TRACSEQ_APQ_TTL", "0"),
        ("TRACSEQ_RATE_LIMIT_MIN_COST", "0"),
        ("TRACSEQ_METRICS_PORT", "private"),
        ("TRACSEQ_SINGLE_INSTANCE", "maybe"),
    ],
)
def test_malformed_value_is_rejected_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_cli_refuses_to_start_with_a_bad_setting() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve"],
        env={"TRACSEQ_UPSTREAM_CONNECT_TIMEOUT": "-3", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "TRACSEQ_UPSTREAM_CONNECT_TIMEOUT" in result.stderr
    assert "Traceback" not in result.stderr


PRODUCTION = {"TRACSEQ_ENV": "production", "TRACSEQ_JWT_SECRET": secrets.token_urlsafe(32)}


def test_production_refuses_to_start_without_redis_unless_it_says_it_runs_alone() -> None:
    with pytest.raises(SettingsError, match="TRACSEQ_REDIS_URL is not set"):
        Settings.from_env(PRODUCTION)
    alone = Settings.from_env({**PRODUCTION, "TRACSEQ_SINGLE_INSTANCE": "true"})
    assert alone.security.single_instance
    shared = Settings.from_env({**PRODUCTION, "TRACSEQ_REDIS_URL": "redis://redis:6379/0"})
    assert shared.security.redis_url == "redis://redis:6379/0"
    Settings.from_env({})  # development keeps its in-memory stores without a word


def test_production_refuses_several_workers_without_redis_even_when_single_instance() -> None:
    env = {**PRODUCTION, "TRACSEQ_SINGLE_INSTANCE": "true", "TRACSEQ_WORKERS": "2"}
    with pytest.raises(SettingsError, match="TRACSEQ_WORKERS=2"):
        Settings.from_env(env)
    assert Settings.from_env({**env, "TRACSEQ_REDIS_URL": "redis://redis:6379/0"}).workers == 2


def test_production_serves_metrics_on_their_own_port_unless_put_on_the_public_one() -> None:
    alone = {**PRODUCTION, "TRACSEQ_SINGLE_INSTANCE": "true"}
    assert Settings.from_env(alone).metrics_port == 9090
    assert Settings.from_env({**alone, "TRACSEQ_METRICS_PORT": "9100"}).metrics_port == 9100
    assert Settings.from_env({**alone, "TRACSEQ_METRICS_PORT": "public"}).metrics_port is None
    assert Settings.from_env({}).metrics_port is None  # development: the public port


def test_new_limits_have_their_documented_defaults() -> None:
    s = Settings.from_env({}).security
    assert s.limits.max_document_bytes == 100 * 1024
    assert s.rate_limit.minimum_cost == 1
    assert s.persisted.memory_bytes == 16 * 1_048_576
    assert s.persisted.redis_bytes == 64 * 1_048_576
    assert s.persisted.redis_ttl == 24 * 3600
    custom = Settings.from_env(
        {"TRACSEQ_MAX_DOCUMENT_BYTES": "2048", "TRACSEQ_APQ_TTL": "60"}
    ).security
    assert custom.limits.max_document_bytes == 2048
    assert custom.persisted.redis_ttl == 60


@dataclass(frozen=True)
class Files:
    """PEM files for the TLS settings: a CA, two client pairs from it, an encrypted key, a
    file that is no PEM at all, and a path where no file is."""

    ca: str
    cert: str
    key: str
    other_cert: str
    other_key: str
    encrypted_key: str
    not_pem: str
    missing: str


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    directory = tmp_path_factory.mktemp("tls-settings")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    for name in ("client", "other"):
        leaf = ca.issue_cert(f"{name}.tracseq.test")
        leaf.cert_chain_pems[0].write_to_path(str(directory / f"{name}.crt"))
        leaf.private_key_pem.write_to_path(str(directory / f"{name}.key"))
    key = serialization.load_pem_private_key((directory / "client.key").read_bytes(), None)
    (directory / "encrypted.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret-passphrase"),
        )
    )
    (directory / "not.pem").write_text("this is no PEM\n")
    return Files(
        ca=str(directory / "ca.pem"),
        cert=str(directory / "client.crt"),
        key=str(directory / "client.key"),
        other_cert=str(directory / "other.crt"),
        other_key=str(directory / "other.key"),
        encrypted_key=str(directory / "encrypted.key"),
        not_pem=str(directory / "not.pem"),
        missing=str(directory / "absent.pem"),
    )


def test_upstream_tls_defaults_to_the_system_trust_store_verified_without_client_certificate() -> (
    None
):
    tls = Settings.from_env({}).upstream_configs()["samples"].tls
    assert tls.ca_file is None
    assert tls.client is None
    assert tls.verify


def test_service_client_certificate_replaces_every_service_one_in_its_upstream_config(
    files: Files,
) -> None:
    s = Settings.from_env(
        {
            "TRACSEQ_UPSTREAM_CA_FILE": files.ca,
            "TRACSEQ_UPSTREAM_CLIENT_CERT": files.cert,
            "TRACSEQ_UPSTREAM_CLIENT_KEY": files.key,
            "TRACSEQ_SAMPLES_CLIENT_CERT": files.other_cert,
            "TRACSEQ_SAMPLES_CLIENT_KEY": files.other_key,
        }
    )
    configs = s.upstream_configs()
    assert configs["samples"].tls.client == ClientCertificate(files.other_cert, files.other_key)
    for name in ("auth", "storage", "templates", "sequencing", "rag", "notifications"):
        assert configs[name].tls.client == ClientCertificate(files.cert, files.key)
    assert {config.tls.ca_file for config in configs.values()} == {files.ca}


def test_production_refuses_upstream_tls_verification_off() -> None:
    off = {"TRACSEQ_UPSTREAM_TLS_VERIFY": "false"}
    alone = {**PRODUCTION, "TRACSEQ_SINGLE_INSTANCE": "true"}
    with pytest.raises(SettingsError, match="TRACSEQ_UPSTREAM_TLS_VERIFY=false"):
        Settings.from_env({**alone, **off})
    assert Settings.from_env(alone).upstream_tls.verify
    assert not Settings.from_env({"TRACSEQ_ENV": "development", **off}).upstream_tls.verify
    assert not Settings.from_env({"TRACSEQ_ENV": "test", **off}).upstream_tls.verify


@pytest.mark.parametrize(
    ("env", "named", "why"),
    [
        ({"UPSTREAM_CA_FILE": "missing"}, ["UPSTREAM_CA_FILE"], "cannot be read"),
        ({"UPSTREAM_CA_FILE": "not_pem"}, ["UPSTREAM_CA_FILE"], "no PEM certificate"),
        ({"UPSTREAM_CA_FILE": "key"}, ["UPSTREAM_CA_FILE"], "no PEM certificate"),
        (
            {"UPSTREAM_CLIENT_CERT": "cert"},
            ["UPSTREAM_CLIENT_CERT", "UPSTREAM_CLIENT_KEY"],
            "go together",
        ),
        (
            {"STORAGE_CLIENT_KEY": "key"},
            ["STORAGE_CLIENT_CERT", "STORAGE_CLIENT_KEY"],
            "go together",
        ),
        (
            {"UPSTREAM_CLIENT_CERT": "cert", "UPSTREAM_CLIENT_KEY": "other_key"},
            ["UPSTREAM_CLIENT_CERT", "UPSTREAM_CLIENT_KEY"],
            "does not belong to the certificate",
        ),
        (
            {"SAMPLES_CLIENT_CERT": "cert", "SAMPLES_CLIENT_KEY": "missing"},
            ["SAMPLES_CLIENT_KEY"],
            "cannot be read",
        ),
        (
            {"RAG_CLIENT_CERT": "key", "RAG_CLIENT_KEY": "key"},
            ["RAG_CLIENT_CERT"],
            "no PEM certificate",
        ),
        (
            {"UPSTREAM_CLIENT_CERT": "cert", "UPSTREAM_CLIENT_KEY": "cert"},
            ["UPSTREAM_CLIENT_KEY"],
            "no PEM private key",
        ),
        (
            {"UPSTREAM_CLIENT_CERT": "cert", "UPSTREAM_CLIENT_KEY": "encrypted_key"},
            ["UPSTREAM_CLIENT_KEY"],
            "encrypted",
        ),
    ],
    ids=[
        "ca-missing",
        "ca-not-pem",
        "ca-a-key",
        "cert-without-key",
        "service-key-without-cert",
        "key-of-another-certificate",
        "service-key-missing",
        "cert-a-key",
        "key-a-certificate",
        "key-encrypted",
    ],
)
def test_bad_tls_file_stops_startup_naming_its_variables_never_the_key(
    files: Files, env: dict[str, str], named: list[str], why: str
) -> None:
    given = {f"TRACSEQ_{name}": getattr(files, value) for name, value in env.items()}
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(given)
    message = str(raised.value)
    for name in named:
        assert f"TRACSEQ_{name}" in message
    assert why in message
    for path in (files.key, files.other_key, files.encrypted_key):
        key_lines = Path(path).read_text().splitlines()[1:-1]
        assert not any(line in message for line in key_lines)
    assert "PRIVATE KEY-----" not in message

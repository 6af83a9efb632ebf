"""Settings are read once from TRACSEQ_* variables; a bad one stops startup and is named."""

from __future__ import annotations

import secrets
import subprocess
import sys

import pytest

from gateway.settings import DEFAULT_UPSTREAM_URLS, Settings, SettingsError


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

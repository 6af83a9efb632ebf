"""Settings are read once from TRACSEQ_* variables; a bad one stops startup and is named."""

from __future__ import annotations

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

"""Discovery (``upstreams.discovery``): a DNS name in an upstream URL is one instance per
address, re-resolved in the background. The resolver is injected: a made-up name maps to
sandbox instances of samples on loopback ports, and the test changes what it answers."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import DEFAULT_DISCOVERY_INTERVAL, Settings, SettingsError
from sandbox.runner import SandboxProcess
from tests.conftest import app_client, gql, log_lines, sandbox_settings
from upstreams.config import InstancePolicy
from upstreams.discovery import Discovery, discoverable
from upstreams.instances import InstanceSet

NAME = "samples.tracseq.test"
READ = "{ samples(first: 2) { totalCount } }"


class FakeDns:
    """The injected resolver: ``answer`` is what the name resolves to now (a list of
    (address, port)), or an exception to raise."""

    def __init__(self, answer: list[tuple[str, int]]) -> None:
        self.answer: list[tuple[str, int]] | Exception = answer
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[tuple[str, int]]:
        self.asked.append((host, port))
        if host != NAME:
            raise OSError(f"unknown name {host}")
        if isinstance(self.answer, Exception):
            raise self.answer
        return list(self.answer)


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


@pytest.fixture(scope="module")
def samples_b() -> Iterator[SandboxProcess]:
    """A second samples service (its own in-memory store): instance B."""
    with SandboxProcess(["samples"]) as sb:
        yield sb


def _requests(url: str) -> int:
    return int(httpx.get(f"{url}/_sandbox/stats", timeout=10).json()["requests"])


async def _next_round(discovery: Discovery, timeout: float = 10.0) -> None:
    """Wait until a discovery round that started after now has ended."""
    seen = discovery.rounds
    deadline = time.monotonic() + timeout
    while discovery.rounds <= seen:
        assert time.monotonic() < deadline, f"no discovery round within {timeout} s"
        await asyncio.sleep(0.01)


def _urls(app: Any) -> set[str]:
    return {i.base_url for i in app.state.runtime.upstreams["samples"].instances.instances}


async def test_an_added_and_a_removed_address_take_effect_in_the_next_round(
    sandbox: SandboxProcess, samples_b: SandboxProcess, json_log: io.StringIO
) -> None:
    a, b = sandbox.urls["samples"], samples_b.urls["samples"]
    dns = FakeDns([_address(a)])
    urls = {**sandbox.urls, "samples": f"http://{NAME}:8081"}
    settings = sandbox_settings(
        sandbox, upstream_urls=urls, discovery_interval=0.2, ready_interval=600
    )
    app = create_app(settings, resolver=dns)
    async with app_client(app) as client:
        discovery = app.state.discovery
        assert dns.asked[0] == (NAME, 8081)
        assert _urls(app) == {a}
        body = await gql(client, READ)
        assert body["data"]["samples"]["totalCount"] > 0

        dns.answer = [_address(b)]  # B added and A removed at once
        await _next_round(discovery)
        assert _urls(app) == {b}
        before_a, before_b = _requests(a), _requests(b)
        for _ in range(3):
            assert "errors" not in await gql(client, READ)
        assert _requests(b) > before_b
        assert _requests(a) == before_a

        kept = app.state.runtime.upstreams["samples"].instances.instances[0]
        dns.answer = OSError("SERVFAIL")
        await _next_round(discovery)
        dns.answer = []
        await _next_round(discovery)
        assert app.state.runtime.upstreams["samples"].instances.instances == [kept]
        assert "errors" not in await gql(client, READ)

    failures = [line for line in log_lines(json_log) if line["event"] == "discovery.resolve_failed"]
    reasons = {line["reason"] for line in failures}
    assert {"SERVFAIL", "no address"} <= reasons
    assert {line["service"] for line in failures} == {"samples"}


async def test_the_gateway_answers_carry_no_discovered_address(
    sandbox: SandboxProcess, samples_b: SandboxProcess
) -> None:
    a, b = sandbox.urls["samples"], samples_b.urls["samples"]
    dns = FakeDns([_address(a), _address(b)])
    urls = {**sandbox.urls, "samples": f"http://{NAME}:8081"}
    settings = sandbox_settings(
        sandbox, upstream_urls=urls, discovery_interval=0, ready_interval=600
    )
    app = create_app(settings, resolver=dns)
    async with app_client(app) as client:
        assert _urls(app) == {a, b}
        assert app.state.discovery._task is None  # interval 0: resolved at startup only
        status = await gql(
            client, "{ gatewayStatus { upstreams { service totalInstances instances { id } } } }"
        )
        health = await client.get("/health")
    samples = next(
        u for u in status["data"]["gatewayStatus"]["upstreams"] if u["service"] == "SAMPLES"
    )
    assert samples["totalInstances"] == 2
    for text in (str(status), health.text):
        for url in (a, b):
            assert url.removeprefix("http://") not in text


async def test_a_name_unresolvable_at_startup_stays_one_instance_as_written(
    sandbox: SandboxProcess,
) -> None:
    dns = FakeDns([])
    dns.answer = OSError("NXDOMAIN")
    written = f"http://{NAME}:8081"
    settings = sandbox_settings(
        sandbox, upstream_urls={**sandbox.urls, "samples": written}, discovery_interval=0
    )
    app = create_app(settings, resolver=dns)
    async with app_client(app) as _:
        assert _urls(app) == {written}


def test_ip_literals_and_localhost_are_not_resolved() -> None:
    assert discoverable("http://samples.lab.svc:8081/api")
    for url in ("http://127.0.0.1:8081", "http://[::1]:8081", "http://localhost:8081"):
        assert not discoverable(url)
    assert not discoverable("https://samples.lab.svc")  # TLS checks the name


async def test_without_a_dns_name_there_is_no_discovery_task(sandbox: SandboxProcess) -> None:
    dns = FakeDns([])
    app = create_app(sandbox_settings(sandbox, discovery_interval=0.05), resolver=dns)
    async with app_client(app) as _:
        assert not app.state.discovery.active
        assert app.state.discovery._task is None
    assert dns.asked == []


def _instance_set(urls: list[str]) -> InstanceSet:
    return InstanceSet(urls, InstancePolicy(), clock=time.monotonic, rng=lambda: 0.0)


async def test_instance_urls_keep_scheme_port_and_path_of_the_configured_url() -> None:
    configured = ["http://samples.lab.svc/api/v1", "http://10.1.0.9:81"]
    instances = _instance_set(configured)

    async def resolve(host: str, port: int) -> list[tuple[str, int]]:
        assert (host, port) == ("samples.lab.svc", 80)
        return [("10.0.0.2", 80), ("10.0.0.1", 80), ("10.0.0.2", 80)]

    discovery = Discovery([("samples", configured, instances)], 0, resolver=resolve)
    await discovery.start()
    assert [i.base_url for i in instances.instances] == [
        "http://10.0.0.1:80/api/v1",
        "http://10.0.0.2:80/api/v1",
        "http://10.1.0.9:81",
    ]
    assert discovery.rounds == 1


async def test_a_resolution_that_hangs_keeps_the_instances() -> None:
    instances = _instance_set(["http://samples.lab.svc:81"])

    async def hang(host: str, port: int) -> list[tuple[str, int]]:
        await asyncio.sleep(60)
        return []

    discovery = Discovery(
        [("samples", ["http://samples.lab.svc:81"], instances)], 0, resolver=hang, timeout=0.05
    )
    await discovery.refresh()
    assert [i.base_url for i in instances.instances] == ["http://samples.lab.svc:81"]


@pytest.mark.parametrize(
    ("value", "expected"), [("0", 0.0), ("2.5", 2.5), (None, DEFAULT_DISCOVERY_INTERVAL)]
)
def test_discovery_interval_setting(value: str | None, expected: float) -> None:
    env = {} if value is None else {"TRACSEQ_DISCOVERY_INTERVAL": value}
    assert Settings.from_env(env).discovery_interval == expected


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_a_bad_discovery_interval_names_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="TRACSEQ_DISCOVERY_INTERVAL"):
        Settings.from_env({"TRACSEQ_DISCOVERY_INTERVAL": value})

"""Several instances per service: balancing, ejection, failover (``upstreams.instances``)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from gateway.settings import Settings, SettingsError
from sandbox.runner import SandboxProcess
from upstreams.client import UpstreamClient
from upstreams.config import CallContext, InstancePolicy, RetryPolicy, Timeouts, UpstreamConfig
from upstreams.errors import UpstreamUnavailable
from upstreams.instances import EJECTED, HEALTHY, InstanceSet
from upstreams.pool import HttpPool, create_http_pool

if TYPE_CHECKING:
    from tests.conftest import SandboxControl

CTX = CallContext()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _set(count: int, clock: Clock, rng: list[float] | None = None) -> InstanceSet:
    draws = iter(rng or [])
    return InstanceSet(
        [f"http://10.0.0.{i}:80" for i in range(count)],
        InstancePolicy(eject_after=2, eject_base=5, eject_max=12),
        clock=clock,
        rng=lambda: next(draws, 0.0),
    )


def test_p2c_picks_the_less_loaded_of_two_candidates() -> None:
    clock = Clock()
    instances = _set(3, clock, rng=[0.0, 0.0, 0.0, 0.0])
    busy, idle, _ = instances.instances
    instances.started(busy)
    assert instances.choose() is idle  # candidates 0 and 1: 1 has nothing in flight


def test_p2c_prefers_an_instance_not_yet_tried_in_the_call() -> None:
    instances = _set(2, Clock())
    first, second = instances.instances
    assert instances.choose([first]) is second
    assert instances.choose([second]) is first


def test_consecutive_failures_eject_with_a_doubling_capped_backoff() -> None:
    clock = Clock()
    instances = _set(2, clock)
    bad, good = instances.instances
    backoffs = []
    for _ in range(3):
        for _ in range(2):
            instances.started(bad)
            instances.finished(bad, False, 0.01)
        assert bad.state(clock.now) == EJECTED
        assert instances.choose() is good
        assert bad.ejected_until is not None
        backoffs.append(bad.ejected_until - clock.now)
        clock.now = bad.ejected_until
    assert backoffs == [5, 10, 12]
    assert bad.state(clock.now) == HEALTHY
    instances.started(bad)
    instances.finished(bad, True, 0.01)
    assert bad.ejections == 0  # readmitted: the backoff starts again from the base


def test_one_failure_below_the_threshold_does_not_eject() -> None:
    clock = Clock()
    instances = _set(2, clock)
    bad = instances.instances[0]
    instances.started(bad)
    instances.finished(bad, False, None)
    assert bad.state(clock.now) == HEALTHY


def test_url_setting_takes_a_comma_list() -> None:
    env = {"TRACSEQ_SAMPLES_URL": "http://127.0.0.1:1/ , http://127.0.0.1:2"}
    configs = Settings.from_env(env).upstream_configs()
    assert configs["samples"].base_urls == ("http://127.0.0.1:1", "http://127.0.0.1:2")


@pytest.mark.parametrize(
    "value",
    [
        "http://127.0.0.1:1,ftp://x",
        "http://127.0.0.1:1,,http://127.0.0.1:2",
        "http://a:1,http://a:1",
    ],
)
def test_bad_url_list_names_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="TRACSEQ_SAMPLES_URL"):
        Settings.from_env({"TRACSEQ_SAMPLES_URL": value})


@pytest.fixture
async def http() -> AsyncIterator[HttpPool]:
    pool = create_http_pool(max_connections=50)
    yield pool
    await pool.aclose()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _client(sandbox: SandboxProcess, http: HttpPool, dead: int) -> UpstreamClient:
    config = UpstreamConfig(
        name="samples",
        base_url=f"http://127.0.0.1:{dead},{sandbox.urls['samples']}",
        timeouts=Timeouts(connect=0.5, read=5, total=10),
        retry=RetryPolicy(attempts=3, backoff_base=0.01, backoff_max=0.02),
    )
    return UpstreamClient(config, http)


async def test_reads_fail_over_from_a_dead_instance_without_a_failure(
    sandbox: SandboxProcess, http: HttpPool, closed_port: int
) -> None:
    client = _client(sandbox, http, closed_port)
    for _ in range(20):
        await client.request(CTX, "GET", "/samples", params={"limit": 1})
    assert client.breaker.state.name == "CLOSED"
    dead = client.policy.instances.instances[0]
    assert dead.ejections >= 1  # ejected after its consecutive connect failures


async def test_a_create_to_a_dead_instance_goes_once_to_the_live_one(
    sandbox: SandboxProcess, control: SandboxControl, http: HttpPool, closed_port: int
) -> None:
    client = _client(sandbox, http, closed_port)
    listed = await client.request(CTX, "GET", "/samples", params={"limit": 1})
    assert listed is not None
    control.reset_stats()
    dead = client.policy.instances.instances[0]
    dead.latency = 0.0  # make the dead instance look as good as the live one
    sent = 0
    for _ in range(6):
        try:
            await client.request(CTX, "POST", "/samples/does-not-exist/clone")
        except UpstreamUnavailable:
            raise
        except Exception:  # noqa: S110 - the live instance's 4xx answer is the point
            pass
        sent += 1
    control.wait_idle("samples")
    assert control.requests("samples") == sent  # every POST reached the live one exactly once

"""Several instances per service: balancing, ejection, failover (``upstreams.instances``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

from gateway.settings import Settings, SettingsError
from sandbox.runner import SandboxProcess
from upstreams.breaker import BreakerState
from upstreams.client import UpstreamClient
from upstreams.config import (
    BreakerPolicy,
    CallContext,
    InstancePolicy,
    RetryPolicy,
    Timeouts,
    UpstreamConfig,
)
from upstreams.errors import UpstreamUnavailable
from upstreams.instances import EJECTED, HEALTHY, Instance, InstanceSet
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


def _client(
    sandbox: SandboxProcess,
    http: HttpPool,
    dead: int,
    instances: InstancePolicy | None = None,
    **options: Any,
) -> UpstreamClient:
    config = UpstreamConfig(
        name="samples",
        base_url=f"http://127.0.0.1:{dead},{sandbox.urls['samples']}",
        timeouts=Timeouts(connect=0.5, read=5, total=10),
        retry=RetryPolicy(attempts=3, backoff_base=0.01, backoff_max=0.02),
        instances=instances or InstancePolicy(),
    )
    return UpstreamClient(config, http, **options)


async def test_reads_fail_over_from_a_dead_instance_without_a_failure(
    sandbox: SandboxProcess, http: HttpPool, closed_port: int
) -> None:
    # The dead instance is tried first (the balancer's draw fixed at 0, both loads equal)
    # and ejected at its first failure: otherwise whether the balancer tries it again
    # depends on its failures' latency against the live one's, which a loaded machine
    # can turn either way.
    client = _client(sandbox, http, closed_port, InstancePolicy(eject_after=1), rng=lambda: 0.0)
    for _ in range(20):
        await client.request(CTX, "GET", "/samples", params={"limit": 1})
    assert client.breaker.state.name == "CLOSED"
    dead = client.policy.instances.instances[0]
    assert dead.ejections >= 1  # ejected at its first failure


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


class Heard:
    """An ``InstanceObserver`` that keeps what it heard."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, str]] = []
        self.loads: list[tuple[str, int]] = []

    def instance_changed(self, service: str, instance: Instance, event: str) -> None:
        self.changes.append((instance.base_url, event))

    def instance_load(self, service: str, instance: Instance, delta: int) -> None:
        self.loads.append((instance.base_url, delta))


def test_update_keeps_the_state_of_instances_still_listed_and_recomputes_single() -> None:
    clock = Clock()
    heard = Heard()
    instances = InstanceSet(
        ["http://10.0.0.1:80"],
        InstancePolicy(eject_after=1, eject_base=5, eject_max=5),
        clock=clock,
        rng=lambda: 0.0,
        observer=heard,
    )
    assert instances.single
    assert instances.update(["http://10.0.0.1:80", "http://10.0.0.2:80"])
    assert not instances.single
    kept, new = instances.instances
    instances.started(kept)
    instances.started(kept)
    instances.finished(kept, False, 0.2)  # ejected, one call still in flight on it
    assert instances.choose() is new

    assert instances.update(["http://10.0.0.1:80", "http://10.0.0.2:80", "http://10.0.0.3:80"])
    assert instances.instances[0] is kept
    assert (kept.inflight, kept.state(clock.now), kept.ejections_total) == (1, EJECTED, 1)

    assert instances.update(["http://10.0.0.3:80"])
    assert instances.single
    assert instances.choose().base_url == "http://10.0.0.3:80"
    instances.finished(kept, True, 0.01)  # the dropped instance's call ends normally
    assert not instances.update([])  # never zero instances
    assert [i.base_url for i in instances.instances] == ["http://10.0.0.3:80"]
    assert heard.changes == [
        ("http://10.0.0.2:80", "added"),
        ("http://10.0.0.1:80", "ejected"),
        ("http://10.0.0.3:80", "added"),
        ("http://10.0.0.1:80", "removed"),
        ("http://10.0.0.2:80", "removed"),
    ]
    # The dropped instance's last call ended untold: its series are gone.
    assert heard.loads == [("http://10.0.0.1:80", 1)] * 2 + [("http://10.0.0.1:80", -1)]


def test_an_ejection_that_runs_out_is_reported_as_over() -> None:
    clock = Clock()
    heard = Heard()
    instances = InstanceSet(
        ["http://10.0.0.1:80", "http://10.0.0.2:80"],
        InstancePolicy(eject_after=1, eject_base=5, eject_max=5),
        clock=clock,
        rng=lambda: 0.0,
        observer=heard,
    )
    bad = instances.instances[0]
    instances.probed(bad, False)
    assert [s.state for s in instances.status()] == [EJECTED, HEALTHY]
    clock.now += 5
    assert [s.state for s in instances.status()] == [HEALTHY, HEALTHY]
    assert heard.changes == [("http://10.0.0.1:80", "ejected"), ("http://10.0.0.1:80", "back")]


def _probed_client(sandbox: SandboxProcess, http: HttpPool, *urls: str) -> UpstreamClient:
    config = UpstreamConfig(
        name="samples",
        base_url=",".join(urls),
        timeouts=Timeouts(connect=0.5, read=5, total=10),
        breaker=BreakerPolicy(failure_threshold=1, recovery_timeout=600),
        instances=InstancePolicy(eject_after=2, eject_base=600, eject_max=600),
    )
    return UpstreamClient(config, http)


async def test_a_successful_probe_readmits_an_ejected_instance_at_once(
    sandbox: SandboxProcess, http: HttpPool, closed_port: int
) -> None:
    client = _probed_client(
        sandbox, http, sandbox.urls["samples"], f"http://127.0.0.1:{closed_port}"
    )
    live, dead = client.instances.instances
    for _ in range(2):
        client.instances.probed(live, False)
    assert live.state(time.monotonic()) == EJECTED  # for ten minutes
    report = await client.health()
    assert live.state(time.monotonic()) == HEALTHY
    assert (live.ejections, live.ejections_total) == (0, 1)  # the backoff starts afresh
    assert dead.failures == 1  # one failed probe: one failure toward its ejection
    assert report["healthy"] is True
    assert [p["id"] for p in report["instances"]] == [live.id, dead.id]
    assert [p["status"] for p in report["instances"]] == ["healthy", "unavailable"]
    await client.health()
    assert dead.state(time.monotonic()) == EJECTED
    assert client.breaker.state is BreakerState.CLOSED  # an instance is healthy


async def test_failed_probes_reach_the_service_breaker_only_when_no_instance_is_healthy(
    sandbox: SandboxProcess, http: HttpPool, closed_port: int, closed_port_2: int
) -> None:
    client = _probed_client(
        sandbox, http, f"http://127.0.0.1:{closed_port}", f"http://127.0.0.1:{closed_port_2}"
    )
    await client.health()  # one failure each: both still healthy
    assert client.breaker.state is BreakerState.CLOSED
    await client.health()  # both ejected now: the service is unreachable
    assert client.instances.healthy() == []
    assert client.breaker.state is BreakerState.OPEN

"""Breakers per upstream route: one failing route never takes its service down."""

from __future__ import annotations

import httpx
import pytest

from sandbox.runner import SandboxProcess
from tests.conftest import SandboxControl, gateway_client, sandbox_settings
from upstreams.breaker import Breakers, BreakerState
from upstreams.config import BreakerPolicy, RetryPolicy
from upstreams.errors import UpstreamUnavailable
from upstreams.routes import ROUTES, route_key

POLICY = BreakerPolicy(failure_threshold=3, recovery_timeout=30)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_route_keys_name_templates_and_stay_bounded() -> None:
    sample = "3f2c7a1e-0000-4000-8000-000000000000"
    assert route_key("samples", "GET", f"/samples/{sample}") == "GET /samples/{id}"
    assert route_key("samples", "PUT", f"/samples/{sample}/status") == "PUT /samples/{id}/status"
    # A static segment wins over a parameter, as in the services' router.
    assert route_key("samples", "POST", "/samples/batch") == "POST /samples/batch"
    assert route_key("samples", "GET", "/samples?status=Pending") == "GET /samples"
    assert route_key("storage", "GET", "/storage/containers/available") == (
        "GET /storage/containers/available"
    )
    assert route_key("sequencing", "GET", "/jobs/x/y/z") == "GET (other)"
    # Whatever paths a client sends, the keys come from the table or are "(other)".
    keys = {route_key("samples", "GET", f"/samples/{i}/{i}/x") for i in range(100)}
    assert keys == {"GET (other)"}
    assert all(t.startswith("/") for templates in ROUTES.values() for t in templates)


def test_server_errors_open_only_their_route() -> None:
    clock = FakeClock()
    breakers = Breakers(POLICY, name="samples", clock=clock)
    for _ in range(3):
        breakers.admit("GET /samples").answered(500)
    with pytest.raises(UpstreamUnavailable) as info:
        breakers.admit("GET /samples")
    assert info.value.service == "samples"
    assert "GET /samples" in info.value.message
    assert breakers.open_routes() == ["GET /samples"]
    # Other routes and the service itself are untouched.
    breakers.admit("GET /samples/{id}").answered(200)
    assert breakers.service.state is BreakerState.CLOSED
    clock.now += 30
    breakers.admit("GET /samples").answered(200)
    assert breakers.open_routes() == []


def test_connection_failures_open_the_service_for_every_route() -> None:
    breakers = Breakers(POLICY, name="samples", clock=FakeClock())
    for route in ("GET /samples", "GET /samples/{id}", "POST /samples"):
        breakers.admit(route).unreachable()
    assert breakers.service.state is BreakerState.OPEN
    with pytest.raises(UpstreamUnavailable):
        breakers.admit("PUT /samples/{id}")
    # No route was to blame.
    assert breakers.open_routes() == []


def test_an_admission_reports_its_outcome_once() -> None:
    breakers = Breakers(BreakerPolicy(failure_threshold=1), name="samples", clock=FakeClock())
    admission = breakers.admit("GET /samples")
    admission.answered(200)
    admission.answered(500)  # ignored: already reported
    assert breakers.open_routes() == []


async def test_the_releases_failing_filtered_list_leaves_other_sample_reads_and_readiness(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    settings = sandbox_settings(
        sandbox, breaker=BreakerPolicy(failure_threshold=5), retry=RetryPolicy(attempts=1)
    )
    sample_id = httpx.get(f"{sandbox.urls['samples']}/samples").json()["data"]["samples"][0]["id"]
    control.reset_stats()
    async with gateway_client(settings) as client:
        # A legacy client's filtered list meets the release's defect (any filter is a 500)
        # and gets the service's answer relayed, until that route's breaker opens.
        for _ in range(5):
            failed = await client.get("/api/samples", params={"status": "Pending"})
            assert failed.status_code == 500
        refused = await client.get("/api/samples", params={"status": "Pending"})
        assert refused.status_code == 503
        assert control.requests("samples") == 5
        # Every other samples route is still served, GraphQL included.
        assert (await client.get(f"/api/samples/{sample_id}")).status_code == 200
        answer = await client.post(
            "/graphql", json={"query": f'{{ sample(id: "{sample_id}") {{ id }} }}'}
        )
        assert answer.json()["data"]["sample"]["id"] == sample_id
        ready = await client.get("/ready")
        health = await client.get("/health")
    assert ready.status_code == 200
    assert health.json()["status"] == "ok"
    samples = health.json()["upstreams"]["samples"]
    assert samples["breaker"] == "closed"
    assert samples["open_routes"] == ["GET /samples"]

"""Each instance in the answers (gatewayStatus, /health, /ready) under its opaque id, never
its address; its address only in the metrics. Samples here is two instances: the sandbox's,
and a port nothing listens on, which the probes eject."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sandbox.runner import SandboxProcess
from tests.conftest import SandboxControl, gateway_client, gql, sandbox_settings
from upstreams.config import InstancePolicy, Timeouts
from upstreams.instances import instance_id

STATUS = """{ gatewayStatus { upstreams {
  service healthyInstances totalInstances
  instances { id state inFlight ejections ejectedForSeconds }
} } }"""


def _samples(body: dict[str, Any]) -> dict[str, Any]:
    upstreams = body["data"]["gatewayStatus"]["upstreams"]
    return next(u for u in upstreams if u["service"] == "SAMPLES")


async def test_status_health_ready_and_metrics_show_each_instance(
    sandbox: SandboxProcess, control: SandboxControl, closed_port: int
) -> None:
    live, dead = sandbox.urls["samples"], f"http://127.0.0.1:{closed_port}"
    settings = sandbox_settings(
        sandbox,
        upstream_urls={**sandbox.urls, "samples": f"{live},{dead}"},
        ready_interval=0.05,
        timeouts=Timeouts(connect=0.5, read=5, total=10),
        instances=InstancePolicy(eject_after=1, eject_base=600, eject_max=600),
    )
    async with gateway_client(settings) as client:
        deadline = time.monotonic() + 10
        while (samples := _samples(await gql(client, STATUS)))["healthyInstances"] != 1:
            assert time.monotonic() < deadline, "the dead instance was not ejected"
            await asyncio.sleep(0.02)
        health = await client.get("/health")
        ready = await client.get("/ready")
        metrics = (await client.get("/metrics")).text

        # One slow read: the live instance has one call in flight, then none.
        live_labels = _labels(live)
        control.fault("samples", delay_ms=1000, times=1, path_prefix="/samples")
        read = asyncio.create_task(gql(client, "{ samples(first: 1) { totalCount } }"))
        while (
            f"tracseq_upstream_instance_inflight{{{live_labels}}} 1.0"
            not in (await client.get("/metrics")).text
        ):
            assert time.monotonic() < deadline + 10, "the slow read was never in flight"
            await asyncio.sleep(0.02)
        assert "errors" not in await read
        after = (await client.get("/metrics")).text
        assert f"tracseq_upstream_instance_inflight{{{live_labels}}} 0.0" in after

    assert samples["totalInstances"] == 2
    first, second = samples["instances"]
    assert (first["id"], first["state"], first["ejectedForSeconds"]) == (
        instance_id(live),
        "HEALTHY",
        None,
    )
    assert (second["id"], second["state"], second["ejections"]) == (
        instance_id(dead),
        "EJECTED",
        1,
    )
    assert 0 < second["ejectedForSeconds"] <= 600

    listed = health.json()["upstreams"]["samples"]
    assert (listed["healthy_instances"], listed["total_instances"]) == (1, 2)
    assert [(i["id"], i["state"], i["ejections"]) for i in listed["instances"]] == [
        (instance_id(live), "healthy", 0),
        (instance_id(dead), "ejected", 1),
    ]
    assert listed["instances"][1]["probe"] == "unavailable"
    assert ready.status_code == 200
    assert ready.json()["instances"]["samples"] == {"healthy_instances": 1, "total_instances": 2}

    for text in (str(samples), health.text, ready.text):
        assert "127.0.0.1" not in text  # no upstream address in an answer

    dead_labels = (
        f'address="127.0.0.1:{closed_port}",instance="{instance_id(dead)}",service="samples"'
    )
    assert f"tracseq_upstream_instance_healthy{{{dead_labels}}} 0.0" in metrics
    assert f"tracseq_upstream_instance_ejections_total{{{dead_labels}}} 1.0" in metrics
    assert 'tracseq_upstream_instances{service="samples",state="ejected"} 1.0' in metrics
    assert 'tracseq_upstream_instances{service="samples",state="healthy"} 1.0' in metrics


def _labels(url: str) -> str:
    address = url.removeprefix("http://")
    return f'address="{address}",instance="{instance_id(url)}",service="samples"'

"""The gateway as it runs in production: a served process with several workers, JSON logs on
stderr and metrics merged across workers."""

from __future__ import annotations

import signal
from typing import Any

import httpx

from tests.conftest import REDIS_URL, SandboxControl, auth_header
from tests.processes import PROCESS_SECRET, PRODUCTION, gateway_process
from tests.test_observability import SAMPLES, find, scrape, seeded_sample


def test_two_workers_merge_their_metrics_and_log_json_with_the_forwarded_request_id(
    sandbox: Any, control: SandboxControl
) -> None:
    one = seeded_sample(sandbox)
    # Several workers are several processes: production wants the shared store for them.
    with gateway_process(
        sandbox,
        **PRODUCTION,
        TRACSEQ_WORKERS="2",
        TRACSEQ_LOG_LEVEL="debug",
        TRACSEQ_REDIS_URL=REDIS_URL,
    ) as gateway:
        gateway.wait_for_event("Application startup complete.", count=2)  # both workers
        # A new connection per request lets the kernel spread them over both workers;
        # go on until each has served some, so the scrape below has two to merge.
        sent = 0
        while sent < 12 or len(gateway.pids("request")) < 2:
            assert sent < 40, "one worker served everything"
            response = httpx.post(
                f"{gateway.url}/graphql",
                json={"query": SAMPLES, "variables": one},
                headers={"X-Request-ID": f"mp-{sent}", **auth_header(secret=PROCESS_SECRET)},
                timeout=10,
            )
            assert response.status_code == 200
            assert response.headers["x-request-id"] == f"mp-{sent}"
            sent += 1
        metrics = scrape(httpx.get(f"{gateway.url}/metrics", timeout=10).text)
        assert gateway.terminate() in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM
        lines = gateway.log_lines()

    graphql = {"route": "/graphql", "status": "2xx"}
    assert find(metrics, "tracseq_http_requests_total", **graphql) == sent
    assert find(metrics, "tracseq_upstream_requests_total", service="samples") == sent
    ops = {"operation_name": "Samples", "operation_type": "query", "outcome": "success"}
    assert find(metrics, "tracseq_graphql_operations_total", **ops) == sent
    assert find(metrics, "tracseq_upstream_breaker_state", service="samples") == 0

    access = {line["request_id"]: line for line in lines if line.get("event") == "request"}
    received = {r["request_id"] for r in control.recent("samples")}
    for i in range(sent):
        rid = f"mp-{i}"
        assert rid in received  # what the upstream got ...
        assert access[rid]["route"] == "/graphql"  # ... is on the access line ...
        upstream = [
            line
            for line in lines
            if line.get("event") == "upstream.request" and line.get("request_id") == rid
        ]
        assert {u["service"] for u in upstream} == {"samples", "templates"}  # ... and these
    # uvicorn's own lines are JSON too: every line on stderr parsed.
    assert any(line.get("logger", "").startswith("uvicorn") for line in lines)

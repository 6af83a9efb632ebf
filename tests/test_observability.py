"""Metrics, the access log, request ids and tracing, with the gateway in-process over the
sandbox."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.app import create_app
from gateway.metrics import Metrics, OperationNames
from gateway.observe import GatewayObserver
from gateway.settings import Settings
from tests.conftest import (
    SandboxControl,
    WriteCalls,
    auth_header,
    log_lines,
    sandbox_settings,
    started,
)
from tests.loopback import serve
from upstreams.client import UpstreamClient
from upstreams.config import BreakerPolicy, CallContext, RetryPolicy, UpstreamConfig
from upstreams.pool import create_http_pool

# One sample and its template: a samples call, then a templates call through a DataLoader.
SAMPLES = "query Samples($id: ID!) { sample(id: $id) { id template { name } } }"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@asynccontextmanager
async def served(app: Any, user_id: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` with its lifespan running; requests carry a token for ``user_id`` (an
    administrator's), or a token of a random user."""
    async with started(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://gateway.test",
            headers=auth_header(user_id=user_id),
        ) as c:
            yield c


def seeded_sample(sandbox: Any) -> dict[str, Any]:
    """``{"id": ...}``: a seeded sample with a template (other tests add newer samples,
    with or without one, and never touch the seeded ones' templates)."""
    url = f"{sandbox.urls['samples']}/samples"
    listed = httpx.get(url, params={"page_size": 1000}).json()["data"]["samples"]
    oldest = [s for s in reversed(listed) if s.get("template_id")]
    return {"id": oldest[0]["id"]}


def scrape(text: str) -> Samples:
    """Every sample of an exposition: (name, sorted labels) → value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def find(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    matched = [
        v for (n, lab), v in samples.items() if n == name and labels.items() <= dict(lab).items()
    ]
    assert matched, f"no sample {name}{labels}"
    return sum(matched)


async def test_metrics_after_traffic_have_every_family_with_bounded_labels(
    sandbox: Any, control: SandboxControl
) -> None:
    settings = sandbox_settings(
        sandbox,
        breaker=BreakerPolicy(failure_threshold=2, recovery_timeout=60),
        retry=RetryPolicy(attempts=1),
    )
    one = seeded_sample(sandbox)
    app = create_app(settings)
    async with served(app) as client:
        for _ in range(2):
            ok = await client.post("/graphql", json={"query": SAMPLES, "variables": one})
            assert ok.status_code == 200
            assert "errors" not in ok.json()
        control.fault("templates", status=500, times=None)
        for _ in range(3):  # two failures open the breaker; the third is refused
            partial = (
                await client.post("/graphql", json={"query": SAMPLES, "variables": one})
            ).json()
            assert partial["data"]["sample"]["id"] == one["id"]
            assert partial["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        assert (await client.get("/no/such/path/123")).status_code == 404
        assert (await client.get("/health")).status_code == 200
        app.state.metrics.rate_limit_rejected("per_client")
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    m = scrape(response.text)

    graphql = {"method": "POST", "route": "/graphql", "status": "2xx"}
    assert find(m, "tracseq_http_requests_total", **graphql) == 5
    assert find(m, "tracseq_http_requests_total", route="unmatched", status="4xx") == 1
    assert find(m, "tracseq_http_requests_total", route="/health", status="2xx") == 1
    assert find(m, "tracseq_http_request_duration_seconds_count", **graphql) == 5
    assert find(m, "tracseq_http_requests_in_flight") == 1  # the scrape itself
    overhead = find(m, "tracseq_gateway_overhead_seconds_sum", route="/graphql")
    assert 0 < overhead < find(m, "tracseq_http_request_duration_seconds_sum", **graphql)

    ops = {"operation_name": "Samples", "operation_type": "query"}
    assert find(m, "tracseq_graphql_operations_total", **ops, outcome="success") == 2
    assert find(m, "tracseq_graphql_operations_total", **ops, outcome="partial") == 3

    assert find(m, "tracseq_upstream_requests_total", service="samples", outcome="ok") == 5
    templates = {"service": "templates", "method": "GET"}
    assert find(m, "tracseq_upstream_requests_total", **templates, outcome="ok") == 2
    assert find(m, "tracseq_upstream_requests_total", **templates, outcome="server_error") == 2
    assert find(m, "tracseq_upstream_request_duration_seconds_count", service="samples") == 5
    assert find(m, "tracseq_upstream_errors_total", service="templates", kind="server_error") == 2
    assert find(m, "tracseq_upstream_errors_total", service="templates", kind="breaker_open") == 1

    # The failing route's breaker opened; templates answered, so its own breaker did not.
    route = {"service": "templates", "route": "GET /templates/{id}"}
    assert find(m, "tracseq_upstream_route_breaker_state", **route) == 2
    assert find(m, "tracseq_upstream_breaker_state", service="templates") == 0
    assert find(m, "tracseq_upstream_breaker_state", service="samples") == 0

    batches = find(m, "tracseq_dataloader_batch_size_count", loader="TemplatesClient.get_many")
    assert batches == 5
    assert find(m, "tracseq_rate_limit_rejections_total", limit="per_client") == 1

    # Label values are bounded: no raw path, no id. (An upstream instance's id and address
    # name a configured instance: bounded by the configuration, and its port may hold "123".)
    instance_labels = ("instance", "address")
    values = {v for (_, labels), _ in m.items() for k, v in labels if k not in instance_labels}
    assert not any("/no/such" in v or "123" in v for v in values)


def test_operation_name_labels_are_bounded_per_window() -> None:
    now = [0.0]
    names = OperationNames(limit=3, window=600, clock=lambda: now[0])
    metrics = Metrics(operation_names=names)
    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("Samples") == "Samples"
    assert metrics.operation_label("x" * 65) == "other"
    assert metrics.operation_label("not a name; drop table") == "other"
    assert [metrics.operation_label(f"Op{i}") for i in range(3)] == ["Op0", "Op1", "other"]
    assert metrics.operation_label("Samples") == "Samples"  # admitted names keep their label
    now[0] = 600.0  # the next window admits the names in use now, whatever came before
    assert [metrics.operation_label(n) for n in ("New", "Op2", "Samples")] == [
        "New",
        "Op2",
        "Samples",
    ]
    assert metrics.operation_label("Op0") == "other"


def test_operation_series_of_names_unused_for_a_window_are_dropped() -> None:
    now = [0.0]
    metrics = Metrics(operation_names=OperationNames(limit=5, window=600, clock=lambda: now[0]))
    for name in ("Old", "Kept"):
        metrics.observe_operation(name, "query", "success")
    now[0] = 600.0
    metrics.observe_operation("Kept", "query", "success")
    now[0] = 1200.0  # "Old" was admitted in neither this window nor the one before
    metrics.observe_operation("Kept", "query", "success")
    m = scrape(metrics.render().decode())
    assert find(m, "tracseq_graphql_operations_total", operation_name="Kept") == 3
    assert not [k for k in m if ("operation_name", "Old") in k[1]]


async def test_json_access_line_and_upstream_lines_carry_the_id_the_upstream_received(
    sandbox: Any, control: SandboxControl, json_log: io.StringIO
) -> None:
    one = seeded_sample(sandbox)
    app = create_app(sandbox_settings(sandbox))
    async with served(app, user_id="user-7") as client:
        control.reset_stats()
        response = await client.post(
            "/graphql",
            json={"query": SAMPLES, "variables": one},
            headers={"X-Request-ID": "req-obs-1"},
        )
    assert response.headers["x-request-id"] == "req-obs-1"
    received = [r["request_id"] for s in ("samples", "templates") for r in control.recent(s)]
    assert received == ["req-obs-1", "req-obs-1"]

    lines = log_lines(json_log)
    access = [line for line in lines if line["event"] == "request"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "req-obs-1"
    assert line["method"] == "POST"
    assert line["route"] == "/graphql"
    assert line["status"] == 200
    assert line["duration_ms"] > 0
    assert line["client"] == "127.0.0.1"
    assert line["principal"] == "user-7"
    assert line["operation_name"] == "Samples"
    assert line["operation_type"] == "query"
    assert line["upstream_calls"] == 2
    assert line["error_codes"] == []
    assert line["level"] == "info"
    upstream = [line for line in lines if line["event"] == "upstream.request"]
    assert {u["service"] for u in upstream} == {"samples", "templates"}
    assert all(u["request_id"] == "req-obs-1" for u in upstream)


async def test_access_line_has_error_codes_and_a_generated_id_for_a_malformed_one(
    sandbox: Any, control: SandboxControl, json_log: io.StringIO
) -> None:
    control.fault("samples", status=0, times=None)
    settings = sandbox_settings(sandbox, retry=RetryPolicy(attempts=1))
    async with served(create_app(settings)) as client:
        response = await client.post(
            "/graphql",
            json={"query": "{ samples(first: 1) { totalCount } }"},
            headers={"X-Request-ID": "bad id with spaces"},
        )
    generated = response.headers["x-request-id"]
    assert generated != "bad id with spaces"
    assert len(generated) == 32
    (line,) = [line for line in log_lines(json_log) if line["event"] == "request"]
    assert line["request_id"] == generated
    assert line["operation_name"] is None
    assert line["error_codes"] == ["UPSTREAM_UNAVAILABLE"]
    assert line["principal"] == str(uuid.uuid5(uuid.NAMESPACE_URL, "test-user/lab_administrator"))
    failed = [line for line in log_lines(json_log) if line["event"] == "upstream.request"]
    assert failed[0]["level"] == "warning"
    assert failed[0]["outcome"] == "unavailable"
    assert failed[0]["request_id"] == generated


async def test_metrics_can_move_to_their_own_port(sandbox: Any) -> None:
    from tests.conftest import free_port

    port = free_port()
    app = create_app(sandbox_settings(sandbox, metrics_port=port))
    async with served(app) as client:
        assert (await client.get("/metrics")).status_code == 404
        assert (await client.get("/health")).status_code == 200
        async with httpx.AsyncClient() as scraper:
            text = (await scraper.get(f"http://127.0.0.1:{port}/metrics")).text
    assert find(scrape(text), "tracseq_http_requests_total", route="/health") == 1


# -- tracing ----------------------------------------------------------------------------


def in_memory_tracing() -> tuple[Any, Any]:
    pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra is not installed")
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from gateway.tracing import Tracing

    exporter = InMemorySpanExporter()
    return Tracing.build(SimpleSpanProcessor(exporter), service_name="test"), exporter


async def test_spans_for_request_operation_and_upstream_calls_continue_the_callers_trace(
    sandbox: Any,
) -> None:
    tracing, exporter = in_memory_tracing()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = f"00-{trace_id}-00f067aa0ba902b7-01"
    one = seeded_sample(sandbox)
    app = create_app(sandbox_settings(sandbox), tracing=tracing)
    async with served(app) as client:
        response = await client.post(
            "/graphql", json={"query": SAMPLES, "variables": one}, headers={"traceparent": parent}
        )
    assert response.status_code == 200
    spans = {span.name: span for span in exporter.get_finished_spans()}
    server = spans["POST /graphql"]
    operation = spans["query Samples"]
    upstream = [s for name, s in spans.items() if name.startswith("GET ")]
    assert {s.name for s in upstream} == {"GET samples", "GET templates"}
    assert all(format(s.context.trace_id, "032x") == trace_id for s in spans.values())
    assert server.parent.span_id == 0x00F067AA0BA902B7
    assert operation.parent.span_id == server.context.span_id
    assert all(s.parent.span_id == operation.context.span_id for s in upstream)
    assert server.attributes["http.route"] == "/graphql"
    assert operation.attributes["graphql.operation.name"] == "Samples"


async def test_upstream_request_carries_trace_context_and_request_id() -> None:
    tracing, exporter = in_memory_tracing()
    seen: list[Headers] = []

    async def handler(request: Request) -> Response:
        seen.append(request.headers)
        return JSONResponse({"success": True, "data": {"id": "s1"}})

    app = Starlette(routes=[Route("/samples/s1", handler)])
    http = create_http_pool()
    observer = GatewayObserver(Metrics(), tracing)
    try:
        async with serve(app) as base_url:
            client = UpstreamClient(
                UpstreamConfig(name="samples", base_url=base_url), http, observer=observer
            )
            await client.request(CallContext(request_id="rid-9"), "GET", "/samples/s1")
    finally:
        await http.aclose()
    (span,) = exporter.get_finished_spans()
    (headers,) = seen
    assert headers["x-request-id"] == "rid-9"
    ctx = span.context
    assert headers["traceparent"].startswith(f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-")


def test_opentelemetry_is_not_even_imported_when_tracing_is_off() -> None:
    code = (
        "import sys; from gateway.app import create_app; from gateway.settings import Settings;"
        "create_app(Settings()); import gateway.cli;"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    assert out.stdout.strip() == "[]"


def test_tracing_is_off_and_not_installed_without_an_endpoint(sandbox: Any) -> None:
    from gateway.tracing import create_tracing, traces_url

    settings = sandbox_settings(sandbox)
    assert create_tracing(settings) is None
    app = create_app(settings)
    (edge,) = app.user_middleware  # the edge, which starts no span without tracing
    assert edge.kwargs["tracing"] is None
    assert traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra is not installed")
    on = create_tracing(dataclasses.replace(settings, otlp_endpoint="http://127.0.0.1:9"))
    assert on is not None
    on.shutdown()


# -- settings ---------------------------------------------------------------------------


def test_operations_settings_have_defaults_and_parse() -> None:
    defaults = Settings.from_env({})
    assert defaults.workers == 1
    assert defaults.metrics_port is None
    assert defaults.critical_upstreams == {"auth", "samples"}
    assert defaults.otlp_endpoint is None
    s = Settings.from_env(
        {
            "TRACSEQ_WORKERS": "4",
            "TRACSEQ_SHUTDOWN_TIMEOUT": "5",
            "TRACSEQ_METRICS_PORT": "9100",
            "TRACSEQ_READY_INTERVAL": "2.5",
            "TRACSEQ_CRITICAL_UPSTREAMS": "Auth, storage",
            "TRACSEQ_OTLP_ENDPOINT": "http://collector:4318",
            "TRACSEQ_TRACE_SAMPLE_RATIO": "0.1",
        }
    )
    assert (s.workers, s.shutdown_timeout, s.metrics_port) == (4, 5, 9100)
    assert s.ready_interval == 2.5
    assert s.critical_upstreams == {"auth", "storage"}
    assert s.otlp_endpoint == "http://collector:4318"
    assert s.trace_sample_ratio == 0.1
    assert Settings.from_env({"TRACSEQ_CRITICAL_UPSTREAMS": "none"}).critical_upstreams == set()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRACSEQ_WORKERS", "0"),
        ("TRACSEQ_SHUTDOWN_TIMEOUT", "soon"),
        ("TRACSEQ_METRICS_PORT", "70000"),
        ("TRACSEQ_METRICS_PORT", "8000"),  # the gateway's own port
        ("TRACSEQ_READY_INTERVAL", "0"),
        ("TRACSEQ_CRITICAL_UPSTREAMS", "auth,billing"),
        ("TRACSEQ_OTLP_ENDPOINT", "collector:4318"),
        ("TRACSEQ_TRACE_SAMPLE_RATIO", "2"),
    ],
)
def test_malformed_operations_setting_is_named(name: str, value: str) -> None:
    from gateway.settings import SettingsError

    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_a_log_line_is_written_whole_with_its_newline_in_one_write(json_log: WriteCalls) -> None:
    # Workers share stderr: a line and its newline written apart (as print() does on an
    # unbuffered stream) let another worker's line land in between.
    structlog.get_logger().info("one.line", detail="x" * 300)
    assert len(json_log.calls) == 1
    line = json_log.calls[0]
    assert line.endswith("\n")
    assert line.count("\n") == 1
    assert orjson.loads(line)["event"] == "one.line"

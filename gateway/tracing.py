"""Optional OpenTelemetry tracing: off unless ``TRACSEQ_OTLP_ENDPOINT`` is set.

When off, nothing of OpenTelemetry is imported and the edge starts no span: tracing costs
nothing. When on (``pip install 'tracseq-gateway[otel]'``), each request
gets a server span (continuing the caller's W3C ``traceparent`` when it sends one), each
GraphQL operation a span inside it, and each upstream HTTP request a client span whose
context travels upstream in ``traceparent``/``tracestate``. Spans leave through an OTLP
over HTTP exporter in batches. The app has its own tracer provider: the process-global
one is left alone. Log lines of a traced request carry its ``trace_id``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from starlette.types import Scope

from gateway.settings import PREFIX, Settings, SettingsError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import Span

INSTRUMENTATION = "tracseq-gateway"
TRACES_PATH = "/v1/traces"
EXPORT_TIMEOUT = 3.0  # seconds for one batch export, retries included
_FAILED = frozenset({"server_error", "unavailable", "timeout"})


def otel_available() -> bool:
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http")
    )


def require_otel(settings: Settings) -> None:
    """Stop startup with a clear message when tracing is asked for but not installed."""
    if settings.otlp_endpoint is not None and not otel_available():
        raise SettingsError(
            f"{PREFIX}OTLP_ENDPOINT is set but OpenTelemetry is not installed: "
            "pip install 'tracseq-gateway[otel]'"
        )


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a collector base URL (``http://collector:4318``)."""
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint.rstrip("/") + TRACES_PATH


def create_tracing(settings: Settings) -> Tracing | None:
    """The app's tracing from its settings; None when no OTLP endpoint is configured."""
    if settings.otlp_endpoint is None:
        return None
    require_otel(settings)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # A short export timeout bounds how long shutdown waits on an unreachable collector.
    exporter = OTLPSpanExporter(endpoint=traces_url(settings.otlp_endpoint), timeout=EXPORT_TIMEOUT)
    return Tracing.build(
        BatchSpanProcessor(exporter),
        service_name=settings.otel_service_name,
        sample_ratio=settings.trace_sample_ratio,
    )


class Tracing:
    """A tracer over the app's own provider, and the span helpers the gateway uses."""

    def __init__(self, provider: TracerProvider) -> None:
        from opentelemetry import context, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = provider
        self.tracer = provider.get_tracer(INSTRUMENTATION)
        self.propagator = TraceContextTextMapPropagator()
        self._trace = trace
        self._context = context

    @classmethod
    def build(
        cls, processor: SpanProcessor, *, service_name: str, sample_ratio: float = 1.0
    ) -> Tracing:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        provider = TracerProvider(
            resource=Resource.create({"service.name": service_name}),
            sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
        )
        provider.add_span_processor(processor)
        return cls(provider)

    def shutdown(self) -> None:
        """Flush pending spans and stop the exporter."""
        self.provider.shutdown()

    @contextmanager
    def operation_span(self) -> Iterator[Span]:
        """The GraphQL operation's span, current for the resolvers below it."""
        with self.tracer.start_as_current_span("graphql.operation") as span:
            yield span

    def start_server_span(self, scope: Scope) -> ServerSpan:
        """The request's server span, continuing the caller's trace; current until ended."""
        return ServerSpan(self, scope)

    def start_upstream_span(
        self, service: str, method: str, path: str, headers: dict[str, str]
    ) -> Span:
        span = self.tracer.start_span(
            f"{method} {service}",
            kind=self._trace.SpanKind.CLIENT,
            attributes={"http.request.method": method, "url.path": path, "peer.service": service},
        )
        self.propagator.inject(headers, context=self._trace.set_span_in_context(span))
        return span

    def end_upstream_span(self, span: Span, outcome: str, status: int | None) -> None:
        span.set_attribute("tracseq.outcome", outcome)
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if outcome in _FAILED:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, outcome))
        span.end()


class ServerSpan:
    """The server span of one HTTP request, current while the edge serves it."""

    __slots__ = ("_span", "_token", "_tracing", "trace_id")

    def __init__(self, tracing: Tracing, scope: Scope) -> None:
        trace = tracing._trace
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        parent = tracing.propagator.extract(carrier) if carrier else None
        self._tracing = tracing
        self._span = span = tracing.tracer.start_span(
            scope["method"],
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes=_request_attributes(scope),
        )
        self._token = tracing._context.attach(trace.set_span_in_context(span, parent))
        self.trace_id = format(span.get_span_context().trace_id, "032x")

    def failed(self, exc: BaseException) -> None:
        self._span.record_exception(exc)

    def end(self, method: str, route: str, status: int) -> None:
        """Name the span after the route template, record the status and end it."""
        trace = self._tracing._trace
        span = self._span
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(trace.Status(trace.StatusCode.ERROR))
        span.end()
        self._tracing._context.detach(self._token)


def _request_attributes(scope: Scope) -> dict[str, Any]:
    state = scope.get("state") or {}
    return {
        "http.request.method": scope["method"],
        "url.path": scope["path"],
        "tracseq.request_id": state.get("request_id", ""),
    }

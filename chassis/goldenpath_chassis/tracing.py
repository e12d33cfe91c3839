"""OpenTelemetry tracing: FastAPI and outbound HTTP spans, GenAI spans around model calls.

Spans are exported by OTLP only when an endpoint is configured; otherwise they still exist
(trace ids in logs) but leave the process nowhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from starlette.types import Scope

from .logs import RELEASE_ID

_PROVIDER: TracerProvider | None = None


def build_tracer_provider(
    service: str, version: str, otlp_endpoint: str | None, timeout_seconds: float = 10.0
) -> TracerProvider:
    """A provider that exports by OTLP/HTTP only when an endpoint is given."""
    resource = Resource.create({"service.name": service, "service.version": version})
    provider = TracerProvider(resource=resource)
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(
            endpoint=otlp_endpoint.rstrip("/") + "/v1/traces", timeout=timeout_seconds
        )
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def configure_tracing(
    service: str, version: str, otlp_endpoint: str | None, timeout_seconds: float = 10.0
) -> TracerProvider:
    """Set the process-wide tracer provider once; later calls return the same one.

    OpenTelemetry allows one global provider per process, so the first app built wins; tests
    that need their own exporter add a span processor to the returned provider.
    """
    global _PROVIDER
    if _PROVIDER is None:
        _PROVIDER = build_tracer_provider(service, version, otlp_endpoint, timeout_seconds)
        trace.set_tracer_provider(_PROVIDER)
        HTTPXClientInstrumentor().instrument(tracer_provider=_PROVIDER)
    return _PROVIDER


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    """One server span per request (no extra spans per ASGI send/receive). The span is
    opened under the method alone and named after its route template once routing has
    happened (`name_server_span`): looking the route up beforehand, as FastAPIInstrumentor
    does, tries every route against the path and cost about 0.2 ms a request."""
    app.add_middleware(
        OpenTelemetryMiddleware,
        excluded_urls="healthz,readyz,metrics",
        default_span_details=_method_only,
        tracer_provider=provider,
        exclude_spans=["receive", "send"],
    )


def _method_only(scope: Scope) -> tuple[str, dict[str, Any]]:
    return str(scope.get("method") or "HTTP"), {}


def name_server_span(method: str, route: str) -> None:
    """Give the current server span its low-cardinality name: method and route template."""
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)


tracer = trace.get_tracer("goldenpath.platform")


@contextmanager
def genai_span(operation: str, model: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span around a model, retrieval or tool call, with GenAI semantic-convention names.

    `operation` is `gen_ai.operation.name` (chat, embeddings, execute_tool, retrieval);
    extra attributes use semantic-convention names, e.g. `**{"gen_ai.tool.name": "refund"}`.
    Record usage on the yielded span with `record_usage`. An exception marks the span failed.
    """
    with tracer.start_as_current_span(f"{operation} {model}") as span:
        span.set_attribute("gen_ai.operation.name", operation)
        span.set_attribute("gen_ai.request.model", model)
        span.set_attribute("service.release", RELEASE_ID.get())
        for key, value in attributes.items():
            span.set_attribute(key, value)
        yield span


def record_usage(
    span: trace.Span, input_tokens: int, output_tokens: int, response_model: str | None = None
) -> None:
    """Token usage (and the model that answered) on a GenAI span."""
    span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
    if response_model:
        span.set_attribute("gen_ai.response.model", response_model)

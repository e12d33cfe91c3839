"""Prometheus metrics: HTTP RED metrics per route template, build info, and domain metrics.

Each app gets its own registry, so several apps (tests, benchmarks) never collide.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_fastapi_instrumentator import Instrumentator, metrics
from prometheus_fastapi_instrumentator.metrics import Info

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServiceMetrics:
    """The metric families a service exports; templates add their own through `counter` etc."""

    def __init__(self, service: str, version: str) -> None:
        self.registry = CollectorRegistry()
        self.service = service
        self.build_info = Gauge(
            "service_build_info",
            "Always 1; labels carry the build version and the active release.",
            ["service", "version", "release"],
            registry=self.registry,
        )
        self.version = version
        self.kill_switch = Gauge(
            "service_kill_switch_active",
            "1 while the kill switch serves the safe fallback instead of the model path.",
            registry=self.registry,
        )
        self.requests_by_release = Counter(
            "service_release_requests_total",
            "Requests routed to each release (active or canary).",
            ["release", "track"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "genai_tokens_total",
            "Model tokens used, by direction (input, output).",
            ["model", "direction", "release"],
            registry=self.registry,
        )
        self.cost = Counter(
            "genai_estimated_cost_usd_total",
            "Estimated model cost in US dollars.",
            ["model", "release"],
            registry=self.registry,
        )
        self.model_latency = Histogram(
            "genai_operation_duration_seconds",
            "Duration of model calls (generation, embedding).",
            ["operation", "model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._active_release = ""

    def set_active_release(self, release_id: str) -> None:
        if release_id != self._active_release:
            self.build_info.clear()
            self.build_info.labels(self.service, self.version, release_id).set(1)
            self._active_release = release_id

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(name, documentation, list(labels), registry=self.registry)

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(name, documentation, list(labels), registry=self.registry)

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        return Histogram(
            name, documentation, list(labels), buckets=tuple(buckets), registry=self.registry
        )


def _errors_metric(registry: CollectorRegistry):  # type: ignore[no-untyped-def]
    errors = Counter(
        "http_request_errors_total",
        "Requests answered with a 5xx (server) or 4xx (client) status.",
        ["handler", "method", "status_class"],
        registry=registry,
    )

    def instrumentation(info: Info) -> None:
        status = info.response.status_code if info.response is not None else 500
        if status >= 400:
            errors.labels(info.modified_handler, info.method, f"{status // 100}xx").inc()

    return instrumentation


def instrument(app: FastAPI, service_metrics: ServiceMetrics) -> None:
    """Count requests, errors, latency and in-flight requests per route template; serve them."""
    registry = service_metrics.registry
    instrumentator = Instrumentator(
        should_group_status_codes=False,
        should_ignore_untemplated=True,
        should_instrument_requests_inprogress=True,
        inprogress_labels=True,
        excluded_handlers=["/metrics", "/healthz", "/readyz"],
        registry=registry,
    )
    instrumentator.add(
        metrics.requests(registry=registry),
        metrics.latency(buckets=LATENCY_BUCKETS, registry=registry),
        _errors_metric(registry),
    )
    instrumentator.instrument(app).expose(app, include_in_schema=False, should_gzip=False)

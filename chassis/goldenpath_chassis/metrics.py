"""Prometheus metrics: HTTP RED metrics per route template, build info, and domain metrics.

Each app gets its own registry, so several apps (tests, benchmarks) never collide. The HTTP
metrics come from one small ASGI middleware written on `prometheus_client` directly: it reads
the route template FastAPI already matched instead of matching every route a second time, which
keeps the chassis's cost per request low (see bench/ in the kit).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logs import RELEASE_ID
from .tracing import name_server_span

disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` series double the output and no alert or panel uses them

BASE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def latency_buckets(slo_seconds: float) -> tuple[float, ...]:
    """Latency buckets with the SLO threshold as one bound, so the latency SLO is computed
    exactly from `http_request_duration_seconds_bucket{le="<threshold>"}`."""
    return tuple(sorted({*BASE_BUCKETS, slo_seconds}))


UNMATCHED = "none"  # route label of requests that matched no route (no unbounded paths)
NOT_ROUTED = "none"  # release label of requests that were not routed to a release
UNTRACKED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})

log = logging.getLogger("service.requests")


def estimate_cost_usd(config: Mapping[str, Any], input_tokens: int, output_tokens: int) -> float:
    """Estimated cost of one call from a release's prices (`usd_per_1k_input_tokens`,
    `usd_per_1k_output_tokens` in its config; absent: a self-hosted model, cost 0)."""
    per_input = float(config.get("usd_per_1k_input_tokens", 0.0))
    per_output = float(config.get("usd_per_1k_output_tokens", 0.0))
    return (input_tokens * per_input + output_tokens * per_output) / 1000


class ServiceMetrics:
    """The metric families every service exports. A service registers its own domain metrics
    through `counter`, `gauge` and `histogram`; the chassis knows none of them."""

    def __init__(self, service: str, version: str, latency_slo_seconds: float = 0.8) -> None:
        self.registry = CollectorRegistry()
        self.latency_buckets = latency_buckets(latency_slo_seconds)
        self.service = service
        self.version = version
        self._families: dict[str, MetricWrapperBase] = {}
        self._refreshers: list[Callable[[], None]] = []

        # HTTP: requests, errors, latency and in-flight requests per route template.
        self.http_requests = self.counter(
            "http_requests_total",
            "Requests by route template, method, status and release.",
            ["handler", "method", "status", "release"],
        )
        self.http_errors = self.counter(
            "http_request_errors_total",
            "Requests answered with a 4xx (client) or 5xx (server) status.",
            ["handler", "method", "status_class", "release"],
        )
        self.http_latency = self.histogram(
            "http_request_duration_seconds",
            "Time from request start to the end of the response, by route template.",
            ["handler", "method"],
        )
        self.http_in_progress = self.gauge(
            "http_requests_in_progress", "Requests being served right now."
        )

        # Build and rollback state.
        self.build_info = self.gauge(
            "service_build_info",
            "Always 1; labels carry the build version and the active release.",
            ["service", "version", "release"],
        )
        self.kill_switch = self.gauge(
            "service_kill_switch_active",
            "1 while the kill switch serves the safe fallback instead of the model path.",
        )
        self.canary_weight = self.gauge(
            "service_canary_weight_percent", "Share of callers routed to the canary release."
        )
        self.requests_by_release = self.counter(
            "service_release_requests_total",
            "Requests routed to each release (active or canary).",
            ["release", "track"],
        )
        self.fallbacks = self.counter(
            "service_fallback_responses_total",
            "Answers served by the safe fallback instead of the model path.",
            ["reason"],
        )
        self.fallbacks.labels("kill_switch")  # starts at zero: see record_model_call

        # GenAI: every template calls models (generation, embeddings, planning).
        self.tokens = self.counter(
            "genai_tokens_total",
            "Model tokens used, by direction (input, output).",
            ["model", "direction", "release"],
        )
        self.cost = self.counter(
            "genai_estimated_cost_usd_total",
            "Estimated model cost in US dollars.",
            ["model", "release"],
        )
        self.model_latency = self.histogram(
            "genai_operation_duration_seconds",
            "Duration of model calls (generation, embedding, planning).",
            ["operation", "model"],
        )
        self.model_errors = self.counter(
            "genai_operation_errors_total",
            "Model calls that failed, by operation, model and error type.",
            ["operation", "model", "error"],
        )

    # -- the API for domain metrics -----------------------------------------------------------
    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """A counter (name ends in `_total`); asking twice for one name returns the same one."""
        family: Counter = self._family(Counter, name, documentation, labels)
        return family

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        family: Gauge = self._family(Gauge, name, documentation, labels)
        return family

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] | None = None,
    ) -> Histogram:
        chosen = tuple(buckets) if buckets is not None else self.latency_buckets
        family: Histogram = self._family(Histogram, name, documentation, labels, buckets=chosen)
        return family

    def record_model_call(
        self,
        operation: str,
        model: str,
        release: str,
        seconds: float,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost_usd: float = 0.0,
    ) -> None:
        """Record one model call: duration, tokens both ways and estimated cost.

        Every series is touched even when it adds zero, and the model's error series starts
        at zero (error="none"): a rate over a series that never got a sample is empty, so a
        dashboard panel would show nothing and an error-ratio alert could never fire.
        """
        self.model_latency.labels(operation, model).observe(seconds)
        self.tokens.labels(model, "input", release).inc(input_tokens)
        self.tokens.labels(model, "output", release).inc(output_tokens)
        self.cost.labels(model, release).inc(cost_usd)
        self.model_errors.labels(operation, model, "none")

    def record_model_error(self, operation: str, model: str, error: BaseException | str) -> None:
        """Count one failed model call by the error's type (never its message)."""
        kind = error if isinstance(error, str) else type(error).__name__
        self.model_errors.labels(operation, model, kind).inc()

    def record_fallback(self, reason: str) -> None:
        """Count one answer served by the safe fallback (kill switch, model outage...)."""
        self.fallbacks.labels(reason).inc()

    def set_active_release(self, release_id: str) -> None:
        self.build_info.clear()
        self.build_info.labels(self.service, self.version, release_id).set(1)

    def on_scrape(self, refresh: Callable[[], None]) -> None:
        """Run `refresh` before each scrape (state another process may have changed)."""
        self._refreshers.append(refresh)

    def exposition(self) -> bytes:
        for refresh in self._refreshers:
            refresh()
        return generate_latest(self.registry)

    def _family(self, kind: type, name: str, documentation: str, labels: Sequence[str],
                **kwargs: Any) -> Any:  # fmt: skip
        existing = self._families.get(name)
        if existing is not None:
            if not isinstance(existing, kind) or tuple(existing._labelnames) != tuple(labels):
                raise ValueError(f"metric {name!r} already exists with other type or labels")
            return existing
        family = kind(name, documentation, list(labels), registry=self.registry, **kwargs)
        self._families[name] = family
        return family


class HttpObservability:
    """ASGI middleware: HTTP metrics, one JSON log line per request and the server span's
    route name, in one pass once routing has happened.

    It runs inside the OpenTelemetry middleware, so the log line carries the trace id; the
    release label comes from the request context dependency (through `RELEASE_ID`).
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTRACKED_PATHS:
            await self.app(scope, receive, send)
            return
        metrics = self.metrics
        started, status = time.perf_counter(), 500
        token = RELEASE_ID.set(NOT_ROUTED)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route = scope.get("route")  # routed by now; the span ends with the body
                if route is not None:
                    name_server_span(scope["method"], route.path)
            await send(message)

        metrics.http_in_progress.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            metrics.http_in_progress.dec()
            route = scope.get("route")
            handler = getattr(route, "path", None) or UNMATCHED
            method, release = scope["method"], RELEASE_ID.get()
            metrics.http_requests.labels(handler, method, str(status), release).inc()
            metrics.http_latency.labels(handler, method).observe(elapsed)
            if status >= 400:
                metrics.http_errors.labels(handler, method, f"{status // 100}xx", release).inc()
            log.info(
                "request",
                extra={
                    "method": method,
                    "path": scope["path"],
                    "route": handler,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            RELEASE_ID.reset(token)


def expose(app: FastAPI, service_metrics: ServiceMetrics) -> None:
    """Serve `/metrics` from the app's own registry (the middleware is added by the app)."""

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(service_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

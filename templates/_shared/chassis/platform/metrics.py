"""Prometheus metrics: HTTP RED metrics per route template, build info, and domain metrics.

Each app gets its own registry, so several apps (tests, benchmarks) never collide. The HTTP
metrics come from one small ASGI middleware written on `prometheus_client` directly: it reads
the route template FastAPI already matched instead of matching every route a second time, which
keeps the chassis's cost per request low (see bench/ in the kit).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
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

disable_created_metrics()  # `_created` series double the output and no alert or panel uses them

# The latency SLO threshold ({{ cookiecutter.latency_slo_p95_ms }} ms) is one of the bucket
# bounds, so the latency SLO can be computed exactly from `http_request_duration_seconds_bucket`.
LATENCY_SLO_SECONDS = {{ cookiecutter.latency_slo_p95_ms | float / 1000 }}
LATENCY_BUCKETS = tuple(
    sorted({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            LATENCY_SLO_SECONDS})
)  # fmt: skip
UNMATCHED = "none"  # route label of requests that matched no route (no unbounded paths)
NOT_ROUTED = "none"  # release label of requests that were not routed to a release
UNTRACKED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})

log = logging.getLogger("service.requests")


class ServiceMetrics:
    """The metric families a service exports; templates add their own through `counter` etc."""

    def __init__(self, service: str, version: str) -> None:
        self.registry = CollectorRegistry()
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
{%- if cookiecutter._kind == "rag-service" %}

        # Retrieval (rag-service).
        self.retrieval_hits = self.counter(
            "retrieval_hits_total",
            "Chunks returned by retrieval, summed over queries.",
            ["release"],
        )
        self.retrieval_misses = self.counter(
            "retrieval_empty_results_total",
            "Queries for which retrieval found nothing relevant.",
            ["release"],
        )
        self.retrieval_latency = self.histogram(
            "retrieval_duration_seconds", "Duration of one retrieval (search and fusion)."
        )
        self.documents_ingested = self.counter(
            "ingest_documents_total", "Documents ingested, by outcome.", ["outcome"]
        )
{%- elif cookiecutter._kind == "batch-inference" %}

        # Batch jobs (batch-inference).
        self.rows_processed = self.counter(
            "batch_rows_processed_total",
            "Rows processed by batch jobs, by outcome (ok, failed).",
            ["outcome"],
        )
        self.jobs = self.counter(
            "batch_jobs_total", "Batch jobs finished, by final status.", ["status"]
        )
        self.queue_depth = self.gauge(
            "batch_queue_depth", "Jobs submitted and not yet finished (queued or running)."
        )
        self.job_duration = self.histogram(
            "batch_job_duration_seconds",
            "Wall time of one batch job.",
            buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600),
        )
{%- elif cookiecutter._kind == "agent-orchestrator" %}

        # Agent runs (agent-orchestrator).
        self.tool_calls = self.counter(
            "agent_tool_calls_total",
            "Tool calls made by agents, by tool and outcome (ok, error, denied).",
            ["tool", "outcome"],
        )
        self.agent_runs = self.counter(
            "agent_runs_total", "Agent runs finished, by final status.", ["status"]
        )
        self.queue_depth = self.gauge(
            "agent_pending_approvals", "Runs waiting for a human to approve a risky tool call."
        )
        self.agent_steps = self.histogram(
            "agent_run_steps",
            "Planner steps taken by one agent run.",
            buckets=(1, 2, 3, 5, 8, 13, 21, 34),
        )
{%- endif %}

    # -- the API for domain metrics -----------------------------------------------------------
    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """A counter (name ends in `_total`); asking twice for one name returns the same one."""
        return self._family(Counter, name, documentation, labels)

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        return self._family(Gauge, name, documentation, labels)

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        return self._family(Histogram, name, documentation, labels, buckets=tuple(buckets))

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
        """Record one model call: duration, tokens both ways and estimated cost."""
        self.model_latency.labels(operation, model).observe(seconds)
        if input_tokens:
            self.tokens.labels(model, "input", release).inc(input_tokens)
        if output_tokens:
            self.tokens.labels(model, "output", release).inc(output_tokens)
        if cost_usd:
            self.cost.labels(model, release).inc(cost_usd)

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

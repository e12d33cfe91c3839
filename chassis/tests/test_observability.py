"""Monitoring: /metrics, traces and logs of a service built on the chassis.

(Each generated service checks its own alert rules and dashboard against its own scrape:
templates/_shared/service_tests/test_platform_contract.py.)
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from minimal_service import create_app
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from goldenpath_chassis.logs import log_model_io
from goldenpath_chassis.tracing import (
    build_tracer_provider,
    configure_tracing,
    genai_span,
    record_usage,
)


@pytest.fixture
def scrape(client, auth_headers, domain_call) -> str:
    response = client.request(**domain_call, headers=auth_headers)
    assert response.status_code == 200, response.text
    client.request(domain_call["method"], domain_call["url"], content=b"{not json",
                   headers={**auth_headers, "Content-Type": "application/json"})  # fmt: skip
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    return metrics.text


def test_metrics_cover_requests_errors_latency_in_flight_and_build(scrape, settings) -> None:
    route = next(line for line in scrape.splitlines() if line.startswith("http_requests_total{"))
    assert 'status="200"' in scrape and 'status="400"' in scrape
    assert re.search(r'handler="/[^"]*"', route), route  # the route template, not the raw path
    assert "http_request_errors_total{" in scrape
    assert "http_request_duration_seconds_bucket{" in scrape
    assert "http_requests_in_progress " in scrape
    build = re.search(r"service_build_info\{([^}]*)\} 1\.0", scrape)
    assert build and f'version="{settings.version}"' in build.group(1)
    assert 'release="' in build.group(1)
    assert "service_kill_switch_active 0.0" in scrape
    assert "_created" not in scrape


def test_metric_names_follow_prometheus_conventions(scrape) -> None:
    for line in scrape.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            if kind == "counter":
                assert name.endswith("_total"), name
            assert not name.endswith("_ms") and not name.endswith("_milliseconds"), name


def test_domain_request_is_labelled_with_its_release(scrape) -> None:
    assert re.search(r'service_release_requests_total\{release="[^"]+",track="active"\}', scrape)
    assert re.search(r'http_requests_total\{[^}]*release="(?!none)[^"]+"[^}]*status="200"', scrape)


def test_genai_span_carries_semantic_convention_attributes(client) -> None:
    exporter = InMemorySpanExporter()
    configure_tracing("ignored", "0", None).add_span_processor(SimpleSpanProcessor(exporter))
    with genai_span("chat", "test-model", **{"gen_ai.provider.name": "local"}) as span:
        record_usage(span, input_tokens=12, output_tokens=3, response_model="test-model")
    (finished,) = [s for s in exporter.get_finished_spans() if s.name == "chat test-model"]
    attributes = dict(finished.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "test-model"
    assert attributes["gen_ai.usage.input_tokens"] == 12
    assert attributes["gen_ai.usage.output_tokens"] == 3


def test_request_spans_carry_the_release(client, auth_headers, domain_call) -> None:
    exporter = InMemorySpanExporter()
    configure_tracing("ignored", "0", None).add_span_processor(SimpleSpanProcessor(exporter))
    assert client.request(**domain_call, headers=auth_headers).status_code == 200
    server = [s for s in exporter.get_finished_spans() if s.kind.name == "SERVER"]
    assert server and (server[-1].attributes or {}).get("service.release")
    assert server[-1].name == f"{domain_call['method']} {domain_call['url']}"  # route template
    assert (server[-1].attributes or {}).get("http.route") == domain_call["url"]


def test_spans_are_exported_by_otlp_only_when_an_endpoint_is_set() -> None:
    received: list[bytes] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        silent = build_tracer_provider("svc", "1", None)
        assert not silent._active_span_processor._span_processors
        exporting = build_tracer_provider("svc", "1", f"http://127.0.0.1:{server.server_port}")
        with exporting.get_tracer("test").start_as_current_span("exported-span"):
            pass
        assert exporting.force_flush(5_000)
        assert received and b"exported-span" in received[0]
        exporting.shutdown()
    finally:
        server.shutdown()


def test_logs_are_json_with_trace_id_and_release(capsys, settings, auth_headers, domain_call):
    with TestClient(create_app(settings)) as client:
        assert client.request(**domain_call, headers=auth_headers).status_code == 200
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    request_lines = [line for line in lines if line.get("message") == "request"]
    assert request_lines, lines
    assert re.fullmatch(r"[0-9a-f]{32}", request_lines[-1]["trace_id"])
    assert request_lines[-1]["release"] not in ("-", "none")
    assert all("trace_id" in line and "level" in line for line in lines)


def test_development_logs_are_readable_lines_without_ansi(capsys, settings, auth_headers,
                                                          domain_call) -> None:  # fmt: skip
    """`make run` (environment development) logs one readable, redacted line per record; no
    JSON, no ANSI escapes (uvicorn's `color_message` copy is dropped in both formats)."""
    import logging

    dev = settings.model_copy(update={"environment": "development", "log_format": None})
    with TestClient(create_app(dev)) as client:
        assert client.request(**domain_call, headers=auth_headers).status_code == 200
        ansi = {"color_message": "\x1b[1mStarted\x1b[0m"}
        logging.getLogger("uvicorn.error").info("Started %s", "x", extra=ansi)
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert lines and not any(line.startswith("{") for line in lines), lines
    assert not any("\x1b[" in line for line in lines)
    started = [line for line in lines if "uvicorn.error: Started x" in line]
    assert started and "(trace " in started[0]


def test_prompts_are_not_logged_unless_allowed_and_then_redacted(capsys, client) -> None:
    import logging

    logger = logging.getLogger("test.model_io")
    log_model_io(logger, False, prompt="my secret question")
    log_model_io(logger, True, prompt="mail me at jane.doe@example.com", response="ok")
    err = capsys.readouterr().err
    assert "my secret question" not in err
    assert "[REDACTED_EMAIL]" in err and "jane.doe@example.com" not in err

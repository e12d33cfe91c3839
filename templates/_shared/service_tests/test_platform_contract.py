"""Monitoring: /metrics, SLO alert rules and dashboard against the real scrape, traces, logs.

Shared by every goldenpath template (written once in the kit's chassis).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import promql_parser
import pytest
import yaml
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from {{ cookiecutter.package_name }}.platform.logs import log_model_io
from {{ cookiecutter.package_name }}.platform.tracing import (
    build_tracer_provider,
    configure_tracing,
    genai_span,
    record_usage,
)

ROOT = Path(__file__).resolve().parents[1]
ALERTS = ROOT / "observability" / "alerts.yml"
DASHBOARD = ROOT / "observability" / "dashboard.json"
# Series Prometheus makes itself for every target, not exported by the service.
PROMETHEUS_SYNTHETIC = {"up"}
METRIC_NAME = re.compile(r"^# (?:HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*)", re.M)


def exported_names(text: str) -> set[str]:
    """Every series name the exposition can carry (histograms add _bucket, _count, _sum)."""
    names: set[str] = set()
    for family in METRIC_NAME.findall(text):
        names |= {family, f"{family}_bucket", f"{family}_count", f"{family}_sum"}
    return names


def selectors(expr: str) -> set[str]:
    """Metric names a PromQL expression reads, from its parsed syntax tree."""
    found: set[str] = set()

    def walk(node: object) -> None:
        name = getattr(node, "name", None)
        if type(node).__name__ == "VectorSelector" and name:
            found.add(name)
        for attr in ("expr", "lhs", "rhs", "param", "vector_selector"):
            child = getattr(node, attr, None)
            if child is not None and not isinstance(child, str | int | float):
                walk(child)
        for arg in getattr(node, "args", None) or []:
            walk(arg)

    walk(promql_parser.parse(expr))
    return found


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


def test_alert_rules_parse_and_read_only_exported_metrics(scrape) -> None:
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    exported = exported_names(scrape)
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    for group in rules["groups"]:
        for rule in group["rules"]:
            missing = selectors(rule["expr"]) - exported - recorded - PROMETHEUS_SYNTHETIC
            assert not missing, f"{rule.get('alert') or rule['record']} reads {missing}"
    names = {alert["alert"] for alert in alerts}
    assert {"AvailabilityBurnRateCritical", "AvailabilityBurnRateWarning",
            "LatencyBurnRateCritical", "LatencyBurnRateWarning"} <= names  # fmt: skip
    for alert in alerts:
        assert alert["labels"]["severity"] in {"page", "ticket"}
        assert alert["annotations"]["runbook_url"].startswith("docs/runbook.md#")


def test_burn_rate_alerts_use_the_answers_slo_targets(scrape) -> None:
    text = ALERTS.read_text(encoding="utf-8")
    budget = 1 - {{ cookiecutter.availability_slo }} / 100
    assert re.search(r"14\.4 \* ([0-9.e-]+)", text).group(1) == f"{budget:.6g}"
    threshold = re.search(r'le="([0-9.]+)"', text).group(1)
    assert float(threshold) * 1000 == pytest.approx({{ cookiecutter.latency_slo_p95_ms }})
    assert f'le="{threshold}"' in scrape, "the latency SLO must be a histogram bucket bound"
    windows = set(re.findall(r"ratio_rate(\w+)\{", text))
    assert {"5m", "30m", "1h", "2h", "6h", "1d", "3d"} <= windows  # multi-window


def test_every_alert_has_a_runbook_section() -> None:
    runbook = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                assert f"### {rule['alert']}" in runbook, rule["alert"]


def test_dashboard_panels_parse_and_read_only_exported_metrics(scrape) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    exported = exported_names(scrape)
    assert dashboard["title"] and dashboard["uid"] and dashboard["panels"]
    for panel in dashboard["panels"]:
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys(), panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            missing = selectors(target["expr"]) - exported - recorded
            assert not missing, f"panel {panel['title']!r} reads {missing}"


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
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
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
    from fastapi.testclient import TestClient

    from {{ cookiecutter.package_name }}.main import create_app

    with TestClient(create_app(settings)) as client:
        assert client.request(**domain_call, headers=auth_headers).status_code == 200
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    request_lines = [line for line in lines if line.get("message") == "request"]
    assert request_lines, lines
    assert re.fullmatch(r"[0-9a-f]{32}", request_lines[-1]["trace_id"])
    assert request_lines[-1]["release"] not in ("-", "none")
    assert all("trace_id" in line and "level" in line for line in lines)


def test_prompts_are_not_logged_unless_allowed_and_then_redacted(capsys, client) -> None:
    import logging

    logger = logging.getLogger("test.model_io")
    log_model_io(logger, False, prompt="my secret question")
    log_model_io(logger, True, prompt="mail me at jane.doe@example.com", response="ok")
    err = capsys.readouterr().err
    assert "my secret question" not in err
    assert "[REDACTED_EMAIL]" in err and "jane.doe@example.com" not in err

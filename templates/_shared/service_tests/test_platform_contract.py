"""The monitoring contract of this service: after its real domain calls (the `exercise`
fixture in conftest.py), every series an alert rule or a dashboard panel reads has a sample
in /metrics, and the alerts use this service's SLO answers.

Written once in the kit (templates/_shared/service_tests); the chassis itself is tested in
the kit, against a minimal service.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

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


def sampled_names(text: str) -> set[str]:
    """Names of the series that have at least one sample in an exposition."""
    return {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }


def rule_selectors() -> dict[str, set[str]]:
    """What each alert rule and dashboard panel reads (recording rules: what they record from)."""
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            found[f"rule {rule.get('alert') or rule['record']}"] = selectors(rule["expr"])
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            found.setdefault(f"panel {panel['title']!r}", set()).update(selectors(target["expr"]))
    return found


@pytest.fixture
def scrape(client, auth_headers, exercise, domain_call) -> str:
    exercise(client, auth_headers)
    client.request(domain_call["method"], domain_call["url"], content=b"{not json",
                   headers={**auth_headers, "Content-Type": "application/json"})  # fmt: skip
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    return metrics.text


def test_every_series_an_alert_or_a_panel_reads_has_a_sample(scrape) -> None:
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    sampled = sampled_names(scrape)
    empty = {
        user: sorted(names - sampled - recorded - PROMETHEUS_SYNTHETIC)
        for user, names in rule_selectors().items()
    }
    empty = {user: names for user, names in empty.items() if names}
    assert not empty, f"series with no sample after the domain calls: {empty}"


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

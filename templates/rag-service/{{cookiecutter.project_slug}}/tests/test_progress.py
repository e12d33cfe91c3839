"""A long ingestion reports its progress: documents done of total, rate and ETA, in the log at
most every `progress_log_seconds` and once at the end (an API caller's one request cannot
show a bar; the CLI shows one)."""

from __future__ import annotations

import logging

import pytest
from conftest import HANDBOOK, ingest

from {{ cookiecutter.package_name }}.progress import ProgressLog


def progress_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "ingestion progress"]


def test_progress_is_logged_with_totals_rate_and_eta_at_most_every_interval(caplog):
    now = [100.0]
    progress = ProgressLog(10, every=5.0, extra={"tenant": "alpha"}, clock=lambda: now[0])
    with caplog.at_level(logging.INFO):
        for _ in range(10):
            now[0] += 2.0  # a document every 2 s
            progress("doc")
    lines = progress_lines(caplog)
    assert [r.done for r in lines] == [3, 6, 9, 10]  # every >= 5 s, then the last one
    third = lines[2]
    assert (third.total, third.percent, third.docs_per_second) == (10, 90.0, 0.5)
    assert third.eta_seconds == 2.0 and third.tenant == "alpha"
    assert lines[-1].eta_seconds == 0.0


def test_an_unknown_total_still_reports_the_rate():
    progress = ProgressLog(None, clock=iter([0.0, 4.0]).__next__)
    progress("doc")
    assert progress.figures(4.0) == {
        "done": 1, "total": None, "percent": None, "docs_per_second": 0.25, "eta_seconds": None
    }  # fmt: skip


def test_an_api_ingestion_logs_its_progress(client, auth_headers, tenant, caplog):
    with caplog.at_level(logging.INFO):
        ingest(client, auth_headers, tenant, **{"handbook.md": HANDBOOK, "b.txt": "Bee text."})
    (last,) = progress_lines(caplog)[-1:]
    assert (last.done, last.total, last.percent) == (2, 2, 100.0) and last.tenant == tenant

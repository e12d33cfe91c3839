"""`GET /v1/runs/{id}/events`: the thread's steps, tool calls, approvals and result as
server-sent events, from a real server, while the run is executing on another request."""

from __future__ import annotations

import threading
import time

import httpx

from {{ cookiecutter.package_name }}.platform.config import DEVELOPMENT_SECRETS

HEADERS = {"X-API-Key": DEVELOPMENT_SECRETS["api_key"]}


def parse(stream: str) -> list[tuple[str, str]]:
    events = []
    for block in stream.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((lines.get("event", ""), lines.get("data", "")))
    return events


def test_events_follow_a_run_as_it_happens(replicas, examples, monkeypatch):
    (first,) = replicas(1)
    second = first  # any replica serves the stream: state is in PostgreSQL
    thread = "events-demo"
    started = threading.Event()

    def run() -> None:
        started.set()
        httpx.post(
            f"{first.url}/v1/runs",
            json={"task": examples.several.task, "thread_id": thread},
            headers=HEADERS,
            timeout=60,
        )

    worker = threading.Thread(target=run)
    worker.start()
    started.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the thread exists as soon as the run claims it
        probe = httpx.get(f"{second.url}/v1/runs/{thread}", headers=HEADERS)
        if probe.status_code == 200:
            break
        time.sleep(0.05)
    with httpx.stream(
        "GET", f"{second.url}/v1/runs/{thread}/events", headers=HEADERS, timeout=60
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    worker.join()
    events = parse(text)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "result" and '"status":"completed"' in events[-1][1]
    assert kinds.count("tool") == len(examples.several.calls)
    assert "step" in kinds and "audit" in kinds

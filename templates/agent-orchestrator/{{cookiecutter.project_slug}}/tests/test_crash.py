"""Crashes at the worst moment: SIGKILL of the server process after a tool's write committed
and before the graph checkpointed that step. On restart the run resumes, the tool runs again
with the same idempotency key, and the system applies the write once; the audit holds the
intent of every attempt and one outcome."""

from __future__ import annotations

import json

import httpx
import pytest

from {{ cookiecutter.package_name }}.platform.config import DEVELOPMENT_SECRETS
from {{ cookiecutter.package_name }}.platform.testing import postgres_processes, world_readable_dir

pytestmark = pytest.mark.integration
HEADERS = {"X-API-Key": DEVELOPMENT_SECRETS["api_key"]}


def test_a_crash_between_write_and_checkpoint_never_repeats_the_write(
    replicas, examples, system, risky_done, tmp_path
):
    marker = tmp_path / "crashed"
    autonomous = {"HUMAN_APPROVAL": "false", "AUTONOMOUS_TOOLS": json.dumps([examples.risky_tool])}
    (crashing,) = replicas(1, app="crash_app:create_app", CRASH_MARKER=str(marker), **autonomous)
    with pytest.raises(httpx.HTTPError):  # the server dies mid-request
        httpx.post(
            f"{crashing.url}/v1/runs",
            json={"task": examples.risky.task},
            headers=HEADERS,
            timeout=60,
        )
    crashing.process.wait(10)
    assert crashing.process.returncode == -9 and marker.exists()
    assert system.writes() == 1 and risky_done(system)
    thread = marker.read_text().split(":")[0].split("/")[1]  # the key: tenant/thread:call

    (restarted,) = replicas(1, **autonomous)
    state = httpx.get(f"{restarted.url}/v1/runs/{thread}", headers=HEADERS).json()
    assert state["status"] == "interrupted" and not state["running"], state
    other_task = httpx.post(
        f"{restarted.url}/v1/runs",
        headers=HEADERS,
        json={"task": examples.lookup.task, "thread_id": thread},
    )
    assert other_task.status_code == 409 and "unfinished run" in other_task.json()["detail"]
    resumed = httpx.post(f"{restarted.url}/v1/runs/{thread}/resume", headers=HEADERS, timeout=60)
    assert resumed.status_code == 200, resumed.text
    (call,) = resumed.json()["tool_calls"]
    assert call["outcome"] == "ok" and call["result"]["replayed"] is True
    assert system.writes() == 1, "the write ran twice"
    audit = httpx.get(f"{restarted.url}/v1/runs/{thread}", headers=HEADERS).json()["audit"]
    events = [(e["event"], e["outcome"]) for e in audit if e["tool_call_id"] == call["id"]]
    assert events == [("tool_intent", "started"), ("tool_intent", "started"), ("tool_call", "ok")]
    verified = httpx.get(f"{restarted.url}/v1/audit/verify", headers=HEADERS).json()
    assert verified["ok"] is True


def test_after_a_sigkill_the_embedded_postgres_still_starts_and_stops_cleanly(replicas):
    data_dir = world_readable_dir("agent-sigkill-")
    embedded = {"DATA_DIR": str(data_dir), "DATABASE_URL": None}
    (first,) = replicas(1, **embedded)
    assert postgres_processes(data_dir / "postgres")
    first.kill()
    (second,) = replicas(1, **embedded)
    run = httpx.post(f"{second.url}/v1/runs", json={"task": "hello"}, headers=HEADERS, timeout=60)
    assert run.status_code == 200, run.text
    second.stop()
    for proc in postgres_processes(data_dir / "postgres"):
        proc.wait(10)
    assert not postgres_processes(data_dir / "postgres"), "a postgres process was left running"

"""Human approval: a risky tool call pauses the run (a checkpointed LangGraph interrupt) until
someone approves (the tool runs) or rejects (it never runs) through the API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.main import create_app


def pause(client, auth_headers, examples) -> dict:
    response = client.post("/v1/runs", json={"task": examples.risky.task}, headers=auth_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "awaiting_approval" and body["answer"] is None
    (call,) = body["tool_calls"]
    assert call["name"] == examples.risky_tool and call["outcome"] == "pending"
    assert body["pending_approval"]["tool_calls"][0]["args"] == examples.risky.calls[0][1]
    return body


def pending_gauge(client) -> str:
    return next(
        line for line in client.get("/metrics").text.splitlines()
        if line.startswith("agent_pending_approvals ")
    )  # fmt: skip


def test_approve_runs_the_risky_tool(client, auth_headers, examples, system, risky_done):
    thread_id = pause(client, auth_headers, examples)["thread_id"]
    assert not risky_done(system)
    assert pending_gauge(client) == "agent_pending_approvals 1.0"
    decided = client.post(
        f"/v1/runs/{thread_id}/approval",
        json={"approved": True, "reason": "change ticket 42"},
        headers=auth_headers,
    )
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["status"] == "completed" and body["tool_calls"][0]["outcome"] == "ok"
    assert risky_done(system)
    assert pending_gauge(client) == "agent_pending_approvals 0.0"
    audit = client.get(f"/v1/runs/{thread_id}", headers=auth_headers).json()["audit"]
    assert [(e["event"], e["outcome"]) for e in audit] == [
        ("approval_requested", "pending"),
        ("approval_decided", "approved"),
        ("tool_call", "ok"),
    ]
    assert audit[1]["detail"] == "change ticket 42"


def test_reject_means_the_tool_never_runs(client, auth_headers, examples, system, risky_done):
    thread_id = pause(client, auth_headers, examples)["thread_id"]
    decided = client.post(
        f"/v1/runs/{thread_id}/approval",
        json={"approved": False, "reason": "not during the freeze"},
        headers=auth_headers,
    )
    body = decided.json()
    assert body["status"] == "completed"
    (call,) = body["tool_calls"]
    assert call["outcome"] == "rejected" and "not during the freeze" in call["result"]
    assert not risky_done(system)
    scrape = client.get("/metrics").text
    tool = examples.risky_tool
    assert f'agent_tool_calls_total{{ "{{" }}outcome="rejected",tool="{tool}"{{ "}}" }} 1.0' in scrape


def test_a_paused_run_survives_a_restart(settings, auth_headers, examples, system, risky_done):
    with TestClient(create_app(settings)) as first:
        thread_id = pause(first, auth_headers, examples)["thread_id"]
    with TestClient(create_app(settings)) as second:
        state = second.get(f"/v1/runs/{thread_id}", headers=auth_headers).json()
        assert state["status"] == "awaiting_approval"
        decided = second.post(
            f"/v1/runs/{thread_id}/approval",
            json={"approved": True, "reason": "ok after restart"},
            headers=auth_headers,
        )
        assert decided.json()["status"] == "completed"
    assert risky_done(system)


def test_approval_conflicts_and_unknown_threads(client, auth_headers, examples):
    decision = {"approved": True, "reason": "why not"}
    unknown = client.post("/v1/runs/nope/approval", json=decision, headers=auth_headers)
    assert unknown.status_code == 404
    done = client.post("/v1/runs", json={"task": examples.lookup.task}, headers=auth_headers)
    thread_id = done.json()["thread_id"]
    nothing = client.post(f"/v1/runs/{thread_id}/approval", json=decision, headers=auth_headers)
    assert nothing.status_code == 409 and "no pending approval" in nothing.json()["detail"]
    paused = pause(client, auth_headers, examples)["thread_id"]
    busy = client.post(
        "/v1/runs", json={"task": examples.lookup.task, "thread_id": paused}, headers=auth_headers
    )
    assert busy.status_code == 409 and "waiting for a human decision" in busy.json()["detail"]
    blank = client.post(
        f"/v1/runs/{paused}/approval", json={"approved": True, "reason": " "}, headers=auth_headers
    )
    assert blank.status_code == 422 and "reason" in blank.json()["detail"]


def test_kill_switch_holds_a_paused_run(
    client, auth_headers, admin_headers, examples, system, risky_done
):
    thread_id = pause(client, auth_headers, examples)["thread_id"]
    client.post("/admin/kill-switch", json={"enabled": True, "reason": "incident"},
                headers=admin_headers)  # fmt: skip
    decided = client.post(
        f"/v1/runs/{thread_id}/approval",
        json={"approved": True, "reason": "approve anyway"},
        headers=auth_headers,
    )
    assert decided.status_code == 200 and decided.json()["fallback"] is True
    assert not risky_done(system)
    state = client.get(f"/v1/runs/{thread_id}", headers=auth_headers).json()
    assert state["status"] == "awaiting_approval"  # still waiting, nothing ran

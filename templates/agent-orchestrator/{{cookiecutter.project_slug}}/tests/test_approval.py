"""Human approval: a risky tool call pauses the run (a checkpointed LangGraph interrupt) until an
approver decides each call: approve (it runs as shown), edit (it runs with re-validated
arguments) or reject (it never runs; the model is told why). Decisions are bound to the exact
arguments shown, expire, need the approver role, and never come from the run's own starter."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.main import create_app


def pause(client, auth_headers, examples) -> dict:
    response = client.post("/v1/runs", json={"task": examples.risky.task}, headers=auth_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "awaiting_approval" and body["answer"] is None
    (call,) = body["tool_calls"]
    assert call["name"] == examples.risky_tool and call["outcome"] == "pending"
    (pending,) = body["pending_approval"]["tool_calls"]
    assert pending["args"] == examples.risky.calls[0][1] and len(pending["args_hash"]) == 64
    assert pending["expires_at"] - pending["requested_at"] == {{ cookiecutter.approval_ttl_minutes | int * 60 }}
    assert pending["after_flagged_output"] is False
    return body


def decide(client, run, headers, action="approve", message="change ticket 42", **extra):
    body = {
        "decisions": [
            {
                "tool_call_id": c["id"],
                "action": action,
                "args_hash": c["args_hash"],
                "message": message,
                **extra,
            }
            for c in run["pending_approval"]["tool_calls"]
        ]
    }
    return client.post(f"/v1/runs/{run['thread_id']}/decisions", json=body, headers=headers)


def pending_gauge(client) -> str:
    return next(
        line
        for line in client.get("/metrics").text.splitlines()
        if line.startswith("agent_pending_approvals ")
    )


def test_approve_runs_the_risky_tool_once(
    client, auth_headers, approver_headers, examples, system, risky_done
):
    run = pause(client, auth_headers, examples)
    assert not risky_done(system)
    assert pending_gauge(client) == "agent_pending_approvals 1.0"
    decided = decide(client, run, approver_headers)
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["status"] == "completed" and body["tool_calls"][0]["outcome"] == "ok"
    assert risky_done(system) and system.writes() == 1
    assert pending_gauge(client) == "agent_pending_approvals 0.0"
    audit = client.get(f"/v1/runs/{run['thread_id']}", headers=auth_headers).json()["audit"]
    assert [(e["event"], e["outcome"]) for e in audit] == [
        ("approval_requested", "pending"),
        ("approval_decided", "approve"),
        ("tool_intent", "started"),
        ("tool_call", "ok"),
    ]
    assert audit[1]["detail"] == "change ticket 42" and audit[1]["actor"].startswith("key:")
    again = decide(client, run, approver_headers)
    assert (
        again.status_code == 409 and "already decided: approved by key:" in again.json()["detail"]
    )
    assert system.writes() == 1


def test_reject_sends_the_message_to_the_model_and_nothing_runs(
    client, auth_headers, approver_headers, examples, system, risky_done
):
    run = pause(client, auth_headers, examples)
    decided = decide(client, run, approver_headers, "reject", "not during the freeze")
    body = decided.json()
    assert body["status"] == "completed"
    (call,) = body["tool_calls"]
    assert call["outcome"] == "rejected" and "not during the freeze" in call["result"]
    assert not risky_done(system) and system.writes() == 0
    scrape = client.get("/metrics").text
    tool = examples.risky_tool
    assert f'agent_tool_calls_total{{ "{{" }}outcome="rejected",tool="{tool}"{{ "}}" }} 1.0' in scrape
    assert 'agent_decisions_total{action="reject"} 1.0' in scrape


def test_edit_runs_the_edited_arguments_after_validating_them(
    client, auth_headers, approver_headers, examples, system
):
    run = pause(client, auth_headers, examples)
    name, args = examples.risky.calls[0]
    bad = decide(client, run, approver_headers, "edit", "too many", args={**args, "force": True})
    assert bad.status_code == 422 and "force is not an argument" in bad.json()["detail"]
    edited_args = examples.risky_edit
    decided = decide(client, run, approver_headers, "edit", "smaller change", args=edited_args)
    assert decided.status_code == 200, decided.text
    (call,) = decided.json()["tool_calls"]
    assert call["outcome"] == "ok" and call["edited"] is True
    assert examples.risky_edit_done(system)


def test_deciding_needs_the_approver_role_and_another_caller(
    client, auth_headers, approver_headers, examples, settings
):
    run = pause(client, auth_headers, examples)
    no_role = decide(client, run, auth_headers)  # the starter's key carries no role
    assert no_role.status_code == 403 and "needs the 'approver' role" in no_role.json()["detail"]
    own = client.post("/v1/runs", json={"task": examples.risky.task}, headers=approver_headers)
    self_approved = decide(client, own.json(), approver_headers)
    assert self_approved.status_code == 403
    assert "separation of duties" in self_approved.json()["detail"]


def test_a_decision_is_bound_to_the_arguments_shown(
    client, auth_headers, approver_headers, examples
):
    run = pause(client, auth_headers, examples)
    (call,) = run["pending_approval"]["tool_calls"]
    body = {
        "decisions": [
            {
                "tool_call_id": call["id"],
                "action": "approve",
                "message": "ok",
                "args_hash": "0" * 64,
            }
        ]
    }
    stale = client.post(
        f"/v1/runs/{run['thread_id']}/decisions", json=body, headers=approver_headers
    )
    assert stale.status_code == 409 and "does not match" in stale.json()["detail"]
    body["decisions"][0]["tool_call_id"] = "call_nope"
    unknown = client.post(
        f"/v1/runs/{run['thread_id']}/decisions", json=body, headers=approver_headers
    )
    assert unknown.status_code == 422 and "call_nope" in unknown.json()["detail"]


def test_an_expired_approval_can_only_be_rejected(
    settings, auth_headers, approver_headers, examples, system, monkeypatch
):
    with TestClient(create_app(settings)) as client:
        run = pause(client, auth_headers, examples)
        later = time.time() + settings.approval_ttl_seconds + 1
        monkeypatch.setattr("{{ cookiecutter.package_name }}.service.time.time", lambda: later)
        late = decide(client, run, approver_headers)
        assert late.status_code == 409 and "expired at" in late.json()["detail"]
        assert system.writes() == 0
        closed = decide(client, run, approver_headers, "reject", "too late")
        assert closed.status_code == 200 and closed.json()["tool_calls"][0]["outcome"] == "rejected"


def test_a_paused_run_survives_a_restart(
    settings, auth_headers, approver_headers, examples, system, risky_done
):
    with TestClient(create_app(settings)) as first:
        run = pause(first, auth_headers, examples)
    with TestClient(create_app(settings)) as second:
        state = second.get(f"/v1/runs/{run['thread_id']}", headers=auth_headers).json()
        assert state["status"] == "awaiting_approval"
        decided = decide(second, state, approver_headers, message="ok after restart")
        assert decided.json()["status"] == "completed"
    assert risky_done(system)


def test_decision_conflicts_and_unknown_threads(client, auth_headers, approver_headers, examples):
    body = {
        "decisions": [
            {"tool_call_id": "c1", "action": "approve", "message": "why not", "args_hash": "0" * 64}
        ]
    }
    unknown = client.post("/v1/runs/nope/decisions", json=body, headers=approver_headers)
    assert unknown.status_code == 404
    done = client.post("/v1/runs", json={"task": examples.lookup.task}, headers=auth_headers)
    thread_id = done.json()["thread_id"]
    nothing = client.post(f"/v1/runs/{thread_id}/decisions", json=body, headers=approver_headers)
    assert nothing.status_code == 409 and "no pending tool call" in nothing.json()["detail"]
    paused = pause(client, auth_headers, examples)["thread_id"]
    busy = client.post(
        "/v1/runs", json={"task": examples.lookup.task, "thread_id": paused}, headers=auth_headers
    )
    assert busy.status_code == 409 and "waiting for a human decision" in busy.json()["detail"]
    body["decisions"][0]["message"] = " "
    blank = client.post(f"/v1/runs/{paused}/decisions", json=body, headers=approver_headers)
    assert blank.status_code == 422 and "message" in blank.json()["detail"]


def test_kill_switch_holds_a_paused_run(
    client, auth_headers, approver_headers, admin_headers, examples, system, risky_done
):
    run = pause(client, auth_headers, examples)
    client.post(
        "/admin/kill-switch", json={"enabled": True, "reason": "incident"}, headers=admin_headers
    )
    decided = decide(client, run, approver_headers, message="approve anyway")
    assert decided.status_code == 200 and decided.json()["fallback"] is True
    assert not risky_done(system)
    state = client.get(f"/v1/runs/{run['thread_id']}", headers=auth_headers).json()
    assert state["status"] == "awaiting_approval"  # still waiting, nothing ran


def test_the_runs_starter_cannot_decide_its_later_calls_either(client, approver_headers, examples):
    """The starter stays the starter when someone else's decision resumes the run."""
    from conftest import APPROVER2_KEY

    other = {"X-API-Key": APPROVER2_KEY}
    run = client.post("/v1/runs", json={"task": examples.two_risky.task}, headers=approver_headers)
    first = decide(client, run.json(), other)  # another approver: allowed
    assert first.status_code == 200 and first.json()["status"] == "awaiting_approval"
    (second,) = first.json()["pending_approval"]["tool_calls"]
    assert second["requested_by"] == run.json()["pending_approval"]["tool_calls"][0]["requested_by"]
    own = decide(client, first.json(), approver_headers)
    assert own.status_code == 403 and "separation of duties" in own.json()["detail"]


def test_bad_decisions_are_refused_whole_and_the_call_stays_decidable(
    client, auth_headers, approver_headers, examples, system
):
    run = pause(client, auth_headers, examples)
    nul = decide(client, run, approver_headers, message="ok\u0000boom")
    assert nul.status_code == 422 and "message" in nul.json()["detail"]
    (call,) = run["pending_approval"]["tool_calls"]
    bound = {"tool_call_id": call["id"], "args_hash": call["args_hash"]}
    twice = {"decisions": [{**bound, "action": "reject", "message": "no"},
                           {**bound, "action": "approve", "message": "yes"}]}  # fmt: skip
    both = client.post(
        f"/v1/runs/{run['thread_id']}/decisions", json=twice, headers=approver_headers
    )
    assert both.status_code == 422 and "appears twice" in both.json()["detail"]
    with_args = decide(client, run, approver_headers, args=examples.risky_edit)
    assert with_args.status_code == 422 and "only for action='edit'" in with_args.json()["detail"]
    assert system.writes() == 0
    assert decide(client, run, approver_headers).status_code == 200 and system.writes() == 1


def test_a_decision_stored_before_a_crash_is_completed_by_resume(
    client, auth_headers, approver_headers, examples, system, risky_done
):
    """The replica stored the decision and died before resuming: resume finishes it."""
    run = pause(client, auth_headers, examples)
    (call,) = run["pending_approval"]["tool_calls"]
    agent = client.app.state.agent
    key = f"default/{run['thread_id']}"
    decision = {"action": "approve", "message": "ticket 9", "actor": "key:someone",
                "args": call["args"], "args_hash": call["args_hash"]}  # fmt: skip
    assert agent._threads.decide(key, {call["id"]: decision}, lambda conn: None) == {}
    stuck = decide(client, run, approver_headers)
    assert stuck.status_code == 409 and "already decided" in stuck.json()["detail"]
    resumed = client.post(f"/v1/runs/{run['thread_id']}/resume", headers=auth_headers)
    assert resumed.status_code == 200 and resumed.json()["tool_calls"][0]["outcome"] == "ok"
    assert risky_done(system) and system.writes() == 1

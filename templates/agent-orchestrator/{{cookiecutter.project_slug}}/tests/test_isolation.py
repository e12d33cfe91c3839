"""Tenants and owners, tried as an attacker would: every route aimed at another tenant's
thread, with a valid key of that other tenant (which even carries the approver role there).
Each gets 404 (its own tenant has no such thread) or 403 (it names a tenant it cannot reach);
nothing is read, decided or changed."""

from __future__ import annotations

import pytest


@pytest.fixture
def victim(client, acme_headers, examples) -> dict:
    run = client.post("/v1/runs", json={"task": examples.risky.task}, headers=acme_headers)
    assert run.status_code == 200, run.text
    assert run.json()["tenant"] == "acme"
    return run.json()


def test_every_route_refuses_another_tenants_thread(
    client, victim, globex_headers, examples, system, decision_body
):
    thread = victim["thread_id"]
    writes = system.writes()
    attempts = {
        "read": ("GET", f"/v1/runs/{thread}", None, None),
        "resume": ("POST", f"/v1/runs/{thread}/resume", None, None),
        "events": ("GET", f"/v1/runs/{thread}/events", None, None),
    }
    if victim["pending_approval"]:
        body = decision_body(victim, "approve", "attacker")
        attempts["decide"] = ("POST", f"/v1/runs/{thread}/decisions", body, None)
    # last: it creates the attacker's own thread of that name
    attempts["post into"] = (
        "POST",
        "/v1/runs",
        {"task": examples.lookup.task, "thread_id": thread},
        None,
    )
    for name, (method, url, body, _) in attempts.items():
        own = client.request(method, url, json=body, headers=globex_headers)
        if name == "post into":  # a new thread of the same name in the attacker's own tenant
            assert own.status_code == 200 and own.json()["tenant"] == "globex", name
            assert own.json()["tool_calls"][0]["name"] == examples.lookup_tool
        else:
            assert own.status_code == 404, (name, own.status_code, own.text)
        named = client.request(
            method,
            url,
            json={**(body or {}), "tenant": "acme"} if body else None,
            params=None if body else {"tenant": "acme"},
            headers=globex_headers,
        )
        assert named.status_code == 403, (name, named.text)
        assert "tenant='acme' is not a tenant this credential may reach" in named.json()["detail"]
    assert system.writes() == writes
    audit = client.get("/v1/audit/verify", params={"tenant": "acme"}, headers=globex_headers)
    assert audit.status_code == 403


def test_the_victims_thread_is_untouched(client, victim, globex_headers, acme_headers, examples):
    client.post(
        "/v1/runs",
        json={"task": examples.lookup.task, "thread_id": victim["thread_id"]},
        headers=globex_headers,
    )
    state = client.get(f"/v1/runs/{victim['thread_id']}", headers=acme_headers).json()
    assert [m["content"] for m in state["messages"] if m["role"] == "human"] == [
        examples.risky.task
    ]
    assert state["owner"].startswith("key:") and state["tenant"] == "acme"


def test_a_key_of_several_tenants_must_name_one(client, settings, examples):
    from fastapi.testclient import TestClient

    from {{ cookiecutter.package_name }}.main import create_app
    from {{ cookiecutter.package_name }}.platform.security import hash_key

    key = "two-tenant-key-000005"
    two = settings.model_copy(
        update={
            "api_key_hashes": [*settings.api_key_hashes, hash_key(key)],
            "api_key_tenants": {**settings.api_key_tenants, hash_key(key): ["acme", "globex"]},
        }
    )
    with TestClient(create_app(two)) as other:
        unnamed = other.post(
            "/v1/runs", json={"task": examples.lookup.task}, headers={"X-API-Key": key}
        )
        assert unnamed.status_code == 400
        assert unnamed.json()["detail"] == (
            "tenant is required: this credential reaches several tenants (acme, globex)"
        )
        named = other.post(
            "/v1/runs",
            json={"task": examples.lookup.task, "tenant": "globex"},
            headers={"X-API-Key": key},
        )
        assert named.status_code == 200 and named.json()["tenant"] == "globex"

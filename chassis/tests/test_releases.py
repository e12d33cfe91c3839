"""Rollback: canary routing, promote and rollback without a restart, audit log, kill switch,
all on the shared state in PostgreSQL."""

from __future__ import annotations

import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor

import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from minimal_service import create_app

from goldenpath_chassis import Manifest, ReleaseManager, SharedState
from goldenpath_chassis.cli import release_group


def manifest(settings) -> dict:
    return yaml.safe_load(settings.releases_path.read_text(encoding="utf-8"))


def other_release(settings) -> str:
    data = manifest(settings)
    others = [item["id"] for item in data["releases"] if item["id"] != data["active"]]
    assert others, "releases.yaml must name at least two releases to roll between"
    return others[0]


def test_manifest_names_model_prompt_and_config(settings) -> None:
    data = manifest(settings)
    assert data["active"] in {item["id"] for item in data["releases"]}
    assert data.get("safe_fallback")
    for item in data["releases"]:
        assert item["model"] and item["prompt"] and isinstance(item.get("config", {}), dict)


def test_canary_share_is_sticky_and_close_to_its_weight(settings, database_url) -> None:
    with SharedState(database_url, settings.service_name) as shared:
        manager = ReleaseManager(Manifest.load(settings.releases_path), shared)
        manager.set_canary(other_release(settings), 30, "test", "canary at 30 percent")
        tracks = [manager.route(f"caller-{n}").track for n in range(2000)]
        assert 0.25 < tracks.count("canary") / len(tracks) < 0.35
        assert all(manager.route("caller-7").track == tracks[7] for _ in range(20))


def test_admin_promote_and_rollback_take_effect_without_restart(
    client, admin_headers, auth_headers, domain_call, settings
) -> None:
    before = client.get("/admin/releases", headers=admin_headers).json()["active"]
    target = other_release(settings)
    promoted = client.post(
        "/admin/releases/promote",
        json={"release": target, "reason": "new prompt is better"},
        headers={**admin_headers, "X-Actor": "alice"},
    )
    assert promoted.status_code == 200 and promoted.json()["active"] == target
    response = client.request(**domain_call, headers=auth_headers)
    assert response.status_code == 200
    assert 'service_build_info{release="' + target + '"' in client.get("/metrics").text
    rolled = client.post(
        "/admin/releases/rollback", json={"reason": "regression seen"}, headers=admin_headers
    )
    assert rolled.status_code == 200 and rolled.json()["active"] == before
    audit = client.get("/admin/releases/audit", headers=admin_headers).json()
    assert [entry["action"] for entry in audit] == ["promote", "rollback"]
    assert audit[0]["actor"] == "admin:alice" and audit[0]["reason"] == "new prompt is better"
    assert audit[0]["from"]["active"] == before and audit[0]["to"]["active"] == target
    assert audit[0]["at"]


def test_state_and_audit_survive_a_restart(settings, admin_headers) -> None:
    target = other_release(settings)
    with TestClient(create_app(settings)) as first:
        first.post("/admin/releases/canary", json={"release": target, "weight": 25,
                   "reason": "try it"}, headers=admin_headers)  # fmt: skip
    with TestClient(create_app(settings)) as second:
        status = second.get("/admin/releases", headers=admin_headers).json()
        assert status["canary"] == target and status["canary_weight"] == 25
        assert len(second.get("/admin/releases/audit", headers=admin_headers).json()) == 1


def test_cli_changes_reach_the_running_service(client, admin_headers, settings) -> None:
    cli = release_group(lambda: settings)
    runner = CliRunner()
    target = other_release(settings)
    done = runner.invoke(cli, ["set-canary", target, "--weight", "40", "--reason", "cli try"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["canary_weight"] == 40
    assert client.get("/admin/releases", headers=admin_headers).json()["canary"] == target
    assert "service_canary_weight_percent 40.0" in client.get("/metrics").text
    done = runner.invoke(cli, ["promote", "--reason", "canary is healthy"])
    assert done.exit_code == 0 and json.loads(done.output)["active"] == target
    done = runner.invoke(cli, ["rollback", "--reason", "back again"])
    assert done.exit_code == 0, done.output
    assert client.get("/admin/releases", headers=admin_headers).json()["active"] != target
    done = runner.invoke(cli, ["status"])
    assert done.exit_code == 0 and "kill_switch" in done.output
    audit = runner.invoke(cli, ["audit"]).output.splitlines()
    assert [json.loads(line)["action"] for line in audit] == ["set-canary", "promote", "rollback"]
    assert json.loads(audit[0])["actor"].startswith("cli:")
    verified = runner.invoke(cli, ["verify"])
    assert verified.exit_code == 0 and json.loads(verified.output)["entries"] == 3


def test_cli_refuses_an_unknown_release_in_one_line(settings) -> None:
    done = CliRunner().invoke(
        release_group(lambda: settings), ["promote", "--release", "nope", "--reason", "typo"]
    )
    assert done.exit_code == 1
    assert "release='nope' is not in the manifest" in done.output


def test_admin_refuses_bad_input_with_problem_json(client, admin_headers) -> None:
    unknown = client.post("/admin/releases/promote", json={"release": "nope", "reason": "typo"},
                          headers=admin_headers)  # fmt: skip
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "release='nope'" in unknown.json()["detail"]
    bad_weight = client.post("/admin/releases/canary", json={"release": None, "weight": 101,
                             "reason": "too much"}, headers=admin_headers)  # fmt: skip
    assert bad_weight.status_code == 422 and "weight" in bad_weight.json()["detail"]


def test_kill_switch_serves_the_fallback_and_is_reported(
    client, admin_headers, auth_headers, domain_call
) -> None:
    on = client.post("/admin/kill-switch", json={"enabled": True, "reason": "bad answers"},
                     headers=admin_headers)  # fmt: skip
    assert on.status_code == 200 and on.json()["kill_switch"] is True
    response = client.request(**domain_call, headers=auth_headers)
    assert response.status_code == 200
    assert response.json().get("fallback") is True
    assert client.get("/readyz").json()["kill_switch"] is True
    assert "service_kill_switch_active 1.0" in client.get("/metrics").text
    off = client.post("/admin/kill-switch", json={"enabled": False, "reason": "fixed"},
                      headers=admin_headers)  # fmt: skip
    assert off.json()["kill_switch"] is False
    assert client.request(**domain_call, headers=auth_headers).json().get("fallback") is not True


def test_kill_switch_setting_forces_safe_mode(settings, auth_headers, domain_call) -> None:
    with TestClient(create_app(settings.model_copy(update={"kill_switch": True}))) as client:
        response = client.request(**domain_call, headers=auth_headers)
        assert response.status_code == 200 and response.json().get("fallback") is True
        assert client.get("/readyz").json()["kill_switch"] is True


def test_admin_calls_need_the_admin_credential_and_denials_are_logged(
    capsys, settings, auth_headers
) -> None:
    with TestClient(create_app(settings)) as client:
        for headers in ({}, auth_headers, {"Authorization": "Bearer wrong-token"}):
            denied = client.post("/admin/kill-switch", json={"enabled": True,
                                 "reason": "not allowed"}, headers=headers)  # fmt: skip
            assert denied.status_code == 401
            assert denied.headers["content-type"] == "application/problem+json"
        assert client.get("/admin/releases").status_code == 401
    denials = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if '"admin call denied"' in line
    ]
    assert len(denials) == 4 and all(d["path"].startswith("/admin/") for d in denials)


def test_concurrent_changes_are_serialised_and_each_audited_once(settings, admin_headers) -> None:
    """Ten kill-switch flips and canary changes fired at once from two app instances (two
    replicas on one database): none is lost, the audit holds each once, the chain verifies."""
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:

        def flip(n: int):
            client = one if n % 2 else two
            body = {"release": "v2", "weight": n, "reason": f"change {n}"}
            return client.post("/admin/releases/canary", json=body, headers=admin_headers)

        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = [r.status_code for r in pool.map(flip, range(1, 11))]
        assert statuses == [200] * 10
        audit = one.get("/admin/releases/audit", headers=admin_headers).json()
        assert sorted(entry["reason"] for entry in audit) == sorted(
            f"change {n}" for n in range(1, 11)
        )
        assert [entry["seq"] for entry in audit] == list(range(1, 11))
        # each entry's "from" is the previous entry's "to": no change saw a stale state
        for before, after in itertools.pairwise(audit):
            assert after["from"] == before["to"]
        verified = two.get("/admin/releases/audit/verify", headers=admin_headers).json()
        assert verified["ok"] and verified["entries"] == 10


def test_rollback_returns_to_the_release_before_the_last_promote(client, admin_headers) -> None:
    for target in ("v2", "v3"):
        client.post("/admin/releases/promote", json={"release": target, "reason": "ship it"},
                    headers=admin_headers)  # fmt: skip
    rolled = client.post("/admin/releases/rollback", json={"reason": "v3 regressed"},
                         headers=admin_headers)  # fmt: skip
    assert rolled.json()["active"] == "v2"


def test_a_rollback_with_nothing_earlier_is_a_409_naming_the_fix(client, admin_headers) -> None:
    refused = client.post("/admin/releases/rollback", json={"reason": "nothing to undo"},
                          headers=admin_headers)  # fmt: skip
    assert refused.status_code == 409
    assert refused.json()["detail"] == "no earlier release than 'v1' to roll back to: name one"


def test_each_rollback_steps_one_promote_further_back_and_never_to_the_canary(
    client, admin_headers
) -> None:
    def post(path: str, body: dict) -> dict:
        response = client.post(path, json={"reason": "release train", **body},
                               headers=admin_headers)  # fmt: skip
        assert response.status_code == 200, response.text
        return response.json()

    post("/admin/releases/promote", {"release": "v2"})
    post("/admin/releases/promote", {"release": "v3"})
    assert post("/admin/releases/rollback", {})["active"] == "v2"
    assert post("/admin/releases/rollback", {})["active"] == "v1"
    post("/admin/releases/promote", {"release": "v2"})
    post("/admin/releases/canary", {"release": "v3", "weight": 50})
    rolled = post("/admin/releases/rollback", {})
    assert (rolled["active"], rolled["canary"], rolled["canary_weight"]) == ("v1", None, 0)


def test_a_release_removed_from_the_manifest_keeps_the_kill_switch(
    settings, admin_headers, auth_headers, domain_call, tmp_path
) -> None:
    """A deploy without the canary the shared state still names: that replica drops the
    canary but keeps the kill switch, and can still change the state."""
    with TestClient(create_app(settings)) as old:
        old.post("/admin/releases/canary", json={"release": "v3", "weight": 10,
                 "reason": "try v3"}, headers=admin_headers)  # fmt: skip
        old.post("/admin/kill-switch", json={"enabled": True, "reason": "incident"},
                 headers=admin_headers)  # fmt: skip
    manifest = yaml.safe_load(settings.releases_path.read_text())
    manifest["releases"] = [r for r in manifest["releases"] if r["id"] != "v3"]
    trimmed = tmp_path / "releases.yaml"
    trimmed.write_text(yaml.safe_dump(manifest))
    with TestClient(create_app(settings.model_copy(update={"releases_path": trimmed}))) as new:
        status = new.get("/admin/releases", headers=admin_headers).json()
        assert status["kill_switch"] is True and status["canary"] is None
        assert new.request(**domain_call, headers=auth_headers).json()["fallback"] is True
        off = new.post("/admin/kill-switch", json={"enabled": False, "reason": "fixed"},
                       headers=admin_headers)  # fmt: skip
        assert off.status_code == 200 and off.json()["kill_switch"] is False


def test_a_slow_commit_is_not_skipped_by_a_faster_later_change(settings, database_url) -> None:
    """A kill switch whose transaction is slow to commit (its audit append waits) and a cache
    epoch bump right after it: a follower that saw the bump must still see the kill switch."""
    import threading

    import psycopg

    from goldenpath_chassis import SharedEpochs

    manifest = Manifest.load(settings.releases_path)
    with (
        SharedState(database_url, "race") as writer,
        SharedState(database_url, "race") as follower,
        psycopg.connect(database_url) as blocker,
    ):
        releases = ReleaseManager(manifest, writer)
        blocker.execute("SELECT pg_advisory_xact_lock(hashtext('audit:releases'))")
        slow = threading.Thread(target=releases.set_kill_switch, args=(True, "test", "slow commit"))
        slow.start()
        time.sleep(0.3)  # the kill switch has drawn its version and waits on the audit
        fast = threading.Thread(target=SharedEpochs(writer).bump, args=("tenant",))
        fast.start()
        time.sleep(0.3)
        blocker.commit()  # the audit is free: both changes commit
        slow.join(10)
        fast.join(10)
        deadline = time.monotonic() + 5
        while SharedEpochs(follower).current("tenant") != 1:  # wait for the later change...
            assert time.monotonic() < deadline, "the follower never saw the epoch bump"
            time.sleep(0.01)
        # ...then the earlier, slower one must be there too
        assert (follower.get("releases") or {}).get("kill_switch") is True


def test_admin_inputs_are_strict_and_a_nul_is_a_422(client, admin_headers) -> None:
    for body in ({"enabled": "yes", "reason": "typo"}, {"enabled": True, "reason": "a\u0000b"}):
        refused = client.post("/admin/kill-switch", json=body, headers=admin_headers)
        assert refused.status_code == 422, refused.text

"""The tool audit is tamper-evident: edits, deletions and reorderings made directly in the
database (a superuser disabling the append-only trigger) are each found by
`GET /v1/audit/verify` and `audit verify`, with the first broken link."""

from __future__ import annotations

import json

import psycopg
import pytest
from click.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import main


@pytest.fixture
def audited(client, auth_headers, examples, settings) -> str:
    for text in (examples.lookup.task, examples.unknown.task, examples.several.task):
        assert client.post("/v1/runs", json={"task": text}, headers=auth_headers).status_code == 200
    ok = client.get("/v1/audit/verify", headers=auth_headers).json()
    assert ok["ok"] is True and ok["entries"] >= 10 and len(ok["head"]) == 64
    return settings.database_url.get_secret_value()


def tamper(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE platform_audit DISABLE TRIGGER USER")
        conn.execute(sql)
        conn.execute("ALTER TABLE platform_audit ENABLE TRIGGER USER")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            "UPDATE platform_audit SET payload = jsonb_set(payload, '{outcome}', '\"ok\"')"
            " WHERE stream = 'tools:default' AND seq = 4",
            "edited",
        ),
        ("DELETE FROM platform_audit WHERE stream = 'tools:default' AND seq = 3", "missing"),
        (
            "UPDATE platform_audit SET seq = 1000 WHERE stream = 'tools:default' AND seq = 2;"
            " UPDATE platform_audit SET seq = 2 WHERE stream = 'tools:default' AND seq = 3;"
            " UPDATE platform_audit SET seq = 3 WHERE stream = 'tools:default' AND seq = 1000",
            "prev_hash",
        ),
    ],
    ids=["edit", "delete", "reorder"],
)
def test_each_kind_of_tampering_is_found(client, auth_headers, audited, change, problem, settings):
    tamper(audited, change)
    report = client.get("/v1/audit/verify", headers=auth_headers).json()
    assert report["ok"] is False and report["broken_at"] in (2, 3, 4)
    assert problem in report["problem"]
    env = {
        "DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": audited,
        "RELEASES_PATH": str(settings.releases_path),
    }
    result = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert result.exit_code == 1
    assert json.loads(result.output.splitlines()[0])["ok"] is False


def test_rewriting_a_whole_thread_chain_is_found_by_the_tenant_chain(client, auth_headers, audited):
    """A thread's entries re-hashed consistently still break the tenant chain around them."""
    tamper(
        audited,
        "UPDATE platform_audit SET hash = repeat('a', 64)"
        " WHERE stream = 'tools:default' AND seq = 2",
    )
    report = client.get("/v1/audit/verify", headers=auth_headers).json()
    assert report["ok"] is False


def test_an_untouched_audit_verifies_from_the_cli(audited, settings):
    env = {
        "DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": audited,
        "RELEASES_PATH": str(settings.releases_path),
    }
    result = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tenant"] == "default"
    typo = CliRunner().invoke(main, ["audit", "verify", "--tenant", "defualt"], env=env)
    assert typo.exit_code == 1 and "no tool audit entries for tenant='defualt'" in typo.output

"""The audit is append-only and tamper-evident: the database refuses edits, and an edit made
behind its back (a superuser disabling the trigger) is found by `verify`."""

from __future__ import annotations

import psycopg
import pytest

from goldenpath_chassis import AuditLog, SharedState


@pytest.fixture
def audit(database_url: str):
    with SharedState(database_url, "audited") as shared:
        log = AuditLog("tools")
        with shared.connection() as conn:
            for n in range(3):
                with conn.transaction():
                    log.append(conn, "alice", "refund", {"amount": n, "note": "ok"})
        yield log, database_url


def test_a_clean_chain_verifies_and_names_its_head(audit) -> None:
    log, url = audit
    with psycopg.connect(url, autocommit=True) as conn:
        result = log.verify(conn)
        entries = log.entries(conn)
    assert result.ok and result.entries == 3 and result.head == entries[-1]["hash"]
    assert [entry["prev_hash"] for entry in entries[1:]] == [e["hash"] for e in entries[:-1]]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE platform_audit SET actor = 'mallory'",
        "DELETE FROM platform_audit WHERE seq = 2",
        "TRUNCATE platform_audit",
    ],
)
def test_the_database_refuses_to_change_or_remove_entries(audit, statement: str) -> None:
    _log, url = audit
    with psycopg.connect(url, autocommit=True) as conn, pytest.raises(psycopg.Error) as refused:
        conn.execute(statement)
    assert "platform_audit is append-only" in str(refused.value)


@pytest.mark.parametrize(
    ("tamper", "broken_at", "problem"),
    [
        ("UPDATE platform_audit SET payload = '{\"amount\": 100}' WHERE seq = 2", 2, "edited"),
        ("DELETE FROM platform_audit WHERE seq = 2", 3, "entry 2 is missing"),
    ],
)
def test_an_edit_behind_the_triggers_back_is_found(audit, tamper, broken_at, problem) -> None:
    log, url = audit
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE platform_audit DISABLE TRIGGER USER")
        conn.execute(tamper)
        conn.execute("ALTER TABLE platform_audit ENABLE TRIGGER USER")
        result = log.verify(conn)
    assert not result.ok and result.broken_at == broken_at and problem in result.problem


def test_concurrent_appends_form_one_chain(database_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    log = AuditLog("busy")
    with SharedState(database_url, "busy", pool_size=8) as shared:

        def append(n: int) -> None:
            with shared.connection() as conn, conn.transaction():
                log.append(conn, f"caller-{n}", "write", {"n": n})

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(append, range(40)))
        with shared.connection() as conn:
            result = log.verify(conn)
    assert result.ok and result.entries == 40

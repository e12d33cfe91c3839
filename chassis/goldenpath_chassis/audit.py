"""An append-only, hash-chained audit log in PostgreSQL, shared by every replica.

Each entry's hash covers its content and the previous entry's hash, so editing, deleting or
reordering an entry breaks the chain from that point: `verify` finds the first broken entry.
A trigger refuses UPDATE, DELETE and TRUNCATE on the table; a database superuser can still
disable it, which is why the chain (and the head hash, which `verify` returns for anchoring
elsewhere, e.g. in a ticket or a log line) exists at all.

Entries are appended inside the caller's transaction, so a change and its audit row commit
together or not at all. One stream per concern ("releases", "tools", ...).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

GENESIS = "0" * 64

SCHEMA = """
CREATE TABLE IF NOT EXISTS platform_audit (
    stream    text   NOT NULL,
    seq       bigint NOT NULL,
    at        text   NOT NULL,
    actor     text   NOT NULL,
    action    text   NOT NULL,
    payload   jsonb  NOT NULL,
    prev_hash text   NOT NULL,
    hash      text   NOT NULL,
    PRIMARY KEY (stream, seq)
);
CREATE OR REPLACE FUNCTION platform_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'platform_audit is append-only: % refused', TG_OP;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS platform_audit_no_change ON platform_audit;
CREATE TRIGGER platform_audit_no_change BEFORE UPDATE OR DELETE ON platform_audit
    FOR EACH ROW EXECUTE FUNCTION platform_audit_append_only();
DROP TRIGGER IF EXISTS platform_audit_no_truncate ON platform_audit;
CREATE TRIGGER platform_audit_no_truncate BEFORE TRUNCATE ON platform_audit
    FOR EACH STATEMENT EXECUTE FUNCTION platform_audit_append_only();
"""


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of everything but the hash itself."""
    fields = {k: entry[k] for k in ("stream", "seq", "at", "actor", "action", "payload",
                                    "prev_hash")}  # fmt: skip
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Verification:
    """What `verify` found: `ok`, how many entries, the head hash, the first broken entry."""

    ok: bool
    entries: int
    head: str
    broken_at: int | None = None
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head,
            "broken_at": self.broken_at,
            "problem": self.problem,
        }


class AuditLog:
    """Append and read one stream of the shared audit table; check its chain."""

    def __init__(self, stream: str) -> None:
        self.stream = stream

    @staticmethod
    def create_schema(conn: psycopg.Connection[Any]) -> None:
        conn.execute(SCHEMA)

    def append(
        self, conn: psycopg.Connection[Any], actor: str, action: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Append one entry in the caller's transaction (one writer per stream at a time)."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"audit:{self.stream}",))
        with conn.cursor(row_factory=dict_row) as cur:
            last = cur.execute(
                "SELECT seq, hash FROM platform_audit WHERE stream = %s ORDER BY seq DESC LIMIT 1",
                (self.stream,),
            ).fetchone()
        entry: dict[str, Any] = {
            "stream": self.stream,
            "seq": (last["seq"] + 1) if last else 1,
            "at": datetime.now(UTC).isoformat(),
            "actor": actor,
            "action": action,
            "payload": json.loads(json.dumps(payload, default=str)),  # as jsonb returns it
            "prev_hash": last["hash"] if last else GENESIS,
        }
        entry["hash"] = entry_hash(entry)
        conn.execute(
            "INSERT INTO platform_audit (stream, seq, at, actor, action, payload, prev_hash,"
            " hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (entry["stream"], entry["seq"], entry["at"], actor, action,
             Jsonb(entry["payload"]), entry["prev_hash"], entry["hash"]),
        )  # fmt: skip
        return entry

    def entries(
        self, conn: psycopg.Connection[Any], limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Entries oldest first (the newest `limit` when given)."""
        query = (
            "SELECT stream, seq, at, actor, action, payload, prev_hash, hash FROM platform_audit"
            " WHERE stream = %s ORDER BY seq DESC"
        )
        params: tuple[Any, ...] = (self.stream,)
        if limit is not None:
            query += " LIMIT %s"
            params = (self.stream, limit)
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(query, params).fetchall()
        return list(reversed(rows))

    def verify(self, conn: psycopg.Connection[Any]) -> Verification:
        """Recompute the chain from the first entry; report the first entry that breaks it."""
        previous, count = GENESIS, 0
        for entry in self.entries(conn):
            count += 1
            expected_seq = count
            if entry["seq"] != expected_seq:
                return Verification(False, count, previous, entry["seq"],
                                    f"entry {expected_seq} is missing")  # fmt: skip
            if entry["prev_hash"] != previous:
                return Verification(False, count, previous, entry["seq"],
                                    "prev_hash does not match the entry before it")  # fmt: skip
            if entry_hash(entry) != entry["hash"]:
                return Verification(False, count, previous, entry["seq"],
                                    "content does not match its hash (edited)")  # fmt: skip
            previous = entry["hash"]
        return Verification(True, count, previous)

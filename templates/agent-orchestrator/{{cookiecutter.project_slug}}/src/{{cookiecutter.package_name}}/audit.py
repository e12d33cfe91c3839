"""The audit log: one append-only row per tool call and approval decision, kept in the same
database as the checkpoints so a run's state and its record of actions never disagree."""

from __future__ import annotations

import json
{%- if cookiecutter.checkpointer == "sqlite" %}
import sqlite3
import threading
{%- endif %}
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
{%- if cookiecutter.checkpointer == "postgres" %}

from psycopg_pool import ConnectionPool
{%- endif %}

Event = Literal["tool_call", "approval_requested", "approval_decided"]
COLUMNS = ("thread_id", "event", "tool", "tool_call_id", "args", "outcome", "detail", "actor",
           "release")  # fmt: skip
MAX_DETAIL_CHARS = 2000


@dataclass(frozen=True)
class AuditEntry:
    """What happened, to which thread, done or decided by whom, under which release."""

    thread_id: str
    event: Event
    tool: str
    tool_call_id: str
    outcome: str  # ok, error, rejected, refused (tool calls); pending, approved, rejected
    detail: str = ""
    actor: str = "-"
    release: str = "-"
    args: dict[str, Any] = field(default_factory=dict)

    def row(self) -> tuple[Any, ...]:
        values = asdict(self)
        values["args"] = json.dumps(self.args, sort_keys=True, default=str)
        values["detail"] = self.detail[:MAX_DETAIL_CHARS]
        return tuple(values[name] for name in COLUMNS)


PENDING_SQL = (
    "SELECT count(*) AS pending FROM agent_audit r WHERE r.event = 'approval_requested'"
    " AND NOT EXISTS (SELECT 1 FROM agent_audit d WHERE d.event = 'approval_decided'"
    " AND d.thread_id = r.thread_id AND d.tool_call_id = r.tool_call_id)"
)
{%- if cookiecutter.checkpointer == "postgres" %}


class AuditLog:
    """Audit rows in PostgreSQL, written through the checkpointer's connection pool."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        with pool.connection() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS agent_audit (id BIGSERIAL PRIMARY KEY,"
                " at TIMESTAMPTZ NOT NULL DEFAULT now(), thread_id TEXT NOT NULL,"
                " event TEXT NOT NULL, tool TEXT NOT NULL, tool_call_id TEXT NOT NULL,"
                " args JSONB NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL,"
                " actor TEXT NOT NULL, release TEXT NOT NULL)"
            )
            conn.execute(
                "CREATE INDEX IF NOT EXISTS agent_audit_thread ON agent_audit (thread_id, id)"
            )

    def record(self, entry: AuditEntry) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                f"INSERT INTO agent_audit ({', '.join(COLUMNS)})"
                f" VALUES ({', '.join(['%s'] * len(COLUMNS))})",
                entry.row(),
            )

    def for_thread(self, thread_id: str) -> list[dict[str, Any]]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT * FROM agent_audit WHERE thread_id = %s ORDER BY id", (thread_id,)
            ).fetchall()
        return [{**row, "at": row["at"].isoformat()} for row in rows]

    def pending_approvals(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute(PENDING_SQL).fetchone()
        return int(row["pending"]) if row else 0
{%- else %}


class AuditLog:
    """Audit rows in the SQLite checkpoint file (its own connection; WAL lets both write)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._db = conn
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS agent_audit (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                " at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
                " thread_id TEXT NOT NULL, event TEXT NOT NULL, tool TEXT NOT NULL,"
                " tool_call_id TEXT NOT NULL, args TEXT NOT NULL, outcome TEXT NOT NULL,"
                " detail TEXT NOT NULL, actor TEXT NOT NULL, release TEXT NOT NULL)"
            )
            self._db.execute(
                "CREATE INDEX IF NOT EXISTS agent_audit_thread ON agent_audit (thread_id, id)"
            )

    def record(self, entry: AuditEntry) -> None:
        with self._lock:
            self._db.execute(
                f"INSERT INTO agent_audit ({', '.join(COLUMNS)})"
                f" VALUES ({', '.join(['?'] * len(COLUMNS))})",
                entry.row(),
            )

    def for_thread(self, thread_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM agent_audit WHERE thread_id = ? ORDER BY id", (thread_id,)
            ).fetchall()
        return [{**dict(row), "args": json.loads(row["args"])} for row in rows]

    def pending_approvals(self) -> int:
        with self._lock:
            row = self._db.execute(PENDING_SQL).fetchone()
        return int(row["pending"]) if row else 0
{%- endif %}

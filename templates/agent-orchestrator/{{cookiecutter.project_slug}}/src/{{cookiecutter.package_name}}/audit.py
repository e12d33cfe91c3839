"""The audit log: one entry per tool call and approval decision, in the chassis's hash-chained,
append-only audit (stream `tools` of `platform_audit`, in the service's PostgreSQL): the
database refuses to change or delete an entry and `verify` finds one changed behind its back.
Every replica writes to and reads the same log."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from .platform.audit import AuditLog as ChainedLog
from .platform.audit import Verification

Event = Literal["tool_call", "approval_requested", "approval_decided"]
STREAM = "tools"
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

    def payload(self) -> dict[str, Any]:
        values = asdict(self)
        values["detail"] = self.detail[:MAX_DETAIL_CHARS]
        return values


PENDING_SQL = (
    "SELECT count(*) AS pending FROM platform_audit r WHERE r.stream = 'tools'"
    " AND r.action = 'approval_requested' AND NOT EXISTS (SELECT 1 FROM platform_audit d"
    " WHERE d.stream = 'tools' AND d.action = 'approval_decided'"
    " AND d.payload->>'thread_id' = r.payload->>'thread_id'"
    " AND d.payload->>'tool_call_id' = r.payload->>'tool_call_id')"
)
THREAD_INDEX = (
    "CREATE INDEX IF NOT EXISTS platform_audit_tools_thread ON platform_audit"
    " ((payload->>'thread_id'), seq) WHERE stream = 'tools'"
)


class AuditLog:
    """Tool calls and approval decisions, appended to the chassis's chained audit."""

    def __init__(self, url: str, pool_size: int = 4) -> None:
        self._log = ChainedLog(STREAM)
        self._pool = ConnectionPool(
            url, min_size=1, max_size=pool_size, open=True, name="tool-audit",
            kwargs={"autocommit": True, "row_factory": dict_row},
        )  # fmt: skip
        self._pool.wait(timeout=30)
        with self._pool.connection() as conn:
            conn.execute(THREAD_INDEX)

    def close(self) -> None:
        self._pool.close()

    def record(self, entry: AuditEntry) -> None:
        with self._pool.connection() as conn, conn.transaction():
            self._log.append(conn, entry.actor, entry.event, entry.payload())

    def for_thread(self, thread_id: str) -> list[dict[str, Any]]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT seq, at, payload, hash FROM platform_audit WHERE stream = %s"
                " AND payload->>'thread_id' = %s ORDER BY seq",
                (STREAM, thread_id),
            ).fetchall()
        return [{"seq": r["seq"], "at": r["at"], **r["payload"], "hash": r["hash"]} for r in rows]

    def pending_approvals(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute(PENDING_SQL).fetchone()
        return int(row["pending"]) if row else 0

    def verify(self) -> Verification:
        with self._pool.connection() as conn:
            return self._log.verify(conn)

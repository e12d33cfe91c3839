"""The audit log of tool calls and decisions: the chassis's append-only, hash-chained audit,
one chain per tenant (stream `tools:<tenant>`, its head a per-tenant anchor), and inside it
one chain per thread (each entry names the hash of its thread's previous entry).

The database refuses to change or delete an entry (a trigger); `verify` finds an entry that
was edited, deleted or reordered behind its back, per tenant and per thread. A tool call is
recorded twice: its intent before it runs and its outcome after, so a crash in between
still leaves the attempt on record. Every replica writes to and reads the same log.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from psycopg_pool import ConnectionPool

from .platform.audit import GENESIS, Verification, entry_hash
from .platform.audit import AuditLog as ChainedLog

Event = Literal["tool_intent", "tool_call", "approval_requested", "approval_decided"]
PREFIX = "tools:"
MAX_DETAIL_CHARS = 2000


@dataclass(frozen=True)
class AuditEntry:
    """What happened, in which tenant and thread, done or decided by whom, under which release."""

    tenant: str
    thread_id: str  # the checkpoint key, tenant/thread
    event: Event
    tool: str
    tool_call_id: str
    outcome: str  # started; ok, error, flagged, timeout, invalid, limit, rejected, refused;
    # pending, approve, edit, reject
    detail: str = ""
    actor: str = "-"
    release: str = "-"
    args: dict[str, Any] = field(default_factory=dict)

    def payload(self, thread_prev: str) -> dict[str, Any]:
        values = asdict(self)
        values.pop("tenant")
        values["detail"] = self.detail[:MAX_DETAIL_CHARS]
        values["thread_prev"] = thread_prev
        return values


PENDING_SQL = (
    "SELECT count(*) AS pending FROM platform_audit r WHERE r.stream LIKE 'tools:%%'"
    " AND r.action = 'approval_requested' AND NOT EXISTS (SELECT 1 FROM platform_audit d"
    " WHERE d.stream = r.stream AND d.action = 'approval_decided'"
    " AND d.payload->>'thread_id' = r.payload->>'thread_id'"
    " AND d.payload->>'tool_call_id' = r.payload->>'tool_call_id')"
)
THREAD_INDEX = (  # what `record`, `for_thread` and PENDING_SQL look entries up by
    "CREATE INDEX IF NOT EXISTS platform_audit_stream_thread ON platform_audit"
    " (stream, (payload->>'thread_id'), seq)"
)
INDEX_LOCK = 7_240_203
COLUMNS = "stream, seq, at, actor, action, payload, prev_hash, hash"


@dataclass(frozen=True)
class AuditReport:
    """`verify` for one tenant: the tenant chain, then every thread chain inside it."""

    tenant: str
    ok: bool
    entries: int
    head: str
    broken_at: int | None = None
    thread_id: str | None = None
    problem: str = ""


class AuditLog:
    """Tool calls and decisions, appended to the chassis's chained audit."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool
        with self._pool.connection() as conn, conn.transaction():
            # the chassis created the table at start-up; replicas add the index one at a time
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (INDEX_LOCK,))
            conn.execute(THREAD_INDEX)

    def record(self, entry: AuditEntry, conn: Any = None) -> None:
        """Append an entry, in `conn`'s transaction when given (it commits with the caller's
        change), else in a transaction of its own."""
        if conn is not None:
            self._append(conn, entry)
            return
        with self._pool.connection() as own, own.transaction():
            self._append(own, entry)

    def _append(self, conn: Any, entry: AuditEntry) -> None:
        log = ChainedLog(PREFIX + entry.tenant)
        with conn.transaction():
            # the chassis takes this lock again inside append (re-entrant): one writer per chain
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"audit:{log.stream}",))
            last = conn.execute(
                "SELECT hash FROM platform_audit WHERE stream = %s AND payload->>'thread_id' = %s"
                " ORDER BY seq DESC LIMIT 1",
                (log.stream, entry.thread_id),
            ).fetchone()
            log.append(
                conn, entry.actor, entry.event, entry.payload(last["hash"] if last else GENESIS)
            )

    def for_thread(self, tenant: str, thread_id: str) -> list[dict[str, Any]]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT seq, at, payload, hash FROM platform_audit WHERE stream = %s"
                " AND payload->>'thread_id' = %s ORDER BY seq",
                (PREFIX + tenant, thread_id),
            ).fetchall()
        return [{"seq": r["seq"], "at": r["at"], **r["payload"], "hash": r["hash"]} for r in rows]

    def pending_approvals(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute(PENDING_SQL).fetchone()
        return int(row["pending"]) if row else 0

    def tenants(self) -> list[str]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT stream FROM platform_audit WHERE stream LIKE 'tools:%' ORDER BY 1"
            ).fetchall()
        return [r["stream"].removeprefix(PREFIX) for r in rows]

    def verify(self, tenant: str) -> AuditReport:
        """The first broken link of the tenant's chain, else of any of its threads' chains."""
        log = ChainedLog(PREFIX + tenant)
        with self._pool.connection() as conn:
            chain: Verification = log.verify(conn)
            if not chain.ok:
                return AuditReport(
                    tenant, False, chain.entries, chain.head, chain.broken_at, None, chain.problem
                )
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM platform_audit WHERE stream = %s ORDER BY seq",
                (log.stream,),
            ).fetchall()
        last: dict[str, str] = {}
        for row in rows:
            thread = str(row["payload"].get("thread_id"))
            expected = last.get(thread, GENESIS)
            if row["payload"].get("thread_prev") != expected or entry_hash(row) != row["hash"]:
                return AuditReport(
                    tenant,
                    False,
                    chain.entries,
                    chain.head,
                    row["seq"],
                    thread,
                    "thread_prev does not match the thread's entry before it",
                )
            last[thread] = row["hash"]
        return AuditReport(tenant, True, chain.entries, chain.head)

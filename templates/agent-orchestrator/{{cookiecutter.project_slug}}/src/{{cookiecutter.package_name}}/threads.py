"""Who owns a thread, who decided each call, and which run holds a thread: in the service's
PostgreSQL, so every replica agrees.

- A thread belongs to a tenant and to the caller who started it. Its checkpoint key is
  `<tenant>/<thread_id>`, so another tenant's thread of the same name is another thread: a
  read, post or decision from another tenant finds nothing (404).
- A decision is taken once per call: the first INSERT wins (compare-and-set on the primary
  key); every later one gets 409 naming the decision already taken.
- A run holds its thread's advisory lock while it executes, so a thread is never resumed
  twice at once (LangGraph Server's multitask "reject" policy). The lock is a session lock:
  a replica that dies releases it with its connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from .platform.errors import Conflict

SCHEMA = """
CREATE TABLE IF NOT EXISTS agent_threads (
    thread_key text PRIMARY KEY,
    tenant     text NOT NULL,
    thread_id  text NOT NULL,
    owner      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS agent_decisions (
    thread_key   text NOT NULL,
    tool_call_id text NOT NULL,
    action       text NOT NULL,
    actor        text NOT NULL,
    args_hash    text NOT NULL,
    decision     jsonb NOT NULL,
    decided_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (thread_key, tool_call_id)
);
"""
LOCK_SPACE = 7_240_201  # advisory lock class of run locks (objid: hashtext(thread_key))
SETUP_LOCK = 7_240_202


@dataclass(frozen=True)
class Thread:
    key: str
    tenant: str
    thread_id: str
    owner: str


@dataclass(frozen=True)
class TakenDecision:
    action: str
    actor: str
    decided_at: datetime

    def describe(self) -> str:
        done = {"approve": "approved", "edit": "edited", "reject": "rejected"}.get(
            self.action, self.action
        )
        return f"{done} by {self.actor} at {self.decided_at.isoformat()}"


def thread_key(tenant: str, thread_id: str) -> str:
    return f"{tenant}/{thread_id}"


class ThreadStore:
    """Threads and decisions on the service's pool (shared with the audit and checkpoints);
    run locks on a pool of their own: a run holds its lock connection while it needs others,
    so on one shared pool N concurrent runs would hold all N connections and wait forever."""

    def __init__(self, pool: ConnectionPool[Any], locks: ConnectionPool[Any]) -> None:
        self._pool = pool
        self._locks = locks
        with self._pool.connection() as conn, conn.transaction():  # replicas: one at a time
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
            conn.execute(SCHEMA)

    def claim(self, tenant: str, thread_id: str, owner: str) -> Thread:
        """The thread, created for `owner` if it is new (an existing one keeps its owner)."""
        key = thread_key(tenant, thread_id)
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO agent_threads (thread_key, tenant, thread_id, owner)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (thread_key) DO NOTHING",
                (key, tenant, thread_id, owner),
            )
        found = self.get(tenant, thread_id)
        assert found is not None
        return found

    def get(self, tenant: str, thread_id: str) -> Thread | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT thread_key, tenant, thread_id, owner FROM agent_threads"
                " WHERE thread_key = %s",
                (thread_key(tenant, thread_id),),
            ).fetchone()
        if row is None:
            return None
        return Thread(row["thread_key"], row["tenant"], row["thread_id"], row["owner"])

    def decide(
        self, key: str, decisions: Mapping[str, Mapping[str, Any]], within: Callable[[Any], Any]
    ) -> dict[str, TakenDecision]:
        """Record the decisions (call id -> decision) in one transaction with whatever
        `within(conn)` writes (their audit entries), all or none; returns the decisions
        already taken for any of these calls (then nothing is recorded)."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                for call_id, decision in decisions.items():
                    inserted = conn.execute(
                        "INSERT INTO agent_decisions (thread_key, tool_call_id, action, actor,"
                        " args_hash, decision) VALUES (%s, %s, %s, %s, %s, %s)"
                        " ON CONFLICT (thread_key, tool_call_id) DO NOTHING RETURNING 1",
                        (key, call_id, decision["action"], decision["actor"],
                         decision["args_hash"], Jsonb(dict(decision))),
                    ).fetchone()  # fmt: skip
                    if inserted is None:  # taken already, or by a concurrent decision
                        raise _Lost()
                within(conn)
        except _Lost:
            return self.taken(key, list(decisions))
        return {}

    def stored_decisions(self, key: str, call_ids: list[str]) -> dict[str, Any]:
        """The decisions recorded for these calls, as the graph resumes with them."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT tool_call_id, decision FROM agent_decisions"
                " WHERE thread_key = %s AND tool_call_id = ANY(%s)",
                (key, call_ids),
            ).fetchall()
        return {r["tool_call_id"]: r["decision"] for r in rows}

    def taken(self, key: str, call_ids: list[str]) -> dict[str, TakenDecision]:
        with self._pool.connection() as conn:
            return self._taken(conn, key, call_ids)

    @staticmethod
    def _taken(conn: Any, key: str, call_ids: list[str]) -> dict[str, TakenDecision]:
        rows = conn.execute(
            "SELECT tool_call_id, action, actor, decided_at FROM agent_decisions"
            " WHERE thread_key = %s AND tool_call_id = ANY(%s)",
            (key, call_ids),
        ).fetchall()
        return {
            r["tool_call_id"]: TakenDecision(r["action"], r["actor"], r["decided_at"]) for r in rows
        }

    @contextmanager
    def run_lock(self, key: str) -> Iterator[None]:
        """Hold the thread while a run executes; 409 at once if another run holds it."""
        with self._locks.connection() as conn:
            row = conn.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(%s)) AS locked", (LOCK_SPACE, key)
            ).fetchone()
            if not row or not row["locked"]:
                raise Conflict(
                    f"thread_id={key.split('/', 1)[1]!r} has a run in progress (started by"
                    " another request): wait for it to finish, then read the thread",
                    thread_id=key.split("/", 1)[1],
                )
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_SPACE, key))

    def running(self, key: str) -> bool:
        """Whether a run holds the thread now (on any replica)."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = %s::oid AND objid = hashtext(%s)::oid AND objsubid = 2",
                (LOCK_SPACE, key),
            ).fetchone()
        return bool(row and row["n"])


class _Lost(Exception):
    """A concurrent decision won the compare-and-set; the caller re-reads and answers 409."""

"""State every replica agrees on: small JSON documents in PostgreSQL, read from memory.

Release routing, the kill switch and cache epochs must be the same on every replica and
survive restarts, so they live in the service's database, never in a pod. Reading them is on
every request's path, so each process keeps a copy in memory and refreshes it when a change
is announced (LISTEN/NOTIFY, usually within milliseconds); a poll every `poll_seconds` is the
backstop for a lost notification or a dropped listener connection.

Each change runs in one transaction: lock the row, apply the change, append the audit entry,
NOTIFY. Two replicas changing the same key at once are serialised by the row lock, so no
change is lost and the audit holds each exactly once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from .audit import AuditLog
from .database import connect, connection_kwargs
from .errors import Unavailable

log = logging.getLogger(__name__)

CHANNEL = "platform_state"
LOCK_TIMEOUT_SECONDS = 5.0  # a change waits this long for another one, then fails (503)
SCHEMA_LOCK = 7_240_100  # advisory lock id: one replica creates the tables at a time
SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS platform_state_version;
CREATE TABLE IF NOT EXISTS platform_state (
    service text   NOT NULL,
    key     text   NOT NULL,
    value   jsonb  NOT NULL,
    version bigint NOT NULL DEFAULT nextval('platform_state_version'),
    PRIMARY KEY (service, key)
);
"""

# (current value, the transaction's connection) -> new value
Change = Callable[[dict[str, Any] | None, psycopg.Connection[Any]], dict[str, Any]]
# (before, after) -> (audit log, actor, action, payload): built inside the locked transaction.
Audit = Callable[[dict[str, Any] | None, dict[str, Any]], tuple[AuditLog, str, str, dict[str, Any]]]


class SharedState:
    """Keyed JSON documents of one service, shared through PostgreSQL, cached in process."""

    def __init__(
        self, url: str, service: str, poll_seconds: float = 1.0, pool_size: int = 2
    ) -> None:
        self.url, self.service, self.poll_seconds = url, service, poll_seconds
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs=connection_kwargs(url, autocommit=True, prepare_threshold=None),
            check=ConnectionPool.check_connection,  # a failover leaves dead connections behind
            open=False,
            name=f"{service}-state",
        )
        self._values: dict[str, dict[str, Any]] = {}
        self._seen_version = 0
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        """Create the tables if needed, load every key, start following changes."""
        self.pool.open(wait=True, timeout=30)
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            conn.execute(SCHEMA)
            AuditLog.create_schema(conn)
        self.refresh()
        self._stop.clear()
        self._thread = threading.Thread(target=self._follow, name="shared-state", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        try:  # wake our listener now instead of at its next poll (others just reload once)
            with self.pool.connection(timeout=2) as conn:
                conn.execute("SELECT pg_notify(%s, 'closing')", (CHANNEL,))
        except (psycopg.Error, PoolTimeout):
            pass
        if self._thread is not None:
            self._thread.join(timeout=self.poll_seconds + 5)
        self.pool.close()

    def __enter__(self) -> SharedState:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> bool:
        """Readiness: the database answers."""
        with self.pool.connection(timeout=5) as conn:
            return conn.execute("SELECT 1").fetchone() is not None

    # -- reading (from memory) -----------------------------------------------------------------
    def get(self, key: str) -> dict[str, Any] | None:
        return self._values.get(key)

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Call `listener(key)` whenever a key changes (in this process or another)."""
        self._listeners.append(listener)

    # -- changing ------------------------------------------------------------------------------
    def update(self, key: str, change: Change, audit: Audit | None = None) -> dict[str, Any]:
        """Apply `change(current, conn)` under the row lock; audit and announce it in one commit.

        `audit(before, after)` names the entry to append, so it records exactly what the
        locked transaction saw.
        """
        try:
            with self.pool.connection() as conn, conn.transaction():
                # One change per service at a time, so versions become visible in the order they
                # were drawn: a follower reading `version > seen` can never skip a slower commit.
                timeout = f"{int(LOCK_TIMEOUT_SECONDS * 1000)}ms"
                conn.execute("SELECT set_config('lock_timeout', %s, true)", (timeout,))
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"state:{self.service}",)
                )
                conn.execute(
                    "INSERT INTO platform_state (service, key, value) VALUES (%s, %s, 'null')"
                    " ON CONFLICT DO NOTHING",
                    (self.service, key),
                )
                row = conn.execute(
                    "SELECT value FROM platform_state WHERE service = %s AND key = %s FOR UPDATE",
                    (self.service, key),
                ).fetchone()
                before = row[0] if row else None
                after = change(before, conn)
                conn.execute(
                    "UPDATE platform_state SET value = %s,"
                    " version = nextval('platform_state_version') WHERE service = %s AND key = %s",
                    (Jsonb(after), self.service, key),
                )
                if audit is not None:
                    audit_log, actor, action, payload = audit(before, after)
                    audit_log.append(conn, actor, action, payload)
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{self.service}:{key}"))
        except psycopg.errors.LockNotAvailable:
            raise Unavailable(
                f"another change to {key!r} held its lock for {LOCK_TIMEOUT_SECONDS:g} s: retry"
            ) from None
        self.refresh()  # this replica sees its own change at once
        return after

    def connection(self) -> Any:
        """A pooled connection (autocommit) to the same database, for audit reads."""
        return self.pool.connection()

    # -- following changes ---------------------------------------------------------------------
    def refresh(self) -> None:
        """Load every key changed since the last refresh."""
        with self.pool.connection() as conn:
            self._load(conn)

    def _load(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            rows = conn.execute(
                "SELECT key, value, version FROM platform_state"
                " WHERE service = %s AND version > %s ORDER BY version",
                (self.service, self._seen_version),
            ).fetchall()
            changed = []
            for key, value, version in rows:
                if isinstance(value, dict):
                    self._values[key] = value
                changed.append(key)
                self._seen_version = max(self._seen_version, version)
        for key in changed:
            for listener in self._listeners:
                try:
                    listener(key)
                except Exception:  # a listener's bug must not stop the follower
                    log.exception("shared state listener failed", extra={"key": key})

    def _follow(self) -> None:
        """LISTEN for changes; reload on each notification and at least every poll."""
        while not self._stop.is_set():
            try:
                with connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._load(conn)  # anything missed while (re)connecting
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=self.poll_seconds, stop_after=1):
                            pass
                        self._load(conn)
            except psycopg.Error as exc:
                if self._stop.is_set():
                    return
                log.warning("shared state listener reconnecting", extra={"error": repr(exc)})
                self._stop.wait(self.poll_seconds)

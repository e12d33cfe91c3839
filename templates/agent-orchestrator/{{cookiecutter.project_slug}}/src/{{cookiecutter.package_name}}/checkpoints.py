{%- if cookiecutter.checkpointer == "postgres" -%}
"""Where agent state lives: LangGraph checkpoints and the audit log in PostgreSQL.

The database is the service's own (the chassis opens it: DATABASE_URL, Aurora in production,
or the embedded pgserver under data_dir locally). Either way the same `PostgresSaver` and
tables are used, so a paused run resumes on any replica.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg_pool import ConnectionPool

from .audit import AuditLog
from .platform.database import open_pool
from .settings import Settings

log = logging.getLogger(__name__)
SETUP_LOCK = 7_240_200  # advisory lock id: one replica creates the checkpoint tables at a time


@dataclass(frozen=True)
class Checkpoints:
    """The checkpointer the graph compiles with, the audit log beside it, and the pool of the
    service's PostgreSQL that the audit and the thread store share."""

    saver: BaseCheckpointSaver
    audit: AuditLog
    pool: ConnectionPool[Any]

    @property
    def state_pool(self) -> ConnectionPool[Any]:
        return self.pool

    def ping(self) -> bool:
        with self.pool.connection(timeout=5) as conn:
            return conn.execute("SELECT 1").fetchone() is not None


def _take_setup_lock(conn: Any, timeout: float = 300.0) -> None:
    """Wait for the setup lock by polling, never inside one long statement: LangGraph's
    migrations run CREATE INDEX CONCURRENTLY, which waits for every open transaction, so a
    replica blocked in `pg_advisory_lock` would make the one holding the lock wait forever."""
    deadline = time.monotonic() + timeout
    while not conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (SETUP_LOCK,)).fetchone()["ok"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"another replica held the checkpoint setup lock for {timeout:g} s")
        time.sleep(0.1)


@contextmanager
def open_checkpoints(settings: Settings, url: str) -> Iterator[Checkpoints]:
    """Checkpoints in the service's database (the chassis opened it: `url`)."""
    with ExitStack() as stack:
        # What PostgresSaver needs: autocommit, dict rows, no server-side prepares (PgBouncer).
        pool = open_pool(url, "checkpoints", settings.database_pool_size)
        stack.callback(pool.close)
        saver = PostgresSaver(pool)  # type: ignore[arg-type]
        with pool.connection() as conn:  # replicas starting together migrate one at a time
            _take_setup_lock(conn)
            try:
                saver.setup()
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))
        yield Checkpoints(saver=saver, audit=AuditLog(pool), pool=pool)
{%- else -%}
"""Where agent state lives: LangGraph checkpoints in one SQLite file; the audit log in the
service's PostgreSQL (the chassis's chained audit).

SQLite keeps a single replica's runs across restarts; it cannot share a paused run between
replicas (choose checkpointer=postgres for that).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from psycopg_pool import ConnectionPool

from .audit import AuditLog
from .platform.database import open_pool
from .settings import Settings


@dataclass(frozen=True)
class Checkpoints:
    """The checkpointer the graph compiles with, and the audit log beside it."""

    saver: BaseCheckpointSaver
    audit: AuditLog
    path: Path
    state_pool: ConnectionPool[Any]  # the service's PostgreSQL: the audit and the thread store

    def ping(self) -> bool:
        with closing(sqlite3.connect(self.path)) as conn:
            return conn.execute("SELECT 1").fetchone() is not None


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


@contextmanager
def open_checkpoints(settings: Settings, url: str) -> Iterator[Checkpoints]:
    """Checkpoints in one SQLite file; the audit in the service's PostgreSQL (`url`)."""
    path = settings.checkpoint_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        saver_conn = stack.enter_context(closing(_connect(path)))
        saver = SqliteSaver(saver_conn)
        saver.setup()
        pool = open_pool(url, "agent-state", settings.database_pool_size)
        stack.callback(pool.close)
        yield Checkpoints(saver=saver, audit=AuditLog(pool), path=path, state_pool=pool)
{%- endif %}

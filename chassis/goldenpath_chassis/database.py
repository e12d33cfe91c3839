"""The service's PostgreSQL: `DATABASE_URL` in production (Aurora), an embedded server locally.

Locally the `pgserver` wheel runs a real PostgreSQL under `DATA_DIR/postgres`, listening on a
Unix socket only. pgserver counts its users in `.handle_pids.json` and stops the server when
the last one leaves; a user killed with SIGKILL never leaves, so its pid would keep the server
alive (and orphaned) for good. `EmbeddedPostgres` drops pids of dead processes before it joins,
so the next clean stop really stops the server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from pydantic import SecretStr

log = logging.getLogger(__name__)

HANDLE_PIDS = ".handle_pids.json"  # pgserver's list of processes using the server


def _handle_pids(pgdata: Path) -> list[int]:
    try:
        return [int(pid) for pid in json.loads((pgdata / HANDLE_PIDS).read_text("utf-8"))]
    except (FileNotFoundError, ValueError, TypeError):
        return []


def live_handle_pids(pgdata: Path) -> list[int]:
    """The pids in pgserver's handle list that are still running processes."""
    return [pid for pid in _handle_pids(pgdata) if psutil.pid_exists(pid) and _not_zombie(pid)]


def _not_zombie(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def clear_stale_handles(pgdata: Path) -> list[int]:
    """Remove dead processes from pgserver's handle list; returns the pids removed."""
    pids, live = _handle_pids(pgdata), live_handle_pids(pgdata)
    stale = [pid for pid in pids if pid not in live]
    if stale:
        (pgdata / HANDLE_PIDS).write_text(json.dumps(live), encoding="utf-8")
        log.warning("embedded postgres: cleared stale handles", extra={"pids": stale})
    return stale


class EmbeddedPostgres:
    """A real PostgreSQL server from the `pgserver` wheel, data under `pgdata`, Unix socket.

    Several processes on one machine (a local fleet, the CLI beside `serve`) share one server;
    the last one to stop stops it.
    """

    def __init__(self, pgdata: Path) -> None:
        from pgserver.postgres_server import PostgresServer, get_server  # without DATABASE_URL

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        pgdata.mkdir(exist_ok=True)
        with PostgresServer._lock:  # the lock pgserver itself holds while it counts users
            clear_stale_handles(pgdata)
        self.pgdata = pgdata
        self._server: Any = get_server(pgdata, cleanup_mode="stop")
        self.url: str = self._server.get_uri()
        log.info("embedded postgres started", extra={"pgdata": str(pgdata)})

    @property
    def pid(self) -> int | None:
        pid: int | None = self._server.get_pid()
        return pid

    def stop(self) -> None:
        """Leave the server; it stops when no other live process uses it."""
        self._server.cleanup()


@contextmanager
def database_url(url: SecretStr | None, data_dir: Path) -> Iterator[str]:
    """The URL to use: `url` when set, else an embedded server under `data_dir/postgres`."""
    if url is not None:
        yield url.get_secret_value()
        return
    server = EmbeddedPostgres(data_dir / "postgres")
    try:
        yield server.url
    finally:
        server.stop()


def open_pool(url: str, name: str, size: int) -> ConnectionPool[Any]:
    """A pool of autocommit connections with dict rows, checked before use (a failover leaves
    dead connections behind) and without server-side prepares (PgBouncer, RDS Proxy), opened
    and waited on: what the service's own stores and LangGraph's PostgresSaver expect."""
    pool: ConnectionPool[Any] = ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs={"autocommit": True, "prepare_threshold": None, "row_factory": dict_row},
        check=ConnectionPool.check_connection,
        open=True,
        name=name,
    )
    pool.wait(timeout=30)
    return pool

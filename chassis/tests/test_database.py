"""The embedded PostgreSQL survives a SIGKILL of the service: the next start reuses the
server (stale handles cleared) and the next clean stop really stops it."""

from __future__ import annotations

import json

import psutil
import psycopg
import pytest
from fleet import ServiceProcess

from goldenpath_chassis.database import HANDLE_PIDS, clear_stale_handles
from goldenpath_chassis.testing import postgres_processes, world_readable_dir

pytestmark = pytest.mark.integration


def test_after_a_sigkill_the_next_start_and_stop_leave_no_postgres(tmp_path) -> None:
    data_dir = world_readable_dir("sigkill-")
    pgdata = data_dir / "postgres"
    env = {"DATA_DIR": str(data_dir)}  # no DATABASE_URL: the embedded server
    first = ServiceProcess(env, tmp_path / "first.log")
    first.wait_ready()
    assert postgres_processes(pgdata)
    first.kill()  # SIGKILL: no cleanup ran, its pid stays in pgserver's handle list
    assert first.process.pid in json.loads((pgdata / HANDLE_PIDS).read_text())
    assert postgres_processes(pgdata), "the server outlives a killed service"

    second = ServiceProcess(env, tmp_path / "second.log")
    second.wait_ready()
    assert first.process.pid not in json.loads((pgdata / HANDLE_PIDS).read_text())
    second.stop()  # SIGTERM: a clean shutdown (uvicorn re-raises the signal when done)
    assert '"message": "stopped"' in (tmp_path / "second.log").read_text()
    for proc in postgres_processes(pgdata):
        proc.wait(10)
    assert not postgres_processes(pgdata), "a clean stop after a crash stops the server"


def test_clearing_handles_keeps_live_processes(tmp_path) -> None:
    (tmp_path / HANDLE_PIDS).write_text(json.dumps([psutil.Process().pid, 2**22 + 17]))
    assert clear_stale_handles(tmp_path) == [2**22 + 17]
    assert json.loads((tmp_path / HANDLE_PIDS).read_text()) == [psutil.Process().pid]


def test_open_pool_gives_autocommit_dict_rows_that_survive_a_killed_backend(database_url) -> None:
    from goldenpath_chassis.database import open_pool

    pool = open_pool(database_url, "test", 2)
    try:
        with pool.connection() as conn:
            assert conn.autocommit and conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}
            pid = conn.info.backend_pid
        with psycopg.connect(database_url, autocommit=True) as other:  # as a failover does
            other.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(3):  # checked on checkout: a dead connection is replaced, not handed out
            with pool.connection() as conn:
                assert conn.execute("SELECT 2 AS two").fetchone() == {"two": 2}
    finally:
        pool.close()

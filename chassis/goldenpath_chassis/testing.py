"""A pytest plugin for services built on the chassis: one real PostgreSQL per test session
(pgserver, Unix socket only), a fresh, empty database per test, a client that runs the app's
lifespan, and the development caller and admin credentials.

Load it from a service's conftest.py with `pytest_plugins = ["<package>.platform.testing"]`,
define an `app` fixture, and pass `database_url` to the service's settings. A fresh database
per test keeps each test's release state, kill switch and audit its own (milliseconds each).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from .config import DEVELOPMENT_SECRETS
from .database import EmbeddedPostgres


def world_readable_dir(prefix: str) -> Path:
    """A folder PostgreSQL can enter: run as root, pgserver starts the server as its own user,
    which cannot traverse pytest's private (0700) temporary folders."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    """The PostgreSQL server processes running on `pgdata` (to prove none is left behind)."""
    found = []
    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        if proc.info["name"] == "postgres" and str(pgdata) in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """One real replica for fleet, concurrency and crash tests: `python -m uvicorn --factory
    <app>` on 127.0.0.1, settings from the environment, as a deploy would run it."""

    def __init__(
        self, app: str, env: dict[str, str], log: Path, cwd: Path, pythonpath: str = ""
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("ab")
        paths = os.pathsep.join(p for p in (pythonpath, os.environ.get("PYTHONPATH", "")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", app, "--host", "127.0.0.1",
             "--port", str(self.port), "--no-access-log"],
            env={**os.environ, "ENVIRONMENT": "test", "PYTHONPATH": paths, **env},
            stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"replica exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"replica on port {self.port} not ready in {timeout} s")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a node dies or the OOM killer strikes."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


@pytest.fixture(scope="session")
def platform_postgres() -> Iterator[EmbeddedPostgres]:
    """The session's PostgreSQL server."""
    folder = world_readable_dir("platform-pg-")
    server = EmbeddedPostgres(folder / "postgres")
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def new_database(platform_postgres: EmbeddedPostgres) -> Callable[[], str]:
    """`new_database()` -> the URL of a new, empty database on the session's server."""

    def make() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(platform_postgres.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return platform_postgres.url.replace("/postgres?", f"/{name}?")

    return make


@pytest.fixture
def database_url(new_database: Callable[[], str]) -> str:
    """A fresh database for this test."""
    return new_database()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client of the service's `app` fixture, with its lifespan running."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def auth_headers() -> dict[str, str]:
    return {"X-API-Key": DEVELOPMENT_SECRETS["api_key"]}


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {DEVELOPMENT_SECRETS['admin_token']}"}

"""A pytest plugin for services built on the chassis: one real PostgreSQL per test session
(pgserver, Unix socket only), a fresh, empty database per test, a client that runs the app's
lifespan, and the development caller and admin credentials.

Load it from a service's conftest.py with `pytest_plugins = ["<package>.platform.testing"]`,
define an `app` fixture, and pass `database_url` to the service's settings. A fresh database
per test keeps each test's release state, kill switch and audit its own (milliseconds each).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

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

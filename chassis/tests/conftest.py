"""Fixtures of the chassis tests: one real PostgreSQL per session (pgserver, Unix socket), a
fresh database per test, and the minimal service built on the chassis."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from goldenpath_chassis import EmbeddedPostgres
from minimal_service import Settings, create_app


def server_dir() -> Path:
    """A folder PostgreSQL can enter: as root, pgserver runs it as its own user, which cannot
    traverse pytest's private (0700) temporary folders."""
    folder = Path(tempfile.mkdtemp(prefix="chassis-pg-"))
    folder.chmod(0o755)
    return folder


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    folder = server_dir()
    server = EmbeddedPostgres(folder / "postgres")
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def new_database(postgres: EmbeddedPostgres) -> Callable[[], str]:
    """`new_database()` -> the URL of a new, empty database on the session's server."""

    def make() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(postgres.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return postgres.url.replace("/postgres?", f"/{name}?")

    return make


@pytest.fixture
def database_url(new_database: Callable[[], str]) -> str:
    return new_database()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(environment="test", data_dir=tmp_path, database_url=database_url)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def auth_headers() -> dict[str, str]:
    return {"X-API-Key": "dev-api-key"}


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": "Bearer dev-admin-token"}


@pytest.fixture
def domain_call() -> dict[str, Any]:
    return {"method": "POST", "url": "/v1/echo", "json": {"message": "hello"}}

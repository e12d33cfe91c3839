"""Fixtures of the chassis tests: the minimal service built on the chassis. The chassis's own
pytest plugin (`-p goldenpath_chassis.testing` in pyproject.toml) gives one real PostgreSQL
per session and a fresh database per test (`database_url`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from minimal_service import Settings, create_app


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

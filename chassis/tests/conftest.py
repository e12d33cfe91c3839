"""Fixtures of the chassis tests: the minimal service built on the chassis. The chassis's own
pytest plugin (`-p goldenpath_chassis.testing` in pyproject.toml) gives one real PostgreSQL
per session, a fresh database per test (`database_url`), `client`, `auth_headers` and
`admin_headers`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from minimal_service import Settings, create_app


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(environment="test", data_dir=tmp_path, database_url=database_url)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def domain_call() -> dict[str, Any]:
    return {"method": "POST", "url": "/v1/echo", "json": {"message": "hello"}}

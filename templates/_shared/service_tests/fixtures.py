"""Fixtures every service's tests share (loaded by `pytest_plugins` in conftest.py): the app,
a client that runs its lifespan, and caller and admin headers. A conftest.py fixture of the
same name overrides one of these where a service needs more (a Ray cluster, JWTs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings


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

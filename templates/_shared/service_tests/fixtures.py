"""The service's app for its tests (loaded by `pytest_plugins` in conftest.py). The chassis's
plugin (`platform.testing`) adds `client` (the app with its lifespan), `auth_headers`,
`admin_headers` and a fresh `database_url` per test; a conftest.py fixture of the same name
overrides one of these where a service needs more (a Ray cluster, JWTs)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)

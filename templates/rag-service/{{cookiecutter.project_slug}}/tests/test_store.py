"""Versioned migrations and the embedded PostgreSQL the service starts when DATABASE_URL
is unset."""

from __future__ import annotations

import shutil

import psycopg
import pytest
from conftest import HANDBOOK, ingest, make_settings
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.migrations import load_migrations
from {{ cookiecutter.package_name }}.platform.errors import Unavailable
from {{ cookiecutter.package_name }}.platform.testing import world_readable_dir
from {{ cookiecutter.package_name }}.store import Store


def test_migrations_apply_once_in_order(database):
    url = database("rag_migrations")
    store = Store(url, 16)
    assert store.migrate() == [m.version for m in load_migrations()] == [1, 2, 3, 4, 5]
    assert store.migrate() == []
    with psycopg.connect(url) as conn:
        index = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'chunks_embedding_hnsw'"
        ).fetchone()
    assert "hnsw" in index[0] and "vector_cosine_ops" in index[0]


def test_a_different_embedding_size_is_refused(database):
    url = database("rag_migrations")
    Store(url, 16).migrate()
    with pytest.raises(Unavailable, match="16-dimensional vectors but embedding_dimension=32"):
        Store(url, 32).migrate()


def test_embedded_postgres_starts_under_data_dir(stub, auth_headers):
    data_dir = world_readable_dir("rag-data-")
    settings = make_settings(None, stub, data_dir)
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").json()["checks"]["database"] == "ok"
        ingest(client, auth_headers, "local", **{"handbook.md": HANDBOOK})
    assert (data_dir / "postgres" / "PG_VERSION").exists()
    shutil.rmtree(data_dir, ignore_errors=True)

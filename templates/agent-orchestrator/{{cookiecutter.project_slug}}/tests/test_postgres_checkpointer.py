"""PostgreSQL checkpoints: the embedded server the service starts without DATABASE_URL, and the
rows LangGraph and the audit log write there."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.main import create_app

pytestmark = pytest.mark.integration


def test_checkpoints_and_audit_rows_are_in_postgres(client, auth_headers, examples, settings):
    run = client.post("/v1/runs", json={"task": examples.lookup.task}, headers=auth_headers)
    thread_id = run.json()["thread_id"]
    with psycopg.connect(settings.database_url.get_secret_value()) as conn:
        checkpoints = conn.execute(
            "SELECT count(*) FROM checkpoints WHERE thread_id = %s", (f"default/{thread_id}",)
        ).fetchone()
        audit = conn.execute(
            "SELECT payload->>'tool', payload->>'outcome' FROM platform_audit"
            " WHERE stream = 'tools:default' AND payload->>'thread_id' = %s ORDER BY seq",
            (f"default/{thread_id}",),
        ).fetchall()
    assert checkpoints is not None and checkpoints[0] >= 4  # input, planner, tools, planner
    assert audit == [(examples.lookup_tool, "started"), (examples.lookup_tool, "ok")]


def test_without_database_url_an_embedded_postgres_starts_in_data_dir(
    settings, auth_headers, domain_call
):
    from {{ cookiecutter.package_name }}.platform.testing import world_readable_dir

    local = settings.model_copy(
        update={"database_url": None, "data_dir": world_readable_dir("agent-data-")}
    )
    with TestClient(create_app(local)) as client:
        assert client.get("/readyz").json()["checks"]["checkpoints"] == "ok"
        response = client.request(**domain_call, headers=auth_headers)
        assert response.status_code == 200 and response.json()["status"] == "completed"
    assert (local.data_dir / "postgres" / "PG_VERSION").exists()

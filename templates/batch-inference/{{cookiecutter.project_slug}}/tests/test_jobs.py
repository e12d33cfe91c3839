"""The job table: jobs are shared state in PostgreSQL, a job whose runner died is resumed,
the kill switch holds queued jobs, cancel and resume follow the job's status."""

from __future__ import annotations

import hashlib
import time

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.job_model import Job
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.platform.errors import Conflict

CALLER = "key:" + hashlib.sha256(b"dev-api-key").hexdigest()[:16]


def _job(job_id: str, status: str, caller: str = CALLER) -> Job:
    return Job(
        id=job_id, status=status, input="in.jsonl", output=f"out/{job_id}", format="jsonl",
        release="r1", model="m", predictor="embeddings", track="active", caller=caller,
        submitted_at=f"2025-01-01T00:00:0{job_id[-1]}+00:00", rows_processed=5,
    )  # fmt: skip


def test_a_job_whose_runner_died_is_taken_over_and_the_kill_switch_holds_it(
    settings, auth_headers, ray_cluster, model
):
    held = settings.model_copy(update={"kill_switch": True, "job_stale_seconds": 0.1})
    with TestClient(create_app(held)) as client:
        store = client.app.state.jobs.store
        store.insert(_job("a" * 31 + "1", "succeeded"))
        store.insert(_job("b" * 31 + "2", "running"), owner="dead-host:1")  # never beats
        time.sleep(1.5)  # the runner is held by the kill switch: nothing is claimed
        jobs = {job["id"]: job for job in client.get("/v1/jobs", headers=auth_headers).json()}
        assert jobs["a" * 31 + "1"]["status"] == "succeeded"
        assert jobs["a" * 31 + "1"]["rows_processed"] == 5
        assert jobs["b" * 31 + "2"]["status"] == "running"
        assert "batch_queue_depth 1.0" in client.get("/metrics").text
        claimed = store.claim("new-host:2")  # what any replica's runner does next
        assert claimed is not None and claimed.id == "b" * 31 + "2"
        assert store.claim("third-host:3") is None  # one runner per job


def test_cancel_and_resume_follow_the_status(client, auth_headers, admin_headers, app):
    store = app.state.jobs.store
    hold = {"enabled": True, "reason": "hold queued jobs"}
    client.post("/admin/kill-switch", json=hold, headers=admin_headers)
    store.insert(_job("c" * 31 + "3", "queued"))
    store.insert(_job("d" * 31 + "4", "succeeded"))

    cancelled = client.delete(f"/v1/jobs/{'c' * 31}3", headers=auth_headers)
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    done = client.delete(f"/v1/jobs/{'d' * 31}4", headers=auth_headers)
    assert done.status_code == 409
    assert done.json()["detail"] == (
        f"job {'d' * 31}4 is succeeded: only queued or running jobs can be cancelled"
    )
    assert client.delete("/v1/jobs/" + "e" * 32, headers=auth_headers).status_code == 404
    resumed = client.post(f"/v1/jobs/{'c' * 31}3/resume", headers=auth_headers)
    assert resumed.status_code == 202 and resumed.json()["status"] == "queued"
    assert client.post(f"/v1/jobs/{'d' * 31}4/resume", headers=auth_headers).status_code == 409


def test_two_unfinished_jobs_never_share_an_output(client, app, admin_headers):
    hold = {"enabled": True, "reason": "hold queued jobs"}
    client.post("/admin/kill-switch", json=hold, headers=admin_headers)
    store = app.state.jobs.store
    first = _job("f" * 31 + "5", "queued")
    store.insert(first)
    with pytest.raises(Conflict) as refused:  # the partial unique index, across replicas
        store.insert(first.model_copy(update={"id": "f" * 31 + "6"}))
    assert refused.value.detail == (
        f"output={first.output!r} is the output of job {first.id} (queued)"
    )

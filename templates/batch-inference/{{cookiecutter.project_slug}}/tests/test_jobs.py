"""The job registry: state survives a restart, interrupted jobs run again, the kill switch
holds queued jobs."""

from __future__ import annotations

import hashlib
import time

from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.jobs import Job, JobStore
from {{ cookiecutter.package_name }}.main import create_app


def _job(job_id: str, status: str, caller: str) -> Job:
    return Job(
        id=job_id, status=status, input="in.jsonl", output=f"out/{job_id}", format="jsonl",
        release="r1", model="m", predictor="embeddings", track="active", caller=caller,
        submitted_at=f"2025-01-01T00:00:0{job_id[-1]}+00:00", rows_processed=5,
    )  # fmt: skip


def test_status_survives_a_restart_and_interrupted_jobs_are_requeued(
    settings, auth_headers, ray_cluster, model
):
    caller = "key:" + hashlib.sha256(b"dev-api-key").hexdigest()[:16]
    store = JobStore(settings.data_dir / "jobs")
    store.save(_job("a" * 31 + "1", "succeeded", caller))
    store.save(_job("b" * 31 + "2", "running", caller))  # the service died mid-job
    held = settings.model_copy(update={"kill_switch": True})  # hold jobs: nothing runs here

    with TestClient(create_app(held)) as client:
        jobs = {job["id"]: job for job in client.get("/v1/jobs", headers=auth_headers).json()}
        assert jobs["a" * 31 + "1"]["status"] == "succeeded"
        assert jobs["a" * 31 + "1"]["rows_processed"] == 5
        assert jobs["b" * 31 + "2"]["status"] == "queued"
        time.sleep(0.5)  # the runner sees the job but the kill switch keeps it queued
        assert store.get("b" * 31 + "2").status == "queued"
        assert "batch_queue_depth 1.0" in client.get("/metrics").text


def test_store_writes_whole_records(tmp_path):
    store = JobStore(tmp_path / "jobs")
    job = _job("c" * 31 + "3", "queued", "me")
    store.save(job)
    store.save(job.model_copy(update={"status": "running"}))
    assert store.get(job.id).status == "running"
    assert [p.name for p in (tmp_path / "jobs").iterdir()] == [f"{job.id}.json"]
    assert store.get("../../etc/passwd") is None

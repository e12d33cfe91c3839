"""The job API: submit -> poll -> done, refusals that name the field, the kill switch."""

from __future__ import annotations

import json

import pytest

from {{ cookiecutter.package_name }}.jobs import Job, predictor_of
from {{ cookiecutter.package_name }}.predictors import model_digest
from {{ cookiecutter.package_name }}.rows import scan_input
from {{ cookiecutter.package_name }}.storage import Storage

OTHER_FORMAT = "{{ 'jsonl' if cookiecutter.output_format == 'parquet' else 'parquet' }}"
ROWS = [
    {"id": "r1", "text": "Batch jobs read JSON lines."},
    {"id": "r2", "text": "The invoice shows a refund."},
    "not json at all",
    {"id": "r3"},
    {"id": 4, "text": "Outputs are published atomically."},
    ["a", "list"],
    {"text": "No id: the row's id is a hash of its text."},
]


def test_submit_poll_done(
    client, auth_headers, settings, make_input, wait_for_job, read_output, active_release
):
    name = make_input("docs/in.jsonl", ROWS)

    response = client.post(
        "/v1/jobs",
        json={"input": name, "output": "out/run-1", "format": OTHER_FORMAT},
        headers=auth_headers,
    )

    assert response.status_code == 202, response.text
    submitted = response.json()
    assert response.headers["location"] == f"/v1/jobs/{submitted['id']}"
    assert submitted["status"] == "queued" and submitted["format"] == OTHER_FORMAT
    job = wait_for_job(submitted["id"])
    assert job["status"] == "succeeded", job
    assert (job["rows_processed"], job["rows_failed"]) == (4, 3)
    assert "in.jsonl line 4: field 'text' is missing" in job["error_samples"]
    assert "in.jsonl line 6: a JSON list, not an object" in job["error_samples"]
    assert any(e.startswith("in.jsonl line 3: not valid JSON") for e in job["error_samples"])
    assert job["dead_letter"] == [f"_dead_letter/part-00000.{OTHER_FORMAT}"]
    assert job["release"] == submitted["release"] and job["track"] == "active"
    output = settings.storage_root / "out" / "run-1"
    rows = {row["id"]: row for row in read_output(output, OTHER_FORMAT)}
    assert len(rows) == 4 and {"r1", "r2", "4"} <= set(rows)
    assert rows["r1"]["text"] == "Batch jobs read JSON lines."
{%- if cookiecutter.task == "embeddings" %}
    assert all(len(row["embedding"]) == 384 for row in rows.values())
    assert sum(x * x for x in rows["r1"]["embedding"]) ** 0.5 == pytest.approx(1.0, abs=1e-4)
{%- else %}
    assert rows["r2"]["matched_keywords"] == ["invoice", "refund"]
    assert rows["r2"]["keyword_score"] == pytest.approx(2 / 5) and rows["r2"]["words"] == 5
{%- endif %}
    manifest = json.loads((output / "_manifest.json").read_text(encoding="utf-8"))
    assert manifest["release"] == job["release"] and manifest["rows"] == 4
    # lineage: the input's and the model's hashes, the image and code, the attempts
    source = Storage(settings).resolve(name, "input")
    assert manifest["input"] == source.uri and manifest["input_sha256"] == scan_input(source)[1]
    assert manifest["model_sha256"] == model_digest(*predictor_of(active_release))
    assert (manifest["image"], manifest["git_sha"]) == ("local", "unversioned")
    assert manifest["version"] == settings.version and manifest["attempts"] == 1
    assert not list(output.parent.glob(".staging-*"))
    listed = client.get("/v1/jobs", headers=auth_headers).json()
    assert [item["id"] for item in listed] == [job["id"]]
    metrics = client.get("/metrics").text
    assert 'batch_rows_processed_total{outcome="ok"} 4.0' in metrics
    assert 'batch_rows_processed_total{outcome="failed"} 3.0' in metrics
    assert 'batch_jobs_total{status="succeeded"} 1.0' in metrics
    assert "batch_queue_depth 0.0" in metrics


def test_unknown_field_is_refused(client, auth_headers, make_input):
    body = {"input": make_input("a.jsonl", ROWS), "output": "o", "priority": "high"}
    response = client.post("/v1/jobs", json=body, headers=auth_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "priority"


def test_unknown_format_is_refused(client, auth_headers, make_input):
    body = {"input": make_input("a.jsonl", ROWS), "output": "o", "format": "csv"}
    response = client.post("/v1/jobs", json=body, headers=auth_headers)
    assert response.status_code == 422
    assert response.json()["detail"] == "format: Input should be 'parquet' or 'jsonl' (got 'csv')"


def test_missing_input_names_the_field(client, auth_headers):
    body = {"input": "nope.jsonl", "output": "o"}
    response = client.post("/v1/jobs", json=body, headers=auth_headers)
    assert response.status_code == 422
    assert response.json()["detail"] == "input='nope.jsonl' does not exist"
    assert response.json()["field"] == "input"


def test_paths_outside_storage_root_are_refused(client, auth_headers, make_input):
    body = {"input": "../../etc/passwd", "output": "o"}
    response = client.post("/v1/jobs", json=body, headers=auth_headers)
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "input='../../etc/passwd' is outside STORAGE_ROOT: use a path relative to it"
    )
    body = {"input": make_input("a.jsonl", ROWS), "output": "/tmp/elsewhere"}
    assert client.post("/v1/jobs", json=body, headers=auth_headers).json()["field"] == "output"


{% if cookiecutter.storage == "local" -%}
def test_s3_uris_are_refused_by_local_storage(client, auth_headers, make_input):
    body = {"input": make_input("a.jsonl", ROWS), "output": "s3://bucket/out"}
    response = client.post("/v1/jobs", json=body, headers=auth_headers)
    assert response.status_code == 400 and response.json()["field"] == "output"


{% endif -%}
def test_existing_output_is_never_overwritten(client, auth_headers, settings, make_input):
    (settings.storage_root / "taken").mkdir(parents=True)
    body = {"input": make_input("a.jsonl", ROWS), "output": "taken"}
    response = client.post("/v1/jobs", json=body, headers=auth_headers)
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "output='taken' already exists: outputs are never overwritten"
    )


def test_jobs_need_credentials_and_are_private(client, auth_headers, app):
    assert client.get("/v1/jobs").status_code == 401
    other = Job(
        id="0" * 32, status="succeeded", input="a", output="b", format="jsonl", release="r",
        model="m", predictor="p", track="active", caller="key:someone-else", submitted_at="t",
    )  # fmt: skip
    app.state.jobs.store.insert(other)
    assert client.get(f"/v1/jobs/{other.id}", headers=auth_headers).status_code == 404
    assert client.get("/v1/jobs", headers=auth_headers).json() == []
    missing = client.get("/v1/jobs/nope", headers=auth_headers).json()
    assert missing["detail"] == "job 'nope' not found"


def test_kill_switch_refuses_jobs_with_the_safe_fallback(
    client, auth_headers, admin_headers, job_call, app
):
    switched = client.post(
        "/admin/kill-switch", json={"enabled": True, "reason": "bad outputs"}, headers=admin_headers
    )
    assert switched.status_code == 200

    response = client.request(**job_call, headers=auth_headers)

    assert response.status_code == 503
    body = response.json()
    assert body["detail"] == app.state.platform.releases.safe_fallback
    assert body["kill_switch"] is True and body["reason"] == "bad outputs"
    ready = client.get("/readyz").json()
    assert ready["kill_switch"] is True
    assert client.get("/v1/jobs", headers=auth_headers).json() == []


def test_readyz_checks_ray_predictor_and_storage(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert checks == {"database": "ok", "ray": "ok", "predictor": "ok", "storage": "ok"}

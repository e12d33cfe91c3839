"""Inputs and outputs on S3, against a real S3 API: moto's server on 127.0.0.1. Ray workers
are other processes, so the endpoint and keys travel in settings, not in a mock decorator."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator

import boto3
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from {{ cookiecutter.package_name }} import outputs
from {{ cookiecutter.package_name }}.jobs import predictor_of
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.outputs import publish
from {{ cookiecutter.package_name }}.pipeline import PipelineSpec, run_pipeline
from {{ cookiecutter.package_name }}.storage import Storage

BUCKET = "batch-data"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_settings(settings, s3_endpoint):
    return settings.model_copy(
        update={
            "aws_endpoint_url": s3_endpoint,
            "aws_access_key_id": SecretStr("testing"),
            "aws_secret_access_key": SecretStr("testing"),
            "s3_allowed_buckets": [BUCKET],
        }
    )


@pytest.fixture
def s3(s3_settings):
    client = boto3.client(
        "s3",
        region_name=s3_settings.aws_region,
        endpoint_url=s3_settings.aws_endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def s3_client(s3_settings, s3, ray_cluster, model) -> Iterator[TestClient]:
    with TestClient(create_app(s3_settings)) as client:
        yield client


def test_job_reads_and_writes_s3(s3_client, s3, auth_headers):
    rows = [{"id": "s1", "text": "Stored in S3."}, "not json", {"id": "s2", "text": "Also S3."}]
    body = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n"
    s3.put_object(Bucket=BUCKET, Key="in/docs.jsonl", Body=body.encode())

    submitted = s3_client.post(
        "/v1/jobs",
        json={
            "input": f"s3://{BUCKET}/in/docs.jsonl",
            "output": f"s3://{BUCKET}/out/" + "{job_id}",
        },
        headers=auth_headers,
    )
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    job = {"status": "queued"}
    for _ in range(600):
        job = s3_client.get(f"/v1/jobs/{job_id}", headers=auth_headers).json()
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.2)
    assert job["status"] == "succeeded", job
    assert (job["rows_processed"], job["rows_failed"]) == (2, 1)
    assert job["output"] == f"s3://{BUCKET}/out/{job_id}"
    listed = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    keys = [o["Key"] for o in listed]
    manifest = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"out/{job_id}/_manifest.json")["Body"].read()
    )
    assert manifest["release"] == job["release"] and manifest["rows"] == 2
    published = sorted(k for k in keys if k.startswith(f"out/{job_id}/"))
    names = [f["path"] for f in manifest["files"] + manifest["dead_letter"]] + ["_manifest.json"]
    assert published == sorted(f"out/{job_id}/{name}" for name in names)
    assert not [k for k in keys if ".staging-" in k]  # the staging objects are gone
    assert not [o["Key"] for o in listed if o["Size"] == 0]  # no zero-byte "folder" objects
    ready = s3_client.get("/readyz").json()
    assert ready["checks"]["storage"] == "ok"


def test_s3_refusals_name_the_field(s3_client, s3, auth_headers):
    other = s3_client.post(
        "/v1/jobs", json={"input": "s3://elsewhere/in.jsonl", "output": "o"}, headers=auth_headers
    )
    assert other.status_code == 400
    assert other.json()["detail"] == (
        "input='s3://elsewhere/in.jsonl': bucket 'elsewhere' is not allowed; allowed: batch-data"
    )
    missing = s3_client.post(
        "/v1/jobs",
        json={"input": f"s3://{BUCKET}/nope.jsonl", "output": f"s3://{BUCKET}/o"},
        headers=auth_headers,
    )
    assert missing.status_code == 422 and missing.json()["field"] == "input"


def test_on_s3_a_rerun_skips_checkpointed_rows_and_a_crashed_publish_completes(
    s3_settings, s3, ray_cluster, active_release, monkeypatch
):
    storage = Storage(s3_settings)
    body = b'{"id": "a", "text": "one refund"}\n{"id": "b", "text": "two"}\nnot json\n'
    s3.put_object(Bucket=BUCKET, Key="in/retry.jsonl", Body=body)
    source = storage.resolve(f"s3://{BUCKET}/in/retry.jsonl", "input")
    output = storage.resolve(f"s3://{BUCKET}/out/retry", "output")
    name, config = predictor_of(active_release)
    spec = PipelineSpec(
        input=source, staging=storage.staging_for(output, "j1"), output_format="{{ cookiecutter.output_format }}",
        predictor=name, predictor_config=config, model=active_release.model,
        prompt=active_release.prompt, operation="predict", batch_size=2, concurrency=1,
        total_rows=3, checkpoint=storage.staging_for(output, "j1", "checkpoint"),
        max_bad_ratio=0.5, block_rows=1,
    )  # fmt: skip
    first = run_pipeline(spec)
    rerun = run_pipeline(spec)  # a restart after the last block was written
    assert (first.processed, first.failed) == (2, 1)
    assert (rerun.processed, rerun.failed) == (0, 0), "the restart redid checkpointed rows"

    def crash(*_: object) -> None:  # dies after the data objects, before the manifest
        raise OSError("killed mid-publish")

    monkeypatch.setattr(outputs, "write_manifest", crash)
    with pytest.raises(OSError):
        publish(storage, spec.staging, output, spec.output_format, {"job_id": "j1"})
    monkeypatch.undo()
    published = publish(storage, spec.staging, output, spec.output_format, {"job_id": "j1"})
    storage.discard(spec.checkpoint)

    assert (published.rows, published.failed) == (2, 1)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")["Contents"]
    names = [f.path for f in published.files + published.dead_letter] + ["_manifest.json"]
    assert sorted(o["Key"] for o in listed if "/retry" in o["Key"]) == sorted(
        f"out/retry/{n}" for n in names
    )
    assert not [o["Key"] for o in listed if o["Size"] == 0]

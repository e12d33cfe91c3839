"""Shared fixtures: one loopback Ray and one loaded predictor per session, a fresh app and
data folder per test. The fixtures `settings`, `app`, `client`, `auth_headers`,
`admin_headers` and `domain_call` are the contract the chassis's shared tests rely on."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.jobs import predictor_of
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.platform.releases import Release
from {{ cookiecutter.package_name }}.predictors import Predictor, shared_predictor
from {{ cookiecutter.package_name }}.ray_runtime import ensure_ray
from {{ cookiecutter.package_name }}.settings import Settings

# app, client, auth_headers, admin_headers; a session PostgreSQL and a database per test
pytest_plugins = ["platform_fixtures", "{{ cookiecutter.package_name }}.platform.testing"]

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "dev-api-key"
DONE = {"succeeded", "failed"}


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Ray starts in seconds, so once per session; shut down at the end."""
    import ray  # after the package: it makes a local Ray bind loopback only

    started = ensure_ray(Settings(environment="test", data_dir=tmp_path_factory.mktemp("ray")))
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="session")
def active_release() -> Release:
    manifest = yaml.safe_load((ROOT / "releases.yaml").read_text(encoding="utf-8"))
    item = next(r for r in manifest["releases"] if r["id"] == manifest["active"])
    return Release(item["id"], item["model"], item["prompt"], item.get("config") or {})


@pytest.fixture(scope="session")
def model(active_release: Release) -> Predictor:
    """The active release's predictor, loaded once: readiness probes reuse this instance."""
    name, config = predictor_of(active_release)
    return shared_predictor(name, config)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        data_dir=tmp_path / "state",
        storage_root=tmp_path / "files",
        releases_path=ROOT / "releases.yaml",
        shutdown_grace_seconds=10,
        progress_interval_seconds=0.2,
    )


@pytest.fixture
def app(settings: Settings, ray_cluster: None, model: Predictor) -> FastAPI:
    """Overrides platform_fixtures' app: jobs need the session's Ray and warm predictor."""
    return create_app(settings)


@pytest.fixture
def make_input(settings: Settings) -> Callable[[str, list[Any]], str]:
    """Write a JSONL input under STORAGE_ROOT (dicts as JSON, strings verbatim)."""

    def write(name: str, rows: list[Any]) -> str:
        path = settings.storage_root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return name

    return write


@pytest.fixture
def wait_for_job(client: TestClient, auth_headers: dict[str, str]) -> Callable[[str], dict]:
    def wait(job_id: str, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = client.get(f"/v1/jobs/{job_id}", headers=auth_headers).json()
            if job["status"] in DONE:
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not finish in {timeout} s: {job}")

    return wait


@pytest.fixture
def domain_call() -> dict[str, Any]:
    """A preview: the model path in process, 200; the safe fallback under the kill switch.

    (A job submission answers 202 and is refused with 503 by the kill switch, and each one
    starts Ray actors: too slow for the chassis's many probes.)"""
    return {"method": "POST", "url": "/v1/predict", "json": {"texts": ["a tiny batch"]}}


@pytest.fixture
def job_call(make_input: Callable[[str, list[Any]], str]) -> dict[str, Any]:
    """One tiny job submission."""
    name = make_input("tiny.jsonl", [{"id": "t1", "text": "a tiny job"}])
    return {"method": "POST", "url": "/v1/jobs", "json": {"input": name, "output": "out/{job_id}"}}


@pytest.fixture
def read_output() -> Callable[[Path, str], list[dict[str, Any]]]:
    """Rows of a published output folder, in either format; `_manifest.json` is not a row."""

    def read(folder: Path, output_format: str) -> list[dict[str, Any]]:
        if output_format == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(folder).to_pylist()
        rows = []
        for path in sorted(folder.glob("*.json")):
            if not path.name.startswith("_"):
                lines = path.read_text(encoding="utf-8").splitlines()
                rows += [json.loads(line) for line in lines if line]
        return rows

    return read


@pytest.fixture
def exercise(
    job_call: dict[str, Any],
    wait_for_job: Callable[[str], dict],
    domain_call: dict[str, Any],
    admin_headers: dict[str, str],
) -> Callable[[TestClient, dict[str, str]], None]:
    """The domain calls the monitoring contract runs before it scrapes: a preview, one whole
    job, and a preview under the kill switch."""

    def run(client: TestClient, headers: dict[str, str]) -> None:
        assert client.request(**domain_call, headers=headers).status_code == 200
        submitted = client.post(job_call["url"], json=job_call["json"], headers=headers)
        assert submitted.status_code == 202, submitted.text
        assert wait_for_job(submitted.json()["id"])["status"] == "succeeded"
        change = {"enabled": True, "reason": "contract: fallback path"}
        client.post("/admin/kill-switch", json=change, headers=admin_headers)
        assert client.request(**domain_call, headers=headers).status_code == 200
        change = {"enabled": False, "reason": "contract: back on the model path"}
        client.post("/admin/kill-switch", json=change, headers=admin_headers)

    return run

"""Shared fixtures: one loopback Ray and one loaded predictor per session, a fresh app and
data folder per test. The fixtures `settings`, `app`, `client`, `auth_headers`,
`admin_headers` and `domain_call` are the contract the chassis's shared tests rely on."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pyarrow.fs as pafs
import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.jobs import predictor_of
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.outputs import iter_rows
from {{ cookiecutter.package_name }}.platform.releases import Release
from {{ cookiecutter.package_name }}.platform.testing import ServiceProcess, free_port
from {{ cookiecutter.package_name }}.predictors import Predictor, shared_predictor
from {{ cookiecutter.package_name }}.ray_runtime import ensure_ray
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage import Location

# app, client, auth_headers, admin_headers; a session PostgreSQL and a database per test
pytest_plugins = ["platform_fixtures", "{{ cookiecutter.package_name }}.platform.testing"]

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--crash-rows", type=int, default=2000, help="Rows of the crash tests' job (bench: 20000)."
    )


API_KEY = "dev-api-key"
DONE = {"succeeded", "failed"}


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Ray starts in seconds, so once per session; shut down at the end. Its workers also
    import from tests/ (test-only predictors such as flaky_predictor.py)."""
    import ray  # after the package: it makes a local Ray bind loopback only

    paths = [str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
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
        max_bad_ratio=0.5,  # the example inputs mix good and bad rows on purpose
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
    """Rows of a published output folder, the files its `_manifest.json` lists."""

    def read(folder: Path, output_format: str) -> list[dict[str, Any]]:
        location = Location(pafs.LocalFileSystem(), str(folder), str(folder))
        return list(iter_rows(location, output_format))

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


def service_env(settings: Settings) -> dict[str, str]:
    """The settings as a deploy passes them: environment variables."""
    return {
        "DATA_DIR": str(settings.data_dir),
        "STORAGE_ROOT": str(settings.storage_root),
        "RELEASES_PATH": str(settings.releases_path),
        "DATABASE_URL": settings.database_url.get_secret_value() if settings.database_url else "",
        "MAX_BAD_RATIO": str(settings.max_bad_ratio),
        "PROGRESS_INTERVAL_SECONDS": "0.2",
        "JOB_POLL_SECONDS": "0.2",
        "JOB_STALE_SECONDS": "4",
        "BLOCK_ROWS": "100",
        "SHUTDOWN_GRACE_SECONDS": str(settings.shutdown_grace_seconds),
        "LOG_LEVEL": "WARNING",
    }


def kill_tree(pid: int) -> None:
    """SIGKILL a process and everything it started (its local Ray: raylet, GCS, workers),
    as when a node dies: no shutdown code runs anywhere."""
    parent = psutil.Process(pid)
    procs = [*parent.children(recursive=True), parent]
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGKILL)
    psutil.wait_procs(procs, timeout=15)


class ServeProcess(ServiceProcess):
    """A replica started as the Deployment starts it: `python -m <package>.cli serve`."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("ab")
        cli = "{{ cookiecutter.package_name }}.cli"
        command = [sys.executable, "-m", cli, "serve", "--port", str(self.port)]
        environment = {**os.environ, "ENVIRONMENT": "test", "PYTHONPATH": str(ROOT / "src"), **env}
        self.process = subprocess.Popen(
            command, env=environment, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT
        )


@pytest.fixture
def replicas(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., list[ServeProcess]]]:
    """Start real uvicorn replicas of this service sharing the test's database and files."""
    started: list[ServeProcess] = []

    def start(count: int = 1, **env: str) -> list[ServeProcess]:
        merged = {**service_env(settings), **env}
        fresh = [ServeProcess(merged, tmp_path / "replicas.log") for _ in range(count)]
        started.extend(fresh)
        for replica in fresh:
            replica.wait_ready(timeout=180)
        return fresh

    yield start
    for replica in started:
        if replica.process.poll() is None:
            kill_tree(replica.process.pid)
        replica.stop()

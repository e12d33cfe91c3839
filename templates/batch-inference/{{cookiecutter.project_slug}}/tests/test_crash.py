"""Crashes, drains and cancels on real processes: SIGKILL of a replica's whole process tree
halfway through a 2,000-row job, and of a CLI run; SIGTERM of a replica mid-job. The job
resumes from Ray Data's checkpoint on another replica (or on the rerun CLI): every input id
is written exactly once, the outputs equal a clean run's within 1e-5, and the restart does
under 60% of the work. Replicas on one database see each other's jobs; a cancel sent to any
stops the job mid-way (how fast is the benchmark's business, not a test's)."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pyarrow.fs as pafs
import pytest
import yaml
from conftest import ROOT, kill_tree, service_env

from {{ cookiecutter.package_name }}.job_store import JobStore
from {{ cookiecutter.package_name }}.jobs import predictor_of
from {{ cookiecutter.package_name }}.pipeline import checkpointed_rows
from {{ cookiecutter.package_name }}.platform.database import open_pool
from {{ cookiecutter.package_name }}.platform.releases import Release
from {{ cookiecutter.package_name }}.predictors import shared_predictor
from {{ cookiecutter.package_name }}.storage import Location

pytestmark = [pytest.mark.integration, pytest.mark.crash]
HEADERS = {"X-API-Key": "dev-api-key"}
CALLER = "key:" + hashlib.sha256(b"dev-api-key").hexdigest()[:16]
EMBEDDINGS = "minilm-2025-01"
TOPICS = ["refund for an order", "a broken invoice", "the outage report", "cancel my plan"]


@pytest.fixture(scope="module")
def rows(request: pytest.FixtureRequest) -> list[dict[str, str]]:
    """Short rows (2,000 here; bench/batch runs the same tests over 20,000)."""
    count = int(request.config.getoption("--crash-rows"))
    return [{"id": f"r{i:05d}", "text": f"Row {i} is about {TOPICS[i % 4]}."} for i in range(count)]


@pytest.fixture(scope="module")
def embeddings_release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Release, str]:
    """The packaged MiniLM release made active (every render has it): a model slow enough
    that a signal lands mid-job, whatever the render's own predictor is."""
    manifest = yaml.safe_load((ROOT / "releases.yaml").read_text(encoding="utf-8"))
    manifest["active"] = EMBEDDINGS
    manifest.pop("canary", None)
    path = tmp_path_factory.mktemp("releases") / "releases.yaml"
    path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    item = next(r for r in manifest["releases"] if r["id"] == EMBEDDINGS)
    return Release(item["id"], item["model"], item["prompt"], item.get("config") or {}), str(path)


@pytest.fixture(scope="module")
def clean(rows, embeddings_release) -> dict[str, dict[str, Any]]:
    """Outputs of a clean run: the release's predictor over every row, in this process."""
    release, _ = embeddings_release
    name, config = predictor_of(release)
    texts = [release.prompt.replace("{text}", row["text"]) for row in rows]
    predicted = shared_predictor(name, config).predict(texts)
    outputs = {name: column.to_pylist() for name, column in predicted.items()}
    return {row["id"]: {n: v[i] for n, v in outputs.items()} for i, row in enumerate(rows)}


def _same(got: Any, expected: Any) -> bool:
    if isinstance(expected, float):
        return abs(got - expected) <= 1e-5
    if isinstance(expected, list) and expected and isinstance(expected[0], float):
        return bool(np.allclose(got, expected, atol=1e-5))
    return (list(got) if isinstance(expected, list) else got) == expected


def assert_exactly_once_and_clean(published: list[dict[str, Any]], clean: dict) -> None:
    ids = [row["id"] for row in published]
    assert len(ids) == len(clean) and set(ids) == set(clean), "an id is missing or repeated"
    for row in published:
        for name, expected in clean[row["id"]].items():
            assert _same(row[name], expected), (row["id"], name, row[name], expected)


def _wait(get: Callable[[], dict], done: Callable[[dict], bool], timeout: float = 180) -> dict:
    deadline, job = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        job = get()
        if done(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"timed out; last status: {job}")


def test_cancel_sigterm_and_sigkill_on_a_fleet_write_every_row_exactly_once(
    replicas, make_input, rows, clean, settings, read_output, tmp_path, embeddings_release
):
    """Three replicas on one database, HOME unwritable as in the pod. One job is cancelled
    through another replica, resumed, drained by SIGTERM (exit 0, job queued again), then
    its next runner's process tree is SIGKILLed; the last replica finishes it."""
    total = len(rows)
    home = tmp_path / "home"  # a file: nothing can be created under it, not even by root
    home.write_text("HOME is not writable in the pod (read-only root filesystem)\n")
    fleet = replicas(3, HOME=str(home), RELEASES_PATH=embeddings_release[1])
    by_pid = {str(r.process.pid): r for r in fleet}
    name = make_input("big.jsonl", rows)
    submitted = httpx.post(f"{fleet[0].url}/v1/jobs", json={"input": name, "output": "out/crash"},
                           headers=HEADERS).json()  # fmt: skip
    url = f"/v1/jobs/{submitted['id']}"
    checkpoint = settings.storage_root / "out" / f".checkpoint-{submitted['id']}-crash"

    def committed() -> int:  # rows whose output Ray Data's checkpoint has committed
        return checkpointed_rows(Location(pafs.LocalFileSystem(), str(checkpoint), "c"))

    def alive() -> list[Any]:
        return [r for r in fleet if r.process.poll() is None]

    def status(check: Callable[[dict], bool], timeout: float = 180) -> dict:
        def get() -> dict:
            return httpx.get(alive()[-1].url + url, headers=HEADERS).json()

        return _wait(get, check, timeout)

    def runner(job: dict) -> Any:
        return by_pid[job["runner"].rpartition(":")[2]]

    first = runner(status(lambda j: j["status"] == "running" and j["rows_done"] >= 100))
    other = next(r for r in fleet if r is not first)
    assert httpx.delete(other.url + url, headers=HEADERS).status_code == 202
    cancelled = status(lambda j: j["status"] == "cancelled", timeout=60)
    assert cancelled["runner"] is None and cancelled["rows_done"] < total  # stopped mid-job

    assert httpx.post(f"{other.url}{url}/resume", headers=HEADERS).status_code == 202
    drained = runner(status(lambda j: j["status"] == "running" and committed() >= 300))
    drained.process.send_signal(signal.SIGTERM)
    assert drained.process.wait(settings.shutdown_grace_seconds + 20) == 0, "not a clean exit"
    kept = committed()
    assert kept >= 300
    taken = status(lambda j: j["status"] == "running" and j["runner"] and j["attempts"] == 3)
    victim = runner(status(lambda j: j["status"] == "running" and committed() >= total // 2))
    assert victim is runner(taken) and taken["rows_skipped"] >= kept  # resumed, not redone
    kill_tree(victim.process.pid)

    job = status(lambda j: j["status"] in ("succeeded", "failed"))
    assert job["status"] == "succeeded", job
    assert job["attempts"] == 4 and job["rows_processed"] == total
    assert job["attempt_rows"] == total - job["rows_skipped"] < 0.6 * total, job
    output = settings.storage_root / "out" / "crash"
    assert_exactly_once_and_clean(read_output(output, job["format"]), clean)
    manifest = json.loads((output / "_manifest.json").read_text(encoding="utf-8"))
    assert manifest["attempts"] == 4 and sum(f["rows"] for f in manifest["files"]) == total
    assert not list(output.parent.glob(".*-" + job["id"] + "-*")), "staging or checkpoint left"


def test_a_killed_cli_run_resumes_when_run_again(
    settings, make_input, rows, clean, read_output, tmp_path, embeddings_release
):
    total = len(rows)
    name = make_input("cli-big.jsonl", rows)
    env = {**service_env(settings), "PYTHONPATH": str(ROOT / "src")}
    env["RELEASES_PATH"] = embeddings_release[1]
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}.cli", "run", name,
               "out/cli-crash", "--caller", CALLER]  # fmt: skip
    log = (tmp_path / "cli.log").open("ab")
    first = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    with open_pool(env["DATABASE_URL"], "test-jobs", 2) as pool:
        store = JobStore(pool, settings.service_name, 4)
        store.create_schema()  # the CLI creates it too; reading may start first

        def get() -> dict:
            jobs = store.list(CALLER, 1)
            return jobs[0].model_dump() if jobs else {"status": "none"}

        started = _wait(get, lambda j: "id" in j)
        checkpoint = settings.storage_root / "out" / f".checkpoint-{started['id']}-cli-crash"
        location = Location(pafs.LocalFileSystem(), str(checkpoint), "c")
        _wait(get, lambda j: j["status"] == "running" and checkpointed_rows(location) >= total // 2)
        kill_tree(first.pid)
        time.sleep(4.5)  # its heartbeat goes stale: the job is free to resume
        again = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, timeout=300)

    assert again.returncode == 0, again.stderr.decode()[-2000:]
    job = json.loads(again.stdout)
    assert job["status"] == "succeeded" and job["attempts"] == 2, job
    assert job["attempt_rows"] == total - job["rows_skipped"] < 0.6 * total, job
    output = settings.storage_root / "out" / "cli-crash"
    assert_exactly_once_and_clean(read_output(output, job["format"]), clean)

"""More concurrent runs than the replica has database connections: each run holds its
thread's lock while it checkpoints and audits, so the locks must not starve the pool (they
have a pool of their own). Every run finishes; none waits for a connection that never frees."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from {{ cookiecutter.package_name }}.platform.config import DEVELOPMENT_SECRETS

HEADERS = {"X-API-Key": DEVELOPMENT_SECRETS["api_key"]}


def test_three_times_the_pool_size_of_concurrent_runs_all_finish(replicas, examples, settings):
    (replica,) = replicas(1)
    count = 3 * settings.database_pool_size

    def run(index: int) -> tuple[int, str]:
        body = {"task": examples.several.task, "thread_id": f"load-{index}"}
        response = httpx.post(f"{replica.url}/v1/runs", json=body, headers=HEADERS, timeout=60)
        return response.status_code, response.json().get("status", response.text)

    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(run, range(count)))
    assert results == [(200, "completed")] * count

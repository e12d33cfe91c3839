"""The chassis's costs, each against its raw baseline in the same run, in alternating rounds.

1. Per request: the same route bare on FastAPI and through `create_platform_app` (auth, rate
   limit, shared release routing, metrics, tracing, logs), timed through `httpx.AsyncClient`
   over `ASGITransport`. Target: at most 0.5 ms added at p50.
2. Reading the shared release state: `ReleaseManager.route()` (from memory, refreshed by
   NOTIFY) against reading the state row from PostgreSQL each time. Target: at most 0.1 ms.
3. Propagation: a change through one `SharedState` until two others (each with its own
   connections and listener, as replicas have) see it. Target: p99 at most 1 s.

Everything runs on a real PostgreSQL (the embedded pgserver) on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi import APIRouter, FastAPI

from goldenpath_chassis import (
    EmbeddedPostgres,
    Manifest,
    PlatformSettings,
    ReleaseManager,
    RequestContextDep,
    SharedState,
    create_platform_app,
)
from goldenpath_chassis.testing import world_readable_dir

TARGETS = {"added_p50_ms": 0.5, "state_read_p50_ms": 0.1, "propagation_p99_ms": 1000.0}
RELEASES = """\
releases:
  - {id: r1, model: bench-model-v1, prompt: bench-v1, config: {}}
  - {id: r2, model: bench-model-v2, prompt: bench-v2, config: {}}
active: r1
canary: {release: r2, weight: 10}
safe_fallback: "safe mode"
"""


def percentile(samples: list[float], q: int) -> float:
    """The q-th percentile in milliseconds."""
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000


def build_apps(workdir: Path, url: str) -> tuple[FastAPI, FastAPI]:
    releases = workdir / "releases.yaml"
    releases.write_text(RELEASES)
    bare = FastAPI()

    @bare.post("/v1/echo")
    async def bare_echo(body: dict[str, Any]) -> dict[str, Any]:
        return {"echo": body, "release": "none"}

    router = APIRouter()

    @router.post("/v1/echo")
    async def chassis_echo(body: dict[str, Any], ctx: RequestContextDep) -> dict[str, Any]:
        return {"echo": body, "release": ctx.release.id}

    settings = PlatformSettings(
        environment="test",
        data_dir=workdir / "data",
        releases_path=releases,
        rate_limit="1000000/minute",
        database_url=url,  # type: ignore[arg-type]
        _env_file=None,  # type: ignore[call-arg]
    )
    chassis = create_platform_app(settings, [router])
    logging.getLogger().handlers[:] = [logging.NullHandler()]  # time the work, not the terminal
    logging.getLogger().setLevel(logging.INFO)
    return bare, chassis


async def time_requests(app: FastAPI, count: int, headers: dict[str, str]) -> list[float]:
    transport = httpx.ASGITransport(app=app)
    samples: list[float] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for n in range(count):
            started = time.perf_counter()
            response = await client.post("/v1/echo", json={"n": n}, headers=headers)
            samples.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"benchmark request failed: {response.status_code}")
    return samples


async def request_overhead(workdir: Path, url: str, requests: int, rounds: int) -> dict[str, Any]:
    bare, chassis = build_apps(workdir, url)
    headers = {"X-API-Key": "dev-api-key"}
    async with chassis.router.lifespan_context(chassis):
        await time_requests(bare, 200, {})  # warm both paths up
        await time_requests(chassis, 200, headers)
        bare_samples: list[float] = []
        chassis_samples: list[float] = []
        for _ in range(rounds):
            bare_samples += await time_requests(bare, requests // rounds, {})
            chassis_samples += await time_requests(chassis, requests // rounds, headers)
    bare_p50, chassis_p50 = percentile(bare_samples, 50), percentile(chassis_samples, 50)
    return {
        "requests_each": len(bare_samples),
        "bare_p50_ms": round(bare_p50, 3),
        "chassis_p50_ms": round(chassis_p50, 3),
        "bare_p95_ms": round(percentile(bare_samples, 95), 3),
        "chassis_p95_ms": round(percentile(chassis_samples, 95), 3),
        "added_p50_ms": round(chassis_p50 - bare_p50, 3),
        "ratio_p50": round(chassis_p50 / bare_p50, 2),
    }


def state_read(workdir: Path, url: str, calls: int, rounds: int) -> dict[str, Any]:
    """Routing from the in-process copy against a SELECT of the state row per call."""
    manifest = Manifest.load(workdir / "releases.yaml")
    with SharedState(url, "bench-read") as shared, psycopg.connect(url, autocommit=True) as conn:
        releases = ReleaseManager(manifest, shared)
        releases.set_canary("r2", 10, "bench", "bench canary")
        cached: list[float] = []
        queried: list[float] = []
        query = "SELECT value FROM platform_state WHERE service = %s AND key = 'releases'"
        for _ in range(rounds):
            for n in range(calls // rounds):
                started = time.perf_counter()
                releases.route(f"caller-{n}")
                cached.append(time.perf_counter() - started)
            for _n in range(calls // rounds):
                started = time.perf_counter()
                conn.execute(query, ("bench-read",)).fetchone()
                queried.append(time.perf_counter() - started)
    return {
        "calls_each": len(cached),
        "state_read_p50_ms": round(percentile(cached, 50), 4),
        "select_per_call_p50_ms": round(percentile(queried, 50), 4),
        "ratio_p50": round(percentile(cached, 50) / percentile(queried, 50), 4),
    }


def propagation(url: str, changes: int) -> dict[str, Any]:
    """Milliseconds until two other replicas' copies show a change made through a third."""
    writer = SharedState(url, "bench-fleet", poll_seconds=1.0)
    followers = [SharedState(url, "bench-fleet", poll_seconds=1.0) for _ in range(2)]
    for state in (writer, *followers):
        state.open()
    samples: list[float] = []
    try:
        for n in range(changes):
            started = time.perf_counter()
            writer.update("probe", lambda _value, _conn, n=n: {"n": n})  # type: ignore[misc]
            while any((f.get("probe") or {}).get("n") != n for f in followers):
                if time.perf_counter() - started > 5:
                    raise RuntimeError("a change did not reach a follower in 5 s")
                time.sleep(0.0002)
            samples.append(time.perf_counter() - started)
    finally:
        for state in (writer, *followers):
            state.close()
    return {
        "changes": len(samples),
        "propagation_p50_ms": round(percentile(samples, 50), 2),
        "propagation_p99_ms": round(percentile(samples, 99), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="per app, in all rounds")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    folder = world_readable_dir("bench-pg-")
    server = EmbeddedPostgres(folder / "postgres")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            report: dict[str, Any] = {
                "request": asyncio.run(
                    request_overhead(workdir, server.url, args.requests, args.rounds)
                ),
                "state_read": state_read(workdir, server.url, 20_000, args.rounds),
                "propagation": propagation(server.url, args.changes),
            }
    finally:
        server.stop()
    flat = {k: v for part in report.values() for k, v in part.items()}
    report["targets"] = TARGETS
    report["within_targets"] = all(flat[name] <= limit for name, limit in TARGETS.items())
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 1 if args.check and not report["within_targets"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

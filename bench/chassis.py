"""The chassis's added cost per request, against a bare FastAPI route, in the same run.

The chassis lives in the kit as Jinja partials; this renders it with a template's default
answers into a temporary package, builds two apps with the same route (one bare, one through
`create_platform_app` with auth, rate limit, release routing, metrics, tracing and logs), and
times requests through `httpx.AsyncClient` over `ASGITransport`, alternating the two apps in
rounds so both see the same machine state. Target: at most 1 ms added at p50.
"""

import argparse
import asyncio
import importlib
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import jinja2
from fastapi import APIRouter, FastAPI

KIT = Path(__file__).resolve().parents[1]
SHARED = KIT / "templates" / "_shared"
PACKAGE = "benchsvc"
TARGET_ADDED_MS = 1.0
RELEASES = """\
releases:
  - {id: r1, model: bench-model-v1, prompt: bench-v1, config: {}}
  - {id: r2, model: bench-model-v2, prompt: bench-v2, config: {}}
active: r1
canary: {release: r2, weight: 10}
safe_fallback: "safe mode"
"""


def render_chassis(target: Path, template: str = "rag-service") -> None:
    """Render `chassis/platform/*.py` with the template's default answers into a package."""
    answers = json.loads((KIT / "templates" / template / "cookiecutter.json").read_text())
    context = {key: (value[0] if isinstance(value, list) and value else value)
               for key, value in answers.items()}  # fmt: skip
    context.update(project_slug="bench-svc", package_name=PACKAGE, project_name="Bench Svc")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(SHARED)), keep_trailing_newline=True
    )
    out = target / PACKAGE / "platform"
    out.mkdir(parents=True)
    (target / PACKAGE / "__init__.py").write_text("")
    for source in sorted((SHARED / "chassis" / "platform").glob("*.py")):
        rendered = env.get_template(f"chassis/platform/{source.name}").render(cookiecutter=context)
        (out / source.name).write_text(rendered)


def build_apps(workdir: Path) -> tuple[FastAPI, FastAPI]:
    sys.path.insert(0, str(workdir))
    app_module = importlib.import_module(f"{PACKAGE}.platform.app")
    config = importlib.import_module(f"{PACKAGE}.platform.config")
    context = importlib.import_module(f"{PACKAGE}.platform.context")
    releases = workdir / "releases.yaml"
    releases.write_text(RELEASES)

    bare = FastAPI()

    @bare.post("/v1/echo")
    async def bare_echo(body: dict[str, Any]) -> dict[str, Any]:
        return {"echo": body, "release": "none"}

    router = APIRouter()

    @router.post("/v1/echo")
    async def chassis_echo(body: dict[str, Any], ctx: context.RequestContextDep) -> dict[str, Any]:
        return {"echo": body, "release": ctx.release.id}

    settings = config.PlatformSettings(
        environment="test",
        data_dir=workdir / "data",
        releases_path=releases,
        rate_limit="1000000/minute",
        _env_file=None,
    )
    chassis = app_module.create_platform_app(settings, [router])
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
                raise RuntimeError(
                    f"benchmark request failed: {response.status_code} {response.text}"
                )
    return samples


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1] * 1000


async def run(requests: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        render_chassis(workdir)
        bare, chassis = build_apps(workdir)
        headers = {"X-API-Key": "dev-api-key"}
        async with chassis.router.lifespan_context(chassis):
            await time_requests(bare, 200, {})  # warm both paths up
            await time_requests(chassis, 200, headers)
            bare_samples: list[float] = []
            chassis_samples: list[float] = []
            for _ in range(rounds):
                bare_samples += await time_requests(bare, requests // rounds, {})
                chassis_samples += await time_requests(chassis, requests // rounds, headers)
    report: dict[str, Any] = {"requests_each": len(bare_samples)}
    for name, samples in (("bare", bare_samples), ("chassis", chassis_samples)):
        report[name] = {"p50_ms": round(percentile(samples, 50), 3),
                        "p95_ms": round(percentile(samples, 95), 3)}  # fmt: skip
    report["added_p50_ms"] = round(report["chassis"]["p50_ms"] - report["bare"]["p50_ms"], 3)
    report["added_p95_ms"] = round(report["chassis"]["p95_ms"] - report["bare"]["p95_ms"], 3)
    report["ratio_p50"] = round(report["chassis"]["p50_ms"] / report["bare"]["p50_ms"], 2)
    report["ratio_p95"] = round(report["chassis"]["p95_ms"] / report["bare"]["p95_ms"], 2)
    report["target_added_p50_ms"] = TARGET_ADDED_MS
    report["within_target"] = report["added_p50_ms"] <= TARGET_ADDED_MS
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="per app, in all rounds")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--check", action="store_true", help="exit 1 above the target")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args.requests, args.rounds))
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 1 if args.check and not report["within_target"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

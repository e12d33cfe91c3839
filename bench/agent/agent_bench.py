"""agent-orchestrator benchmark: renders the template with its defaults (scripted planner,
PostgreSQL checkpoints, human approval, the ops tools), then measures

1. what the service adds per planner step: the task "Report the status of checkout, payments
   and search." (3 tool calls, 4 planner steps) through a bare LangGraph agent (MessagesState,
   a planner node calling the same ScriptedPlanner, ToolNode with one @tool calling the same
   example system, tools_condition, PostgresSaver) against the service's graph with the full
   Context the service builds (policy review, budgets, GenAI spans, metrics, two hash-chained
   audit writes per tool call, tools under a timeout), invoked with the keyword arguments the
   service's own run path passes (read off one `AgentService.start`: its durability, say).
   Target: at most 5 ms added per step. The breakdown separates what the durability, the
   audit log and the rest cost, from two more variants timed in the same rounds: the bare
   agent at the service's durability, and the service's graph without its audit log; and
   times `AgentService.start` whole (thread claim, run lock, state reads, result);
2. the latency of human decisions (approve a paused `scale_deployment`, which then runs the
   write and the last planner step) against one real uvicorn replica (default settings, so
   a pool of DATABASE_POOL_SIZE=8), at concurrency 8 and, for comparison, one at a time, with
   the replica's CPU time per decision. Target: p50 at most 20 ms at concurrency 8, and every
   decision answered 200 with the run completed (failures are counted, not raised).

How, and why it is fair: both graphs compile with the same kind of saver (PostgresSaver on a
psycopg pool, the kwargs the service uses) on the same embedded PostgreSQL, and run in one
process, in alternating rounds (the order flipping each round), each run on a fresh thread,
so load from anything else on the machine falls on both alike. That process configures
tracing and logging as the app does (an SDK tracer provider, no exporter), then silences the
log handlers so that the terminal is not timed. Part 1 runs in a child process, so that the
app's httpx instrumentation does not slow part 2's clients. Part 2's replica runs as a deploy
runs it (`uvicorn --factory`, settings from the environment) on 127.0.0.1; each client thread
keeps one httpx connection alive.

Run: .venv/bin/python bench/agent/agent_bench.py [--check]   (about 75 s on 2 cores; a
replica that stalls adds up to --phase-seconds, 180 by default, per phase of decisions)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx
import psycopg

from goldenpath_chassis.database import EmbeddedPostgres
from goldenpath_chassis.testing import ServiceProcess, world_readable_dir

KIT = Path(__file__).resolve().parents[2]
PKG = "agent_orchestrator"
TASK = "Report the status of checkout, payments and search."
STEPS = 4  # planner steps per run of TASK: one tool call per step, then the answer
RISKY_TASK = "Please scale checkout to 5"
DEV_KEY = "dev-api-key"  # the development key: every tenant, no role; starts the runs
APPROVER_KEY = "bench-approver-key-0001"  # bound to tenant default, role approver
TARGETS = {"added_ms_per_step": 5.0, "decision_c8_p50_ms": 20.0}


def percentile(samples: list[float], q: int) -> float:
    """The q-th percentile in milliseconds."""
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000


def render(out: Path) -> Path:
    """The template with its defaults; the post-generation hook's greeting goes to stderr, so
    that stdout carries the report alone."""
    from cookiecutter.main import cookiecutter

    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        cookiecutter(str(KIT / "templates" / "agent-orchestrator"), no_input=True,
                     output_dir=str(out))  # fmt: skip
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    return out / "agent-orchestrator"


def use_project(project: Path) -> None:
    for folder in ("tests", "src"):
        if str(project / folder) not in sys.path:
            sys.path.insert(0, str(project / folder))


def new_database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.replace("/postgres?", f"/{name}?")


# -- 1. per planner step ----------------------------------------------------------------------
@contextmanager
def bare_agent(url: str, system: Any, model: str, prompt: str) -> Iterator[Any]:
    """The plainest LangGraph agent doing the same work: planner node, ToolNode, PostgresSaver."""
    from agent_orchestrator.agent.planner import ScriptedPlanner
    from langchain_core.tools import tool
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    @tool
    def service_status(service: str) -> dict[str, Any]:
        """Look up a service's health status, replica count, version and error rate."""
        return dict(system.get(service))

    planner = ScriptedPlanner(model)

    def call_planner(state: MessagesState) -> dict[str, Any]:
        return {"messages": [planner.plan(prompt, state["messages"])]}

    kwargs = {"autocommit": True, "prepare_threshold": None, "row_factory": dict_row}
    with ConnectionPool(url, min_size=1, max_size=8, kwargs=kwargs, name="bare") as pool:
        saver = PostgresSaver(pool)  # type: ignore[arg-type]
        saver.setup()
        builder = StateGraph(MessagesState)
        builder.add_node("planner", call_planner)
        builder.add_node("tools", ToolNode([service_status]))
        builder.add_edge(START, "planner")
        builder.add_conditional_edges("planner", tools_condition)
        builder.add_edge("tools", "planner")
        yield builder.compile(checkpointer=saver)


def check_bare(out: dict[str, Any]) -> None:
    messages = out["messages"]
    results = [m for m in messages if m.type == "tool"]
    assert len(results) == 3 and all(m.status == "success" for m in results), messages
    assert messages[-1].type == "ai" and messages[-1].text.startswith("[scripted planner]")


def check_service(out: dict[str, Any]) -> None:
    usage = out["usage"]
    assert out["status"] == "completed", out
    assert usage["model_calls"] == STEPS and usage["tool_calls"] == 3, usage
    results = [m for m in out["messages"] if m.type == "tool"]
    assert [m.artifact["outcome"] for m in results] == ["ok"] * 3, results


def invoke_options(agent: Any, run: Callable[[], Any]) -> dict[str, Any]:
    """The keyword arguments the service's own run path passes to `graph.invoke` (durability,
    say), read off one run, so that the graph is timed as the service runs it."""
    seen: dict[str, Any] = {}
    graph, original = agent.graph, agent.graph.invoke

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.update({k: v for k, v in kwargs.items() if k != "context"})
        return original(*args, **kwargs)

    graph.invoke = spy  # an instance attribute shadows the method for this one run
    try:
        run()
    finally:
        del graph.invoke
    return seen


def step_overhead(project: Path, url: str, data_dir: str, rounds: int, runs: int) -> dict:
    """Runs in a child process: the bare agent (LangGraph's default durability, and the one the
    service runs with), the service's graph with and without its audit log, and the service's
    whole `start` (thread claim, run lock, state reads, result)."""
    use_project(project)
    from agent_orchestrator.audit import AuditEntry
    from agent_orchestrator.platform.app import open_releases
    from agent_orchestrator.platform.logs import configure_logging
    from agent_orchestrator.platform.metrics import ServiceMetrics
    from agent_orchestrator.platform.security import Caller
    from agent_orchestrator.platform.tracing import configure_tracing
    from agent_orchestrator.service import open_service
    from agent_orchestrator.settings import Settings
    from langchain_core.messages import HumanMessage

    settings = Settings(
        environment="test", data_dir=Path(data_dir), releases_path=project / "releases.yaml",
        database_url=url, log_level="WARNING", _env_file=None,  # type: ignore[arg-type]
    )  # fmt: skip
    configure_logging(settings.service_name, settings.log_level)  # as create_platform_app
    configure_tracing(settings.service_name, settings.version, None)  # SDK provider, no export
    logging.getLogger().handlers[:] = [logging.NullHandler()]  # time the work, not the terminal
    metrics = ServiceMetrics(settings.service_name, settings.version, 2.0)
    caller = Caller("bench", "api-key", {}, frozenset({"*"}))
    with (
        open_releases(settings) as releases,
        open_service(settings, releases, metrics) as agent,
    ):
        release = releases.route("bench").release
        context = agent.context(release, "bench", "default")
        counter = iter(range(10**9))

        def run_start() -> None:
            result = agent.start(caller, None, TASK, None, release, False)
            assert result.status == "completed" and len(result.tool_calls) == 3, result

        options = invoke_options(agent, run_start)
        durability = options.get("durability")
        with bare_agent(url, context.system, release.model, context.system_prompt) as bare:

            def run_bare(**extra: Any) -> Callable[[], None]:
                def run() -> None:
                    config = {"configurable": {"thread_id": f"bare-{next(counter)}"}}
                    check_bare(bare.invoke({"messages": [HumanMessage(TASK)]}, config, **extra))

                return run

            def run_graph(audit: bool) -> Callable[[], None]:
                def run() -> None:
                    ctx = agent.context(release, "bench", "default")  # per run, as _invoke
                    if not audit:
                        ctx = dataclasses.replace(ctx, audit=None)
                    config = {
                        "configurable": {"thread_id": f"default/svc-{next(counter)}"},
                        "metadata": {"release": release.id, "planner": ctx.planner.label,
                                     "actor": "bench"},
                        "recursion_limit": 4 * ctx.limits.model_calls + 8,
                    }  # fmt: skip
                    payload = {"messages": [HumanMessage(TASK)]}
                    check_service(agent.graph.invoke(payload, config, context=ctx, **options))

                return run

            variants: dict[str, Callable[[], None]] = {"bare": run_bare()}
            if durability is not None:  # the service picks one: the bare agent with it too
                variants["bare_service_durability"] = run_bare(durability=durability)
            variants |= {
                "service": run_graph(audit=True),
                "service_no_audit": run_graph(audit=False),
                "service_start": run_start,
            }
            samples: dict[str, list[float]] = {name: [] for name in variants}
            for run in variants.values():  # warm-up
                for _ in range(max(runs // 4, 5)):
                    run()
            order = list(variants)
            for n in range(rounds):
                for name in order if n % 2 == 0 else order[::-1]:
                    run = variants[name]
                    for _ in range(runs):
                        started = time.perf_counter()
                        run()
                        samples[name].append(time.perf_counter() - started)

            # Audit writes alone, as run_tools makes them: a thread's first entry, then its next.
            first: list[float] = []
            following: list[float] = []
            for n in range(100):
                for samples_of in (first, following):
                    entry = AuditEntry("default", f"default/audit-probe-{n}", "tool_call",
                                       "service_status", f"call_{len(samples_of)}", "ok", "{}",
                                       "bench", release.id, {"service": "checkout"})  # fmt: skip
                    started = time.perf_counter()
                    context.audit.record(entry)
                    samples_of.append(time.perf_counter() - started)
            with psycopg.connect(url) as conn:
                query = "SELECT count(*) FROM platform_audit WHERE stream = 'tools:default'"
                audit_entries = int(conn.execute(query).fetchone()[0])  # type: ignore[index]
    p50 = {name: percentile(values, 50) for name, values in samples.items()}
    report: dict[str, Any] = {
        "task": TASK,
        "planner_steps_per_run": STEPS,
        "service_invoke_options": {k: str(v) for k, v in options.items()},
        "rounds": rounds,
        "runs_each": len(samples["bare"]),
    }
    for name, values in samples.items():
        report[f"{name}_p50_ms"] = round(p50[name], 3)
        report[f"{name}_p95_ms"] = round(percentile(values, 95), 3)
    same = p50.get("bare_service_durability", p50["bare"])
    report |= {
        "added_ms_per_step": round((p50["service"] - p50["bare"]) / STEPS, 3),
        "ratio_p50": round(p50["service"] / p50["bare"], 3),
        "breakdown": {
            "durability_ms_per_step": round((same - p50["bare"]) / STEPS, 3),
            "audit_ms_per_step": round((p50["service"] - p50["service_no_audit"]) / STEPS, 3),
            "rest_ms_per_step": round((p50["service_no_audit"] - same) / STEPS, 3),
            "audit_writes_per_run": 6,
            "audit_first_write_of_thread_p50_ms": round(percentile(first, 50), 3),
            "audit_next_write_of_thread_p50_ms": round(percentile(following, 50), 3),
            "audit_entries_in_tenant": audit_entries,
            "start_beyond_graph_ms_per_run": round(p50["service_start"] - p50["service"], 3),
        },
    }
    return report


# -- 2. decisions over HTTP -------------------------------------------------------------------
def pause_runs(client: httpx.Client, count: int) -> list[dict[str, Any]]:
    """Runs of the risky task, each paused at the approval of its one tool call."""
    paused = []
    for _ in range(count):
        response = client.post("/v1/runs", json={"task": RISKY_TASK})
        body = response.json()
        assert response.status_code == 200 and body["status"] == "awaiting_approval", body
        paused.append(body)
    return paused


def decision_body(run: dict[str, Any]) -> dict[str, Any]:
    calls = run["pending_approval"]["tool_calls"]
    return {
        "decisions": [
            {"tool_call_id": c["id"], "action": "approve", "args_hash": c["args_hash"],
             "message": "bench"}
            for c in calls
        ]
    }  # fmt: skip


def decide_all(
    base_url: str, runs: list[dict[str, Any]], start: threading.Barrier, deadline: float
) -> list[tuple[float, str]]:
    """One worker: its own kept-alive client, the decisions one after another, each timed and
    classified: "ok" (200, completed, the write ran) or what came back instead. None is sent
    after the deadline (a service that stalls must not hold the benchmark for an hour)."""
    samples: list[tuple[float, str]] = []
    headers = {"X-API-Key": APPROVER_KEY}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        client.get("/healthz")  # open the connection before the clock starts
        start.wait()
        for run in runs:
            if time.monotonic() > deadline:
                break
            body = decision_body(run)
            started = time.perf_counter()
            try:
                response = client.post(f"/v1/runs/{run['thread_id']}/decisions", json=body)
            except httpx.HTTPError as exc:  # a timeout, say: counted with the failures
                samples.append((time.perf_counter() - started, f"{type(exc).__name__}: {exc}"))
                continue
            elapsed = time.perf_counter() - started
            try:
                result = response.json()
            except ValueError:
                result = {"body": response.text}
            ok = (
                response.status_code == 200
                and result.get("status") == "completed"
                and [c["outcome"] for c in result["tool_calls"]] == ["ok"]
            )
            samples.append((elapsed, "ok" if ok else f"{response.status_code} {result}"[:300]))
    return samples


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def decide_concurrently(
    base_url: str, runs: list[dict[str, Any]], workers: int, pid: int, budget: float
) -> dict[str, Any]:
    start = threading.Barrier(workers + 1)
    deadline = time.monotonic() + budget
    with ThreadPoolExecutor(workers) as pool:
        futures = [
            pool.submit(decide_all, base_url, runs[i::workers], start, deadline)
            for i in range(workers)
        ]
        start.wait()
        started, cpu = time.perf_counter(), cpu_seconds(pid)
        results = [r for future in futures for r in future.result()]
        wall, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
    samples = [elapsed for elapsed, _ in results]
    if len(samples) < 2:  # the deadline came first: nothing to take percentiles of
        samples = (samples or [float("nan")]) * 2
    failed = [outcome for _, outcome in results if outcome != "ok"]
    return {
        "decisions": len(results),
        "ok": len(results) - len(failed),
        "failed": len(failed),
        "not_sent_by_deadline": len(runs) - len(results),
        "first_failure": failed[0] if failed else None,
        "p50_ms": round(percentile(samples, 50), 2),
        "p95_ms": round(percentile(samples, 95), 2),
        "p99_ms": round(percentile(samples, 99), 2),
        "max_ms": round(max(samples) * 1000, 2),
        "per_second": round(len(results) / wall, 1),
        "server_cpu_ms_per_decision": round(cpu / max(len(results), 1) * 1000, 2),
    }


def decision_latency(
    project: Path, url: str, scratch: Path, count: int, single: int, budget: float
) -> dict[str, Any]:
    use_project(project)
    from agent_orchestrator.platform.security import hash_key

    digest = hash_key(APPROVER_KEY)
    data_dir = scratch / "decisions-data"
    env = {
        "DATA_DIR": str(data_dir),
        "RELEASES_PATH": str(project / "releases.yaml"),
        "MODEL_MAX_RETRIES": "0",
        "DATABASE_URL": url,
        "API_KEY_HASHES": json.dumps([digest]),
        "API_KEY_TENANTS": json.dumps({digest: ["default"]}),
        "API_KEY_ROLES": json.dumps({digest: ["approver"]}),
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT": "100000/minute",
    }
    log = scratch / "replica.log"
    replica = ServiceProcess(
        f"{PKG}.main:create_app", env, log, cwd=project,
        pythonpath=f"{project / 'src'}{os.pathsep}{project / 'tests'}",
    )  # fmt: skip
    try:
        replica.wait_ready(120)
        with httpx.Client(base_url=replica.url, headers={"X-API-Key": DEV_KEY}, timeout=60) as c:
            started = time.perf_counter()
            paused = pause_runs(c, count + single + 8)
            pause_seconds = time.perf_counter() - started
        warm, sequential, concurrent = paused[:8], paused[8 : 8 + single], paused[8 + single :]
        pid = replica.process.pid
        decide_concurrently(replica.url, warm, 1, pid, budget)  # pools grow, code warms
        one = decide_concurrently(replica.url, sequential, 1, pid, budget)
        eight = decide_concurrently(replica.url, concurrent, 8, pid, budget)
    except BaseException:
        replica.stop()
        sys.stderr.write(log.read_text()[-4000:])
        raise
    replica.stop()
    return {
        "task": RISKY_TASK,
        "paused_runs_created": len(paused),
        "pause_run_ms_mean": round(pause_seconds / len(paused) * 1000, 2),
        "concurrency_1": one,
        "concurrency_8": eight,
        "decision_c8_p50_ms": eight["p50_ms"],
        "all_decisions_ok": all(
            part["ok"] == len(runs) for part, runs in ((one, sequential), (eight, concurrent))
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=40, help="runs per variant per round")
    parser.add_argument("--decisions", type=int, default=160, help="at concurrency 8")
    parser.add_argument("--single", type=int, default=80, help="decisions at concurrency 1")
    parser.add_argument(
        "--phase-seconds", type=float, default=180, help="no decision sent after this, per phase"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    scratch = world_readable_dir("agent-bench-")  # pgserver may run as another user
    project = render(scratch / "render")
    server = EmbeddedPostgres(scratch / "postgres")
    try:
        steps_url = new_database(server.url, f"steps_{uuid.uuid4().hex[:8]}")
        data_dir = scratch / "steps-data"
        with get_context("spawn").Pool(1) as pool:
            steps = pool.apply(
                step_overhead, (project, steps_url, str(data_dir), args.rounds, args.runs)
            )
        decisions_url = new_database(server.url, f"decisions_{uuid.uuid4().hex[:8]}")
        decisions = decision_latency(
            project, decisions_url, scratch, args.decisions, args.single, args.phase_seconds
        )
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    report: dict[str, Any] = {"step_overhead": steps, "decisions": decisions}
    flat = {**steps, **decisions}
    report["targets"] = TARGETS
    report["within_targets"] = decisions["all_decisions_ok"] and all(
        flat[name] <= limit for name, limit in TARGETS.items()
    )
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 1 if args.check and not report["within_targets"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""rag-service benchmark (issue 11): renders the template with its defaults (extractive, local
MiniLM, hybrid search), then measures against the raw libraries in the same run:

1. ingestion: `Ingestion.ingest` (parse, chunk, embed, screen, write) against raw
   `SentenceTransformer.encode` of the same chunk texts at the batch size that is fastest for
   encode on this machine (the pipeline is given the same batch size). Target >= 0.9x.
2. uncached `/v1/query` at concurrency 8 (`rag-service serve`, one process) against a raw loop
   in one process too: 8 threads each doing encode(question) + the same hybrid top-k SQL.
   Targets: requests/s >= 0.8x, p50 <= 1.15x. The service does the same model work: extractive
   answering ranks the quotable units by vectors stored at ingestion (pooled from the chunk's
   own forward pass), so a query embeds only its question.

Each is measured quiet and with one competing busy process (a shared node). Service and raw
alternate round by round, the order flipping each round, so load from anything else falls on
both alike; a ratio is the median of the rounds' ratios. The raw side gets the same torch
thread budget the service computes (`threads.thread_budget`; for questions its
`question_threads`, one fewer), like with like; MODEL_THREADS sets it for both. Every question is
new, so the answer cache never answers one.

Run: .venv/bin/python bench/rag/rag_bench.py [--check] [--rounds N]   (about 3 minutes, 2 cores)
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

from goldenpath.demo import free_port, wait_ready

KIT = Path(__file__).resolve().parents[2]
PKG = "rag_service"
TENANT = "bench-query"
TOP_K = 5
CONCURRENCY = 8
BATCH_SIZES = (16, 32, 64, 128)
INGEST_TARGET, RPS_TARGET, P50_TARGET = 0.9, 0.8, 1.15
WORDS = [
    "deploy",
    "rotation",
    "incident",
    "backup",
    "invoice",
    "canary",
    "rollback",
    "quota",
    "agent",
    "cluster",
    "shard",
    "index",
    "latency",
    "budget",
    "owner",
    "policy",
    "review",
    "audit",
    "access",
    "token",
    "region",
    "replica",
]
# The service's search keeps top_k + 4 candidates (CANDIDATE_SLACK), so the raw loop fetches
# as many, with the same hybrid shape (vector and full-text top lists fused by RRF, k=60).
LIMIT = TOP_K + 4
HYBRID_SQL = """
    WITH v AS (
        SELECT id, row_number() OVER (ORDER BY d) AS r FROM (
            SELECT id, embedding <=> %(q)s AS d FROM chunks WHERE tenant = %(tenant)s
            ORDER BY embedding <=> %(q)s LIMIT %(pool)s) n
    ), t AS (
        SELECT id, row_number() OVER (ORDER BY rank DESC) AS r FROM (
            SELECT id, ts_rank_cd(tsv, query) AS rank
            FROM chunks, to_tsquery('english', %(terms)s) query
            WHERE tenant = %(tenant)s AND tsv @@ query ORDER BY rank DESC LIMIT %(pool)s) m
    ), f AS (
        SELECT id, COALESCE(1.0 / (60 + v.r), 0) + COALESCE(1.0 / (60 + t.r), 0) AS s
        FROM v FULL OUTER JOIN t USING (id) ORDER BY s DESC LIMIT %(k)s
    )
    SELECT c.id, c.text, c.metadata, c.screening FROM f JOIN chunks c USING (id) ORDER BY f.s DESC
"""


def render(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(out),
         str(KIT / "templates" / "rag-service")],
        check=True, capture_output=True,
    )  # fmt: skip
    return out / "rag-service"


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def ms(values: list[float], p: float) -> float:
    return sorted(values)[round(p * (len(values) - 1))] * 1000


@contextmanager
def busy(on: bool) -> Iterator[None]:
    """One competing CPU-bound process while on: what a shared node looks like."""
    if not on:
        yield
        return
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        yield
    finally:
        process.kill()
        process.wait()


def alternate(rounds: int, first: Callable[[], Any], second: Callable[[], Any]) -> None:
    for n in range(rounds):
        for run in (first, second) if n % 2 == 0 else (second, first):
            run()


def _import_service(project: Path) -> dict[str, Any]:
    os.environ["HF_HUB_OFFLINE"] = "1"
    sys.path.insert(0, str(project / "src"))
    return {name: importlib.import_module(f"{PKG}.{name}") for name in (
        "settings", "service", "ingest", "chunking", "platform.metrics", "platform.app",
        "platform.guardrails", "threads", "segmentation",
    )}  # fmt: skip


def prepare(project: Path, database_url: str, data_dir: Path, rounds: int) -> dict[str, Any]:
    """In a child process (its torch threads leave with it): ingestion figures, quiet and
    busy, then the 10,000-chunk tenant the queries search."""
    m = _import_service(project)
    from pydantic import SecretStr

    rng = random.Random(7)
    docs = []
    for d in range(40):
        body = "\n\n".join(" ".join(sentence(rng, 14) for _ in range(4)) for _ in range(6))
        docs.append(m["ingest"].RawDocument(f"doc-{d}.txt", body.encode()))
    base = dict(environment="test", data_dir=data_dir, releases_path=project / "releases.yaml",
                database_url=SecretStr(database_url), log_level="WARNING")  # fmt: skip
    settings = m["settings"].Settings(**base)
    chunker = m["chunking"].Chunker(settings.chunk_size, settings.chunk_overlap)
    texts = [c.text for raw in docs for c in chunker.split(m["ingest"].parse(raw).text, raw.source,
                                                          "text/plain")]  # fmt: skip
    figures: dict[str, Any] = {"chunks": len(texts)}
    metrics = m["platform.metrics"].ServiceMetrics("bench", "0")
    with m["platform.app"].open_shared_state(settings) as (_url, shared):
        # The best batch size for raw encode, on the service's model thread.
        with m["service"].open_service(settings, metrics, shared) as service:
            local = service.embedder.inner
            run, model = local.run, local.transformer
            run(model.encode, texts[:64], batch_size=32, show_progress_bar=False)  # warm-up
            speeds = {}
            for size in BATCH_SIZES:
                started = time.perf_counter()
                run(model.encode, texts, batch_size=size, show_progress_bar=False)
                speeds[size] = len(texts) / (time.perf_counter() - started)
        best = max(speeds, key=lambda size: speeds[size])
        figures |= {"batch_speeds": speeds, "best_batch": best}
        settings = m["settings"].Settings(**base, embedding_batch_size=best)
        with m["service"].open_service(settings, metrics, shared) as service:
            local = service.embedder.inner
            run, model = local.run, local.transformer
            tenants = iter(range(10_000))
            for load in (False, True):
                raws: list[float] = []
                pipes: list[float] = []

                def raw(raws: list[float] = raws) -> None:
                    started = time.perf_counter()
                    run(model.encode, texts, batch_size=best, show_progress_bar=False)
                    raws.append(time.perf_counter() - started)

                def pipeline(pipes: list[float] = pipes) -> None:
                    started = time.perf_counter()
                    report = service.ingestion.ingest(f"bench-ingest-{next(tenants)}", docs)
                    pipes.append(time.perf_counter() - started)
                    assert report.chunks == len(texts), report.counts()

                with busy(load):
                    alternate(rounds, raw, pipeline)
                key = "busy" if load else "quiet"
                figures[f"ingest_{key}"] = {
                    "raw": len(texts) / statistics.median(raws),
                    "pipeline": len(texts) / statistics.median(pipes),
                    "ratio": statistics.median(r / p for r, p in zip(raws, pipes, strict=True)),
                }
            load_query_tenant(service, m, rng)
            figures["query_chunks"] = service.store.chunk_count(TENANT)
    return figures


def load_query_tenant(service: Any, m: dict[str, Any], rng: random.Random) -> None:
    """10,000 chunks of ~450 characters in 100 documents, written as ingestion writes them
    (each with the vector of its first sentence, and a vector per quotable unit, drawn from
    the same pool, so loading takes seconds, not an hour)."""
    unique = [sentence(rng, 8) for _ in range(2000)]
    vectors = service.embedder.embed_documents(unique)
    for doc in range(100):
        source, picks = f"q-{doc}.txt", [rng.randrange(len(unique)) for _ in range(100)]
        texts = [
            " ".join([unique[p], *(sentence(rng, 12) for _ in range(4)), f"Note {doc}-{i}."])
            for i, p in enumerate(picks)
        ]
        chunks = [
            m["chunking"].Chunk(i, text, {"source": source, "content_type": "text/plain"})
            for i, text in enumerate(texts)
        ]
        screenings = [m["platform.guardrails"].screening(text) for text in texts]
        # A vector per quotable unit, as ingestion stores them (the first sentence's own).
        units = [
            vectors[[p, *(rng.randrange(len(unique)) for _ in m["segmentation"].segment(t)[1:])]]
            for p, t in zip(picks, texts, strict=True)
        ]
        service.store.write_document(
            TENANT,
            source,
            f"h{doc}",
            "",
            "text/plain",
            chunks,
            vectors[picks],
            screenings,
            unit_vectors=units,
        )
    with service.store.pool.connection() as conn:
        conn.execute("ANALYZE chunks")  # what autovacuum does after a bulk load
        conn.execute("ANALYZE documents")


# -- the raw loop, in its own process -------------------------------------------------------
_RAW: dict[str, Any] = {}


def _raw_init(project: str, database_url: str) -> None:
    """The raw side's process: the model with the service's thread budget, and one
    connection per worker thread (made on first use)."""
    sys.path.insert(0, str(Path(project) / "src"))
    os.environ["HF_HUB_OFFLINE"] = "1"
    threads = importlib.import_module(f"{PKG}.threads")
    embeddings = importlib.import_module(f"{PKG}.embeddings")
    store = importlib.import_module(f"{PKG}.store")
    budget = threads.thread_budget(_model_threads())
    threads.apply_thread_budget(budget)
    import torch

    torch.set_num_threads(budget.question_threads)  # what the service's question passes use
    _RAW.update(model=embeddings.load_minilm(), terms=store._tsquery_terms, url=database_url,
                pool=ThreadPoolExecutor(CONCURRENCY))  # fmt: skip
    _raw_round(["warm-up question about the rotation"] * CONCURRENCY)


def _model_threads() -> int | None:
    """MODEL_THREADS as the service reads it, so both sides get the same budget."""
    value = os.environ.get("MODEL_THREADS")
    return int(value) if value else None


def _raw_connection() -> Any:
    import threading

    from pgvector.psycopg import register_vector
    from psycopg import connect

    local = _RAW.setdefault("local", threading.local())
    if not hasattr(local, "conn"):
        local.conn = connect(_RAW["url"], autocommit=True)
        register_vector(local.conn)
        local.conn.execute("SET hnsw.ef_search = 100")  # as the service's connections
    return local.conn


def _raw_one(question: str) -> float:
    """encode(question) + the top-k SQL."""
    started = time.perf_counter()
    vector = _RAW["model"].encode(question, normalize_embeddings=True)
    params = {"tenant": TENANT, "q": vector, "k": LIMIT, "terms": _RAW["terms"](question),
              "pool": max(LIMIT * 4, 20)}  # fmt: skip
    _raw_connection().execute(HYBRID_SQL, params).fetchall()
    return time.perf_counter() - started


def _raw_round(questions: list[str]) -> tuple[float, list[float]]:
    started = time.perf_counter()
    times = list(_RAW["pool"].map(_raw_one, questions))
    return time.perf_counter() - started, times


class Server:
    """`rag-service serve` in its own process, on 127.0.0.1, against the benchmark's database."""

    def __init__(self, project: Path, database_url: str, data_dir: Path) -> None:
        self.port = free_port()
        env = {
            **os.environ, "PYTHONPATH": str(project / "src"), "HF_HUB_OFFLINE": "1",
            "DATABASE_URL": database_url, "DATA_DIR": str(data_dir),
            "RELEASES_PATH": str(project / "releases.yaml"), "RATE_LIMIT": "1000000/minute",
            "LOG_LEVEL": "WARNING",
        }  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"{PKG}.cli", "serve", "--host", "127.0.0.1",
             "--port", str(self.port)],
            env=env, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


SCREENED: list[str] = []  # benchmark questions the service's screening refused


def _service_round(port: int, questions: list[str]) -> tuple[float, list[float]]:
    headers = {"X-API-Key": "dev-api-key", "Content-Type": "application/json"}

    def client_loop(mine: list[str]) -> list[float]:  # one kept-alive connection per client
        times = []
        with closing(HTTPConnection("127.0.0.1", port, timeout=60)) as client:
            for question in mine:
                payload = json.dumps({"tenant": TENANT, "question": question, "top_k": TOP_K})
                started = time.perf_counter()
                client.request("POST", "/v1/query", body=payload, headers=headers)
                response = client.getresponse()
                data = response.read()
                times.append(time.perf_counter() - started)
                if response.status == 400 and b"prompt-injection screening" in data:
                    SCREENED.append(question)  # a false positive: counted and reported
                    continue
                assert response.status == 200, (response.status, data[:300])
                assert not json.loads(data)["cached"]
        return times

    shares = [questions[i::CONCURRENCY] for i in range(CONCURRENCY)]
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        started = time.perf_counter()
        times = [t for part in pool.map(client_loop, shares) for t in part]
        return time.perf_counter() - started, times


def measure_queries(
    project: Path, database_url: str, data_dir: Path, rounds: int, per_round: int
) -> dict[str, Any]:
    rng = random.Random(13)
    counter = iter(range(1_000_000))

    def questions() -> list[str]:
        return [f"Which {rng.choice(WORDS)} {rng.choice(WORDS)} rules apply to "
                f"{rng.choice(WORDS)} {next(counter)}?" for _ in range(per_round)]  # fmt: skip

    server = Server(project, database_url, data_dir)
    figures: dict[str, Any] = {}
    context = multiprocessing.get_context("spawn")
    try:
        with context.Pool(1, _raw_init, (str(project), database_url)) as raw_process:
            wait_ready(server.url, server.process, timeout=180)
            _service_round(server.port, questions()[:16])  # warm-up
            for load in (False, True):
                walls: dict[str, list[float]] = {"raw": [], "svc": []}
                times: dict[str, list[float]] = {"raw": [], "svc": []}

                def record(side: str, result: tuple[float, list[float]]) -> None:
                    walls[side].append(result[0])  # noqa: B023 (called within this iteration)
                    times[side].extend(result[1])  # noqa: B023

                def raw() -> None:
                    record("raw", raw_process.apply(_raw_round, (questions(),)))

                def svc() -> None:
                    record("svc", _service_round(server.port, questions()))

                with busy(load):
                    alternate(rounds, raw, svc)

                def ratio(side: str) -> float:
                    pairs = zip(walls[side], walls["svc"], strict=True)  # noqa: B023
                    return statistics.median(r / s for r, s in pairs)

                part = {f"{side}_{name}": value for side in walls for name, value in (
                    ("rps", per_round / statistics.median(walls[side])),
                    ("p50", ms(times[side], 0.5)), ("p95", ms(times[side], 0.95)),
                )}  # fmt: skip
                part |= {"rps_ratio": ratio("raw"),
                         "p50_ratio": part["svc_p50"] / part["raw_p50"]}  # fmt: skip
                figures["busy" if load else "quiet"] = part
    finally:
        server.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per figure")
    parser.add_argument("--per-round", type=int, default=96, help="questions per query round")
    args = parser.parse_args(argv)
    os.environ["HF_HUB_OFFLINE"] = "1"
    scratch = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    scratch.chmod(0o755)  # pgserver runs PostgreSQL as its own user when we are root
    project = render(scratch / "render")
    sys.path.insert(0, str(project / "src"))
    database = importlib.import_module(f"{PKG}.platform.database")
    data_dir = scratch / "data"
    postgres = database.EmbeddedPostgres(data_dir / "postgres")
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            figures = pool.apply(prepare, (project, postgres.url, data_dir, args.rounds))
        figures["queries"] = measure_queries(
            project, postgres.url, data_dir, args.rounds, args.per_round
        )
        figures["screened"] = list(SCREENED)
    finally:
        postgres.stop()
    return report(figures, args.check, args.rounds, args.per_round)


def report(f: dict[str, Any], check: bool, rounds: int, per_round: int) -> int:
    speeds = ", ".join(f"{size}: {speed:.0f}/s" for size, speed in f["batch_speeds"].items())
    lines = [f"raw encode by batch size ({f['chunks']} chunks): {speeds}; best {f['best_batch']}"]
    missed = []
    for load in ("quiet", "busy"):
        i = f[f"ingest_{load}"]
        lines.append(
            f"ingestion, {load:5} ({rounds} rounds, medians): raw encode {i['raw']:.1f}/s, "
            f"pipeline {i['pipeline']:.1f}/s, ratio {i['ratio']:.3f} (target >= {INGEST_TARGET})"
        )
        if i["ratio"] < INGEST_TARGET:
            missed.append(f"ingestion {load}")
    lines.append(
        f"/v1/query uncached, concurrency {CONCURRENCY}, hybrid, {f['query_chunks']} chunks, "
        f"{rounds} rounds of {per_round} questions, service and raw alternating:"
    )
    for load in ("quiet", "busy"):
        q = f["queries"][load]
        lines.append(
            f"  {load:5} raw embed+SQL {q['raw_rps']:.1f} req/s p50 {q['raw_p50']:.1f} ms "
            f"p95 {q['raw_p95']:.1f} ms | service {q['svc_rps']:.1f} req/s "
            f"p50 {q['svc_p50']:.1f} ms p95 {q['svc_p95']:.1f} ms | requests/s ratio "
            f"{q['rps_ratio']:.3f} (target >= {RPS_TARGET}), p50 ratio {q['p50_ratio']:.3f} "
            f"(target <= {P50_TARGET})"
        )
        if q["rps_ratio"] < RPS_TARGET:
            missed.append(f"query requests/s {load}")
        if q["p50_ratio"] > P50_TARGET:
            missed.append(f"query p50 {load}")
    if f["screened"]:
        lines.append(
            f"refused by injection screening (false positives, answered fast): "
            f"{len(f['screened'])}, e.g. {f['screened'][0]!r}"
        )
    lines.append(f"targets missed: {', '.join(missed)}" if missed else "all targets met")
    sys.stdout.write("\n".join(lines) + "\n")
    return 1 if check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""rag-service benchmark: renders the template, then measures in one run
(1) ingestion throughput against raw SentenceTransformer.encode on the same chunk texts, and
(2) /v1/query (extractive) over 10,000 chunks against embed(question) + the SQL top-k directly,
plus p50, p95 and requests per second at concurrency 8 over real HTTP (uvicorn on 127.0.0.1).

Run: /work/main/.venv/bin/python bench/rag/rag_bench.py   (about 3 minutes on 2 cores)
"""

from __future__ import annotations

import importlib
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

KIT = Path(__file__).resolve().parents[2]
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


def render(out: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            "-o",
            str(out),
            str(KIT / "templates" / "rag-service"),
            "hybrid_search=n",
        ],
        check=True,
        capture_output=True,
    )
    return out / "rag-service"


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def main() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    scratch = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    scratch.chmod(0o755)
    project = render(scratch / "render")
    sys.path.insert(0, str(project / "src"))
    pkg = "rag_service"
    settings_mod = importlib.import_module(f"{pkg}.settings")
    service_mod = importlib.import_module(f"{pkg}.service")
    ingest_mod = importlib.import_module(f"{pkg}.ingest")
    metrics_mod = importlib.import_module(f"{pkg}.platform.metrics")
    main_mod = importlib.import_module(f"{pkg}.main")
    rng = random.Random(7)

    settings = settings_mod.Settings(
        environment="test",
        data_dir=scratch / "data",
        releases_path=project / "releases.yaml",
        cache_entries=0,
        rate_limit="1000000/minute",
        log_level="WARNING",
    )
    metrics = metrics_mod.ServiceMetrics("bench", "0")
    with service_mod.open_service(settings, metrics) as service:
        # -- 1. ingestion vs raw encode on the same chunk texts ------------------------------
        docs = []
        for d in range(60):
            body = "\n\n".join(" ".join(sentence(rng, 14) for _ in range(4)) for _ in range(6))
            docs.append(ingest_mod.RawDocument(f"doc-{d}.txt", body.encode()))
        texts = [
            c.text
            for raw in docs
            for c in service.chunker.split(ingest_mod.parse(raw).text, raw.source, "text/plain")
        ]
        model = service.embedder._model
        model.encode(texts[:32], show_progress_bar=False)  # warm-up
        started = time.perf_counter()
        model.encode(texts, batch_size=settings.embedding_batch_size, show_progress_bar=False)
        raw_rate = len(texts) / (time.perf_counter() - started)
        started = time.perf_counter()
        report = service.ingest("bench-ingest", docs)
        pipeline_rate = report.chunks / (time.perf_counter() - started)
        print(
            f"ingestion: {len(texts)} chunks; raw encode {raw_rate:.1f}/s, pipeline "
            f"{pipeline_rate:.1f}/s, ratio {pipeline_rate / raw_rate:.2f} (target >= 0.85)"
        )

        # -- 2. 10,000 chunks for the query benchmark ---------------------------------------
        tenant = "bench-query"
        unique = [sentence(rng, 8) for _ in range(2000)]
        vectors = service.embedder.embed_documents(unique)
        chunk_mod = importlib.import_module(f"{pkg}.chunking")
        for doc in range(100):
            picks = [rng.randrange(len(unique)) for _ in range(100)]
            chunks = [
                chunk_mod.Chunk(i, f"{unique[p]} Note {doc}-{i}.") for i, p in enumerate(picks)
            ]
            service.store.write_document(
                tenant, f"q-{doc}.txt", f"h{doc}", "", "text/plain", chunks, vectors[picks]
            )
        print(f"store: {service.store.chunk_count(tenant)} chunks in tenant {tenant}")
        questions = [
            f"What about the {rng.choice(WORDS)} {rng.choice(WORDS)} {i}?" for i in range(400)
        ]

        # Baseline: embed(question) + SQL top-k, directly.
        def direct(question: str) -> None:
            service.store.search(tenant, service.embedder.embed_query(question), 5)

        for q in questions[:20]:
            direct(q)
        base = []
        for q in questions[:150]:
            t = time.perf_counter()
            direct(q)
            base.append(time.perf_counter() - t)

    # The service itself, over real HTTP, same database (now through DATABASE_URL).
    import httpx
    import uvicorn

    pg = importlib.import_module(f"{pkg}.store").EmbeddedPostgres(scratch / "data")
    from pydantic import SecretStr

    app_settings = settings.model_copy(update={"database_url": SecretStr(pg.url)})
    app = main_mod.create_app(app_settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit("the service did not start; see the log above")
        time.sleep(0.05)
    headers = {"X-API-Key": "dev-api-key"}

    def ask(client: httpx.Client, question: str) -> float:
        t = time.perf_counter()
        r = client.post(
            f"{url}/v1/query",
            json={"tenant": tenant, "question": question, "top_k": 5},
            headers=headers,
        )
        r.raise_for_status()
        return time.perf_counter() - t

    with httpx.Client(timeout=30) as client:
        for q in questions[:20]:
            ask(client, q)
        single = [ask(client, q) for q in questions[150:300]]
    with ThreadPoolExecutor(8) as pool:
        clients = [httpx.Client(timeout=30) for _ in range(8)]
        started = time.perf_counter()
        conc = list(
            pool.map(lambda i: ask(clients[i % 8], questions[i % 400] + f" r{i}"), range(400))
        )
        wall = time.perf_counter() - started
    server.should_exit = True
    thread.join(5)
    pg.stop()

    def pct(values: list[float], p: float) -> float:
        return sorted(values)[int(p * (len(values) - 1))] * 1000

    b50, s50 = statistics.median(base) * 1000, statistics.median(single) * 1000
    print(f"direct embed+SQL top-k: p50 {b50:.1f} ms")
    print(
        f"/v1/query sequential:   p50 {s50:.1f} ms, p95 {pct(single, 0.95):.1f} ms; "
        f"ratio {s50 / b50:.2f} (target <= 1.2)"
    )
    print(
        f"/v1/query concurrency 8: p50 {pct(conc, 0.5):.1f} ms, p95 {pct(conc, 0.95):.1f} ms, "
        f"{len(conc) / wall:.1f} requests/s"
    )


if __name__ == "__main__":
    main()

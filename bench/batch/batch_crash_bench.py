"""batch-inference crash benchmark: the generated suite's crash tests over 20,000 rows.

Renders the template with its defaults and runs its own `tests/test_crash.py` (the same
script `make test` runs over 2,000 rows) with `--crash-rows 20000`: two real replicas on one
PostgreSQL, a cancel through the other replica, then SIGKILL of the running replica's whole
process tree (uvicorn and its local Ray) once half the rows are committed in Ray Data's
checkpoint; the survivor resumes. Then the same for a killed CLI run, resumed by running the
command again. Each asserts every input id exactly once, outputs equal to a clean run's
within 1e-5, and the work after the restart under 60% of the rows. Prints the pass/fail
lines and each test's wall time.

Run: .venv/bin/python bench/batch/batch_crash_bench.py   (several minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIT = Path(__file__).resolve().parents[2]


def render(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(out),
         str(KIT / "templates" / "batch-inference")],
        check=True, capture_output=True,
    )  # fmt: skip
    return out / "batch-inference"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="batch-crash-bench-") as folder:
        project = render(Path(folder))
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0",
             "tests/test_crash.py", "--crash-rows", str(args.rows)],
            cwd=project, capture_output=True, text=True,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
    lines = [line for line in result.stdout.splitlines() if " call " in line or "passed" in line
             or "failed" in line or line.startswith("E ")]  # fmt: skip
    sys.stdout.write("\n".join(lines[-30:]) + "\n")
    sys.stdout.write(f"rows per job: {args.rows}; wall time: {elapsed:.0f} s\n")
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())

"""`make demo`: render the rag-service golden path, start it on 127.0.0.1, ingest a document,
ask a question, print the cited answer, stop the service."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import httpx

from . import KIT_ROOT
from .bake import render
from .matrix import Combination

BUILD = KIT_ROOT / "build"
API_KEY = {"X-API-Key": "dev-api-key"}
DOCUMENT = {
    "source": "handbook/on-call.md",
    "content_type": "text/markdown",
    "text": (
        "# On-call handbook\n\n"
        "## Paging\n"
        "The primary on-call engineer must acknowledge a page within 5 minutes. "
        "If the primary does not acknowledge, the page escalates to the secondary after "
        "10 minutes.\n\n"
        "## Rollback\n"
        "To roll back a model release, run the release rollback command with a reason. "
        "The previous release serves traffic again at once, without a restart.\n"
    ),
}
INGEST = {"tenant": "demo", "documents": [DOCUMENT]}
QUESTION = {"tenant": "demo", "question": "How fast must on-call acknowledge a page?"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited with {process.returncode}; see its log above")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the service was not ready within {timeout:.0f} s")


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main() -> None:
    started = time.perf_counter()
    target = BUILD / "rag-service"
    if target.exists():
        shutil.rmtree(target)
    project = render(Combination("rag-service", "defaults"), BUILD)
    say(f"1. rendered the rag-service golden path into {project.relative_to(KIT_ROOT)}")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "HF_HUB_OFFLINE": "1",
           "PORT": str(port), "HOST": "127.0.0.1", "LOG_LEVEL": "WARNING"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "rag_service.cli", "serve"], cwd=project, env=env
    )
    try:
        wait_ready(base, process)
        say(f"2. started it on {base} (embedded PostgreSQL + pgvector, MiniLM embeddings)")
        ingested = httpx.post(f"{base}/v1/documents", json=INGEST, headers=API_KEY, timeout=120)
        ingested.raise_for_status()
        say(f"3. ingested {DOCUMENT['source']}: {json.dumps(ingested.json())}")
        answer = httpx.post(f"{base}/v1/query", json=QUESTION, headers=API_KEY, timeout=120)
        answer.raise_for_status()
        body = answer.json()
        say(f"4. asked: {QUESTION['question']}")
        say(f"   answer ({body.get('mode', '')}): {body['answer']}")
        for citation in body.get("citations", []):
            say(f"   cited: {json.dumps(citation)}")
        say(f"\nDone in {time.perf_counter() - started:.0f} s. Try next:")
        say(f"  cd {project.relative_to(KIT_ROOT)} && make run   # http://127.0.0.1:8000/docs")
        say("  curl -s http://127.0.0.1:8000/metrics | grep rag_         # while it runs")
        say("  .venv/bin/rag-service release status        # in that folder: rollback, canary")
        say("  make test                                   # back here: the kit's template CI")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        say("stopped the service")


if __name__ == "__main__":
    main()

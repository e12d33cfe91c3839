"""How many CPU threads the local model may use: the container's CPU quota (cgroup v2
`cpu.max`, or v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`), the CPUs this process may run on,
or the `MODEL_THREADS` setting, whichever is set or smallest.

Why: torch sizes its pool from the node's cores, not from the container's limit; under a
Kubernetes CPU limit (or next to other busy processes) the extra threads only wait for each
other, and one question's embedding took about 1 s instead of 0.1 s.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
CGROUP = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class ThreadBudget:
    threads: int
    source: str  # what decided it: setting, cgroup quota, or CPU affinity

    @property
    def question_threads(self) -> int:
        """Threads for a pass over questions: one fewer, so the event loop (HTTP, JSON, the
        database driver) keeps a core of its own. On 2 CPUs next to one busy process this
        served 18.7 uncached questions/s instead of 13.9 (bench/rag, 2026-12-03); alone it
        cost 8% (20.7 instead of 22.4). Ingestion batches keep every thread."""
        return max(1, self.threads - 1)


def cgroup_cpu_quota(root: Path = CGROUP) -> float | None:
    """CPUs the cgroup quota allows (e.g. 1.5), or None when there is no quota."""
    v2 = root / "cpu.max"
    try:
        if v2.is_file():
            quota, _, period = v2.read_text().strip().partition(" ")
            return None if quota == "max" else int(quota) / int(period or 100_000)
        quota_file = root / "cpu" / "cpu.cfs_quota_us"
        period_file = root / "cpu" / "cpu.cfs_period_us"
        if quota_file.is_file() and period_file.is_file():
            quota_us = int(quota_file.read_text())
            return None if quota_us <= 0 else quota_us / int(period_file.read_text())
    except (OSError, ValueError):
        log.warning("cgroup CPU quota unreadable; using the CPUs this process may run on")
    return None


def thread_budget(setting: int | None, root: Path = CGROUP) -> ThreadBudget:
    if setting is not None:
        return ThreadBudget(setting, "setting MODEL_THREADS")
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    quota = cgroup_cpu_quota(root)
    if quota is not None and math.ceil(quota) < available:
        return ThreadBudget(max(1, math.ceil(quota)), f"cgroup CPU quota {quota:g}")
    return ThreadBudget(max(1, available), "CPU affinity")


def apply_thread_budget(budget: ThreadBudget) -> None:
    """Size torch's intra-op pool (process-wide) and the tokenizer's pool, and say so."""
    import torch

    torch.set_num_threads(budget.threads)
    # The Rust tokenizer reads this when its pool first starts (the first batch it encodes).
    os.environ["RAYON_NUM_THREADS"] = str(budget.threads)
    log.info(
        "model threads sized",
        extra={
            "threads": budget.threads,
            "question_threads": budget.question_threads,
            "source": budget.source,
        },
    )

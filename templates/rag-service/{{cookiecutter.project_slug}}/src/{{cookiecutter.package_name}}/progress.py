"""Progress of a long ingestion, in the service's log: documents done of total, rate and ETA.

An API ingestion is one request, so its caller cannot watch a bar; the log (and the CLI's bar)
can. A line at most every `every` seconds, and one at the end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class ProgressLog:
    """Called once per finished document; logs `done`, `total`, `docs_per_second`, `eta_seconds`."""

    def __init__(
        self,
        total: int | None,
        every: float = 5.0,
        extra: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.every, self.extra, self.clock = total, every, extra or {}, clock
        self.done = 0
        self.started = self.last = clock()

    def __call__(self, _source: str) -> None:
        self.done += 1
        now = self.clock()
        if now - self.last >= self.every or self.done == self.total:
            self.last = now
            log.info("ingestion progress", extra={**self.extra, **self.figures(now)})

    def figures(self, now: float) -> dict[str, Any]:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        left = None if self.total is None else max(self.total - self.done, 0)
        return {
            "done": self.done,
            "total": self.total,
            "percent": None if not self.total else round(100 * self.done / self.total, 1),
            "docs_per_second": round(rate, 2),
            "eta_seconds": None if left is None or rate == 0 else round(left / rate, 1),
        }

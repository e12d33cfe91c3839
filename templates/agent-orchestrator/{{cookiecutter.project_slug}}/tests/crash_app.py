"""The service with one fault injected, for the crash test: the process kills itself (SIGKILL)
right after the example system commits a write, before the graph checkpoints the tool step:
the worst moment for exactly-once side effects."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from {{ cookiecutter.package_name }}.agent.systems import SqliteSystem
from {{ cookiecutter.package_name }}.main import create_app as service_app


def create_app() -> FastAPI:
    marker = Path(os.environ["CRASH_MARKER"])
    write_once = SqliteSystem._write_once

    def crashing(self: SqliteSystem, key: str, apply: Any) -> dict[str, Any]:
        result = write_once(self, key, apply)
        if not result.get("replayed") and not marker.exists():
            marker.write_text(key)
            os.kill(os.getpid(), signal.SIGKILL)  # committed in the system, not checkpointed
        return result

    SqliteSystem._write_once = crashing  # type: ignore[method-assign]
    return service_app()

"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: its real dependencies
answer). A failing dependency makes `/readyz` answer 503 naming it."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from .context import PlatformDep

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(platform: PlatformDep) -> JSONResponse:
    checks: dict[str, str] = {}
    for name, check in platform.readiness.items():
        try:
            if inspect.iscoroutinefunction(check):
                result: Any = await check()
            else:
                result = await asyncio.to_thread(check)
            checks[name] = "ok" if result is not False else "failing"
        except Exception as exc:  # a readiness probe reports, it does not raise
            log.warning("readiness check failed", extra={"check": name, "error": repr(exc)})
            checks[name] = "failing"
    state = platform.releases.state
    platform.metrics.kill_switch.set(1 if state.kill_switch else 0)
    ready = all(value == "ok" for value in checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": checks,
        "release": state.active,
        "kill_switch": state.kill_switch,
    }
    return JSONResponse(body, status_code=200 if ready else 503)

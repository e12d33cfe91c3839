"""The smallest service built on the chassis: what the chassis tests run against.

One domain route that answers through the routed release (or the safe fallback under the kill
switch), and a per-scope cached route whose cache every replica invalidates together. Run it
as a fleet with `uvicorn --factory minimal_service:create_app` (settings from the environment).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from goldenpath_chassis import (
    EpochCache,
    Platform,
    PlatformDep,
    PlatformSettings,
    RequestContextDep,
    create_platform_app,
)

RELEASES = Path(__file__).parent / "data" / "releases.yaml"


class Settings(PlatformSettings):
    service_name: str = "minimal-service"
    releases_path: Path = RELEASES
    max_message_chars: int = Field(default=200, ge=1)


class EchoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1, max_length=200)


class EchoResponse(BaseModel):
    answer: str
    release: str
    track: str
    fallback: bool


class NoteResponse(BaseModel):
    scope: str
    text: str
    cached: bool


router = APIRouter(prefix="/v1")
NOTES: dict[str, str] = {}  # the "database" of notes: per process on purpose, see below


@router.post("/echo", response_model=EchoResponse)
async def echo(body: EchoRequest, ctx: RequestContextDep, platform: PlatformDep) -> EchoResponse:
    if ctx.fallback is not None:
        platform.metrics.record_fallback("kill_switch")
        return EchoResponse(answer=ctx.fallback, release=ctx.release.id, track=ctx.track,
                            fallback=True)  # fmt: skip
    started = time.perf_counter()
    answer = f"{ctx.release.model}: {body.message}"
    platform.metrics.record_model_call("chat", ctx.release.model, ctx.release.id,
                                       time.perf_counter() - started, 1, 1)  # fmt: skip
    return EchoResponse(answer=answer, release=ctx.release.id, track=ctx.track, fallback=False)


@router.get("/notes/{scope}", response_model=NoteResponse)
async def read_note(scope: str, ctx: RequestContextDep, request: Request) -> NoteResponse:
    """A cached answer: a stale one would show the text the note had when it was cached."""
    cache: EpochCache = request.app.state.cache
    found = cache.get(scope, "note")
    if found is not None:
        return NoteResponse(scope=scope, text=found, cached=True)
    epoch = cache.epoch(scope)
    text = f"version {epoch}"  # what the note says now: derived from shared state
    cache.put(scope, "note", text, epoch)
    return NoteResponse(scope=scope, text=text, cached=False)


class TenantEcho(BaseModel):
    tenant: str
    caller: str


@router.get("/tenants/{tenant}", response_model=TenantEcho)
async def tenant_echo(tenant: str, ctx: RequestContextDep) -> TenantEcho:
    """Reached only by callers whose credential is bound to the tenant."""
    ctx.caller.require_tenant(tenant)
    return TenantEcho(tenant=tenant, caller=ctx.caller.id)


@router.delete("/notes/{scope}", status_code=204)
def change_note(scope: str, ctx: RequestContextDep, request: Request) -> None:
    request.app.state.cache.invalidate(scope)


def lifespan(settings: Settings):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def run(app: FastAPI, platform: Platform) -> AsyncIterator[None]:
        app.state.cache = EpochCache(platform.epochs, max_entries=100, ttl_seconds=300)
        yield

    return run


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_platform_app(settings, [router], lifespan(settings), "Chassis test service")

"""Admin API: release status, promote, rollback, canary weight and the kill switch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from .context import AdminDep, PlatformDep

router = APIRouter(prefix="/admin", tags=["admin"])


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=500)
    release: str | None = None


class CanaryChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    release: str | None
    weight: int = Field(ge=0, le=100)
    reason: str = Field(min_length=3, max_length=500)


class KillSwitchChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool
    reason: str = Field(min_length=3, max_length=500)


def _status(platform: PlatformDep) -> dict[str, Any]:
    status = platform.releases.status()
    platform.metrics.set_active_release(status["active"])
    platform.metrics.kill_switch.set(1 if status["kill_switch"] else 0)
    return status


@router.get("/releases")
def release_status(platform: PlatformDep, actor: AdminDep) -> dict[str, Any]:
    return _status(platform)


@router.get("/releases/audit")
def release_audit(platform: PlatformDep, actor: AdminDep) -> list[dict[str, Any]]:
    return platform.releases.audit_log()


@router.post("/releases/promote")
def promote(change: Change, platform: PlatformDep, actor: AdminDep) -> dict[str, Any]:
    platform.releases.promote(actor, change.reason, change.release)
    return _status(platform)


@router.post("/releases/rollback")
def rollback(change: Change, platform: PlatformDep, actor: AdminDep) -> dict[str, Any]:
    platform.releases.rollback(actor, change.reason, change.release)
    return _status(platform)


@router.post("/releases/canary")
def set_canary(change: CanaryChange, platform: PlatformDep, actor: AdminDep) -> dict[str, Any]:
    platform.releases.set_canary(change.release, change.weight, actor, change.reason)
    return _status(platform)


@router.post("/kill-switch")
def kill_switch(change: KillSwitchChange, platform: PlatformDep, actor: AdminDep) -> dict[str, Any]:
    platform.releases.set_kill_switch(change.enabled, actor, change.reason)
    return _status(platform)

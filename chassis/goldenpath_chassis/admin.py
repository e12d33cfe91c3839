"""Admin API: release status, promote, rollback, canary weight, the kill switch and the audit.

Every change goes to the shared state in PostgreSQL, so it reaches every replica, whichever
replica the call lands on.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from .context import AdminDep, PlatformDep

router = APIRouter(prefix="/admin", tags=["admin"])
# Why the change was made (audited); NUL is refused here, PostgreSQL cannot store it.
Reason = Annotated[str, Field(min_length=3, max_length=500, pattern=r"^[^\x00]*$")]


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason
    release: str | None = None


class CanaryChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    release: str | None
    weight: StrictInt = Field(ge=0, le=100)
    reason: Reason


class KillSwitchChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: StrictBool
    reason: Reason


class ReleaseStatus(BaseModel):
    active: str
    canary: str | None
    canary_weight: int
    kill_switch: bool
    kill_switch_reason: str
    previous: list[str] = Field(description="Earlier active releases, newest last (rollback).")
    releases: list[str]


class AuditEntry(BaseModel):
    seq: int
    at: str
    action: str
    actor: str
    reason: str
    from_: dict[str, Any] = Field(alias="from", serialization_alias="from")
    to: dict[str, Any]
    hash: str


class AuditVerification(BaseModel):
    ok: bool
    entries: int
    head: str = Field(description="Hash of the newest entry: record it elsewhere to anchor.")
    broken_at: int | None
    problem: str


def _status(platform: PlatformDep) -> ReleaseStatus:
    return ReleaseStatus(**platform.releases.status())


@router.get("/releases", response_model=ReleaseStatus)
def release_status(platform: PlatformDep, actor: AdminDep) -> ReleaseStatus:
    return _status(platform)


@router.get("/releases/audit", response_model=list[AuditEntry], response_model_by_alias=True)
def release_audit(
    platform: PlatformDep, actor: AdminDep, limit: int | None = Query(default=None, ge=1, le=10000)
) -> list[dict[str, Any]]:
    return platform.releases.audit_log(limit)


@router.get("/releases/audit/verify", response_model=AuditVerification)
def verify_release_audit(platform: PlatformDep, actor: AdminDep) -> dict[str, Any]:
    return platform.releases.verify_audit().as_dict()


@router.post("/releases/promote", response_model=ReleaseStatus)
def promote(change: Change, platform: PlatformDep, actor: AdminDep) -> ReleaseStatus:
    platform.releases.promote(actor, change.reason, change.release)
    return _status(platform)


@router.post("/releases/rollback", response_model=ReleaseStatus)
def rollback(change: Change, platform: PlatformDep, actor: AdminDep) -> ReleaseStatus:
    platform.releases.rollback(actor, change.reason, change.release)
    return _status(platform)


@router.post("/releases/canary", response_model=ReleaseStatus)
def set_canary(change: CanaryChange, platform: PlatformDep, actor: AdminDep) -> ReleaseStatus:
    platform.releases.set_canary(change.release, change.weight, actor, change.reason)
    return _status(platform)


@router.post("/kill-switch", response_model=ReleaseStatus)
def kill_switch(change: KillSwitchChange, platform: PlatformDep, actor: AdminDep) -> ReleaseStatus:
    platform.releases.set_kill_switch(change.enabled, actor, change.reason)
    return _status(platform)

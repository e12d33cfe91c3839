"""Versioned releases of model, prompt and config: canary routing, promote, rollback, kill switch.

`releases.yaml` in the repo declares the releases and the baseline `active`/`canary`. Changes
made at run time (admin API or CLI) are written to a state file and an append-only audit log
under the data directory, so they take effect without a restart and survive one. Every
replica re-reads the state file when it changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from .errors import Conflict, NotFound


@dataclass(frozen=True)
class Release:
    """One named, immutable version of what shapes answers."""

    id: str
    model: str
    prompt: str
    config: dict[str, Any] = field(default_factory=dict)
    notes: str = ""


@dataclass(frozen=True)
class RoutingState:
    active: str
    canary: str | None = None
    canary_weight: int = 0
    kill_switch: bool = False
    kill_switch_reason: str = ""


@dataclass(frozen=True)
class Routed:
    """The release chosen for one request, and whether it is the canary."""

    release: Release
    track: str  # "active" or "canary"
    kill_switch: bool = False


class ReleaseManager:
    """Reads the manifest, routes callers, and applies audited state changes."""

    def __init__(self, manifest_path: Path, data_dir: Path, kill_switch: bool = False) -> None:
        manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
        self.releases = {
            item["id"]: Release(
                id=str(item["id"]),
                model=str(item["model"]),
                prompt=str(item["prompt"]),
                config=dict(item.get("config") or {}),
                notes=str(item.get("notes", "")),
            )
            for item in manifest["releases"]
        }
        self.safe_fallback: str = manifest.get("safe_fallback", "")
        canary = manifest.get("canary") or {}
        self._baseline = RoutingState(
            active=str(manifest["active"]),
            canary=canary.get("release"),
            canary_weight=int(canary.get("weight", 0)),
            kill_switch=kill_switch,
        )
        self.state_path = data_dir / "release-state.json"
        self.audit_path = data_dir / "release-audit.jsonl"
        self._lock = threading.Lock()
        self._state_mtime: float | None = None
        self._state = self._baseline
        self._validate(self._baseline)
        self._reload_if_changed()

    # -- reading -----------------------------------------------------------------------------
    @property
    def state(self) -> RoutingState:
        self._reload_if_changed()
        return self._state

    def route(self, caller: str) -> Routed:
        """Pick the release for a caller: sticky, so one caller always sees the same track."""
        state = self.state
        if state.canary and state.canary_weight > 0:
            digest = hashlib.blake2b(f"{caller}:{state.canary}".encode(), digest_size=2)
            if int.from_bytes(digest.digest(), "big") % 100 < state.canary_weight:
                return Routed(self.releases[state.canary], "canary", state.kill_switch)
        return Routed(self.releases[state.active], "active", state.kill_switch)

    def status(self) -> dict[str, Any]:
        state = self.state
        return {
            "active": state.active,
            "canary": state.canary,
            "canary_weight": state.canary_weight,
            "kill_switch": state.kill_switch,
            "kill_switch_reason": state.kill_switch_reason,
            "releases": sorted(self.releases),
        }

    def audit_log(self) -> list[dict[str, Any]]:
        if not self.audit_path.exists():
            return []
        lines = self.audit_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    # -- changing ----------------------------------------------------------------------------
    def set_canary(self, release_id: str | None, weight: int, actor: str, reason: str) -> None:
        if not 0 <= weight <= 100:
            raise Conflict(f"weight={weight} is not allowed: use 0 to 100")
        if release_id is not None:
            self._require(release_id)
        self._change(
            "set-canary",
            actor,
            reason,
            lambda s: RoutingState(s.active, release_id, weight if release_id else 0,
                                   s.kill_switch, s.kill_switch_reason),
        )  # fmt: skip

    def promote(self, actor: str, reason: str, release_id: str | None = None) -> None:
        """Make the canary (or a named release) active; the previous active is kept for rollback."""
        target = release_id or self.state.canary
        if not target:
            raise Conflict("no canary to promote: name a release or set a canary first")
        self._require(target)
        self._change(
            "promote", actor, reason,
            lambda s: RoutingState(target, None, 0, s.kill_switch, s.kill_switch_reason),
        )  # fmt: skip

    def rollback(self, actor: str, reason: str, release_id: str | None = None) -> None:
        """Drop the canary and return to the previous active release (or a named one)."""
        target = release_id or self._previous_active()
        self._require(target)
        self._change(
            "rollback", actor, reason,
            lambda s: RoutingState(target, None, 0, s.kill_switch, s.kill_switch_reason),
        )  # fmt: skip

    def set_kill_switch(self, enabled: bool, actor: str, reason: str) -> None:
        self._change(
            "kill-switch-on" if enabled else "kill-switch-off", actor, reason,
            lambda s: RoutingState(s.active, s.canary, s.canary_weight, enabled,
                                   reason if enabled else ""),
        )  # fmt: skip

    # -- internals ---------------------------------------------------------------------------
    def _require(self, release_id: str) -> None:
        if release_id not in self.releases:
            known = ", ".join(sorted(self.releases))
            raise NotFound(f"release={release_id!r} is not in the manifest: use one of {known}")

    def _validate(self, state: RoutingState) -> None:
        self._require(state.active)
        if state.canary:
            self._require(state.canary)

    def _previous_active(self) -> str:
        current = self.state.active
        for entry in reversed(self.audit_log()):
            before = entry["from"]["active"]
            if entry["action"] in {"promote", "rollback"} and before != current:
                return str(before)
        if self._baseline.active != current:
            return self._baseline.active
        raise Conflict(f"no earlier release than {current!r} to roll back to: name one")

    def _change(self, action: str, actor: str, reason: str, apply: Any) -> None:
        with self._lock:
            self._reload_if_changed()
            before = self._state
            after: RoutingState = apply(before)
            self._validate(after)
            self._write_state(after)
            entry = {
                "at": datetime.now(UTC).isoformat(),
                "action": action,
                "actor": actor,
                "reason": reason,
                "from": before.__dict__,
                "to": after.__dict__,
            }
            with self.audit_path.open("a", encoding="utf-8") as audit:
                audit.write(json.dumps(entry, sort_keys=True) + "\n")
            self._state = after

    def _write_state(self, state: RoutingState) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state.__dict__, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.state_path)  # atomic: readers never see half a file
        self._state_mtime = self.state_path.stat().st_mtime

    def _reload_if_changed(self) -> None:
        try:
            mtime = self.state_path.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime != self._state_mtime:
            state = RoutingState(**json.loads(self.state_path.read_text(encoding="utf-8")))
            if self._baseline.kill_switch and not state.kill_switch:
                state = RoutingState(**{**state.__dict__, "kill_switch": True})
            self._validate(state)
            self._state, self._state_mtime = state, mtime

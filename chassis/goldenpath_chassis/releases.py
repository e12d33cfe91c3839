"""Versioned releases of model, prompt and config: canary routing, promote, rollback, kill switch.

`releases.yaml` in the repo declares the releases and the baseline `active`/`canary`. Changes
made at run time (admin API or CLI) are rows in the service's PostgreSQL (`SharedState`), so
every replica routes the same way within about a second, and the change survives restarts.
Each change is appended to the hash-chained release audit in the same transaction.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .audit import AuditLog, Verification
from .errors import Conflict, NotFound
from .state import SharedState

log = logging.getLogger(__name__)
STATE_KEY = "releases"
AUDIT_STREAM = "releases"


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
    history: tuple[str, ...] = ()  # earlier active releases, newest last: what rollback pops

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> RoutingState:
        known = {name: stored[name] for name in cls.__dataclass_fields__ if name in stored}
        return cls(**{**known, "history": tuple(known.get("history") or ())})


MAX_HISTORY = 20


@dataclass(frozen=True)
class Routed:
    """The release chosen for one request, and whether it is the canary."""

    release: Release
    track: str  # "active" or "canary"
    kill_switch: bool = False


@dataclass(frozen=True)
class Manifest:
    """What `releases.yaml` declares: the releases, the baseline routing, the safe fallback."""

    releases: dict[str, Release]
    baseline: RoutingState
    safe_fallback: str

    @classmethod
    def load(cls, path: Path) -> Manifest:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        releases = {
            str(item["id"]): Release(
                id=str(item["id"]),
                model=str(item["model"]),
                prompt=str(item["prompt"]),
                config=dict(item.get("config") or {}),
                notes=str(item.get("notes", "")),
            )
            for item in data["releases"]
        }
        canary = data.get("canary") or {}
        baseline = RoutingState(
            active=str(data["active"]),
            canary=canary.get("release"),
            canary_weight=int(canary.get("weight", 0)),
        )
        manifest = cls(releases, baseline, str(data.get("safe_fallback", "")))
        manifest.check(baseline)
        return manifest

    def require(self, release_id: str) -> None:
        if release_id not in self.releases:
            known = ", ".join(sorted(self.releases))
            raise NotFound(f"release={release_id!r} is not in the manifest: use one of {known}")

    def check(self, state: RoutingState) -> None:
        self.require(state.active)
        if state.canary:
            self.require(state.canary)


class ReleaseManager:
    """Routes callers by the shared routing state and applies audited changes to it."""

    def __init__(
        self, manifest: Manifest, shared: SharedState, force_kill_switch: bool = False
    ) -> None:
        self.manifest = manifest
        self.releases = manifest.releases
        self.safe_fallback = manifest.safe_fallback
        self.shared = shared
        self.audit = AuditLog(AUDIT_STREAM)
        self._force_kill_switch = force_kill_switch
        self._memo: tuple[object, RoutingState] | None = None  # (stored document, its state)

    # -- reading -----------------------------------------------------------------------------
    @property
    def state(self) -> RoutingState:
        """The shared state (from memory); the manifest's baseline until anything changed."""
        stored = self.shared.get(STATE_KEY)
        memo = self._memo
        if memo is not None and memo[0] is stored:
            return memo[1]
        state = self._stored_or_baseline(stored)
        if self._force_kill_switch and not state.kill_switch:
            state = RoutingState(**{**asdict(state), "kill_switch": True,
                                    "kill_switch_reason": "KILL_SWITCH setting"})  # fmt: skip
        self._memo = (stored, state)
        return state

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
            "previous": list(state.history),
            "releases": sorted(self.releases),
        }

    def audit_log(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Release changes oldest first: at, action, actor, reason, from, to, seq, hash."""
        with self.shared.connection() as conn:
            entries = self.audit.entries(conn, limit)
        return [
            {
                "seq": entry["seq"],
                "at": entry["at"],
                "action": entry["action"],
                "actor": entry["actor"],
                **entry["payload"],
                "hash": entry["hash"],
            }
            for entry in entries
        ]

    def verify_audit(self) -> Verification:
        with self.shared.connection() as conn:
            return self.audit.verify(conn)

    # -- changing ----------------------------------------------------------------------------
    def set_canary(self, release_id: str | None, weight: int, actor: str, reason: str) -> None:
        if not 0 <= weight <= 100:
            raise Conflict(f"weight={weight} is not allowed: use 0 to 100")
        if release_id is not None:
            self.manifest.require(release_id)
        self._change(
            "set-canary",
            actor,
            reason,
            lambda s, _: RoutingState(s.active, release_id, weight if release_id else 0,
                                      s.kill_switch, s.kill_switch_reason, s.history),
        )  # fmt: skip

    def promote(self, actor: str, reason: str, release_id: str | None = None) -> None:
        """Make the canary (or a named release) active; the previous active is kept for rollback."""

        def apply(s: RoutingState, conn: Any) -> RoutingState:
            target = release_id or s.canary
            if not target:
                raise Conflict("no canary to promote: name a release or set a canary first")
            self.manifest.require(target)
            history = s.history if target == s.active else (*s.history, s.active)
            return RoutingState(target, None, 0, s.kill_switch, s.kill_switch_reason,
                                history[-MAX_HISTORY:])  # fmt: skip

        self._change("promote", actor, reason, apply)

    def rollback(self, actor: str, reason: str, release_id: str | None = None) -> None:
        """Drop the canary and return to the release active before the last promote (or to a
        named one). Each rollback steps one promote further back; it never picks the canary."""
        if release_id is not None:
            self.manifest.require(release_id)

        def apply(s: RoutingState, _conn: Any) -> RoutingState:
            history = list(s.history)
            if release_id is not None:
                target = release_id
                if history and history[-1] == target:
                    history.pop()
            elif history:
                target = history.pop()
            elif self.manifest.baseline.active != s.active:
                target = self.manifest.baseline.active
            else:
                raise Conflict(f"no earlier release than {s.active!r} to roll back to: name one")
            return RoutingState(target, None, 0, s.kill_switch, s.kill_switch_reason,
                                tuple(history))  # fmt: skip

        self._change("rollback", actor, reason, apply)

    def set_kill_switch(self, enabled: bool, actor: str, reason: str) -> None:
        self._change(
            "kill-switch-on" if enabled else "kill-switch-off", actor, reason,
            lambda s, _: RoutingState(s.active, s.canary, s.canary_weight, enabled,
                                      reason if enabled else "", s.history),
        )  # fmt: skip

    # -- internals ---------------------------------------------------------------------------
    def _change(self, action: str, actor: str, reason: str, apply: Any) -> None:
        def change(stored: dict[str, Any] | None, conn: Any) -> dict[str, Any]:
            before = self._stored_or_baseline(stored)
            after: RoutingState = apply(before, conn)
            self.manifest.check(after)
            return asdict(after)

        def audit(
            stored: dict[str, Any] | None, after: dict[str, Any]
        ) -> tuple[AuditLog, str, str, dict[str, Any]]:
            before = stored if isinstance(stored, dict) else asdict(self.manifest.baseline)
            return self.audit, actor, action, {"reason": reason, "from": before, "to": after}

        self.shared.update(STATE_KEY, change, audit)

    def _stored_or_baseline(self, stored: dict[str, Any] | None) -> RoutingState:
        """The stored state with any release this manifest lacks (a deploy removed it)
        replaced: active by the baseline, the canary dropped. The kill switch always holds."""
        if not isinstance(stored, dict):
            return self.manifest.baseline
        state = RoutingState.from_stored(stored)
        known = self.releases
        if state.active in known and (state.canary is None or state.canary in known):
            return state
        log.warning("shared release state names a release not in releases.yaml",
                    extra={"state": stored})  # fmt: skip
        canary_ok = state.canary in known
        return RoutingState(
            active=state.active if state.active in known else self.manifest.baseline.active,
            canary=state.canary if canary_ok else None,
            canary_weight=state.canary_weight if canary_ok else 0,
            kill_switch=state.kill_switch,
            kill_switch_reason=state.kill_switch_reason,
            history=tuple(name for name in state.history if name in known),
        )

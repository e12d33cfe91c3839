"""A response cache every replica can trust: entries carry their scope's shared epoch.

Bumping a scope's epoch (on ingest or delete, say) is a change in `SharedState`, so every
replica stops serving that scope's old entries as soon as the change reaches it (about a
second at most); a TTL bounds how long any entry lives even if an epoch change were missed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from .state import SharedState

EPOCH_PREFIX = "epoch:"


class SharedEpochs:
    """A counter per scope (a tenant, a dataset), shared by every replica."""

    def __init__(self, shared: SharedState) -> None:
        self.shared = shared

    def current(self, scope: str) -> int:
        value = self.shared.get(EPOCH_PREFIX + scope)
        return int(value["n"]) if value else 0

    def bump(self, scope: str) -> int:
        after = self.shared.update(
            EPOCH_PREFIX + scope, lambda value, _conn: {"n": int((value or {}).get("n", 0)) + 1}
        )
        return int(after["n"])


class EpochCache:
    """An LRU with a TTL; an entry is served only while its scope's epoch is unchanged."""

    def __init__(
        self,
        epochs: SharedEpochs,
        max_entries: int,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.epochs, self.max_entries, self.ttl = epochs, max_entries, ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[tuple[str, Hashable], tuple[int, float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def epoch(self, scope: str) -> int:
        return self.epochs.current(scope)

    def get(self, scope: str, key: Hashable) -> Any | None:
        if self.max_entries == 0:
            return None
        epoch, now = self.epochs.current(scope), self._clock()
        with self._lock:
            found = self._entries.get((scope, key))
            if found is None:
                return None
            if found[0] != epoch or now - found[1] > self.ttl:
                del self._entries[(scope, key)]
                return None
            self._entries.move_to_end((scope, key))
            return found[2]

    def put(self, scope: str, key: Hashable, value: Any, epoch: int) -> None:
        """Store `value` computed under `epoch`; dropped if the scope changed meanwhile."""
        if self.max_entries == 0 or epoch != self.epochs.current(scope):
            return
        with self._lock:
            self._entries[(scope, key)] = (epoch, self._clock(), value)
            self._entries.move_to_end((scope, key))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def invalidate(self, scope: str) -> None:
        """Bump the scope's shared epoch (every replica) and drop its local entries."""
        self.epochs.bump(scope)
        with self._lock:
            for entry in [k for k in self._entries if k[0] == scope]:
                del self._entries[entry]

    def __len__(self) -> int:
        return len(self._entries)

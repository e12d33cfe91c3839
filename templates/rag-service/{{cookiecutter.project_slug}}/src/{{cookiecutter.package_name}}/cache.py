"""Exact-match answer cache keyed by tenant, normalised question, release and query options.

Ingestion or deletion in a tenant bumps that tenant's epoch, which is part of every key, so
stale answers are never served and need no sweeping. The cache is per process (per replica).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import OrderedDict
from typing import Any


def normalise_question(question: str) -> str:
    text = unicodedata.normalize("NFKC", question).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


class AnswerCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._epochs: dict[str, int] = {}
        self._lock = threading.Lock()

    def key(self, tenant: str, question: str, release: str, options: Any) -> tuple[Any, ...]:
        with self._lock:
            epoch = self._epochs.get(tenant, 0)
        return (tenant, epoch, normalise_question(question), release, repr(options))

    def get(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        if self.max_entries == 0:
            return None
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], answer: dict[str, Any]) -> None:
        if self.max_entries == 0:
            return
        with self._lock:
            if key[1] != self._epochs.get(key[0], 0):
                return  # the tenant changed while this answer was being computed
            self._entries[key] = answer
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def invalidate_tenant(self, tenant: str) -> None:
        with self._lock:
            self._epochs[tenant] = self._epochs.get(tenant, 0) + 1
            for key in [k for k in self._entries if k[0] == tenant]:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)

"""Exact-match answer cache keyed by tenant, normalised question, release and query options.

The tenant's epoch is shared state (the chassis's `EpochCache`): ingestion or deletion in a
tenant through any replica bumps it, and every replica stops serving that tenant's older
answers within about a second; a TTL bounds every entry's life as a backstop.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from .platform.cache import EpochCache

CacheKey = tuple[str, int, str, str, str]  # tenant, epoch, question, release, options


def normalise_question(question: str) -> str:
    text = unicodedata.normalize("NFKC", question).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


class AnswerCache:
    def __init__(self, entries: EpochCache) -> None:
        self.entries = entries

    def key(self, tenant: str, question: str, release: str, options: Any) -> CacheKey:
        epoch = self.entries.epoch(tenant)
        return (tenant, epoch, normalise_question(question), release, repr(options))

    def get(self, key: CacheKey) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.entries.get(key[0], key[2:])
        return found

    def put(self, key: CacheKey, answer: dict[str, Any]) -> None:
        self.entries.put(key[0], key[2:], answer, epoch=key[1])

    def invalidate_tenant(self, tenant: str) -> None:
        self.entries.invalidate(tenant)

    def __len__(self) -> int:
        return len(self.entries)

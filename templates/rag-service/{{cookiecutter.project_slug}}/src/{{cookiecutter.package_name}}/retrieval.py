"""Question to relevant chunks: embed, search one tenant (vector, or hybrid with full-text),
keep chunks above the relevance threshold, and drop chunks that carry injected instructions
(the verdict stored at ingestion, so the patterns do not run over every chunk per query)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
from prometheus_client import Counter

from .embeddings import Embedder
from .platform.errors import NotFound
from .platform.guardrails import screen_stored
from .store import Hit, Search, Store

CANDIDATE_SLACK = 4  # extra rows fetched so dropped chunks can be replaced


@dataclass(frozen=True)
class RetrievalRequest:
    tenant: str
    question: str
    top_k: int
    min_score: float  # cosine similarity a chunk needs to count as relevant
    filters: dict[str, str] | None = None


@dataclass(frozen=True)
class Retrieved:
    hits: list[Hit]
    below_threshold: int
    flagged: int


class Retriever:
    def __init__(self, store: Store, embedder: Embedder, hybrid: bool, flagged: Counter) -> None:
        self.store, self.embedder, self.hybrid, self._flagged = store, embedder, hybrid, flagged

    async def aretrieve(self, request: RetrievalRequest) -> Retrieved:
        """Embed and search on the event loop: the embedding and the search are awaited."""
        return await self.asearch(request, await self.aembed(request.question))

    async def aembed(self, question: str) -> np.ndarray:
        """The question's vector (answering screens it before searching)."""
        return await self.embedder.aembed_query(question)

    async def asearch(self, request: RetrievalRequest, vector: np.ndarray) -> Retrieved:
        if not np.any(vector):  # nothing embeddable in the question: nothing is relevant
            if not await asyncio.to_thread(self.store.tenant_exists, request.tenant):
                raise _no_documents(request.tenant)
            return Retrieved([], 0, 0)
        candidates = await self.store.asearch(self._search(request, vector))
        if not candidates and not await asyncio.to_thread(self.store.tenant_exists, request.tenant):
            raise _no_documents(request.tenant)
        return self._keep(candidates, request)

    def _search(self, request: RetrievalRequest, vector: np.ndarray) -> Search:
        limit = request.top_k + CANDIDATE_SLACK
        text = request.question if self.hybrid else None
        return Search(request.tenant, vector, limit, request.filters, text)

    def _keep(self, candidates: list[Hit], request: RetrievalRequest) -> Retrieved:
        kept: list[Hit] = []
        below = flagged = 0
        for hit in candidates:
            if not hit.score >= request.min_score:  # NaN (a zero vector stored) counts below
                below += 1
                continue
            verdict = screen_stored(hit.text, hit.screening)
            if verdict.flagged:
                flagged += 1
                self._flagged.labels(verdict.category).inc()
                continue
            kept.append(hit)
        return Retrieved(kept[: request.top_k], below, flagged)


def _no_documents(tenant: str) -> NotFound:
    return NotFound(f"tenant={tenant!r} has no documents: ingest some first", tenant=tenant)

"""Wiring: the store, the models, the cache and the metrics, put together once per process
into ingestion and answering, and opened and closed with the app (or a CLI command)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from fastapi import FastAPI

from .answering import AnswerCounters, Answering
from .cache import AnswerCache
from .embeddings import Embedder, MeteredEmbedder, build_embedder
from .generation import Generator, build_generator
from .ingestion import Ingestion
from .platform.cache import EpochCache, SharedEpochs
from .platform.context import Platform
from .platform.guardrails import PATTERNS
from .platform.metrics import ServiceMetrics
from .platform.state import SharedState
from .retrieval import Retriever
from .screening import build_screener
from .settings import Settings
from .store import Store


class RagService:
    """What routes, the CLI and the evaluation hold: `ingestion`, `answering`, and the parts
    they share (store, embedder, generator, retriever)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        generator: Generator,
        metrics: ServiceMetrics,
        cache: AnswerCache,
    ) -> None:
        self.settings, self.store, self.embedder, self.generator = (
            settings, store, embedder, generator
        )  # fmt: skip
        self.metrics, self.cache = metrics, cache
        documents_total = metrics.counter(
            "rag_documents_total", "Documents seen by ingestion, by outcome.", ["outcome"]
        )
        flagged_chunks = metrics.counter(
            "rag_flagged_chunks_total", "Retrieved chunks dropped by injection screening.",
            ["category"],
        )  # fmt: skip
        counters = AnswerCounters(
            flagged_questions=metrics.counter(
                "rag_flagged_questions_total", "Questions refused by injection screening.",
                ["category"],
            ),
            answers_total=metrics.counter(
                "rag_answers_total", "Answers by outcome (answered, refused, cached, fallback).",
                ["outcome"],
            ),
            retrieval_seconds=metrics.histogram(
                "rag_retrieval_duration_seconds",
                "Embedding the question and searching the store.",
            ),
        )  # fmt: skip
        # Known label values start at zero, so every dashboard series exists from the start.
        for category in (*PATTERNS, "encoded_payload", "guard_model"):
            counters.flagged_questions.labels(category)
            flagged_chunks.labels(category)
        for outcome in ("answered", "refused", "cached", "fallback"):
            counters.answers_total.labels(outcome)
        self.retriever = Retriever(store, self.embedder, settings.hybrid_search, flagged_chunks)
        self.ingestion = Ingestion(settings, store, self.embedder, self.cache, documents_total)
        self.answering = Answering(
            settings, store, self.retriever, self.generator, self.cache, metrics, counters,
            build_screener(settings, self.embedder),
        )  # fmt: skip


@contextmanager
def open_service(
    settings: Settings, metrics: ServiceMetrics, shared: SharedState
) -> Iterator[RagService]:
    """Start what the service needs (the store in the chassis's database, the models) and
    stop it again on exit. The answer cache's epochs are shared state: every replica drops a
    tenant's cached answers when any replica ingests or deletes its documents."""
    embedder = MeteredEmbedder(build_embedder(settings), metrics)
    store = Store(shared.url, embedder.dimension, settings.database_pool_size)
    cache = AnswerCache(
        EpochCache(SharedEpochs(shared), settings.cache_entries, settings.cache_ttl_seconds)
    )
    try:
        store.open()
        yield RagService(
            settings, store, embedder, build_generator(settings, metrics, embedder), metrics, cache
        )
    finally:
        store.close()


def rag_lifespan(settings: Settings) -> Callable[[FastAPI, Platform], Any]:
    @asynccontextmanager
    async def lifespan(app: FastAPI, platform: Platform) -> AsyncIterator[None]:
        assert platform.shared is not None  # the chassis opened it before this lifespan
        with open_service(settings, platform.metrics, platform.shared) as service:
            await service.store.aopen()
            try:
                app.state.rag = service
                platform.readiness["database"] = service.store.ping
                yield
            finally:
                await service.store.aclose()

    return lifespan

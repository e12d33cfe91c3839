"""The RAG service: ingestion into the store, and questions answered from one tenant's
documents with citations. Routes and the CLI call this; it calls the store and the models."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from .cache import AnswerCache
from .chunking import Chunk, Chunker
from .embeddings import Embedder, MeteredEmbedder, build_embedder
from .generation import Answer, Generator, build_generator
from .ingest import IngestReport, ParsedDocument, RawDocument, SkipDocument, parse
from .platform.cache import EpochCache, SharedEpochs
from .platform.context import Platform
from .platform.errors import BadRequest, Unprocessable
from .platform.guardrails import PATTERNS, redact_pii, screen, screening
from .platform.metrics import ServiceMetrics
from .platform.redaction import REDACT
from .platform.releases import Release
from .platform.security import Caller
from .platform.state import SharedState
from .retrieval import RetrievalRequest, Retrieved, Retriever
from .settings import Settings
from .store import DocumentWrite, Hit, RetrievalRecord, Store

log = logging.getLogger(__name__)
DEFAULT_REFUSAL = "I don't know: none of the documents available to you answers that question."
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Question:
    """One question, as a route (or the evaluation) hands it to the service."""

    tenant: str
    text: str
    release: Release
    top_k: int | None = None
    filters: dict[str, str] | None = None
    caller: Caller | None = None
    fallback_text: str | None = None  # kill switch on: answer this, skip the model path
    route: str = "query"


@dataclass
class _Prepared:
    """A checked question and its retrieved chunks, or the `result` that needs no model."""

    text: str
    hits: list[Hit] = field(default_factory=list)
    flagged: int = 0
    result: dict[str, Any] | None = None
    cache_key: tuple[Any, ...] | None = None


@dataclass
class _Pending:
    document: ParsedDocument
    content_hash: str
    chunks: list[Chunk]


class RagService:
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
        self.chunker = Chunker(settings.chunk_size, settings.chunk_overlap)
        self.cache = cache
        self.metrics = metrics
        self.documents_total = metrics.counter(
            "rag_documents_total", "Documents seen by ingestion, by outcome.", ["outcome"]
        )
        self.flagged_chunks = metrics.counter(
            "rag_flagged_chunks_total", "Retrieved chunks dropped by injection screening.",
            ["category"],
        )  # fmt: skip
        self.flagged_questions = metrics.counter(
            "rag_flagged_questions_total", "Questions refused by injection screening.",
            ["category"],
        )  # fmt: skip
        self.answers_total = metrics.counter(
            "rag_answers_total", "Answers by outcome (answered, refused, cached, fallback).",
            ["outcome"],
        )  # fmt: skip
        self.retrieval_seconds = metrics.histogram(
            "rag_retrieval_duration_seconds", "Embedding the question and searching the store."
        )
        # Known label values start at zero, so every dashboard series exists from the start.
        for category in (*PATTERNS, "encoded_payload"):
            self.flagged_questions.labels(category)
            self.flagged_chunks.labels(category)
        for outcome in ("answered", "refused", "cached", "fallback"):
            self.answers_total.labels(outcome)
        self.retriever = Retriever(store, embedder, settings.hybrid_search, self.flagged_chunks)

    # -- ingestion ---------------------------------------------------------------------------
    def ingest(
        self,
        tenant: str,
        documents: Iterable[RawDocument | tuple[str, str]],
        progress: Progress | None = None,
        batch_chunks: int = 256,
    ) -> IngestReport:
        """Parse, chunk, embed in large batches and write each batch in one transaction with
        a savepoint per document (each document lands whole or not at all); a writer thread
        screens and writes one batch while the next is embedded, and its errors reach the
        caller (a failed write never leaves `ingest` waiting)."""
        report = IngestReport()
        # One write in flight while the next batch is embedded; its error (any error) is
        # raised here, in the caller's thread, when the next batch waits for it.
        with ThreadPoolExecutor(1, thread_name_prefix="ingest-writer") as writer:
            writing: Future[None] | None = None
            batch: list[_Pending] = []
            for item in documents:
                pending = self._prepare(tenant, item, report, progress)
                if pending is None:
                    continue
                batch.append(pending)
                if sum(len(p.chunks) for p in batch) >= batch_chunks:
                    writing = self._embed_and_write(
                        batch, writing, writer, tenant, report, progress
                    )
                    batch = []
            if batch:
                writing = self._embed_and_write(batch, writing, writer, tenant, report, progress)
            if writing is not None:
                writing.result()
        if report.ingested or report.replaced:
            self.cache.invalidate_tenant(tenant)
        for outcome in ("ingested", "replaced", "unchanged", "skipped"):
            self.documents_total.labels(outcome).inc(len(getattr(report, outcome)))
        log.info("ingestion finished", extra={"tenant": tenant, **report.counts()})
        return report

    def _prepare(
        self,
        tenant: str,
        item: RawDocument | tuple[str, str],
        report: IngestReport,
        progress: Progress | None,
    ) -> _Pending | None:
        if isinstance(item, tuple):
            report.skipped.append({"source": item[0], "reason": item[1]})
            return self._done(item[0], progress)
        try:
            document = parse(item)
        except SkipDocument as exc:
            report.skipped.append({"source": item.source, "reason": str(exc)})
            return self._done(item.source, progress)
        digest = self._content_hash(item.data)
        if self.store.content_hash(tenant, document.source) == digest:
            report.unchanged.append(document.source)
            return self._done(document.source, progress)
        chunks = self.chunker.split(
            document.text, document.source, document.content_type, document.title
        )
        return _Pending(document, digest, chunks)

    @staticmethod
    def _done(source: str, progress: Progress | None) -> None:
        if progress:
            progress(source)

    def _content_hash(self, data: bytes) -> str:
        """Content plus what shapes the chunks: a new model or chunk size re-ingests."""
        digest = hashlib.sha256(data)
        digest.update(
            f"|{self.embedder.model}|{self.settings.chunk_size}|{self.settings.chunk_overlap}".encode()
        )
        return digest.hexdigest()

    def _embed_and_write(
        self,
        batch: list[_Pending],
        writing: Future[None] | None,
        writer: ThreadPoolExecutor,
        tenant: str,
        report: IngestReport,
        progress: Progress | None,
    ) -> Future[None]:
        """Embed this batch, wait for the previous write (raising its error), queue this one."""
        texts = [chunk.text for pending in batch for chunk in pending.chunks]
        vectors = self.embedder.embed_documents(texts)
        offset, embedded = 0, []
        for pending in batch:
            embedded.append((pending, vectors[offset : offset + len(pending.chunks)]))
            offset += len(pending.chunks)
        if writing is not None:
            writing.result()
        return writer.submit(self._write_batch, tenant, embedded, report, progress)

    def _write_batch(
        self,
        tenant: str,
        batch: list[tuple[_Pending, Any]],
        report: IngestReport,
        progress: Progress | None,
    ) -> None:
        self._write(tenant, batch, report)
        for pending, _ in batch:
            self._done(pending.document.source, progress)

    def _write(self, tenant: str, batch: list[tuple[_Pending, Any]], report: IngestReport) -> None:
        """Screen the chunks once, here, and store the verdicts with them (retrieval reads
        them instead of running every injection pattern over every chunk of every query);
        then write the batch, each document atomically."""
        writes = [
            DocumentWrite(
                source=pending.document.source,
                content_hash=pending.content_hash,
                title=pending.document.title,
                content_type=pending.document.content_type,
                chunks=pending.chunks,
                vectors=vectors,
                screenings=[screening(chunk.text) for chunk in pending.chunks],
            )
            for pending, vectors in batch
        ]
        try:
            results: list[Any] = self.store.write_documents(tenant, writes)
        except Exception as exc:  # the batch's commit failed: none of it is stored
            results = [exc] * len(writes)
        for write, result in zip(writes, results, strict=True):
            if isinstance(result, Exception):
                log.warning("document not stored", extra={"source": write.source})
                report.skipped.append({"source": write.source, "reason": f"not stored: {result}"})
                continue
            getattr(report, result).append(write.source)
            if result != "unchanged":
                report.chunks += len(write.chunks)

    def delete_document(self, tenant: str, source: str) -> None:
        from .platform.errors import NotFound

        if not self.store.delete_document(tenant, source):
            raise NotFound(f"source={source!r} is not a document of tenant={tenant!r}")
        self.cache.invalidate_tenant(tenant)

    def list_documents(self, tenant: str) -> list[dict[str, Any]]:
        return self.store.list_documents(tenant)

    # -- questions ---------------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        """Refuse bad input before any model work: size and injection screening (the tenant
        was authorized against the caller's credential before: `access.authorize`)."""
        question = question.strip()
        limit = self.settings.max_question_chars
        if not question:
            raise Unprocessable("question: must not be empty")
        if len(question) > limit:
            raise Unprocessable(
                f"question: {len(question)} characters is over the limit of {limit}",
                field="question",
            )
        verdict = screen(question)
        if verdict.flagged:
            self.flagged_questions.labels(verdict.category).inc()
            raise BadRequest(
                f"question refused by prompt-injection screening ({verdict.category})",
                category=verdict.category,
            )
        return question

    def _before_retrieval(self, question: Question, cache: bool) -> _Prepared:
        """Check the question; answer it at once under the kill switch or from the cache.
        Errors surface here, as plain 4xx, before any answer starts."""
        text = self.check_question(question.text)
        release = question.release
        if question.fallback_text is not None:
            return _Prepared(text, result=self._refusal(release, question.fallback_text))
        key = None
        if cache:
            options = (question.top_k, sorted((question.filters or {}).items()))
            key = self.cache.key(question.tenant, text, release.id, options)
            cached = self.cache.get(key)
            if cached is not None:
                self.answers_total.labels("cached").inc()
                return _Prepared(text, result={**cached, "cached": True})
        return _Prepared(text, cache_key=key)

    @staticmethod
    def _retrieval_request(question: Question, text: str) -> RetrievalRequest:
        config = question.release.config
        top_k = question.top_k or int(config.get("top_k", 5))
        min_score = float(config.get("min_score", 0.3))
        return RetrievalRequest(question.tenant, text, top_k, min_score, question.filters)

    def _after_retrieval(
        self, prepared: _Prepared, retrieved: Retrieved, release: Release, started: float
    ) -> _Prepared:
        self.retrieval_seconds.observe(time.perf_counter() - started)
        if not retrieved.hits:
            prepared.result = self._refusal(release)
        prepared.hits, prepared.flagged = retrieved.hits, retrieved.flagged
        return prepared

    def _prepare_question(self, question: Question, cache: bool) -> _Prepared:
        """What /v1/query and its stream share: check, then (unless answered already)
        retrieve."""
        prepared = self._before_retrieval(question, cache)
        if prepared.result is not None:
            return prepared
        started = time.perf_counter()
        retrieved = self.retriever.retrieve(self._retrieval_request(question, prepared.text))
        return self._after_retrieval(prepared, retrieved, question.release, started)

    async def _aprepare_question(self, question: Question, cache: bool) -> _Prepared:
        prepared = self._before_retrieval(question, cache)
        if prepared.result is not None:
            return prepared
        started = time.perf_counter()
        retrieved = await self.retriever.aretrieve(self._retrieval_request(question, prepared.text))
        return self._after_retrieval(prepared, retrieved, question.release, started)

    def _finish(self, answer: Answer, release: Release, flagged: int) -> dict[str, Any]:
        text = REDACT.secret_values(answer.text)  # a document may quote the service's own key
        text = redact_pii(text) if self.settings.redact_pii else text
        self.answers_total.labels("answered").inc()
        citations = [citation.as_dict() for citation in answer.citations]
        for citation in citations:  # snippet, title, heading quote the document too
            for name in ("snippet", "title", "heading"):
                quoted = REDACT.secret_values(citation[name])
                citation[name] = redact_pii(quoted) if self.settings.redact_pii else quoted
        return {
            "answer": text,
            "citations": citations,
            "refused": False,
            "fallback": False,
            "mode": answer.mode,
            "label": answer.label,
            "model": answer.model,
            "release": release.id,
            "flagged_chunks": flagged,
            "cached": False,
        }

    def _refusal(self, release: Release, fallback_text: str | None = None) -> dict[str, Any]:
        fallback = fallback_text is not None
        self.answers_total.labels("fallback" if fallback else "refused").inc()
        if fallback:
            self.metrics.record_fallback("kill_switch")
        return {
            "answer": fallback_text if fallback else release.config.get("refusal", DEFAULT_REFUSAL),
            "citations": [],
            "refused": not fallback,
            "fallback": fallback,
            "mode": self.generator.mode,
            "label": "",
            "model": release.model,
            "release": release.id,
            "flagged_chunks": 0,
            "cached": False,
        }

    def query(self, question: Question) -> dict[str, Any]:
        """Answer from the tenant's documents, or say it does not know."""
        prepared = self._prepare_question(question, cache=True)
        if (record := self._record(question, prepared)) is not None:
            self.store.record_retrieval(record)
        return self._answer(question, prepared)

    @staticmethod
    def _record(question: Question, prepared: _Prepared) -> RetrievalRecord | None:
        """What this answer read of the tenant's documents (None under the kill switch,
        which reads nothing): the retrieved chunks, or a cached answer's citations."""
        if question.fallback_text is not None:
            return None
        if prepared.hits or prepared.result is None:
            pairs = [(hit.source, hit.chunk_id) for hit in prepared.hits]
        else:
            pairs = [(c["document"], c["chunk_id"]) for c in prepared.result["citations"]]
        return RetrievalRecord(
            tenant=question.tenant,
            caller=question.caller.id if question.caller else "cli",
            release=question.release.id,
            route=question.route,
            question_sha256=hashlib.sha256(prepared.text.encode()).hexdigest(),
            sources=list(dict.fromkeys(source for source, _ in pairs)),
            chunk_ids=[chunk_id for _, chunk_id in pairs],
            cached=bool(prepared.result and prepared.result.get("cached")),
        )

    async def aquery(self, question: Question) -> dict[str, Any]:
        """`query` for the event loop: the embedding (model thread) and the search (asyncio
        pool) are awaited, and no worker thread is held; only a generator that calls a
        remote model runs on one."""
        prepared = await self._aprepare_question(question, cache=True)
        if (record := self._record(question, prepared)) is not None:
            await self.store.arecord_retrieval(record)
        if prepared.result is None and self.generator.blocking:
            return await asyncio.to_thread(self._answer, question, prepared)
        return self._answer(question, prepared)

    def _answer(self, question: Question, prepared: _Prepared) -> dict[str, Any]:
        result = prepared.result
        if result is None:
            answer = self.generator.generate(prepared.text, prepared.hits, question.release)
            result = self._finish(answer, question.release, prepared.flagged)
        if prepared.cache_key is not None:
            self.cache.put(prepared.cache_key, result)
        return result

    def stream(self, question: Question) -> Iterator[str]:
        """Prepare now (so errors are plain 4xx), then return server-sent events: `token`
        pieces, `citations`, and `done` with the answer's metadata."""
        prepared = self._prepare_question(question, cache=False)
        if (record := self._record(question, prepared)) is not None:
            self.store.record_retrieval(record)

        def events() -> Iterator[str]:
            result = prepared.result
            if result is not None:
                yield _sse("token", {"text": result["answer"]})
            else:
                answer: Answer | None = None

                def pieces() -> Iterator[str]:
                    nonlocal answer
                    for piece in self.generator.stream(
                        prepared.text, prepared.hits, question.release
                    ):
                        if isinstance(piece, str):
                            yield piece
                        else:
                            answer = piece

                for text in REDACT.stream(pieces()):  # no loaded secret leaves, even split
                    if not self.settings.redact_pii:
                        yield _sse("token", {"text": text})
                assert answer is not None
                result = self._finish(answer, question.release, prepared.flagged)
                if self.settings.redact_pii:  # redaction needs whole sentences
                    yield _sse("token", {"text": result["answer"]})
            yield _sse("citations", {"citations": result["citations"]})
            yield _sse("done", {k: v for k, v in result.items() if k != "citations"})

        return events()


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


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
            settings, store, embedder, build_generator(settings, metrics), metrics, cache
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

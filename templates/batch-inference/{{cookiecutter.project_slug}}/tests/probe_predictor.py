"""A test-only predictor that reports what it was given: each text's length and whether the
call's texts came shortest first, to prove the pipeline batches by length and still puts
every output on its own row. Workers import it through the session Ray's PYTHONPATH."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa


class LengthProbe:
    operation = "predict"

    def __init__(self, config: Mapping[str, Any], device: str) -> None:
        self.device = device

    def predict(self, texts: Sequence[str]) -> dict[str, pa.Array]:
        lengths = [len(text) for text in texts]
        ordered = lengths == sorted(lengths)
        return {
            "chars": pa.array(lengths, pa.int32()),
            "call_sorted": pa.array([ordered] * len(texts), pa.bool_()),
        }

"""A test-only predictor whose first call fails with a transient error (then it works), to
prove Ray Data retries the batch instead of failing the job. Workers import it through the
PYTHONPATH the session's Ray was started with (conftest.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from {{ cookiecutter.package_name }}.predictors import TransientPredictError


class FlakyPredictor:
    operation = "predict"

    def __init__(self, config: Mapping[str, Any], device: str) -> None:
        self.marker = Path(str(config["marker"]))

    def predict(self, texts: Sequence[str]) -> dict[str, pa.Array]:
        if not self.marker.exists():
            self.marker.write_text("failed once", encoding="utf-8")
            raise TransientPredictError("endpoint answered 503")
        return {"chars": pa.array([len(text) for text in texts], pa.int32())}

"""Preview: run a release's predictor on a few texts, in process, before submitting a job.

The cheap, synchronous model path: teams check a release's output shape and values on a
handful of rows, and the chassis's probes exercise the model path without a Ray job. While
the kill switch is on it answers with the safe fallback (200, `fallback: true`).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .jobs import predictor_of
from .platform.errors import UpstreamError
from .platform.metrics import ServiceMetrics
from .platform.releases import Release, ReleaseManager
from .platform.tracing import genai_span
from .predictors import registered, render_inputs, shared_predictor

MAX_PREVIEW_TEXTS = 32


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[str] = Field(min_length=1, max_length=MAX_PREVIEW_TEXTS)


class PreviewResponse(BaseModel):
    release: str
    model: str
    track: str
    fallback: bool = False
    detail: str | None = None
    rows: list[dict[str, Any]] = Field(default_factory=list)


class Previewer:
    def __init__(self, metrics: ServiceMetrics, releases: ReleaseManager) -> None:
        self.metrics, self.releases = metrics, releases

    def predict(
        self, request: PreviewRequest, release: Release, track: str, kill_switch: bool
    ) -> PreviewResponse:
        answer = PreviewResponse(release=release.id, model=release.model, track=track)
        if kill_switch:
            fallback = self.releases.safe_fallback
            self.metrics.record_fallback("kill_switch")
            return answer.model_copy(update={"fallback": True, "detail": fallback})
        name, config = predictor_of(release)
        operation = registered(name).operation
        started = time.perf_counter()
        with genai_span(operation, release.model, **{"batch.rows": len(request.texts)}):
            try:
                inputs = render_inputs(release.prompt, request.texts)
                outputs = shared_predictor(name, config).predict(inputs)
            except Exception as exc:
                self.metrics.record_model_error(operation, release.model, exc)
                raise UpstreamError(f"predictor {name!r} failed: {type(exc).__name__}") from exc
        self.metrics.record_model_call(
            operation, release.model, release.id, time.perf_counter() - started
        )
        columns = {key: column.to_pylist() for key, column in outputs.items()}
        rows = [
            {"text": text, **{key: values[i] for key, values in columns.items()}}
            for i, text in enumerate(request.texts)
        ]
        return answer.model_copy(update={"rows": rows})

"""The Ray Data pipeline of one job: JSONL in, predictions out, bad rows counted.

    read_text (local or S3) -> parse_lines (tasks: JSON, id, text; bad rows reported)
      -> PredictBatch (actor pool: the release's predictor, batch_size, num_gpus)
      -> write_parquet | write_json into a staging location (published by the job service)

Workers report row counts to a `JobProgress` actor, so the service shows live progress and
counts bad rows in the same single pass over the input; the same actor carries cancellation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
import pyarrow.fs as pafs
import ray
from ray.data import ActorPoolStrategy

from .platform.tracing import configure_tracing, genai_span
from .predictors import Predictor, load_predictor, render_inputs
from .storage import INPUT_EXTENSIONS, Location

log = logging.getLogger(__name__)


class JobCancelled(RuntimeError):
    """Raised inside workers once the job is cancelled, which stops the whole dataset."""


class PipelineError(RuntimeError):
    """The job failed; the message is safe to show to the caller."""


@ray.remote(num_cpus=0)
class JobProgress:
    """Counts rows across workers and carries the cancel flag (one tiny actor per job)."""

    def __init__(self, max_samples: int) -> None:
        self.processed = self.failed = 0
        self.samples: list[str] = []
        self.max_samples = max_samples
        self.cancelled = False

    def report(self, processed: int, failed: int, errors: list[str]) -> bool:
        self.processed += processed
        self.failed += failed
        self.samples.extend(errors[: max(0, self.max_samples - len(self.samples))])
        return not self.cancelled

    def cancel(self) -> None:
        self.cancelled = True

    def snapshot(self) -> dict[str, Any]:
        return {"processed": self.processed, "failed": self.failed, "errors": list(self.samples)}


@dataclass(frozen=True)
class PipelineSpec:
    input: Location
    staging: Location
    output_format: Literal["parquet", "jsonl"]
    predictor: str
    predictor_config: Mapping[str, Any]
    model: str
    prompt: str
    operation: str
    batch_size: int
    concurrency: int
    num_gpus: float = 0.0
    text_field: str = "text"
    id_field: str = "id"
    max_text_chars: int = 20_000
    max_error_samples: int = 5
    progress_interval: float = 0.5
    tracing: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineResult:
    processed: int
    failed: int
    errors: list[str]


def parse_line(line: str, text_field: str, id_field: str, max_chars: int) -> tuple[str, str]:
    """(id, text) of one JSONL line, or ValueError saying what is wrong with it."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"row is not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise ValueError(f"row is a JSON {type(record).__name__}, not an object")
    raw_id = record.get(id_field)
    row = f"row {raw_id!r}" if raw_id is not None else "row"
    text = record.get(text_field)
    if not isinstance(text, str) or not text.strip():
        problem = "is missing" if text is None else "must be a non-empty string"
        raise ValueError(f"{row}: field {text_field!r} {problem}")
    if len(text) > max_chars:
        raise ValueError(f"{row}: field {text_field!r} is over {max_chars} characters")
    row_id = str(raw_id) if raw_id is not None else hashlib.sha256(text.encode()).hexdigest()[:16]
    return row_id, text


def parse_lines(
    batch: pa.Table,
    *,
    text_field: str,
    id_field: str,
    max_chars: int,
    progress: Any,
) -> pa.Table:
    """Keep the rows a predictor can use; report the others (counted, never fatal)."""
    ids, texts, errors = [], [], []
    for line in batch.column("text").to_pylist():
        try:
            row_id, text = parse_line(line, text_field, id_field, max_chars)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        ids.append(row_id)
        texts.append(text)
    if not ray.get(progress.report.remote(0, len(errors), errors)):
        raise JobCancelled("job cancelled")
    return pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string())})


class PredictBatch:
    """Ray Data callable class: one predictor per actor, loaded once, called per batch."""

    def __init__(
        self,
        predictor: str,
        config: Mapping[str, Any],
        device: str,
        model: str,
        prompt: str,
        operation: str,
        progress: Any,
        tracing: Mapping[str, str],
    ) -> None:
        if not ray.get(progress.report.remote(0, 0, [])):
            raise JobCancelled("job cancelled")
        if tracing.get("endpoint"):
            configure_tracing(tracing["service"], tracing["version"], tracing["endpoint"])
        self.name, self.config, self.device = predictor, dict(config), device
        self.model, self.prompt, self.operation, self.progress = model, prompt, operation, progress
        self._predictor: Predictor | None = None

    def __call__(self, batch: pa.Table) -> pa.Table:
        # Loaded on the first batch, not in __init__: a job whose rows are all rejected
        # never spends minutes loading a model onto a GPU.
        if self._predictor is None:
            self._predictor = load_predictor(self.name, self.config, self.device)
        texts = render_inputs(self.prompt, batch.column("text").to_pylist())
        with genai_span(self.operation, self.model, **{"batch.rows": batch.num_rows}):
            outputs = self._predictor.predict(texts)
        table = batch.select(["id", "text"])
        for name, column in outputs.items():
            table = table.append_column(name, column)
        if not ray.get(self.progress.report.remote(batch.num_rows, 0, [])):
            raise JobCancelled("job cancelled")
        return table


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        nxt = getattr(exc, "cause", None) or exc.__cause__
        if not isinstance(nxt, BaseException):
            break
        exc = nxt
    return exc


def run_pipeline(
    spec: PipelineSpec,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PipelineResult:
    """Run one job to completion in the staging location; blocks until done."""
    progress = JobProgress.remote(spec.max_error_samples)  # type: ignore[attr-defined]
    is_folder = spec.input.fs.get_file_info(spec.input.path).type == pafs.FileType.Directory
    dataset = ray.data.read_text(
        spec.input.path,
        filesystem=spec.input.fs,
        file_extensions=list(INPUT_EXTENSIONS) if is_folder else None,
    ).map_batches(
        parse_lines,
        batch_format="pyarrow",
        fn_kwargs={
            "text_field": spec.text_field,
            "id_field": spec.id_field,
            "max_chars": spec.max_text_chars,
            "progress": progress,
        },
    )
    predict_options: dict[str, Any] = {"num_gpus": spec.num_gpus} if spec.num_gpus else {}
    dataset = dataset.map_batches(
        PredictBatch,
        batch_format="pyarrow",
        batch_size=spec.batch_size,
        compute=ActorPoolStrategy(size=spec.concurrency),
        udf_modifying_row_count=False,
        fn_constructor_kwargs={
            "predictor": spec.predictor,
            "config": dict(spec.predictor_config),
            "device": "cuda" if spec.num_gpus else "cpu",
            "model": spec.model,
            "prompt": spec.prompt,
            "operation": spec.operation,
            "progress": progress,
            "tracing": dict(spec.tracing),
        },
        **predict_options,
    )
    done = threading.Event()

    def poll() -> None:
        while not done.wait(spec.progress_interval):
            if should_stop is not None and should_stop():
                progress.cancel.remote()
            if on_progress is not None:
                on_progress(ray.get(progress.snapshot.remote()))

    poller = threading.Thread(target=poll, name="job-progress", daemon=True)
    poller.start()
    try:
        with genai_span(spec.operation, spec.model, **{"job.predictor": spec.predictor}):
            if spec.output_format == "parquet":
                dataset.write_parquet(spec.staging.path, filesystem=spec.staging.fs)
            else:
                dataset.write_json(spec.staging.path, filesystem=spec.staging.fs)
    except Exception as exc:
        cause = _root_cause(exc)
        if isinstance(cause, JobCancelled) or "JobCancelled" in str(exc):
            raise JobCancelled("job cancelled") from None
        message = str(cause).strip().splitlines()[-1] if str(cause).strip() else repr(cause)
        raise PipelineError(f"{type(cause).__name__}: {message}"[:500]) from exc
    finally:
        done.set()
        poller.join()
    snapshot = ray.get(progress.snapshot.remote())
    if on_progress is not None:
        on_progress(snapshot)
    ray.kill(progress)
    if snapshot["processed"] == 0:
        reason = "every row was rejected" if snapshot["failed"] else "the input has no rows"
        raise PipelineError(f"input: {reason}; nothing was written")
    return PipelineResult(snapshot["processed"], snapshot["failed"], snapshot["errors"])

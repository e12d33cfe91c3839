"""The Ray Data pipeline of one job: JSONL lines in, every row out (a prediction or a reason).

    read_datasource(JsonlLines) (bytes + row_key per line)
      -> parse_rows (tasks: decode, JSON, id, text; a bad row gets a reason, never an error)
      -> PredictBatch (actor pool: the release's predictor on the good rows of each batch)
      -> write_parquet | write_json into a staging location (split and published by the job)

Workers report row counts to a `JobProgress` actor, so the service shows live progress and
stops a job at once when it is cancelled or its bad rows pass `max_bad_ratio`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import ray
from ray.data import ActorPoolStrategy, DataContext
from ray.data.checkpoint import CheckpointConfig

from .platform.tracing import configure_tracing, genai_span
from .predictors import TRANSIENT_ERRORS, Predictor, load_predictor_at, registered, render_inputs
from .rows import REASON, ROW_KEY, ROWS_SCHEMA, JsonlLines, RowRules, parse_rows
from .storage import INPUT_EXTENSIONS, Location

log = logging.getLogger(__name__)
TASK_RETRIES = 3  # a transient error (connection, timeout) is retried this often per task
# Reading, parsing and writing are light next to the model: a quarter CPU each, so they keep
# up beside the predictor actors instead of queueing behind them for a whole CPU.
LIGHT_CPUS = 0.25


class JobCancelled(RuntimeError):
    """Raised inside workers once the job is cancelled, which stops the whole dataset."""


class PipelineError(RuntimeError):
    """The job failed; the message is safe to show to the caller."""


@ray.remote(num_cpus=0)
class JobProgress:
    """Counts rows across workers and carries the stop flag (one tiny actor per job)."""

    def __init__(self, max_samples: int, total: int, max_bad_ratio: float) -> None:
        self.processed = self.failed = 0
        self.samples: list[str] = []
        self.max_samples, self.total, self.max_bad_ratio = max_samples, total, max_bad_ratio
        self.cancelled = False

    def over_ratio(self) -> bool:
        return self.failed > self.max_bad_ratio * self.total

    def report(self, processed: int, failed: int, errors: list[str]) -> bool:
        """Add counts; False tells the worker to stop (cancelled, or too many bad rows)."""
        self.processed += processed
        self.failed += failed
        self.samples.extend(errors[: max(0, self.max_samples - len(self.samples))])
        return not (self.cancelled or self.over_ratio())

    def cancel(self) -> None:
        self.cancelled = True

    def snapshot(self) -> dict[str, Any]:
        return {
            "processed": self.processed,
            "failed": self.failed,
            "errors": list(self.samples),
            "over_ratio": self.over_ratio(),
            "cancelled": self.cancelled,
        }


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
    total_rows: int
    max_concurrency: int = 0  # the pool grows to this many actors (0: fixed at concurrency)
    cpus_per_actor: float = 1.0  # Ray sets the actor's OMP_NUM_THREADS (torch threads) from it
    checkpoint: Location | None = None  # Ray Data's checkpoint: rows written, by row_key
    num_gpus: float = 0.0
    rules: RowRules = field(default_factory=RowRules)
    max_bad_ratio: float = 1.0
    block_rows: int = 256
    max_error_samples: int = 5
    progress_interval: float = 0.5
    tracing: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineResult:
    processed: int
    failed: int
    errors: list[str]


def parse_and_report(batch: pa.Table, rules: RowRules, progress: Any) -> pa.Table:
    """`parse_rows`, then tell the progress actor how many rows were bad (and stop if told)."""
    parsed = parse_rows(batch, rules)
    reasons = parsed.column(REASON)
    failed = len(reasons) - reasons.null_count
    samples = [r for r in reasons.to_pylist() if r is not None][:5] if failed else []
    if not ray.get(progress.report.remote(0, failed, samples)):
        raise JobCancelled("job stopped")
    return parsed


def bad_ratio_message(failed: int, total: int, ratio: float, samples: list[str]) -> str:
    first = f"; first: {samples[0]}" if samples else ""
    share = 100 * failed / total if total else 100.0
    return (
        f"input: {failed} of {total} rows are bad ({share:.1f}%), over "
        f"MAX_BAD_RATIO={ratio:g}; nothing was published{first}"
    )


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
        # No stop check here: an actor whose __init__ raises dies, and Ray prints an
        # ActorDiedError traceback for a plain cancel or SIGTERM. The first batch checks
        # (in __call__), which stops the dataset as a user-code error Ray Data reports briefly.
        if tracing.get("endpoint"):
            configure_tracing(tracing["service"], tracing["version"], tracing["endpoint"])
        self.name, self.config, self.device = predictor, dict(config), device
        self.model, self.prompt, self.operation, self.progress = model, prompt, operation, progress
        self._predictor: Predictor | None = None

    def __call__(self, batch: pa.Table) -> pa.Table:
        if self._predictor is None and not ray.get(self.progress.report.remote(0, 0, [])):
            raise JobCancelled("job stopped")  # before a model loads for a stopped job
        good = batch.filter(pc.is_null(batch.column(REASON)))
        bad = batch.filter(pc.is_valid(batch.column(REASON)))
        outputs: dict[str, pa.Array] = {}
        if good.num_rows:
            # Loaded on first use, not in __init__: an actor that is cancelled or gets no
            # rows never spends minutes loading a model onto a GPU.
            if self._predictor is None:
                self._predictor = load_predictor_at(self.name, self.config, self.device)
            # Length-aware: the predictor gets the batch's texts shortest first, so each of
            # its mini-batches pads to similar lengths; outputs go back to the rows' order.
            texts = good.column("text").to_pylist()
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            rendered = render_inputs(self.prompt, [texts[i] for i in order])
            with genai_span(self.operation, self.model, **{"batch.rows": good.num_rows}):
                ordered = self._predictor.predict(rendered)
            back = pa.array(_inverse(order), pa.int64())
            outputs = {name: column.take(back) for name, column in ordered.items()}
        if not ray.get(self.progress.report.remote(good.num_rows, 0, [])):
            raise JobCancelled("job stopped")
        if not outputs:  # a batch of bad rows only: typed null columns from the predictor
            return _with_nulls(bad, self._output_types())
        table = good
        for name, column in outputs.items():
            table = table.append_column(name, column)
        return pa.concat_tables([table, _with_nulls(bad, {n: c.type for n, c in outputs.items()})])

    def _output_types(self) -> dict[str, pa.DataType]:
        if self._predictor is None:
            self._predictor = load_predictor_at(self.name, self.config, self.device)
        probe = self._predictor.predict(render_inputs(self.prompt, ["type probe"]))
        return {name: column.type for name, column in probe.items()}


def _inverse(order: list[int]) -> list[int]:
    """The permutation that undoes `order` (position of each original row in it)."""
    inverse = [0] * len(order)
    for position, index in enumerate(order):
        inverse[index] = position
    return inverse


def _with_nulls(table: pa.Table, types: Mapping[str, pa.DataType]) -> pa.Table:
    for name, kind in types.items():
        table = table.append_column(name, pa.nulls(table.num_rows, kind))
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


def checkpoint_config(location: Location) -> CheckpointConfig:
    """Ray Data's own checkpointing, keyed by `row_key`: the read skips rows whose output was
    committed (two-phase: a data file whose checkpoint is still pending is deleted and its
    rows run again), so a restart writes each row exactly once. Kept until the job publishes."""
    return CheckpointConfig(
        id_column=ROW_KEY,
        checkpoint_path=location.path,
        override_filesystem=location.fs,
        delete_checkpoint_on_success=False,
    )


def checkpointed_rows(location: Location | None) -> int:
    """Rows whose output a previous attempt committed (the rows a restart skips)."""
    if location is None or not location.exists():
        return 0
    selector = pafs.FileSelector(location.path, recursive=True)
    committed = [
        info.path
        for info in location.fs.get_file_info(selector)
        if info.path.endswith(".parquet") and not info.path.endswith(".pending.parquet")
    ]
    return sum(pq.ParquetFile(location.fs.open_input_file(p)).metadata.num_rows for p in committed)


def build_dataset(spec: PipelineSpec, progress: Any) -> ray.data.Dataset:
    """read -> parse -> predict, with Ray Data's retries for transient errors."""
    context = DataContext.get_current()
    # Ray annotates this as a list of exception instances; it takes classes (retry_exceptions).
    context.actor_task_retry_on_errors = cast(Any, list(TRANSIENT_ERRORS))
    context.checkpoint_config = checkpoint_config(spec.checkpoint) if spec.checkpoint else None
    is_folder = spec.input.fs.get_file_info(spec.input.path).type == pafs.FileType.Directory
    source = JsonlLines(
        spec.input.path,
        root=spec.input.path,
        block_rows=spec.block_rows,
        filesystem=spec.input.fs,
        file_extensions=list(INPUT_EXTENSIONS) if is_folder else None,
    )
    retries = {"max_retries": TASK_RETRIES, "retry_exceptions": list(TRANSIENT_ERRORS)}
    # Reads retry I/O errors on their own (DataContext.retried_io_errors).
    dataset = ray.data.read_datasource(source, num_cpus=LIGHT_CPUS).map_batches(
        parse_and_report,
        batch_format="pyarrow",
        batch_size=None,
        fn_kwargs={"rules": spec.rules, "progress": progress},
        udf_modifying_row_count=False,
        num_cpus=LIGHT_CPUS,
        **retries,
    )
    predict_options: dict[str, Any] = {"num_cpus": spec.cpus_per_actor}
    if spec.num_gpus:
        predict_options["num_gpus"] = spec.num_gpus
    # An autoscaling pool: Ray Data adds actors (up to max) while batches queue up and the
    # cluster has room, and removes idle ones; each loads the model once, on its first batch.
    pool = ActorPoolStrategy(
        min_size=spec.concurrency, max_size=max(spec.concurrency, spec.max_concurrency)
    )
    return dataset.map_batches(
        PredictBatch,
        batch_format="pyarrow",
        batch_size=spec.batch_size,
        compute=pool,
        udf_modifying_row_count=False,
        fn_constructor_kwargs={
            "predictor": registered(spec.predictor).path,
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


def run_pipeline(
    spec: PipelineSpec,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PipelineResult:
    """Run one job to completion in the staging location; blocks until done."""
    progress = JobProgress.remote(  # type: ignore[attr-defined]
        spec.max_error_samples, spec.total_rows, spec.max_bad_ratio
    )
    dataset = build_dataset(spec, progress)
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
            light = {"num_cpus": LIGHT_CPUS}
            staging = {"filesystem": spec.staging.fs, "ray_remote_args": light}
            if spec.output_format == "parquet":
                dataset.write_parquet(spec.staging.path, **staging)
            else:
                dataset.write_json(spec.staging.path, **staging)
    except Exception as exc:
        snapshot = ray.get(progress.snapshot.remote())
        if snapshot["over_ratio"]:
            raise PipelineError(
                bad_ratio_message(
                    snapshot["failed"], spec.total_rows, spec.max_bad_ratio, snapshot["errors"]
                )
            ) from None
        cause = _root_cause(exc)
        if snapshot["cancelled"] or isinstance(cause, JobCancelled):
            raise JobCancelled("job cancelled") from None
        message = str(cause).strip().splitlines()[-1] if str(cause).strip() else repr(cause)
        raise PipelineError(f"{type(cause).__name__}: {message}"[:500]) from exc
    finally:
        DataContext.get_current().checkpoint_config = None
        done.set()
        poller.join()
    snapshot = ray.get(progress.snapshot.remote())
    if on_progress is not None:
        on_progress(snapshot)
    ray.kill(progress)
    return PipelineResult(snapshot["processed"], snapshot["failed"], snapshot["errors"])


__all__ = ["ROWS_SCHEMA", "JobCancelled", "PipelineError", "PipelineSpec", "run_pipeline"]

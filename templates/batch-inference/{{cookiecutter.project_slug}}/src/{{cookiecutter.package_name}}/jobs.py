"""Batch jobs: submission checks, a persisted job registry and the runner thread.

Jobs run one at a time in a background thread (Ray parallelises inside a job). Every state
change is written to `<data_dir>/jobs/<id>.json` first, so status survives a restart, and
jobs that were queued or running when the service stopped run again when it starts: their
outputs are published atomically, so a second run never meets half an output.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .pipeline import JobCancelled, PipelineError, PipelineSpec, run_pipeline
from .platform.errors import Conflict, NotFound, Unavailable
from .platform.metrics import ServiceMetrics
from .platform.releases import Release, ReleaseManager
from .predictors import registered, render_inputs, shared_predictor
from .ray_runtime import actor_gpus, cluster_gpus, ensure_ray, ray_ready
from .settings import OutputFormat, Settings
from .storage import Storage
from .telemetry import BatchMetrics

log = logging.getLogger(__name__)
JobStatus = Literal["queued", "running", "succeeded", "failed"]
JOB_ID_TOKEN = "{job_id}"


class JobRequest(BaseModel):
    """What a caller submits. Unknown fields are refused, so a typo never goes unnoticed."""

    model_config = ConfigDict(extra="forbid")
    input: str = Field(min_length=1, max_length=2048, description="JSONL file or folder.")
    output: str = Field(
        min_length=1,
        max_length=2048,
        description="Output folder; must not exist. `{job_id}` is replaced by the job's id.",
    )
    format: OutputFormat | None = Field(default=None, description="Default: OUTPUT_FORMAT.")


class Job(BaseModel):
    """A job's persisted state, also its API representation."""

    id: str
    status: JobStatus
    input: str
    output: str
    format: OutputFormat
    release: str
    model: str
    predictor: str
    track: str
    caller: str
    submitted_at: str
    started_at: str | None = None
    finished_at: str | None = None
    attempts: int = 0
    rows_processed: int = 0
    rows_failed: int = 0
    error_samples: list[str] = Field(default_factory=list)
    error: str | None = None
    files: list[str] = Field(default_factory=list)


def predictor_of(release: Release) -> tuple[str, dict[str, Any]]:
    """The release's predictor name and its own config (without the pipeline's settings)."""
    config = dict(release.config)
    name = str(config.pop("predictor", "embeddings"))
    for key in ("batch_size", "concurrency"):
        config.pop(key, None)
    return name, config


def _now() -> str:
    return datetime.now(UTC).isoformat()


class JobStore:
    """One JSON file per job, replaced atomically: readers never see half a record."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def save(self, job: Job) -> None:
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self.folder / f"{job.id}.json"
            tmp = target.with_suffix(".tmp")
            tmp.write_text(job.model_dump_json(indent=2), encoding="utf-8")
            os.replace(tmp, target)

    def get(self, job_id: str) -> Job | None:
        path = self.folder / f"{job_id}.json"
        if not job_id.isalnum() or not path.exists():
            return None
        return Job.model_validate_json(path.read_text(encoding="utf-8"))

    def all(self) -> list[Job]:
        if not self.folder.exists():
            return []
        jobs = [Job.model_validate_json(p.read_text("utf-8")) for p in self.folder.glob("*.json")]
        return sorted(jobs, key=lambda job: job.submitted_at, reverse=True)


class JobService:
    """Checks and records submissions, runs jobs in order, publishes their outputs."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        releases: ReleaseManager,
        metrics: ServiceMetrics,
    ) -> None:
        self.settings, self.storage, self.releases, self.metrics = (
            settings, storage, releases, BatchMetrics(metrics),
        )  # fmt: skip
        self.store = JobStore(settings.data_dir / "jobs")
        self._queue: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._runner: threading.Thread | None = None
        self._warmup: threading.Thread | None = None
        self._predictor_loaded = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start Ray, re-queue unfinished jobs, start the runner and warm the predictor."""
        self.storage.prepare()
        ensure_ray(self.settings)
        for job in sorted(self.store.all(), key=lambda j: j.submitted_at):
            if job.status in ("queued", "running"):
                if job.status == "running":
                    log.warning("re-running a job interrupted by a restart", extra={"job": job.id})
                self.store.save(job.model_copy(update={"status": "queued"}))
                self._queue.put(job.id)
        self._update_queued()
        self._runner = threading.Thread(target=self._run_forever, name="job-runner", daemon=True)
        self._runner.start()
        self._start_warmup()

    def close(self) -> None:
        """Stop taking jobs; cancel the running one (it runs again at the next start)."""
        self._stop.set()
        if self._runner is not None:
            self._runner.join(timeout=self.settings.shutdown_grace_seconds)

    def readiness_checks(self) -> dict[str, Any]:
        return {
            "ray": ray_ready,
            "predictor": self.predictor_ready,
            "storage": self.storage.reachable,
        }

    def predictor_ready(self) -> bool:
        """The active release's predictor loads and predicts (loaded once, in the background)."""
        if not self._predictor_loaded:
            self._start_warmup()
            if self._warmup is not None:
                self._warmup.join(timeout=2.0)
        return self._predictor_loaded

    def _start_warmup(self) -> None:
        if self._warmup is None or not self._warmup.is_alive():
            self._warmup = threading.Thread(target=self._warm, name="predictor-warmup", daemon=True)
            self._warmup.start()

    def _warm(self) -> None:
        release = self.releases.releases[self.releases.state.active]
        name, config = predictor_of(release)
        try:
            inputs = render_inputs(release.prompt, ["readiness probe"])
            outputs = shared_predictor(name, config).predict(inputs)
        except Exception:
            log.exception("predictor failed to load", extra={"release": release.id})
            return
        self._predictor_loaded = all(len(column) == 1 for column in outputs.values())

    # -- submission --------------------------------------------------------------------------
    def submit(
        self, request: JobRequest, release: Release, track: str, caller: str, enqueue: bool = True
    ) -> Job:
        if self.releases.state.kill_switch:
            raise Unavailable(
                self.releases.safe_fallback,
                kill_switch=True,
                reason=self.releases.state.kill_switch_reason,
            )
        job_id = uuid.uuid4().hex
        source = self.storage.resolve(request.input, "input")
        self.storage.check_input(source)
        output_value = request.output.replace(JOB_ID_TOKEN, job_id)
        target = self.storage.resolve(output_value, "output")
        self.storage.check_output(target)
        for other in self.store.all():
            if other.status in ("queued", "running") and other.output == target.uri:
                raise Conflict(
                    f"output={target.uri!r} is the output of job {other.id} ({other.status})",
                    field="output",
                )
        name, _ = predictor_of(release)
        job = Job(
            id=job_id,
            status="queued",
            input=source.uri,
            output=target.uri,
            format=request.format or self.settings.default_output_format,
            release=release.id,
            model=release.model,
            predictor=name,
            track=track,
            caller=caller,
            submitted_at=_now(),
        )
        self.store.save(job)
        if enqueue:
            self._queue.put(job.id)
        self._update_queued()
        log.info("job queued", extra={"job": job.id, "release": release.id, "track": track})
        return job

    def get(self, job_id: str, caller: str) -> Job:
        job = self.store.get(job_id)
        if job is None or job.caller != caller:  # other callers' jobs do not exist for you
            raise NotFound(f"job {job_id!r} not found")
        return job

    def list(self, caller: str, limit: int) -> list[Job]:
        return [job for job in self.store.all() if job.caller == caller][:limit]

    def run_now(self, request: JobRequest, caller: str) -> Job:
        """Submit and run in this thread (the CLI and RayJob entrypoint)."""
        routed = self.releases.route(caller)
        self.storage.prepare()
        job = self.submit(request, routed.release, routed.track, caller, enqueue=False)
        ensure_ray(self.settings)
        self._execute(job.id)
        return self.store.get(job.id) or job

    # -- running -----------------------------------------------------------------------------
    def _run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                job_id = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            while self.releases.state.kill_switch and not self._stop.is_set():
                time.sleep(0.5)  # the kill switch holds queued jobs; they run once it is off
            if self._stop.is_set():
                return
            self._execute(job_id)

    def _execute(self, job_id: str) -> None:
        job = self.store.get(job_id)
        if job is None or job.status != "queued":
            return
        job = job.model_copy(
            update={"status": "running", "started_at": _now(), "attempts": job.attempts + 1}
        )
        self.store.save(job)
        self._update_queued()
        started = time.perf_counter()
        source = self.storage.resolve(job.input, "input")
        target = self.storage.resolve(job.output, "output")
        staging = self.storage.staging_for(target, job.id)
        counted = {"processed": 0, "failed": 0}

        def on_progress(snapshot: dict[str, Any]) -> None:
            nonlocal job
            for key, outcome in (("processed", "ok"), ("failed", "failed")):
                delta = max(0, snapshot[key] - counted[key])
                self.metrics.rows_processed.labels(outcome).inc(delta)
                counted[key] = max(counted[key], snapshot[key])
            job = job.model_copy(
                update={
                    "rows_processed": snapshot["processed"],
                    "rows_failed": snapshot["failed"],
                    "error_samples": snapshot["errors"],
                }
            )
            self.store.save(job)

        try:
            self.storage.discard(staging)  # a previous, interrupted attempt
            spec = self._spec(job, source, staging)
            result = run_pipeline(spec, on_progress, self._stop.is_set)
            manifest = {
                "job_id": job.id,
                "release": job.release,
                "model": job.model,
                "predictor": job.predictor,
                "format": job.format,
                "input": job.input,
                "rows": result.processed,
                "rows_failed": result.failed,
                "finished_at": _now(),
            }
            files = self.storage.publish(staging, target, manifest)
            job = job.model_copy(update={"status": "succeeded", "files": files})
        except JobCancelled:
            self.storage.discard(staging)
            self.store.save(job.model_copy(update={"status": "queued"}))
            log.info("job interrupted; it runs again at the next start", extra={"job": job.id})
            return
        except Exception as exc:
            self.storage.discard(staging)
            message = str(exc) if isinstance(exc, PipelineError | Conflict) else repr(exc)
            job = job.model_copy(update={"status": "failed", "error": message[:500]})
            if not isinstance(exc, PipelineError):
                log.exception("job failed", extra={"job": job.id})
        job = job.model_copy(update={"finished_at": _now()})
        self.store.save(job)
        self.metrics.job_duration.observe(time.perf_counter() - started)
        self.metrics.jobs.labels(job.status).inc()
        self._update_queued()
        log.info(
            "job finished",
            extra={"job": job.id, "status": job.status, "rows": job.rows_processed},
        )

    def _spec(self, job: Job, source: Any, staging: Any) -> PipelineSpec:
        if job.release not in self.releases.releases:
            raise PipelineError(f"release {job.release!r} is no longer in releases.yaml")
        release = self.releases.releases[job.release]
        name, config = predictor_of(release)
        settings = self.settings
        return PipelineSpec(
            input=source,
            staging=staging,
            output_format=job.format,
            predictor=name,
            predictor_config=config,
            model=release.model,
            prompt=release.prompt,
            operation=registered(name).operation,
            batch_size=int(release.config.get("batch_size", settings.batch_size)),
            concurrency=int(release.config.get("concurrency", settings.concurrency)),
            num_gpus=actor_gpus(settings, cluster_gpus()),
            text_field=settings.text_field,
            id_field=settings.id_field,
            max_text_chars=settings.max_text_chars,
            max_error_samples=settings.max_error_samples,
            progress_interval=settings.progress_interval_seconds,
            tracing={
                "service": settings.service_name,
                "version": settings.version,
                "endpoint": settings.otel_exporter_otlp_endpoint or "",
            },
        )

    def _update_queued(self) -> None:
        unfinished = sum(1 for job in self.store.all() if job.status in ("queued", "running"))
        self.metrics.queue_depth.set(unfinished)


def build_job_service(
    settings: Settings, releases: ReleaseManager, metrics: ServiceMetrics
) -> JobService:
    return JobService(settings, Storage(settings), releases, metrics)

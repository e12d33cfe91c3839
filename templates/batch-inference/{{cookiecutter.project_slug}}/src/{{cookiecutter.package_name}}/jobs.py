"""Batch jobs: submission checks, the shared job table and each replica's runner thread.

Jobs live in the service's PostgreSQL (`job_store.py`), so any replica answers for any job.
Each replica runs one job at a time in a background thread (Ray parallelises inside a job),
claiming the oldest queued one, or one whose runner died; the CLI and the RayJob run a job in
the foreground, recorded in the same table. A job stopped by a cancel, a shutdown or a crash
keeps its checkpoint and continues where it stopped.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from .job_model import JOB_ID_TOKEN, UNFINISHED, Job, JobRequest, JobStatus
from .job_store import JobLost, JobStore
from .outputs import EmptyOutput, publish
from .pipeline import JobCancelled, PipelineError, PipelineSpec, checkpointed_rows, run_pipeline
from .platform.database import open_pool
from .platform.errors import Conflict, NotFound, Unavailable
from .platform.metrics import ServiceMetrics
from .platform.releases import Release, ReleaseManager
from .predictors import model_digest, registered, render_inputs, shared_predictor
from .ray_runtime import actor_gpus, cluster_gpus, ensure_ray, ray_ready
from .rows import RowRules, scan_input
from .settings import Settings
from .storage import Location, Storage
from .telemetry import BatchMetrics

log = logging.getLogger(__name__)
__all__ = [
    "JOB_ID_TOKEN", "UNFINISHED", "Job", "JobRequest", "JobService", "JobStatus",
    "build_job_service", "predictor_of",
]  # fmt: skip


def predictor_of(release: Release) -> tuple[str, dict[str, Any]]:
    """The release's predictor name and its own config (without the pipeline's settings)."""
    config = dict(release.config)
    name = str(config.pop("predictor", "embeddings"))
    for key in ("batch_size", "concurrency", "max_concurrency"):
        config.pop(key, None)
    return name, config


def _now() -> str:
    return datetime.now(UTC).isoformat()


class JobService:
    """Checks and records submissions, runs claimed jobs, publishes their outputs."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        releases: ReleaseManager,
        metrics: ServiceMetrics,
        store: JobStore,
    ) -> None:
        self.settings, self.storage, self.releases, self.metrics = (
            settings, storage, releases, BatchMetrics(metrics),
        )  # fmt: skip
        self.store = store
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._runner: threading.Thread | None = None
        self._warmup: threading.Thread | None = None
        self._predictor_loaded = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start Ray, the runner (it resumes unfinished jobs) and the predictor's warm-up."""
        self.storage.prepare()
        ensure_ray(self.settings)
        self._update_queued()
        self._runner = threading.Thread(target=self._run_forever, name="job-runner", daemon=True)
        self._runner.start()
        self._start_warmup()

    def close(self) -> None:
        """Stop taking jobs; the running one checkpoints and is queued again for any replica."""
        self._stop.set()
        if self._runner is not None:
            self._runner.join(timeout=self.settings.shutdown_grace_seconds)
        self.store.pool.close()

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
    def _new_job(self, request: JobRequest, release: Release, track: str, caller: str) -> Job:
        if self.releases.state.kill_switch:
            raise Unavailable(
                self.releases.safe_fallback,
                kill_switch=True,
                reason=self.releases.state.kill_switch_reason,
            )
        job_id = uuid.uuid4().hex
        source = self.storage.resolve(request.input, "input")
        self.storage.check_input(source)
        target = self.storage.resolve(request.output.replace(JOB_ID_TOKEN, job_id), "output")
        self.storage.check_output(target)
        name, _ = predictor_of(release)
        return Job(
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

    def submit(self, request: JobRequest, release: Release, track: str, caller: str) -> Job:
        """Record a queued job; the first free replica runs it."""
        job = self._new_job(request, release, track, caller)
        self.store.insert(job)
        self._update_queued()
        log.info("job queued", extra={"job": job.id, "release": release.id, "track": track})
        return job

    def get(self, job_id: str, caller: str) -> Job:
        job = self.store.get(job_id) if job_id.isalnum() else None
        if job is None or job.caller != caller:  # other callers' jobs do not exist for you
            raise NotFound(f"job {job_id!r} not found")
        return job

    def list(self, caller: str, limit: int) -> list[Job]:
        return self.store.list(caller, limit)

    def cancel(self, job_id: str, caller: str) -> Job:
        """Cancel: a queued job at once, a running one at its runner's next progress check."""
        self.get(job_id, caller)
        job = self.store.request_cancel(job_id, caller)
        log.info("job cancel requested", extra={"job": job_id, "status": job.status})
        self._update_queued()
        return job

    def resume(self, job_id: str, caller: str) -> Job:
        self.get(job_id, caller)
        job = self.store.resume(job_id, caller)
        self._update_queued()
        return job

    def run_now(self, request: JobRequest, caller: str) -> Job:
        """Run a job in this thread (the CLI and RayJob entrypoint). The same input and output
        as an unfinished job whose runner died (a killed CLI, a RayJob retry) resumes it."""
        routed = self.releases.route(caller)
        self.storage.prepare()
        target = self.storage.resolve(request.output.replace(JOB_ID_TOKEN, "-"), "output")
        fixed = JOB_ID_TOKEN not in request.output  # a new job id makes a new output
        other = self.store.unfinished_for(target.uri) if fixed else None
        if other is not None:
            source = self.storage.resolve(request.input, "input")
            claimed = self.store.claim(self.owner, other.id) if other.input == source.uri else None
            if claimed is None:
                raise Conflict(
                    f"output={target.uri!r} is the output of job {other.id} ({other.status})",
                    field="output",
                )
            log.info("resuming an interrupted job", extra={"job": claimed.id})
            job = claimed
        else:
            job = self._new_job(request, routed.release, routed.track, caller)
            job = job.model_copy(update={"status": "running"})
            self.store.insert(job, owner=self.owner)
        ensure_ray(self.settings)
        self._execute(job)
        return self.store.get(job.id) or job

    # -- running -----------------------------------------------------------------------------
    def _run_forever(self) -> None:
        while not self._stop.is_set():
            job = None
            try:
                self._update_queued()  # jobs come from every replica and the CLI
                if not self.releases.state.kill_switch:  # the kill switch holds queued jobs
                    job = self.store.claim(self.owner)
            except Exception:
                log.exception("claiming a job failed")
            if job is None:
                self._stop.wait(self.settings.job_poll_seconds)
                continue
            self._execute(job)

    def _execute(self, job: Job) -> None:
        """Run a job this process owns (status running) to an end: done, failed, cancelled,
        or given back (queued) at shutdown."""
        job = job.model_copy(update={"started_at": _now(), "attempts": job.attempts + 1})
        self.store.save(job, self.owner)
        self._update_queued()
        started = time.perf_counter()
        source = self.storage.resolve(job.input, "input")
        target = self.storage.resolve(job.output, "output")
        staging = self.storage.staging_for(target, job.id)
        checkpoint = self.storage.staging_for(target, job.id, "checkpoint")
        counted = {"processed": 0, "failed": 0}
        lost = threading.Event()

        def on_progress(snapshot: dict[str, Any]) -> None:
            nonlocal job
            for key, outcome in (("processed", "ok"), ("failed", "failed")):
                delta = max(0, snapshot[key] - counted[key])
                self.metrics.rows_processed.labels(outcome).inc(delta)
                counted[key] = max(counted[key], snapshot[key])
            elapsed = max(time.perf_counter() - started, 1e-3)
            done = snapshot["processed"] + snapshot["failed"]
            job = job.model_copy(
                update={
                    "rows_processed": snapshot["processed"],
                    "rows_failed": snapshot["failed"],
                    "rows_per_second": round(done / elapsed, 2),
                    "attempt_rows": done,
                    "error_samples": snapshot["errors"],
                }
            )
            try:
                self.store.save(job, self.owner)
            except JobLost:
                lost.set()

        def should_stop() -> bool:
            return self._stop.is_set() or lost.is_set() or self.store.cancel_requested(job.id)

        status: JobStatus
        with self._heartbeat(job.id, lost):
            try:
                rows, input_sha256 = scan_input(source)
                spec = self._spec(job, source, staging, checkpoint, rows)
                skipped = checkpointed_rows(checkpoint)  # written by earlier attempts
                job = job.model_copy(
                    update={"rows_total": spec.total_rows, "rows_skipped": skipped}
                )
                self.store.save(job, self.owner)
                run_pipeline(spec, on_progress, should_stop)
                manifest = self._manifest(job, input_sha256)
                published = publish(self.storage, staging, target, job.format, manifest)
                self.storage.discard(checkpoint)  # published: the job is done for good
                duplicates = max(0, published.failed - counted["failed"])  # found while publishing
                self.metrics.rows_processed.labels("failed").inc(duplicates)
                status = "succeeded"
                job = job.model_copy(
                    update={
                        "files": [f.path for f in published.files],
                        "dead_letter": [f.path for f in published.dead_letter],
                        "rows_processed": published.rows,
                        "rows_failed": published.failed,
                    }
                )
            except (JobCancelled, JobLost):
                if lost.is_set():
                    log.warning("job taken over by another runner", extra={"job": job.id})
                    return
                if self.store.cancel_requested(job.id):
                    status = "cancelled"
                else:  # shutdown: any replica (or the next start) continues it
                    self._finish(job.model_copy(update={"status": "queued"}), started)
                    log.info(
                        "job interrupted; it continues on the next runner", extra={"job": job.id}
                    )
                    return
            except Exception as exc:
                status = "failed"
                expected = isinstance(exc, PipelineError | EmptyOutput | Conflict)
                job = job.model_copy(update={"error": (str(exc) if expected else repr(exc))[:500]})
                if not expected:
                    log.exception("job failed", extra={"job": job.id})
        self._finish(job.model_copy(update={"status": status, "finished_at": _now()}), started)

    @contextmanager
    def _heartbeat(self, job_id: str, lost: threading.Event) -> Iterator[None]:
        """Beat the job's heart from a thread while it runs, also while the model loads and
        the output is published (progress saves alone pause there)."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.settings.job_stale_seconds / 4):
                try:
                    self.store.beat(job_id, self.owner)
                except JobLost:
                    lost.set()
                    return
                except Exception:
                    log.warning("job heartbeat failed", extra={"job": job_id}, exc_info=True)

        thread = threading.Thread(target=beat, name="job-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _finish(self, job: Job, started: float) -> None:
        try:
            self.store.save(job, self.owner)
        except JobLost:
            log.warning("job taken over by another runner", extra={"job": job.id})
            return
        if job.status != "queued":
            self.metrics.job_duration.observe(time.perf_counter() - started)
            self.metrics.jobs.labels(job.status).inc()
        self._update_queued()
        log.info(
            "job finished",
            extra={"job": job.id, "status": job.status, "rows": job.rows_processed},
        )

    def _manifest(self, job: Job, input_sha256: str) -> dict[str, Any]:
        """What the output was computed from (lineage), committed last with the files."""
        release = self.releases.releases[job.release]
        name, config = predictor_of(release)
        return {
            "job_id": job.id,
            "release": job.release,
            "model": job.model,
            "model_sha256": model_digest(name, config),
            "predictor": job.predictor,
            "format": job.format,
            "input": job.input,
            "input_sha256": input_sha256,
            "rows_total": job.rows_total,
            "attempts": job.attempts,
            "image": self.settings.image,
            "version": self.settings.version,
            "git_sha": self.settings.git_sha,
            "finished_at": _now(),
        }

    def _spec(
        self, job: Job, source: Location, staging: Location, checkpoint: Location, rows: int
    ) -> PipelineSpec:
        if job.release not in self.releases.releases:
            raise PipelineError(f"release {job.release!r} is no longer in releases.yaml")
        release = self.releases.releases[job.release]
        name, config = predictor_of(release)
        settings = self.settings
        pool_max = release.config.get("max_concurrency", settings.max_concurrency)
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
            max_concurrency=int(pool_max),
            cpus_per_actor=settings.cpus_per_actor,
            total_rows=rows,
            checkpoint=checkpoint,
            num_gpus=actor_gpus(settings, cluster_gpus()),
            rules=RowRules(settings.text_field, settings.id_field, settings.max_text_chars),
            max_bad_ratio=settings.max_bad_ratio,
            block_rows=settings.block_rows,
            max_error_samples=settings.max_error_samples,
            progress_interval=settings.progress_interval_seconds,
            tracing={
                "service": settings.service_name,
                "version": settings.version,
                "endpoint": settings.otel_exporter_otlp_endpoint or "",
            },
        )

    def _update_queued(self) -> None:
        self.metrics.queue_depth.set(self.store.count_unfinished())


def build_job_service(
    settings: Settings, url: str, releases: ReleaseManager, metrics: ServiceMetrics
) -> JobService:
    """The job service on the database at `url` (its table is created if needed)."""
    pool = open_pool(url, "batch-jobs", settings.database_pool_size)
    store = JobStore(pool, settings.service_name, settings.job_stale_seconds)
    store.create_schema()
    return JobService(settings, Storage(settings), releases, metrics, store)

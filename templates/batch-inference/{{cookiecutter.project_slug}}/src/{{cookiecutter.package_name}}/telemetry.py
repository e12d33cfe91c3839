"""The batch service's own metric families, registered on the chassis's registry."""

from __future__ import annotations

from .platform.metrics import ServiceMetrics

JOB_STATUSES = ("succeeded", "failed")
ROW_OUTCOMES = ("ok", "failed")


class BatchMetrics:
    """Rows by outcome, jobs by final status, the queue and job durations."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.platform = metrics
        self.rows_processed = metrics.counter(
            "batch_rows_processed_total",
            "Rows processed by batch jobs, by outcome (ok, failed).",
            ["outcome"],
        )
        self.jobs = metrics.counter(
            "batch_jobs_total", "Batch jobs finished, by final status.", ["status"]
        )
        self.queue_depth = metrics.gauge(
            "batch_queue_depth", "Jobs submitted and not yet finished (queued or running)."
        )
        self.job_duration = metrics.histogram(
            "batch_job_duration_seconds",
            "Wall time of one batch job.",
            buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600),
        )
        for outcome in ROW_OUTCOMES:  # start at zero: every dashboard series exists at once
            self.rows_processed.labels(outcome)
        for status in JOB_STATUSES:
            self.jobs.labels(status)

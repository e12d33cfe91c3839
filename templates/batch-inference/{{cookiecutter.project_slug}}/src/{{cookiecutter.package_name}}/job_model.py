"""A job as callers submit it and as every replica sees it (the API representation)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from .settings import OutputFormat

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
UNFINISHED: tuple[JobStatus, ...] = ("queued", "running")
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
    """A job's state, stored in the service's PostgreSQL (every replica sees every job)."""

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
    rows_total: int | None = Field(default=None, description="Input rows (lines), once counted.")
    rows_skipped: int = Field(
        default=0, description="Rows earlier attempts wrote (checkpointed); this one skips them."
    )
    attempt_rows: int = Field(default=0, description="Rows this attempt has read and handled.")
    rows_processed: int = Field(default=0, description="Rows with a prediction.")
    rows_failed: int = Field(default=0, description="Rows sent to the dead letters.")
    rows_per_second: float | None = Field(default=None, description="This attempt's rate.")
    cancel_requested: bool = False
    runner: str | None = Field(default=None, description="host:pid running it, if running.")
    error_samples: list[str] = Field(default_factory=list)
    error: str | None = None
    files: list[str] = Field(default_factory=list)
    dead_letter: list[str] = Field(
        default_factory=list, description="Rejected rows with a reason each, in `format`."
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rows_done(self) -> int:
        """Rows written so far; while a resumed job runs, its counts are this attempt's."""
        published = self.rows_processed + self.rows_failed
        return published if self.status == "succeeded" else published + self.rows_skipped

    @computed_field  # type: ignore[prop-decorator]
    @property
    def progress(self) -> float | None:
        """Share of input rows done, 0..1."""
        if not self.rows_total:
            return None
        return round(min(1.0, self.rows_done / self.rows_total), 4)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at this attempt's rate (running jobs only)."""
        if self.status != "running" or not self.rows_total or not self.rows_per_second:
            return None
        return round(max(0, self.rows_total - self.rows_done) / self.rows_per_second, 1)

"""Jobs in the service's PostgreSQL: every replica sees every job, and jobs outlive pods.

A replica claims a queued job with `FOR UPDATE SKIP LOCKED`, so each job runs on one replica;
the runner's progress saves are its heartbeat. A job whose heartbeat stops (its process was
killed) is claimed again by any replica after `stale_seconds` and resumes from its
checkpoint. Saves are guarded by the owner, so a runner that lost its job stops writing.
A partial unique index keeps two unfinished jobs from writing one output.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from .job_model import UNFINISHED, Job
from .platform.errors import Conflict, NotFound

SCHEMA_LOCK = 7_240_200  # advisory lock id: one replica creates the table at a time
SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_jobs (
    id           text        PRIMARY KEY,
    service      text        NOT NULL,
    caller       text        NOT NULL,
    status       text        NOT NULL,
    output       text        NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    owner        text,
    heartbeat_at timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    body         jsonb       NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS batch_jobs_unfinished_output
    ON batch_jobs (service, output) WHERE status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS batch_jobs_caller ON batch_jobs (service, caller, submitted_at);
"""
_COLUMNS = "body, status, cancel_requested, owner"


class JobLost(RuntimeError):
    """This process no longer owns the job (another replica took it over)."""


def _job(row: dict[str, Any]) -> Job:
    body = dict(row["body"])
    body.update(status=row["status"], cancel_requested=row["cancel_requested"], runner=row["owner"])
    return Job.model_validate(body)


def _body(job: Job) -> Jsonb:
    return Jsonb(job.model_dump(exclude={"rows_done", "progress", "eta_seconds", "runner"}))


class JobStore:
    """The `batch_jobs` table of one service."""

    def __init__(self, pool: ConnectionPool[Any], service: str, stale_seconds: float) -> None:
        self.pool, self.service, self.stale = pool, service, f"{stale_seconds} seconds"

    def create_schema(self) -> None:
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            conn.execute(SCHEMA)

    def insert(self, job: Job, owner: str | None = None) -> None:
        """Record a new job (running under `owner` when given); Conflict if its output is
        already the output of an unfinished job."""
        try:
            with self.pool.connection() as conn:
                conn.execute(
                    "INSERT INTO batch_jobs (id, service, caller, status, output, owner,"
                    " heartbeat_at, body) VALUES (%s, %s, %s, %s, %s, %s,"
                    " CASE WHEN %s::text IS NULL THEN NULL ELSE now() END, %s)",
                    (job.id, self.service, job.caller, job.status, job.output, owner, owner,
                     _body(job)),
                )  # fmt: skip
        except psycopg.errors.UniqueViolation:
            other = self.unfinished_for(job.output)
            detail = f"job {other.id} ({other.status})" if other else "an unfinished job"
            raise Conflict(
                f"output={job.output!r} is the output of {detail}", field="output"
            ) from None

    def save(self, job: Job, owner: str) -> None:
        """Store the runner's view of its job (and beat its heart); JobLost if not its job."""
        with self.pool.connection() as conn:
            updated = conn.execute(
                "UPDATE batch_jobs SET body = %s, status = %s, heartbeat_at = now(),"
                " owner = CASE WHEN %s = 'running' THEN owner END"
                " WHERE service = %s AND id = %s AND owner = %s",
                (_body(job), job.status, job.status, self.service, job.id, owner),
            ).rowcount
        if updated != 1:
            raise JobLost(f"job {job.id} is no longer run by {owner}")

    def beat(self, job_id: str, owner: str) -> None:
        """The runner is alive (a thread beats while it runs the job); JobLost if not its job."""
        with self.pool.connection() as conn:
            updated = conn.execute(
                "UPDATE batch_jobs SET heartbeat_at = now()"
                " WHERE service = %s AND id = %s AND owner = %s AND status = 'running'",
                (self.service, job_id, owner),
            ).rowcount
        if updated != 1:
            raise JobLost(f"job {job_id} is no longer run by {owner}")

    def get(self, job_id: str) -> Job | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM batch_jobs WHERE service = %s AND id = %s",
                (self.service, job_id),
            ).fetchone()
        return _job(row) if row else None

    def list(self, caller: str, limit: int) -> list[Job]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM batch_jobs WHERE service = %s AND caller = %s"
                " ORDER BY submitted_at DESC LIMIT %s",
                (self.service, caller, limit),
            ).fetchall()
        return [_job(row) for row in rows]

    def unfinished_for(self, output: str) -> Job | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM batch_jobs WHERE service = %s AND output = %s"
                " AND status = ANY(%s)",
                (self.service, output, list(UNFINISHED)),
            ).fetchone()
        return _job(row) if row else None

    def count_unfinished(self) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT count(*) AS n FROM batch_jobs WHERE service = %s AND status = ANY(%s)",
                (self.service, list(UNFINISHED)),
            ).fetchone()
        return int(row["n"]) if row else 0

    def claim(self, owner: str, job_id: str | None = None) -> Job | None:
        """Take the oldest queued job (or `job_id`), or a running one whose runner stopped
        beating; it is `running` under `owner` when this returns it."""
        only = "AND id = %(id)s" if job_id else ""
        with self.pool.connection() as conn:
            conn.execute(  # a runner killed while it was cancelling: the job is cancelled
                "UPDATE batch_jobs SET status = 'cancelled', owner = NULL,"
                " body = body || jsonb_build_object('status', 'cancelled')"
                " WHERE service = %s AND status = 'running' AND cancel_requested"
                " AND heartbeat_at < now() - %s::interval",
                (self.service, self.stale),
            )
            row = conn.execute(
                "UPDATE batch_jobs SET status = 'running', owner = %(owner)s,"
                " heartbeat_at = now() WHERE id = ("
                "  SELECT id FROM batch_jobs WHERE service = %(service)s AND NOT cancel_requested"
                "  AND (status = 'queued' OR (status = 'running'"
                "       AND heartbeat_at < now() - %(stale)s::interval))"
                f"  {only} ORDER BY submitted_at LIMIT 1 FOR UPDATE SKIP LOCKED"
                f") RETURNING {_COLUMNS}",
                {"owner": owner, "service": self.service, "stale": self.stale, "id": job_id},
            ).fetchone()
        return _job(row) if row else None

    def request_cancel(self, job_id: str, caller: str) -> Job:
        """Cancel a queued job now; ask the runner of a running one to stop (it checkpoints)."""
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM batch_jobs WHERE service = %s AND id = %s"
                " AND caller = %s FOR UPDATE",
                (self.service, job_id, caller),
            ).fetchone()
            if row is None:
                raise NotFound(f"job {job_id!r} not found")
            job = _job(row)
            if job.status not in UNFINISHED:
                raise Conflict(
                    f"job {job_id} is {job.status}: only queued or running jobs can be cancelled"
                )
            status = "cancelled" if job.status == "queued" else job.status
            conn.execute(
                "UPDATE batch_jobs SET cancel_requested = true, status = %s,"
                " owner = CASE WHEN %s = 'cancelled' THEN NULL ELSE owner END,"
                " body = body || jsonb_build_object('status', %s::text)"
                " WHERE service = %s AND id = %s",
                (status, status, status, self.service, job_id),
            )
        return job.model_copy(update={"status": status, "cancel_requested": True})

    def resume(self, job_id: str, caller: str) -> Job:
        """Queue a cancelled (or failed) job again; it continues from its checkpoint."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "UPDATE batch_jobs SET status = 'queued', cancel_requested = false, owner = NULL,"
                " body = body || jsonb_build_object('status', 'queued', 'error', null)"
                " WHERE service = %s AND id = %s AND caller = %s"
                f" AND status IN ('cancelled', 'failed') RETURNING {_COLUMNS}",
                (self.service, job_id, caller),
            ).fetchone()
        if row is None:
            job = self.get(job_id)
            if job is None or job.caller != caller:
                raise NotFound(f"job {job_id!r} not found")
            raise Conflict(f"job {job_id} is {job.status}: only cancelled or failed jobs resume")
        return _job(row)

    def cancel_requested(self, job_id: str) -> bool:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT cancel_requested FROM batch_jobs WHERE service = %s AND id = %s",
                (self.service, job_id),
            ).fetchone()
        return bool(row and row["cancel_requested"])

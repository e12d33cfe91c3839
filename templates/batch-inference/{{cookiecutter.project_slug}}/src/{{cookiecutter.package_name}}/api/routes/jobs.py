"""Job routes: submit, status, list, cancel, resume. Thin: the job service does the work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from ...jobs import Job, JobRequest, JobService
from ...platform.context import RequestContextDep

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


def get_jobs(request: Request) -> JobService:
    service: JobService = request.app.state.jobs
    return service


JobServiceDep = Annotated[JobService, Depends(get_jobs)]


@router.post("", status_code=202, response_model=Job)
def submit_job(
    body: JobRequest, ctx: RequestContextDep, jobs: JobServiceDep, response: Response
) -> Job:
    """Queue a job; poll `Location` for its status. 503 with the safe fallback while the kill
    switch is on."""
    job = jobs.submit(body, ctx.release, ctx.track, ctx.caller.id)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job


@router.get("/{job_id}", response_model=Job)
def job_status(job_id: str, ctx: RequestContextDep, jobs: JobServiceDep) -> Job:
    return jobs.get(job_id, ctx.caller.id)


@router.get("", response_model=list[Job])
def list_jobs(
    ctx: RequestContextDep, jobs: JobServiceDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[Job]:
    """The caller's jobs, newest first."""
    return jobs.list(ctx.caller.id, limit)


@router.delete("/{job_id}", status_code=202, response_model=Job)
def cancel_job(job_id: str, ctx: RequestContextDep, jobs: JobServiceDep) -> Job:
    """Cancel a job: a queued one at once, a running one within seconds (its checkpoint is
    kept: `POST /v1/jobs/{id}/resume` continues it). 409 once it has finished."""
    return jobs.cancel(job_id, ctx.caller.id)


@router.post("/{job_id}/resume", status_code=202, response_model=Job)
def resume_job(job_id: str, ctx: RequestContextDep, jobs: JobServiceDep) -> Job:
    """Queue a cancelled or failed job again; it skips the rows it already wrote."""
    return jobs.resume(job_id, ctx.caller.id)

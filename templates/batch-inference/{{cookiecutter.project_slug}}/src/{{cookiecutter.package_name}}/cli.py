"""Command line: `serve`, `release ...` (from the chassis) and `run INPUT OUTPUT`.

`run` is also the KubeRay RayJob entrypoint (deploy/rayjob.yaml): the same job service as the
API, run in the foreground, recorded in the same job registry.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from .jobs import JobRequest, JobService, build_job_service
from .platform.app import open_shared_state
from .platform.cli import openapi_command, release_group, serve_command
from .platform.errors import ServiceError
from .platform.metrics import ServiceMetrics
from .platform.releases import Manifest, ReleaseManager
from .settings import Settings


@click.group()
def main() -> None:
    """{{ cookiecutter.project_name }}: {{ cookiecutter.description }}"""


# the chassis's serve exits 0 once uvicorn has drained (running jobs are back in the queue)
main.add_command(serve_command("{{ cookiecutter.package_name }}.main:create_app", Settings))
main.add_command(openapi_command("{{ cookiecutter.package_name }}.main:create_app"))
main.add_command(release_group(Settings))


@main.command("run")
@click.argument("input_path", metavar="INPUT")
@click.argument("output_path", metavar="OUTPUT")
@click.option("--format", "output_format", type=click.Choice(["parquet", "jsonl"]), default=None)
@click.option(
    "--caller",
    default="cli",
    show_default=True,
    help="Whose job it is: an API caller id (a job's `caller`) lets that caller watch it.",
)
def run(input_path: str, output_path: str, output_format: str | None, caller: str) -> None:
    """Run one job now: read INPUT (JSONL), write predictions to OUTPUT (must not exist).

    Run again after a crash with the same INPUT and OUTPUT, it resumes the interrupted job.
    """
    settings = Settings()
    try:
        with _job_service(settings) as service:
            request = JobRequest(input=input_path, output=output_path, format=output_format)  # type: ignore[arg-type]
            job = service.run_now(request, caller=caller)
    except ServiceError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(job.model_dump_json(indent=2))
    if job.status != "succeeded":
        sys.exit(1)


@main.command("cancel")
@click.argument("job_id")
@click.option("--caller", default="cli", show_default=True, help="The job's caller.")
def cancel(job_id: str, caller: str) -> None:
    """Cancel a job: its runner stops within seconds and keeps its checkpoint."""
    settings = Settings()
    try:
        with _job_service(settings) as service:
            job = service.cancel(job_id, caller)
    except ServiceError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(job.model_dump_json(indent=2))


@contextmanager
def _job_service(settings: Settings) -> Iterator[JobService]:
    with open_shared_state(settings) as (url, shared):
        manifest = Manifest.load(settings.releases_path)
        releases = ReleaseManager(manifest, shared, settings.kill_switch)
        metrics = ServiceMetrics(settings.service_name, settings.version)
        service = build_job_service(settings, url, releases, metrics)
        try:
            yield service
        finally:
            service.close()


if __name__ == "__main__":
    main()

"""Command line: `serve`, `release ...` (from the chassis) and `run INPUT OUTPUT`.

`run` is also the KubeRay RayJob entrypoint (deploy/rayjob.yaml): the same job service as the
API, run in the foreground, recorded in the same job registry.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from .jobs import JobRequest, JobService, build_job_service
from .platform.app import open_shared_state
from .platform.cli import release_group, serve_command
from .platform.errors import ServiceError
from .platform.metrics import ServiceMetrics
from .platform.releases import Manifest, ReleaseManager
from .settings import Settings


@click.group()
def main() -> None:
    """{{ cookiecutter.project_name }}: {{ cookiecutter.description }}"""


serve = serve_command("{{ cookiecutter.package_name }}.main:create_app", Settings)
_serve_until_drained = serve.callback


def _serve_and_exit_cleanly(**options: Any) -> None:
    """uvicorn re-raises SIGTERM once its graceful shutdown is done (running jobs are back in
    the queue by then): the handler it finds is this one, so a drained pod exits 0."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    assert _serve_until_drained is not None
    _serve_until_drained(**options)


serve.callback = _serve_and_exit_cleanly
main.add_command(serve)
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

"""Command line: `serve`, `release ...` (from the chassis) and `run INPUT OUTPUT`.

`run` is also the KubeRay RayJob entrypoint (deploy/rayjob.yaml): the same job service as the
API, run in the foreground, recorded in the same job registry.
"""

from __future__ import annotations

import sys

import click

from .jobs import JobRequest, build_job_service
from .platform.app import open_releases
from .platform.cli import openapi_command, release_group, serve_command
from .platform.errors import ServiceError
from .platform.metrics import ServiceMetrics
from .settings import Settings


@click.group()
def main() -> None:
    """{{ cookiecutter.project_name }}: {{ cookiecutter.description }}"""


main.add_command(serve_command("{{ cookiecutter.package_name }}.main:create_app", Settings))
main.add_command(openapi_command("{{ cookiecutter.package_name }}.main:create_app"))
main.add_command(release_group(Settings))


@main.command("run")
@click.argument("input_path", metavar="INPUT")
@click.argument("output_path", metavar="OUTPUT")
@click.option("--format", "output_format", type=click.Choice(["parquet", "jsonl"]), default=None)
def run(input_path: str, output_path: str, output_format: str | None) -> None:
    """Run one job now: read INPUT (JSONL), write predictions to OUTPUT (must not exist)."""
    settings = Settings()
    try:
        with open_releases(settings) as releases:
            service = build_job_service(
                settings, releases, ServiceMetrics(settings.service_name, settings.version)
            )
            request = JobRequest(input=input_path, output=output_path, format=output_format)  # type: ignore[arg-type]
            job = service.run_now(request, caller="cli")
    except ServiceError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(job.model_dump_json(indent=2))
    if job.status != "succeeded":
        sys.exit(1)


if __name__ == "__main__":
    main()

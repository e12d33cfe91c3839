"""`{{ cookiecutter.project_slug }}` command: serve, release, ingest, eval."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from .platform.app import open_shared_state
from .platform.cli import openapi_command, release_group, serve_command
from .platform.errors import ServiceError
from .platform.metrics import ServiceMetrics
from .settings import Settings, get_settings


@click.group()
def main() -> None:
    """{{ cookiecutter.project_name }}: {{ cookiecutter.description }}"""


main.add_command(serve_command("{{ cookiecutter.package_name }}.main:create_app", get_settings))
main.add_command(openapi_command("{{ cookiecutter.package_name }}.main:create_app"))
main.add_command(release_group(get_settings))


def _tenant(_: click.Context, __: click.Parameter, value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", value):
        raise click.BadParameter(
            f"{value!r}: use 1-63 lowercase letters, digits, '-' or '_', starting with a letter "
            "or digit"
        )
    return value


@main.command()
@click.argument("location")
@click.option("--tenant", required=True, callback=_tenant, help="Whose documents these are.")
def ingest(location: str, tenant: str) -> None:
    """Ingest LOCATION (a folder, a file or s3://bucket/prefix) into TENANT's documents."""
    from tqdm import tqdm

    from .ingest import iter_location, require_s3_prefix
    from .service import open_service

    settings = Settings()
    if location.startswith("s3://"):  # the same per-tenant prefixes the API enforces
        try:
            require_s3_prefix(location, tenant, settings.s3_allowed_prefixes)
        except ServiceError as exc:
            raise click.ClickException(exc.detail) from None
    path = Path(location)
    total = None
    if not location.startswith("s3://") and path.exists():
        total = 1 if path.is_file() else sum(1 for p in path.rglob("*") if p.is_file())
    try:
        metrics = ServiceMetrics(settings.service_name, settings.version)
        with (
            open_shared_state(settings) as (_url, shared),
            open_service(settings, metrics, shared) as rag,
        ):
            found = iter_location(
                location, settings.max_document_bytes, settings.aws_region,
                settings.aws_endpoint_url,
            )  # fmt: skip
            with tqdm(total=total, unit="doc", file=sys.stderr, desc="ingesting") as bar:
                report = rag.ingestion.ingest(tenant, found, progress=lambda _: bar.update(1))
    except ServiceError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(json.dumps(report.as_dict(), indent=2))
    counts = report.counts()
    click.echo(
        f"ingested {counts['ingested']}, replaced {counts['replaced']}, unchanged "
        f"{counts['unchanged']}, skipped {counts['skipped']} ({counts['chunks']} chunks written)",
        err=True,
    )


@main.command("eval")
@click.option("--eval-dir", type=click.Path(path_type=Path, file_okay=False), default=Path("eval"))
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the JSON report (default: eval/report.json).",
)
@click.option(
    "--configured",
    is_flag=True,
    help="Use the configured embeddings and model instead of the offline defaults.",
)
def evaluate(eval_dir: Path, report_path: Path | None, configured: bool) -> None:
    """Run the golden and red-team sets; exit 1 when a figure is below eval/thresholds.yaml."""
    from .evaluation import run_offline_eval

    settings = Settings()
    try:
        report = run_offline_eval(settings, eval_dir, configured)
    except ServiceError as exc:
        raise click.ClickException(exc.detail) from None
    from .evaluation import changes

    target = report_path or eval_dir / "report.json"
    previous = json.loads(target.read_text(encoding="utf-8")) if target.is_file() else None
    report["changes"] = changes(previous, report)  # what this release changed, for its PR
    target.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for name, figure in report["figures"].items():
        verdict = "ok" if name not in report["failures"] else "BELOW THRESHOLD"
        click.echo(f"{name:24} {figure:.3f}  (min {report['thresholds'][name]})  {verdict}")
    for name, delta in report["changes"].get("figures", {}).items():
        click.echo(f"changed: {name} {delta:+.3f} since {report['changes']['from_release']}")
    calibrated = report["calibration"]
    click.echo(
        f"calibrated refusal threshold for {calibrated['model']}: min_score"
        f" {calibrated['min_score']} (balanced accuracy {calibrated['balanced_accuracy']})"
    )
    if report["failures"]:
        raise click.ClickException(f"evaluation below thresholds: {', '.join(report['failures'])}")


if __name__ == "__main__":
    main()

"""The `goldenpath` command: template CI for the kit and its forks."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import click

from .bootstrap import bootstrap_group
from .matrix import SUPPORTED, TEMPLATES


@click.group()
@click.version_option(package_name="goldenpath")
def main() -> None:
    """Golden paths to production AI services."""


@main.command()
@click.option("--template", "templates", multiple=True, type=click.Choice(TEMPLATES),
              help="Only this template (repeatable). Default: all.")  # fmt: skip
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the rendered projects in this directory.")  # fmt: skip
@click.option("--no-tests", is_flag=True, help="Render and check only; skip generated suites.")
@click.option("--kit", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="The kit checkout to test (default: this one).")  # fmt: skip
def bake(templates: tuple[str, ...], keep: Path | None, no_tests: bool, kit: Path | None) -> None:
    """Render every template x combination, check it, run its tests; non-zero on any failure."""
    from . import TEMPLATES_DIR
    from .bake import bake as bake_one

    templates_dir = (kit / "templates") if kit else TEMPLATES_DIR

    chosen = [c for c in SUPPORTED if not templates or c.template in templates]
    workdir = keep or Path(tempfile.mkdtemp(prefix="goldenpath-bake-"))
    failed = 0
    click.echo(f"{'template':<20} {'combination':<24} {'result':<6} {'seconds':>8}")
    try:
        for combination in chosen:
            out = workdir / combination.template / combination.name
            if out.exists():
                shutil.rmtree(out)
            result = bake_one(combination, out, not no_tests, templates_dir)
            seconds = sum(result.seconds.values())
            status = "pass" if result.ok else "FAIL"
            click.echo(f"{combination.template:<20} {combination.name:<24} {status:<6} "
                       f"{seconds:>8.1f}")  # fmt: skip
            if not result.ok:
                failed += 1
                for failure in result.failures:
                    click.echo("    " + failure.replace("\n", "\n    "), err=True)
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            click.echo(f"rendered projects kept in {keep}")
    click.echo(f"{len(chosen) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


main.add_command(bootstrap_group)  # goldenpath infra bootstrap | preflight

if __name__ == "__main__":
    main()

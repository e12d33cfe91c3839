"""The `goldenpath` command: template CI for the kit and its forks."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import click

from .bootstrap import bootstrap_group


@click.group()
@click.version_option(package_name="goldenpath")
def main() -> None:
    """Golden paths to production AI services."""


@main.command()
@click.option("--template", "templates", multiple=True, metavar="NAME",
              help="Only this template of the kit (repeatable). Default: all.")  # fmt: skip
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the rendered projects in this directory.")  # fmt: skip
@click.option("--no-tests", is_flag=True, help="Render and check only; skip generated suites.")
@click.option("--kit", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="The kit checkout to test (default: this one).")  # fmt: skip
def bake(templates: tuple[str, ...], keep: Path | None, no_tests: bool, kit: Path | None) -> None:
    """Render every template x combination, check it, run its tests; non-zero on any failure.

    The templates and combinations are the kit's own data (its chooser and
    templates/matrix.yaml), so a fork bakes what it added.
    """
    from . import KIT_ROOT
    from .bake import bake as bake_one
    from .matrix import MatrixError, load

    kit_root = (kit or KIT_ROOT).resolve()
    try:
        matrix = load(kit_root)
    except (OSError, KeyError, ValueError, MatrixError) as exc:
        raise click.ClickException(f"cannot read the kit's matrix: {exc}") from None
    unknown = set(templates) - set(matrix.templates)
    if unknown:
        listed = ", ".join(matrix.templates)
        raise click.BadParameter(f"{sorted(unknown)} not in the kit's chooser: {listed}",
                                 param_hint="--template")  # fmt: skip
    chosen = [c for c in matrix.supported if not templates or c.template in templates]
    workdir = keep or Path(tempfile.mkdtemp(prefix="goldenpath-bake-"))
    live = sys.stdout.isatty()
    failed = 0
    click.echo(f"{'template':<20} {'combination':<24} {'result':<6} {'tests':>9} {'seconds':>8}")
    try:
        for number, combination in enumerate(chosen, 1):
            out = workdir / combination.template / combination.name
            if out.exists():
                shutil.rmtree(out)
            row = f"{combination.template:<20} {combination.name:<24}"
            counts = [0, 0]

            def progress(done: int, total: int, row: str = row, counts: list[int] = counts) -> None:
                previous = counts[0]
                counts[:] = [done, total]
                if live:
                    click.echo(f"\r{row} {'...':<6} {done:>4}/{total:<4}", nl=False)
                elif total and done * 4 // total > previous * 4 // total:  # each quarter
                    click.echo(f"{row} {'...':<6} {done:>4}/{total:<4}")

            click.echo(f"{row} {'render':<6} [{number}/{len(chosen)}]", nl=not live)
            result = bake_one(combination, out, not no_tests, kit_root / "templates", progress)
            seconds = sum(result.seconds.values())
            status = "pass" if result.ok else "FAIL"
            tests = f"{counts[0]}/{counts[1]}" if counts[1] else "-"
            click.echo(("\r" if live else "") + f"{row} {status:<6} {tests:>9} {seconds:>8.1f}")
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


@main.command()
@click.argument("template", required=False)
@click.argument("answers", nargs=-1)
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), help="Where the project folder is made.")  # fmt: skip
@click.option("--no-input", is_flag=True, help="Take the defaults and the key=value answers.")
@click.option("--kit", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="The kit to render from (default: this one).")  # fmt: skip
def new(
    template: str | None,
    answers: tuple[str, ...],
    output_dir: Path,
    no_input: bool,
    kit: Path | None,
) -> None:
    """Make a new service: TEMPLATE's questions, each answer checked as you type it.

    ANSWERS are key=value pairs that replace a question's default (as with cookiecutter).
    """
    from . import KIT_ROOT
    from .new import AnswerRefused, ask, choose_template, render

    kit_root = kit or KIT_ROOT
    if template and "=" in template:  # no TEMPLATE given, only answers
        answers, template = (template, *answers), None
    extra = {}
    for pair in answers:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="ANSWERS")
        extra[key] = value
    name = template or choose_template(kit_root, no_input)
    template_dir = kit_root / "templates" / name
    if not (template_dir / "cookiecutter.json").is_file():
        raise click.BadParameter(f"{name!r} is not a template in {kit_root / 'templates'}",
                                 param_hint="TEMPLATE")  # fmt: skip
    try:
        color = None if os.environ.get("NO_COLOR") else "red"  # no-color.org
        chosen = ask(template_dir, extra, no_input, lambda line: click.secho(line, fg=color))
    except AnswerRefused as refused:
        click.echo(f"error: {refused}", err=True)
        sys.exit(1)
    except (KeyboardInterrupt, EOFError):
        click.echo("\nstopped: nothing was written", err=True)
        sys.exit(130)
    project = render(template_dir, chosen, output_dir)
    click.echo(f"made {project}")


@main.command()
@click.option("--write", is_flag=True, help="Write each templates/<name>/template.yaml.")
@click.option("--bundle", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also copy each template here with its symlinks resolved.")  # fmt: skip
@click.option("--kit", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="The kit (default: this one).")  # fmt: skip
def backstage(write: bool, bundle: Path | None, kit: Path | None) -> None:
    """Backstage scaffolder templates from the cookiecutter questions; non-zero if stale."""
    from . import KIT_ROOT
    from .backstage import bundle as bundle_one
    from .backstage import dump, scaffolder_template
    from .matrix import load

    kit_root = (kit or KIT_ROOT).resolve()
    stale = []
    for name in load(kit_root).templates:
        path = kit_root / "templates" / name / "template.yaml"
        text = dump(scaffolder_template(path.parent, kit_root))
        if write:
            path.write_text(text)
        elif not path.is_file() or path.read_text() != text:
            stale.append(str(path.relative_to(kit_root)))
        if bundle is not None:
            target = bundle_one(kit_root, name, bundle)
            (target / "template.yaml").write_text(text)
            click.echo(f"bundled {target}")
    if stale:
        raise click.ClickException(f"stale, run `goldenpath backstage --write`: {stale}")


main.add_command(bootstrap_group)  # goldenpath infra bootstrap | preflight

if __name__ == "__main__":
    main()

"""`run INPUT OUTPUT`: the RayJob entrypoint runs a job in the foreground."""

from __future__ import annotations

import json

from click.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import main


def _env(settings) -> dict[str, str]:
    return {
        "DATA_DIR": str(settings.data_dir),
        "STORAGE_ROOT": str(settings.storage_root),
        "RELEASES_PATH": str(settings.releases_path),
        "DATABASE_URL": settings.database_url.get_secret_value(),
    }


def test_run_writes_the_output(settings, make_input, ray_cluster, read_output):
    name = make_input("cli.jsonl", [{"id": "x", "text": "from the command line"}, "broken"])

    result = CliRunner().invoke(main, ["run", name, "out/cli"], env=_env(settings))

    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)  # logs go to stderr
    assert job["status"] == "succeeded" and job["caller"] == "cli"
    assert (job["rows_processed"], job["rows_failed"]) == (1, 1)
    rows = read_output(settings.storage_root / "out" / "cli", "{{ cookiecutter.output_format }}")
    assert [row["id"] for row in rows] == ["x"]


def test_run_refuses_a_missing_input_in_one_line(settings):
    result = CliRunner().invoke(main, ["run", "missing.jsonl", "out/x"], env=_env(settings))
    assert result.exit_code == 1
    assert result.output.strip() == "Error: input='missing.jsonl' does not exist"

"""`run INPUT OUTPUT`: the RayJob entrypoint runs a job in the foreground, recorded in the
service's job table, so the caller it names watches it through the API; `cancel`."""

from __future__ import annotations

import hashlib
import json

from click.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import main

CALLER = "key:" + hashlib.sha256(b"dev-api-key").hexdigest()[:16]  # the development API key


def _env(settings) -> dict[str, str]:
    return {
        "DATA_DIR": str(settings.data_dir),
        "STORAGE_ROOT": str(settings.storage_root),
        "RELEASES_PATH": str(settings.releases_path),
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "MAX_BAD_RATIO": str(settings.max_bad_ratio),
    }


def test_run_writes_the_output_and_the_api_shows_the_job(
    settings, make_input, ray_cluster, read_output, client, auth_headers
):
    name = make_input("cli.jsonl", [{"id": "x", "text": "from the command line"}, "broken"])

    command = ["run", name, "out/cli", "--caller", CALLER]
    result = CliRunner().invoke(main, command, env=_env(settings))

    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)  # logs go to stderr
    assert job["status"] == "succeeded" and job["caller"] == CALLER
    seen = client.get(f"/v1/jobs/{job['id']}", headers=auth_headers).json()
    assert seen["status"] == "succeeded" and seen["rows_done"] == 2 and seen["progress"] == 1.0
    cancel = CliRunner().invoke(main, ["cancel", job["id"], "--caller", CALLER], env=_env(settings))
    assert cancel.exit_code == 1
    assert cancel.output.strip() == (
        f"Error: job {job['id']} is succeeded: only queued or running jobs can be cancelled"
    )
    assert (job["rows_processed"], job["rows_failed"]) == (1, 1)
    rows = read_output(settings.storage_root / "out" / "cli", "{{ cookiecutter.output_format }}")
    assert [row["id"] for row in rows] == ["x"]


def test_run_refuses_a_missing_input_in_one_line(settings):
    result = CliRunner().invoke(main, ["run", "missing.jsonl", "out/x"], env=_env(settings))
    assert result.exit_code == 1
    assert result.output.strip() == "Error: input='missing.jsonl' does not exist"

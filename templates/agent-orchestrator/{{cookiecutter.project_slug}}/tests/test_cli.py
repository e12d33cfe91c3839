"""The command line: `run` executes the agent once, as the API would, and prints JSON."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import main


@pytest.fixture
def env(settings) -> dict[str, str]:
    values = {
        "DATA_DIR": str(settings.data_dir),
        "RELEASES_PATH": str(settings.releases_path),
        "MODEL_MAX_RETRIES": "0",
    }
    values["DATABASE_URL"] = settings.database_url.get_secret_value()
{%- if cookiecutter.llm == "openai-compatible" %}
    values["OPENAI_BASE_URL"] = settings.openai_base_url
{%- elif cookiecutter.llm == "bedrock" %}
    values["BEDROCK_ENDPOINT_URL"] = settings.bedrock_endpoint_url
{%- endif %}
    return values


def test_run_prints_the_result_with_its_tool_calls(env, examples):
    result = CliRunner().invoke(main, ["run", examples.lookup.task], env=env)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["status"] == "completed"
    assert body["tool_calls"][0]["name"] == examples.lookup_tool
    again = CliRunner().invoke(
        main, ["run", examples.unknown.task, "--thread-id", body["thread_id"]], env=env
    )
    assert json.loads(again.output)["thread_id"] == body["thread_id"]


def test_run_refuses_an_empty_task_in_one_line(env):
    result = CliRunner().invoke(main, ["run", "  "], env=env)
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: task=")
    assert len(result.output.strip().splitlines()) == 1

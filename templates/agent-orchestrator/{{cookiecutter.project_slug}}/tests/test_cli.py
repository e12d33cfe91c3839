"""The command line is a client of the running service: the same authentication, tenants,
approver role and separation of duties as any API caller (no side door), one-line errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
{%- if cookiecutter.human_approval == "y" %}
from conftest import APPROVER_KEY
{%- endif %}

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.platform.config import DEVELOPMENT_SECRETS


@pytest.fixture
def url(replicas) -> str:
    (replica,) = replicas(1)
    return replica.url


def cli(*args: str, key: str = DEVELOPMENT_SECRETS["api_key"], url: str = "") -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"AGENT_URL": url, "AGENT_API_KEY": key})
    return result.exit_code, result.output


def test_run_prints_the_result_and_errors_are_one_line(url, examples):
    code, output = cli("run", examples.lookup.task, url=url)
    assert code == 0, output
    body = json.loads(output)
    assert body["status"] == "completed" and body["tool_calls"][0]["name"] == examples.lookup_tool
    code, again = cli("run", examples.unknown.task, "--thread-id", body["thread_id"], url=url)
    assert json.loads(again)["thread_id"] == body["thread_id"]
    code, output = cli("run", "  ", url=url)
    assert code == 1 and output.strip().startswith("Error: 422: task")
    assert len(output.strip().splitlines()) == 1
    code, output = cli("show", "nope", key="wrong-key", url=url)
    assert code == 1 and output.strip() == "Error: 401: the API key is not valid"
{%- if cookiecutter.human_approval == "y" %}


def test_decide_goes_through_the_same_authorization_as_the_api(url, examples, system, risky_done):
    code, output = cli("run", examples.risky.task, url=url)
    thread_id = json.loads(output)["thread_id"]
    code, refused = cli("decide", thread_id, "--message", "self-approved", url=url)
    assert code == 1 and "403: deciding on a tool call needs the 'approver' role" in refused
    assert not risky_done(system)
    code, approved = cli("decide", thread_id, "--message", "ticket 7", key=APPROVER_KEY, url=url)
    assert code == 0, approved
    assert json.loads(approved)["tool_calls"][0]["outcome"] == "ok" and risky_done(system)
    code, again = cli("decide", thread_id, "--message", "twice", key=APPROVER_KEY, url=url)
    assert code == 1 and "no pending tool call" in again
{%- endif %}

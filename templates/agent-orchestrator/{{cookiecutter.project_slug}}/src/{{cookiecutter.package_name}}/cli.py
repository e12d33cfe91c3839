"""`{{ cookiecutter.project_slug }}`: serve the API, manage releases, and run the agent from the shell."""

from __future__ import annotations

import getpass
from collections.abc import Callable

import click
from pydantic import ValidationError

from .platform.app import open_releases
from .platform.cli import release_group, serve_command
from .platform.errors import ServiceError
from .platform.logs import configure_logging
from .platform.metrics import ServiceMetrics
from .platform.releases import ReleaseManager
from .schemas import {% if cookiecutter.human_approval == "y" %}ApprovalRequest, {% endif %}RunRequest, RunResult
from .service import AgentService, open_service
from .settings import Settings


@click.group()
def main() -> None:
    """{{ cookiecutter.description }}"""


main.add_command(serve_command("{{ cookiecutter.package_name }}.main:create_app", Settings))
main.add_command(release_group(Settings))


def _with_agent(action: Callable[[AgentService, ReleaseManager, str], RunResult]) -> None:
    """Open the service as the API does (same data_dir, same release routing), act, print JSON."""
    settings = Settings()
    configure_logging(settings.service_name, "WARNING")
    actor = f"cli:{getpass.getuser()}"
    metrics = ServiceMetrics(settings.service_name, settings.version)
    try:
        with (
            open_releases(settings) as releases,
            open_service(settings, releases, metrics) as agent,
        ):
            result = action(agent, releases, actor)
    except ServiceError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(result.model_dump_json(indent=2))


def _one_line(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"])
    return f"{field}={error.get('input')!r} is not allowed: {error['msg']}"


@main.command("run")
@click.argument("task")
@click.option("--thread-id", default=None, help="Continue this thread instead of a new one.")
def run(task: str, thread_id: str | None) -> None:
    """Run the agent once on TASK and print the result (tool calls included) as JSON."""
    try:
        request = RunRequest(task=task, thread_id=thread_id)
    except ValidationError as exc:
        raise click.ClickException(_one_line(exc)) from None
    _with_agent(
        lambda agent, releases, actor: agent.start(
            request.task,
            request.thread_id,
            releases.route(actor).release,
            releases.state.kill_switch,
            actor,
        )
    )
{%- if cookiecutter.human_approval == "y" %}


@main.command("approve")
@click.argument("thread_id")
@click.option("--reject", is_flag=True, help="Reject instead: the risky call never runs.")
@click.option("--reason", required=True, help="Why; kept in the audit log.")
def approve(thread_id: str, reject: bool, reason: str) -> None:
    """Approve (or --reject) the risky tool calls the run on THREAD_ID waits on."""
    try:
        decision = ApprovalRequest(approved=not reject, reason=reason)
    except ValidationError as exc:
        raise click.ClickException(_one_line(exc)) from None
    _with_agent(
        lambda agent, releases, actor: agent.decide(
            thread_id,
            decision.approved,
            decision.reason,
            releases.route(actor).release,
            releases.state.kill_switch,
            actor,
        )
    )
{%- endif %}


if __name__ == "__main__":
    main()

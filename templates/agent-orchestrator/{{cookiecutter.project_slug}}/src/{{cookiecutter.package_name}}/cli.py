"""`{{ cookiecutter.project_slug }}`: serve the API, manage releases, run and decide through the
API, and verify the audit.

`run`, `show` and `decide` are clients of the running service (`--url`, `--api-key` or
AGENT_URL / AGENT_API_KEY): the CLI goes through the same authentication, tenant checks,
approver role and separation of duties as any API caller; it has no side door.
`audit verify` reads the service's database directly (an operator's check).
"""

from __future__ import annotations

import json
from typing import Any

import click
import httpx

from .audit import AuditLog
from .platform.app import open_releases
from .platform.cli import openapi_command, release_group, serve_command
from .platform.database import open_pool
from .platform.logs import configure_logging
from .settings import Settings


@click.group()
def main() -> None:
    """{{ cookiecutter.description }}"""


main.add_command(serve_command("{{ cookiecutter.package_name }}.main:create_app", Settings))
main.add_command(openapi_command("{{ cookiecutter.package_name }}.main:create_app"))
main.add_command(release_group(Settings))

url_option = click.option(
    "--url", envvar="AGENT_URL", default="http://127.0.0.1:8000", show_default=True,
    help="The running service (env AGENT_URL).",
)  # fmt: skip
key_option = click.option(
    "--api-key", envvar="AGENT_API_KEY", required=True,
    help="Your API key (env AGENT_API_KEY); approving needs one with the approver role.",
)  # fmt: skip
tenant_option = click.option("--tenant", default=None, help="When your key reaches several.")


def _call(method: str, url: str, api_key: str, path: str, **kwargs: Any) -> Any:
    """One API call; an error is its problem detail on one line, and exit status 1."""
    try:
        response = httpx.request(
            method, url.rstrip("/") + path, headers={"X-API-Key": api_key}, timeout=120, **kwargs
        )
    except httpx.HTTPError as exc:
        raise click.ClickException(f"--url={url!r} could not be reached: {exc}") from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise click.ClickException(f"{response.status_code}: {detail}")
    return response.json()


def _echo(body: Any) -> None:
    click.echo(json.dumps(body, indent=2))


@main.command("run")
@click.argument("task")
@click.option("--thread-id", default=None, help="Continue this thread instead of a new one.")
@url_option
@key_option
@tenant_option
def run(task: str, thread_id: str | None, url: str, api_key: str, tenant: str | None) -> None:
    """Run the agent once on TASK and print the result (tool calls included) as JSON."""
    body = {"task": task, "thread_id": thread_id, "tenant": tenant}
    _echo(_call("POST", url, api_key, "/v1/runs", json={k: v for k, v in body.items() if v}))


@main.command("show")
@click.argument("thread_id")
@url_option
@key_option
@tenant_option
def show(thread_id: str, url: str, api_key: str, tenant: str | None) -> None:
    """Print THREAD_ID's state: status, pending calls (with their args_hash), history, audit."""
    params = {"tenant": tenant} if tenant else {}
    _echo(_call("GET", url, api_key, f"/v1/runs/{thread_id}", params=params))


@main.command("decide")
@click.argument("thread_id")
@click.option("--reject", is_flag=True, help="Reject instead: the calls never run.")
@click.option("--edit", "edited", default=None, help="JSON arguments to run instead (one call).")
@click.option("--message", required=True, help="Why; kept in the audit log.")
@url_option
@key_option
@tenant_option
def decide(
    thread_id: str,
    reject: bool,
    edited: str | None,
    message: str,
    url: str,
    api_key: str,
    tenant: str | None,
) -> None:
    """Approve (or --reject, or --edit) every call THREAD_ID waits on, as shown now."""
    params = {"tenant": tenant} if tenant else {}
    state = _call("GET", url, api_key, f"/v1/runs/{thread_id}", params=params)
    pending = (state.get("pending_approval") or {}).get("tool_calls", [])
    if not pending:
        raise click.ClickException(f"thread_id={thread_id!r} has no pending tool call")
    args = None
    if edited is not None:
        if len(pending) != 1:
            raise click.ClickException("--edit needs a thread with exactly one pending call")
        try:
            args = json.loads(edited)
        except ValueError as exc:
            raise click.ClickException(f"--edit={edited!r} is not JSON: {exc}") from None
    action = "reject" if reject else ("edit" if edited is not None else "approve")
    decisions = [
        {"tool_call_id": call["id"], "action": action, "args_hash": call["args_hash"],
         "message": message, **({"args": args} if args is not None else {})}
        for call in pending
    ]  # fmt: skip
    body = {"decisions": decisions, **({"tenant": tenant} if tenant else {})}
    _echo(_call("POST", url, api_key, f"/v1/runs/{thread_id}/decisions", json=body))


@main.group("audit")
def audit() -> None:
    """The tool audit: hash-chained per tenant and per thread."""


@audit.command("verify")
@click.option("--tenant", default=None, help="One tenant; all of them if unset.")
def verify(tenant: str | None) -> None:
    """Check every link of the audit in the service's database; exit 1 at the first broken one."""
    settings = Settings()
    configure_logging(settings.service_name, "WARNING")
    with open_releases(settings) as releases:
        pool = open_pool(releases.shared.url, "audit-verify", 2)
        try:
            log = AuditLog(pool)
            reports = [log.verify(t) for t in ([tenant] if tenant else log.tenants())]
        finally:
            pool.close()
    if not reports or (tenant and not reports[0].entries):
        where = f"tenant={tenant!r}" if tenant else "any tenant"
        raise click.ClickException(
            f"no tool audit entries for {where} in this database: check DATABASE_URL / DATA_DIR"
        )
    for report in reports:
        click.echo(json.dumps(report.__dict__))
    if not all(report.ok for report in reports):
        raise SystemExit(1)


if __name__ == "__main__":
    main()

"""Command-line pieces every service has: `serve` and `release status|promote|rollback|...`.

Release commands change the shared state in the service's database (or call a running
service's admin API with `--url`), so every replica follows them without a restart.
"""

from __future__ import annotations

import getpass
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import httpx
import uvicorn

from .app import open_releases
from .config import PlatformSettings
from .errors import ServiceError
from .releases import ReleaseManager


def serve_command(
    app_factory: str, settings_factory: Callable[[], PlatformSettings]
) -> click.Command:
    """`serve`: uvicorn with graceful shutdown (in-flight requests finish on SIGTERM)."""

    @click.command("serve")
    @click.option("--host", default=None, help="Bind address (default from HOST: 127.0.0.1).")
    @click.option("--port", default=None, type=int, help="Port (default from PORT: 8000).")
    def serve(host: str | None, port: int | None) -> None:
        """Serve the API; SIGTERM lets in-flight requests finish first."""
        settings = settings_factory()
        # uvicorn drains in-flight requests on SIGTERM, puts back the handler it found and
        # raises the signal again; finding this one, the process ends with exit code 0 (a
        # clean stop, as on every rollout) instead of dying by the signal.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        uvicorn.run(
            app_factory,
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
            log_config=None,
        )

    return serve


def openapi_command(app_factory: str) -> click.Command:
    """`openapi`: the service's OpenAPI document, as the running service serves it at
    /openapi.json; `make openapi` writes it to docs/openapi.json for Backstage's API entity."""

    @click.command("openapi")
    @click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Write here instead of printing.")  # fmt: skip
    def openapi(output: Path | None) -> None:
        """Print (or write) the OpenAPI document; no server, database or model is started."""
        from uvicorn.importer import import_from_string

        app = import_from_string(app_factory)()
        text = json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"
        if output is None:
            click.echo(text, nl=False)
        else:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text)

    return openapi


def _exit_cleanly(signum: int, _frame: object) -> None:
    sys.exit(0)


class AdminClient:
    """The same operations as `ReleaseManager`, through a running service's admin API."""

    def __init__(self, url: str, admin_token: str, actor: str, timeout: float) -> None:
        self._client = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {admin_token}", "X-Actor": actor},
            timeout=timeout,
        )

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise click.ClickException(f"{self._client.base_url} unreachable: {exc}") from None
        if response.status_code >= 400:
            detail = response.json().get("detail", response.text) if response.content else ""
            raise click.ClickException(f"{response.status_code}: {detail}")
        return response.json()

    def status(self) -> dict[str, Any]:
        return dict(self._call("GET", "/admin/releases"))

    def promote(self, actor: str, reason: str, release_id: str | None = None) -> None:
        self._call("POST", "/admin/releases/promote", {"reason": reason, "release": release_id})

    def rollback(self, actor: str, reason: str, release_id: str | None = None) -> None:
        self._call("POST", "/admin/releases/rollback", {"reason": reason, "release": release_id})

    def set_canary(self, release_id: str | None, weight: int, actor: str, reason: str) -> None:
        body = {"release": release_id, "weight": weight, "reason": reason}
        self._call("POST", "/admin/releases/canary", body)

    def set_kill_switch(self, enabled: bool, actor: str, reason: str) -> None:
        self._call("POST", "/admin/kill-switch", {"enabled": enabled, "reason": reason})

    def audit_log(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/admin/releases/audit"))

    def verify(self) -> dict[str, Any]:
        return dict(self._call("GET", "/admin/releases/audit/verify"))


Manager = ReleaseManager | AdminClient


def release_group(settings_factory: Callable[[], PlatformSettings]) -> click.Group:
    actor = f"cli:{getpass.getuser()}"

    @click.group("release")
    @click.option(
        "--url",
        envvar="SERVICE_URL",
        default=None,
        help="A running service's base URL: change it through its admin API (ADMIN_TOKEN). "
        "Without it, the service's database (DATABASE_URL, or the embedded one under "
        "DATA_DIR) is changed directly; every replica follows within a second.",
    )
    @click.pass_context
    def release(ctx: click.Context, url: str | None) -> None:
        """Inspect and change which release serves traffic (no restart needed)."""
        settings = settings_factory()
        if url:
            token = settings.admin_token.get_secret_value()
            timeout = settings.outbound_timeout_seconds
            ctx.obj = AdminClient(url, token, actor, timeout)
        else:
            if settings.database_url is None:
                click.echo(
                    f"note: no DATABASE_URL: changing the embedded database under "
                    f"{settings.data_dir}, which only processes on this machine use; "
                    "set DATABASE_URL or --url to change a deployed service",
                    err=True,
                )
            try:
                ctx.obj = ctx.with_resource(open_releases(settings))
            except ServiceError as exc:
                raise click.ClickException(exc.detail) from None

    def run(action: Callable[[], None], manager: Manager) -> None:
        try:
            action()
        except ServiceError as exc:
            raise click.ClickException(exc.detail) from None
        click.echo(json.dumps(manager.status(), indent=2))

    @release.command("status")
    @click.pass_obj
    def status(manager: Manager) -> None:
        """Show the active release, the canary and the kill switch."""
        click.echo(json.dumps(manager.status(), indent=2))

    @release.command("audit")
    @click.pass_obj
    def audit(manager: Manager) -> None:
        """Print the audit log: who changed what, when, why, from and to."""
        for entry in manager.audit_log():
            click.echo(json.dumps(entry, sort_keys=True))

    @release.command("verify")
    @click.pass_obj
    def verify(manager: Manager) -> None:
        """Check the audit's hash chain; exit 1 naming the first entry that breaks it."""
        result = manager.verify() if isinstance(manager, AdminClient) else (
            manager.verify_audit().as_dict())  # fmt: skip
        click.echo(json.dumps(result, indent=2))
        if not result["ok"]:
            raise click.ClickException(
                f"audit chain broken at entry {result['broken_at']}: {result['problem']}"
            )

    @release.command("promote")
    @click.option("--release", "release_id", default=None, help="Default: the canary.")
    @click.option("--reason", required=True)
    @click.pass_obj
    def promote(manager: Manager, release_id: str | None, reason: str) -> None:
        """Make the canary (or --release) the active release."""
        run(lambda: manager.promote(actor, reason, release_id), manager)

    @release.command("rollback")
    @click.option("--release", "release_id", default=None, help="Default: the previous one.")
    @click.option("--reason", required=True)
    @click.pass_obj
    def rollback(manager: Manager, release_id: str | None, reason: str) -> None:
        """Return to the previous active release at once and drop the canary."""
        run(lambda: manager.rollback(actor, reason, release_id), manager)

    @release.command("set-canary")
    @click.argument("release_id")
    @click.option("--weight", type=click.IntRange(0, 100), required=True)
    @click.option("--reason", required=True)
    @click.pass_obj
    def set_canary(manager: Manager, release_id: str, weight: int, reason: str) -> None:
        """Send WEIGHT percent of callers (sticky) to RELEASE_ID."""
        run(lambda: manager.set_canary(release_id, weight, actor, reason), manager)

    @release.command("kill-switch")
    @click.argument("state", type=click.Choice(["on", "off"]))
    @click.option("--reason", required=True)
    @click.pass_obj
    def kill_switch(manager: Manager, state: str, reason: str) -> None:
        """Serve the safe fallback instead of the model path (on), or go back (off)."""
        run(lambda: manager.set_kill_switch(state == "on", actor, reason), manager)

    return release

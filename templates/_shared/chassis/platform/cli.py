"""Command-line pieces every service has: `serve` and `release status|promote|rollback|...`.

Release commands change the same state file and audit log the running service reads, so the
service follows them without a restart.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable

import click
import uvicorn

from .config import PlatformSettings
from .errors import ServiceError
from .releases import ReleaseManager


def serve_command(app_factory: str, settings_factory: Callable[[], PlatformSettings]) -> click.Command:
    @click.command("serve")
    @click.option("--host", default=None, help="Bind address (default from HOST: 127.0.0.1).")
    @click.option("--port", default=None, type=int, help="Port (default from PORT: 8000).")
    def serve(host: str | None, port: int | None) -> None:
        """Serve the API; SIGTERM lets in-flight requests finish first."""
        settings = settings_factory()
        uvicorn.run(
            app_factory,
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
            log_config=None,
        )

    return serve


def release_group(settings_factory: Callable[[], PlatformSettings]) -> click.Group:
    @click.group("release")
    @click.pass_context
    def release(ctx: click.Context) -> None:
        """Inspect and change which release serves traffic (no restart needed)."""
        settings = settings_factory()
        ctx.obj = ReleaseManager(settings.releases_path, settings.data_dir, settings.kill_switch)

    def run(action: Callable[[], None], manager: ReleaseManager) -> None:
        try:
            action()
        except ServiceError as exc:
            raise click.ClickException(exc.detail) from None
        click.echo(json.dumps(manager.status(), indent=2))

    actor = f"cli:{getpass.getuser()}"

    @release.command("status")
    @click.pass_obj
    def status(manager: ReleaseManager) -> None:
        """Show the active release, the canary and the kill switch."""
        click.echo(json.dumps(manager.status(), indent=2))

    @release.command("promote")
    @click.option("--release", "release_id", default=None, help="Default: the canary.")
    @click.option("--reason", required=True)
    @click.pass_obj
    def promote(manager: ReleaseManager, release_id: str | None, reason: str) -> None:
        """Make the canary (or --release) the active release."""
        run(lambda: manager.promote(actor, reason, release_id), manager)

    @release.command("rollback")
    @click.option("--release", "release_id", default=None, help="Default: the previous one.")
    @click.option("--reason", required=True)
    @click.pass_obj
    def rollback(manager: ReleaseManager, release_id: str | None, reason: str) -> None:
        """Return to the previous active release at once and drop the canary."""
        run(lambda: manager.rollback(actor, reason, release_id), manager)

    @release.command("set-canary")
    @click.argument("release_id")
    @click.option("--weight", type=click.IntRange(0, 100), required=True)
    @click.option("--reason", required=True)
    @click.pass_obj
    def set_canary(manager: ReleaseManager, release_id: str, weight: int, reason: str) -> None:
        """Send WEIGHT percent of callers (sticky) to RELEASE_ID."""
        run(lambda: manager.set_canary(release_id, weight, actor, reason), manager)

    @release.command("kill-switch")
    @click.argument("state", type=click.Choice(["on", "off"]))
    @click.option("--reason", required=True)
    @click.pass_obj
    def kill_switch(manager: ReleaseManager, state: str, reason: str) -> None:
        """Serve the safe fallback instead of the model path (on), or go back (off)."""
        run(lambda: manager.set_kill_switch(state == "on", actor, reason), manager)

    return release

"""The service's PostgreSQL: `DATABASE_URL` in production (Aurora), an embedded server locally.

In AWS, services log in with IAM database authentication (`DATABASE_IAM_AUTH=true`): the URL
names the user and no password; each new connection gets a fresh token from
`rds.generate_db_auth_token`, signed locally with the pod's IRSA credentials. A token is good
for 15 minutes to open a connection, and open connections outlive it ("IAM database
authentication", docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAMDBAuth.html,
read 2026-12-03), so the pools resolve their connect arguments per connection, never once.
URLs stay the currency between stores; the password for a URL lives in a registry, not in it.

Locally the `pgserver` wheel runs a real PostgreSQL under `DATA_DIR/postgres`, listening on a
Unix socket only. pgserver counts its users in `.handle_pids.json` and stops the server when
the last one leaves; a user killed with SIGKILL never leaves, so its pid would keep the server
alive (and orphaned) for good. `EmbeddedPostgres` drops pids of dead processes before it joins,
so the next clean stop really stops the server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from pydantic import SecretStr

log = logging.getLogger(__name__)

HANDLE_PIDS = ".handle_pids.json"  # pgserver's list of processes using the server


def _handle_pids(pgdata: Path) -> list[int]:
    try:
        return [int(pid) for pid in json.loads((pgdata / HANDLE_PIDS).read_text("utf-8"))]
    except (FileNotFoundError, ValueError, TypeError):
        return []


def live_handle_pids(pgdata: Path) -> list[int]:
    """The pids in pgserver's handle list that are still running processes."""
    return [pid for pid in _handle_pids(pgdata) if psutil.pid_exists(pid) and _not_zombie(pid)]


def _not_zombie(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def clear_stale_handles(pgdata: Path) -> list[int]:
    """Remove dead processes from pgserver's handle list; returns the pids removed."""
    pids, live = _handle_pids(pgdata), live_handle_pids(pgdata)
    stale = [pid for pid in pids if pid not in live]
    if stale:
        (pgdata / HANDLE_PIDS).write_text(json.dumps(live), encoding="utf-8")
        log.warning("embedded postgres: cleared stale handles", extra={"pids": stale})
    return stale


class EmbeddedPostgres:
    """A real PostgreSQL server from the `pgserver` wheel, data under `pgdata`, Unix socket.

    Several processes on one machine (a local fleet, the CLI beside `serve`) share one server;
    the last one to stop stops it.
    """

    def __init__(self, pgdata: Path) -> None:
        from pgserver.postgres_server import PostgresServer, get_server  # without DATABASE_URL

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        pgdata.mkdir(exist_ok=True)
        with PostgresServer._lock:  # the lock pgserver itself holds while it counts users
            clear_stale_handles(pgdata)
        self.pgdata = pgdata
        self._server: Any = get_server(pgdata, cleanup_mode="stop")
        self.url: str = self._server.get_uri()
        log.info("embedded postgres started", extra={"pgdata": str(pgdata)})

    @property
    def pid(self) -> int | None:
        pid: int | None = self._server.get_pid()
        return pid

    def stop(self) -> None:
        """Leave the server; it stops when no other live process uses it."""
        self._server.cleanup()


PasswordProvider = Callable[[], str]
_PASSWORDS: dict[str, PasswordProvider] = {}
# RDS takes IAM tokens over TLS only, and the token is the password inside it: a TLS that
# does not check the server's name (`require`, `verify-ca`) hands it to whoever answers.
# AWS's own example connects with verify-full and the RDS CA bundle (AuroraUserGuide,
# UsingWithRDS.IAMDBAuth.Connecting.AWSCLI.PostgreSQL, read 2026-12-03).
IAM_SSL_MODES = ("verify-full",)


class DatabaseUrlError(ValueError):
    """A DATABASE_URL that cannot work with the chosen authentication."""


def check_iam_url(url: str) -> dict[str, str]:
    """The URL's parts, refused when IAM authentication cannot use it: one line naming why."""
    try:
        parts = {key: str(value) for key, value in conninfo_to_dict(url).items()}
    except psycopg.ProgrammingError as exc:
        raise DatabaseUrlError(f"DATABASE_URL is not a PostgreSQL URL: {exc}") from None
    if not parts.get("host") or not parts.get("user"):
        raise DatabaseUrlError("DATABASE_URL must name a host and a user for IAM authentication")
    if parts.get("password"):
        raise DatabaseUrlError(
            "DATABASE_URL must not carry a password with DATABASE_IAM_AUTH=true (tokens replace it)"
        )
    if parts.get("sslmode") not in IAM_SSL_MODES:
        raise DatabaseUrlError(
            f"DATABASE_URL sslmode={parts.get('sslmode')!r} refused with DATABASE_IAM_AUTH=true:"
            " the token is a password: use sslmode=verify-full with sslrootcert=<RDS CA bundle>"
        )
    return parts


def iam_token_provider(
    url: str, region: str, endpoint_url: str | None = None, client: Any = None
) -> PasswordProvider:
    """A function that signs a fresh RDS IAM token for the URL's host, port and user."""
    parts = check_iam_url(url)
    rds = client or boto3.client("rds", region_name=region, endpoint_url=endpoint_url)
    host, port, user = parts["host"], int(parts.get("port") or 5432), parts["user"]

    def token() -> str:
        value: str = rds.generate_db_auth_token(
            DBHostname=host, Port=port, DBUsername=user, Region=region
        )
        return value

    return token


def register_password(url: str, provider: PasswordProvider) -> None:
    """Connections to `url` log in with `provider()`, called once per new connection."""
    _PASSWORDS[url] = provider


def unregister_password(url: str) -> None:
    _PASSWORDS.pop(url, None)


def connection_kwargs(url: str, **base: Any) -> Callable[[], dict[str, Any]]:
    """Connect arguments for `url`, resolved each time a connection is opened (what psycopg
    pools accept as `kwargs`), so a registered password provider is asked every time."""

    def resolve() -> dict[str, Any]:
        provider = _PASSWORDS.get(url)
        return {**base, "password": provider()} if provider else dict(base)

    return resolve


def connect(url: str, **base: Any) -> psycopg.Connection[Any]:
    """One connection to `url`, with its registered password if any."""
    return psycopg.connect(url, **connection_kwargs(url, **base)())


@contextmanager
def database_url(
    url: SecretStr | None,
    data_dir: Path,
    iam_region: str | None = None,
    endpoint_url: str | None = None,
) -> Iterator[str]:
    """The URL to use: `url` when set, else an embedded server under `data_dir/postgres`.
    With `iam_region`, connections to `url` log in with RDS IAM tokens."""
    if url is not None:
        plain = url.get_secret_value()
        if iam_region is not None:
            register_password(plain, iam_token_provider(plain, iam_region, endpoint_url))
        try:
            yield plain
        finally:
            unregister_password(plain)
        return
    server = EmbeddedPostgres(data_dir / "postgres")
    try:
        yield server.url
    finally:
        server.stop()


def open_pool(url: str, name: str, size: int) -> ConnectionPool[Any]:
    """A pool of autocommit connections with dict rows, checked before use (a failover leaves
    dead connections behind) and without server-side prepares (PgBouncer, RDS Proxy), opened
    and waited on: what the service's own stores and LangGraph's PostgresSaver expect."""
    pool: ConnectionPool[Any] = ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs=connection_kwargs(
            url, autocommit=True, prepare_threshold=None, row_factory=dict_row
        ),
        check=ConnectionPool.check_connection,
        open=True,
        name=name,
    )
    pool.wait(timeout=30)
    return pool

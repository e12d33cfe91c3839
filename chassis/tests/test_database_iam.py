"""IAM database authentication: every new connection logs in with a freshly signed token,
against a real PostgreSQL that, like RDS, accepts only the newest credential for the user."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from pydantic import ValidationError

from goldenpath_chassis.config import PlatformSettings
from goldenpath_chassis.database import (
    DatabaseUrlError,
    EmbeddedPostgres,
    check_iam_url,
    connect,
    iam_token_provider,
    open_pool,
    register_password,
    unregister_password,
)

AURORA = "postgresql://ml-platform@db.cluster-abc.us-east-1.rds.amazonaws.com:5432/vectors"
VERIFY_FULL = "?sslmode=verify-full&sslrootcert=/etc/ssl/rds/global-bundle.pem"


@pytest.fixture
def password_user(platform_postgres: EmbeddedPostgres, database_url: str) -> Iterator[str]:
    """A login on the session's server that must present a password (scram), as an RDS user
    granted `rds_iam` must present a token; yields its URL, which carries no password."""
    role = f"iam_{uuid.uuid4().hex[:8]}"
    hba = platform_postgres.pgdata / "pg_hba.conf"
    original = hba.read_text()
    with psycopg.connect(platform_postgres.url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        hba.write_text(f"local all {role} scram-sha-256\n{original}")
        admin.execute("SELECT pg_reload_conf()")
    try:
        yield make_conninfo(database_url, user=role, password=None)
    finally:
        hba.write_text(original)
        with psycopg.connect(platform_postgres.url, autocommit=True) as admin:
            admin.execute("SELECT pg_reload_conf()")


def test_every_new_pooled_connection_logs_in_with_a_fresh_token(
    platform_postgres: EmbeddedPostgres, password_user: str
) -> None:
    role = psycopg.conninfo.conninfo_to_dict(password_user)["user"]
    issued: list[str] = []

    def sign() -> str:  # each token replaces the last: a cached one would be refused
        token = f"token-{len(issued)}-{uuid.uuid4().hex}"
        with psycopg.connect(platform_postgres.url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(str(role)), sql.Literal(token)
                )
            )
        issued.append(token)
        return token

    register_password(password_user, sign)
    try:
        pool = open_pool(password_user, "iam-test", 3)
        try:
            with pool.connection() as first, pool.connection() as second:
                assert first.execute("SELECT current_user AS u").fetchone() == {"u": role}
                assert second.execute("SELECT current_user AS u").fetchone() == {"u": role}
            with connect(password_user) as single:
                assert single.execute("SELECT 1").fetchone() == (1,)
        finally:
            pool.close()
        assert len(issued) >= 3, "one token per new connection"
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(password_user, password=issued[0]).close()  # a stale token
    finally:
        unregister_password(password_user)
    with pytest.raises(psycopg.OperationalError):  # unregistered: no password at all
        connect(password_user).close()


def test_tokens_are_signed_for_the_urls_host_port_and_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
    client = boto3.client("rds", region_name="us-east-1")  # signing is local: no request
    token = iam_token_provider(AURORA + VERIFY_FULL, "us-east-1", client=client)()
    assert token.startswith(
        "db.cluster-abc.us-east-1.rds.amazonaws.com:5432/?Action=connect&DBUser=ml-platform"
    )
    assert "X-Amz-Expires=900" in token  # RDS honours 15 minutes


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (AURORA, "sslmode=None refused"),
        (AURORA + "?sslmode=disable", "sslmode='disable' refused"),
        # TLS that does not check the server's name would hand the token to an impostor.
        (AURORA + "?sslmode=require", "sslmode='require' refused"),
        (AURORA + "?sslmode=verify-ca", "sslmode='verify-ca' refused"),
        (AURORA.replace("ml-platform@", "ml-platform:pw@") + "?sslmode=verify-full", "password"),
        ("postgresql:///vectors?sslmode=verify-full", "a host and a user"),
    ],
)
def test_iam_auth_refuses_a_url_it_cannot_use(url: str, message: str) -> None:
    with pytest.raises(DatabaseUrlError, match=message):
        check_iam_url(url)


def test_settings_refuse_iam_auth_without_a_usable_url() -> None:
    with pytest.raises(ValidationError, match="needs DATABASE_URL"):
        PlatformSettings(database_iam_auth=True)
    with pytest.raises(ValidationError, match="sslmode"):
        PlatformSettings(database_iam_auth=True, database_url=AURORA)
    settings = PlatformSettings(database_iam_auth=True, database_url=AURORA + VERIFY_FULL)
    assert settings.database_iam_auth

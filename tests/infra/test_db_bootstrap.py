"""The database path closes (finding 7): the bootstrap SQL, run twice on a real PostgreSQL,
creates each team's IAM-only login and pgvector; the stack runs it as a scoped Job."""

import json
from typing import Any

import psycopg
import pytest
from goldenpath_infra.db_bootstrap import NAMESPACE, SERVICE_ACCOUNT, bootstrap_sql
from goldenpath_infra.guardrails import GuardrailError


def test_bootstrap_sql_creates_iam_logins_and_pgvector_idempotently(database_url: str) -> None:
    database = database_url.rsplit("/", 1)[1].split("?", 1)[0]
    with psycopg.connect(database_url, autocommit=True) as conn:
        # Aurora ships this role; IAM authentication is granted through it.
        conn.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam')"
            " THEN CREATE ROLE rds_iam; END IF; END $$;"
        )
        sql = bootstrap_sql(["search", "ml-platform"], database)
        conn.execute(sql)
        conn.execute(sql)  # the Job may run again: nothing fails, nothing doubles
        rows = conn.execute(
            "SELECT r.rolname, r.rolcanlogin, r.rolpassword IS NULL FROM pg_authid r"
            " WHERE r.rolname IN ('search', 'ml-platform') ORDER BY 1"
        ).fetchall()
        assert rows == [("ml-platform", True, True), ("search", True, True)]
        granted = conn.execute(
            "SELECT m.rolname FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.member"
            " JOIN pg_roles m ON m.oid = a.roleid WHERE r.rolname = 'search'"
        ).fetchall()
        assert ("rds_iam",) in granted
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
        owner = conn.execute(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'ml-platform'"
        ).fetchone()
        assert owner == ('"ml-platform"',)


def test_bootstrap_sql_refuses_a_name_that_could_escape_its_quotes() -> None:
    with pytest.raises(GuardrailError) as caught:
        bootstrap_sql(['x"; DROP TABLE t; --'], "vectors")
    assert caught.value.argument == "team"


def test_stack_runs_the_bootstrap_as_a_job_with_scoped_credentials(stack: Any) -> None:
    (job,) = stack.of_type("kubernetes:batch/v1:Job")
    assert job.inputs["metadata"]["namespace"] == NAMESPACE
    pod = job.inputs["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == SERVICE_ACCOUNT
    (container,) = pod["containers"]
    assert not [e for e in container["env"] if "PASSWORD" in e["name"]], "password in the spec"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["master"]["secret"]["secretName"] == "aurora-master"
    (config_map,) = stack.of_type("kubernetes:core/v1:ConfigMap")
    sql = config_map.inputs["data"]["bootstrap.sql"]
    assert "CREATE EXTENSION IF NOT EXISTS vector;" in sql
    for team in stack.config.teams:
        assert f'GRANT rds_iam TO "{team.name}";' in sql
    (external,) = [r for r in stack.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")]
    assert external.inputs["spec"]["dataFrom"] == [
        {"extract": {"key": stack.outputs["vector_store_secret_arn"]}}
    ]
    policy = next(
        json.loads(p.inputs["policy"])
        for p in stack.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.name.endswith("db-bootstrap-migrator")
    )
    reads = [s for s in policy["Statement"] if "secretsmanager:GetSecretValue" in s["Action"]]
    assert [s["Resource"] for s in reads] == [stack.outputs["vector_store_secret_arn"]]
    # No team role may read the master secret.
    for team_policy in stack.of_type("aws:iam/rolePolicy:RolePolicy"):
        if team_policy.name.endswith("-workload"):
            assert stack.outputs["vector_store_secret_arn"] not in team_policy.inputs["policy"]

"""The database path closed: a Job creates each team's database user (IAM authentication only)
and the pgvector extension, with credentials scoped to that one job.

The master secret (RDS-managed) reaches the job as files through External Secrets, using a
SecretStore that authenticates as the job's own service account (IRSA); no other namespace can
read it. Aurora IAM database authentication: a user granted `rds_iam` logs in with a token from
`rds.generate_db_auth_token` (docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/
UsingWithRDS.IAMDBAuth.DBAccounts.html, read 2026-12-02); the teams' IRSA roles already carry
`rds-db:connect` for `dbuser:<cluster resource id>/<team>`.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from goldenpath_infra.guardrails import check_team_name
from goldenpath_infra.irsa import service_account_role

NAMESPACE: Final = "platform-db"
SERVICE_ACCOUNT: Final = "db-migrator"
# postgres 17.9 (the engine version Aurora runs, versions.py), Docker official image on ECR Public.
IMAGE: Final = "public.ecr.aws/docker/library/postgres:17.9-alpine"
# Any high UID works: psql needs no passwd entry when PGUSER is set.
RUN_AS: Final = 65532


def bootstrap_sql(teams: Sequence[str], database: str) -> str:
    """Idempotent: safe to run on every change. Team names are DNS labels (checked), so they
    need no escaping inside double quotes."""
    for team in teams:
        check_team_name(team)
    lines = ["CREATE EXTENSION IF NOT EXISTS vector;"]
    for team in teams:
        lines += [
            "DO $$ BEGIN",
            f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{team}') THEN",
            f'    CREATE ROLE "{team}" LOGIN;',
            "  END IF;",
            "END $$;",
            f'GRANT rds_iam TO "{team}";',
            f'GRANT CONNECT ON DATABASE "{database}" TO "{team}";',
            f'CREATE SCHEMA IF NOT EXISTS "{team}" AUTHORIZATION "{team}";',
            f'ALTER ROLE "{team}" SET search_path = "{team}", public;',
        ]
    return "\n".join(lines) + "\n"


def migrator_policy(secret_arn: str, kms_key_arn: str, region: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    "Resource": secret_arn,
                },
                {
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": kms_key_arn,
                    "Condition": {
                        "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
                    },
                },
            ],
        }
    )


@dataclass(frozen=True)
class DatabaseBootstrapArgs:
    teams: Sequence[str]
    region: str
    provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    master_secret_arn: pulumi.Input[str]
    endpoint: pulumi.Input[str]
    port: pulumi.Input[int]
    database: pulumi.Input[str]
    # The External Secrets release: its CRDs must exist before the store and the secret.
    external_secrets: pulumi.Resource


class DatabaseBootstrap(pulumi.ComponentResource):
    job: k8s.batch.v1.Job

    def __init__(
        self, name: str, args: DatabaseBootstrapArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:data:DatabaseBootstrap", name, None, opts)
        role = service_account_role(
            f"{name}-migrator",
            provider_arn=args.oidc_provider_arn,
            issuer_url=args.oidc_issuer_url,
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            description="creates team database users (IRSA): reads the master secret only",
            parent=self,
        )
        aws.iam.RolePolicy(
            f"{name}-migrator",
            role=role.id,
            policy=pulumi.Output.all(args.master_secret_arn, args.kms_key_arn).apply(
                lambda p: migrator_policy(p[0], p[1], args.region)
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAMESPACE,
                labels={
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            ),
            opts=k8s_opts,
        )
        ns = namespace.metadata.name
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SERVICE_ACCOUNT,
                namespace=ns,
                annotations={"eks.amazonaws.com/role-arn": role.arn},
            ),
            opts=k8s_opts,
        )
        crds = pulumi.ResourceOptions(
            parent=self, provider=args.provider, depends_on=[args.external_secrets, account]
        )
        store = k8s.apiextensions.CustomResource(
            f"{name}-store",
            api_version="external-secrets.io/v1",
            kind="SecretStore",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="aws-secrets-manager", namespace=ns),
            spec={
                "provider": {
                    "aws": {
                        "service": "SecretsManager",
                        "region": args.region,
                        "auth": {"jwt": {"serviceAccountRef": {"name": SERVICE_ACCOUNT}}},
                    }
                }
            },
            opts=crds,
        )
        master = k8s.apiextensions.CustomResource(
            f"{name}-master",
            api_version="external-secrets.io/v1",
            kind="ExternalSecret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="aurora-master", namespace=ns),
            spec={
                "refreshInterval": "1h",
                "secretStoreRef": {"name": "aws-secrets-manager", "kind": "SecretStore"},
                "target": {"name": "aurora-master", "creationPolicy": "Owner"},
                "dataFrom": [{"extract": {"key": args.master_secret_arn}}],
            },
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[store]),
        )
        sql = bootstrap_sql(args.teams, "vectors")
        digest = hashlib.sha256(sql.encode()).hexdigest()[:10]
        script = k8s.core.v1.ConfigMap(
            f"{name}-sql",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"db-bootstrap-{digest}", namespace=ns),
            data={"bootstrap.sql": sql},
            opts=k8s_opts,
        )
        # Jobs are immutable: a new SQL digest is a new Job.
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"db-bootstrap-{digest}", namespace=ns),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=4,
                ttl_seconds_after_finished=86400,
                template=k8s.core.v1.PodTemplateSpecArgs(spec=_pod(args, script.metadata.name)),
            ),
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.provider, depends_on=[master, script]
            ),
        )
        self.register_outputs({"job": self.job.metadata.name})


def _pod(args: DatabaseBootstrapArgs, script: pulumi.Input[str]) -> k8s.core.v1.PodSpecArgs:
    env = [
        k8s.core.v1.EnvVarArgs(name="PGHOST", value=args.endpoint),
        k8s.core.v1.EnvVarArgs(name="PGPORT", value=pulumi.Output.from_input(args.port).apply(str)),
        k8s.core.v1.EnvVarArgs(name="PGDATABASE", value=args.database),
        # Aurora refuses plain connections (rds.force_ssl=1, vector_store.py).
        k8s.core.v1.EnvVarArgs(name="PGSSLMODE", value="require"),
    ]
    # The password is read from the mounted file by the shell, never placed in the pod spec.
    command = (
        'export PGUSER="$(cat /secrets/username)" PGPASSWORD="$(cat /secrets/password)"'
        " && exec psql -v ON_ERROR_STOP=1 -f /sql/bootstrap.sql"
    )
    return k8s.core.v1.PodSpecArgs(
        # The SecretStore authenticates as this account; the pod itself calls no API.
        service_account_name=SERVICE_ACCOUNT,
        automount_service_account_token=False,
        restart_policy="Never",
        security_context=k8s.core.v1.PodSecurityContextArgs(
            run_as_non_root=True,
            run_as_user=RUN_AS,
            run_as_group=RUN_AS,
            fs_group=RUN_AS,  # the mounted secret files are readable by the group
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        ),
        containers=[
            k8s.core.v1.ContainerArgs(
                name="psql",
                image=IMAGE,
                command=["/bin/sh", "-c", command],
                env=env,
                resources=k8s.core.v1.ResourceRequirementsArgs(
                    requests={"cpu": "50m", "memory": "64Mi"},
                    limits={"cpu": "500m", "memory": "256Mi"},
                ),
                security_context=k8s.core.v1.SecurityContextArgs(
                    allow_privilege_escalation=False,
                    read_only_root_filesystem=True,
                    run_as_non_root=True,
                    capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                ),
                volume_mounts=[
                    k8s.core.v1.VolumeMountArgs(
                        name="master", mount_path="/secrets", read_only=True
                    ),
                    k8s.core.v1.VolumeMountArgs(name="sql", mount_path="/sql", read_only=True),
                ],
            )
        ],
        volumes=[
            k8s.core.v1.VolumeArgs(
                name="master",
                secret=k8s.core.v1.SecretVolumeSourceArgs(
                    secret_name="aurora-master", default_mode=0o440
                ),
            ),
            k8s.core.v1.VolumeArgs(
                name="sql", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=script)
            ),
        ],
    )

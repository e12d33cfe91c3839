"""Aurora PostgreSQL Serverless v2 with pgvector, private to the cluster's nodes."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from goldenpath_infra import rules, versions
from goldenpath_infra.guardrails import (
    GuardrailError,
    check_db_instances,
    check_deletion_protection,
    check_encrypted,
    check_engine_version,
    check_environment,
    check_kms_key,
    check_not_public,
    check_retention,
)
from goldenpath_infra.security_group import (
    GuardedSecurityGroup,
    GuardedSecurityGroupArgs,
    IngressRule,
)

POSTGRES_PORT = 5432


@dataclass(frozen=True)
class VectorStoreArgs:
    environment: str
    vpc_id: pulumi.Input[str]
    isolated_subnet_ids: Sequence[pulumi.Input[str]]
    # The only source allowed to reach the database: the EKS nodes' security group.
    client_security_group_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    min_capacity: float
    max_capacity: float
    instances: int
    backup_retention_days: int
    deletion_protection: bool
    engine_version: str = versions.AURORA_POSTGRES_VERSION
    auto_minor_version_upgrade: bool = False
    data_api: bool = False
    database_name: str = "vectors"
    storage_encrypted: bool = True
    publicly_accessible: bool = False


class VectorStore(pulumi.ComponentResource):
    """Same SQL and pgvector as the local pgserver default; IAM auth for services."""

    cluster: aws.rds.Cluster
    secret_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: VectorStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:data:VectorStore", name, None, opts)
        check_environment(args.environment)
        check_not_public(args.publicly_accessible)
        check_encrypted(args.storage_encrypted, "storage_encrypted")
        check_kms_key(args.kms_key_arn)
        check_deletion_protection(args.environment, args.deletion_protection)
        check_retention(
            args.backup_retention_days, "backup_retention_days", rules.MIN_BACKUP_RETENTION_DAYS
        )
        if not 0 <= args.min_capacity <= args.max_capacity <= 256:
            raise GuardrailError(
                "capacity",
                {"min": args.min_capacity, "max": args.max_capacity},
                "needs 0 <= min <= max <= 256 ACUs",
            )
        check_db_instances(args.environment, args.instances)
        check_engine_version(args.engine_version, args.auto_minor_version_upgrade)
        child = pulumi.ResourceOptions(parent=self)
        prod = args.environment == "prod"

        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            description="isolated subnets: no route to or from the internet",
            subnet_ids=list(args.isolated_subnet_ids),
            opts=child,
        )
        security_group = GuardedSecurityGroup(
            f"{name}-sg",
            GuardedSecurityGroupArgs(
                vpc_id=args.vpc_id,
                description="PostgreSQL from the EKS nodes only",
                ingress=[
                    IngressRule(
                        "postgres from eks nodes",
                        "tcp",
                        POSTGRES_PORT,
                        POSTGRES_PORT,
                        source_security_group_id=args.client_security_group_id,
                    )
                ],
            ),
            opts=child,
        )
        major = args.engine_version.split(".", 1)[0]
        parameters = aws.rds.ClusterParameterGroup(
            f"{name}-params",
            family=f"aurora-postgresql{major}",
            description="TLS only; pgvector allowed",
            parameters=[
                aws.rds.ClusterParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                aws.rds.ClusterParameterGroupParameterArgs(
                    name="rds.allowed_extensions", value="vector,pg_stat_statements"
                ),
                aws.rds.ClusterParameterGroupParameterArgs(
                    name="shared_preload_libraries",
                    value="pg_stat_statements",
                    apply_method="pending-reboot",
                ),
            ],
            opts=child,
        )
        identifier = f"goldenpath-{args.environment}-vectors"
        self.cluster = aws.rds.Cluster(
            f"{name}-cluster",
            cluster_identifier=identifier,
            engine="aurora-postgresql",
            engine_mode="provisioned",
            engine_version=args.engine_version,
            database_name=args.database_name,
            master_username="goldenpath_admin",
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.kms_key_arn,
            iam_database_authentication_enabled=True,
            storage_encrypted=args.storage_encrypted,
            kms_key_id=args.kms_key_arn,
            serverlessv2_scaling_configuration=aws.rds.ClusterServerlessv2ScalingConfigurationArgs(
                min_capacity=args.min_capacity, max_capacity=args.max_capacity
            ),
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_group.group.id],
            db_cluster_parameter_group_name=parameters.name,
            backup_retention_period=args.backup_retention_days,
            preferred_backup_window="03:00-04:00",
            copy_tags_to_snapshot=True,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not prod,
            final_snapshot_identifier=f"{identifier}-final" if prod else None,
            enabled_cloudwatch_logs_exports=["postgresql"],
            enable_http_endpoint=args.data_api,
            opts=child,
        )
        for index in range(args.instances):
            aws.rds.ClusterInstance(
                f"{name}-instance-{index}",
                cluster_identifier=self.cluster.id,
                identifier=f"{identifier}-{index}",
                instance_class="db.serverless",
                engine=aws.rds.EngineType.AURORA_POSTGRESQL,
                engine_version=self.cluster.engine_version,
                publicly_accessible=False,
                db_subnet_group_name=subnet_group.name,
                performance_insights_enabled=True,
                performance_insights_kms_key_id=args.kms_key_arn,
                auto_minor_version_upgrade=args.auto_minor_version_upgrade,
                promotion_tier=index,
                opts=child,
            )
        self.secret_arn = self.cluster.master_user_secrets.apply(
            lambda secrets: str(secrets[0].secret_arn)
        )
        self.register_outputs({"endpoint": self.cluster.endpoint, "secret_arn": self.secret_arn})

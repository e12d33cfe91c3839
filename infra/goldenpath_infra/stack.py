"""Assemble one environment from the components; the whole stack is a function of `StackConfig`."""

from typing import Any

import pulumi
import pulumi_aws as aws

from goldenpath_infra.addons import CHARTS, ClusterAddons, ClusterAddonsArgs
from goldenpath_infra.cluster import GpuCluster, GpuClusterArgs
from goldenpath_infra.config import StackConfig
from goldenpath_infra.cost import CostGuardrails, CostGuardrailsArgs
from goldenpath_infra.db_bootstrap import DatabaseBootstrap, DatabaseBootstrapArgs
from goldenpath_infra.guardrails import check_gpu_node_cap
from goldenpath_infra.karpenter import Karpenter, KarpenterArgs
from goldenpath_infra.keys import EnvironmentKeys, EnvironmentKeysArgs
from goldenpath_infra.network import Network, NetworkArgs
from goldenpath_infra.security_group import (
    GuardedSecurityGroup,
    GuardedSecurityGroupArgs,
    IngressRule,
)
from goldenpath_infra.tagging import register_required_tags
from goldenpath_infra.team_data import TeamData, TeamDataArgs
from goldenpath_infra.team_namespace import SERVICE_ACCOUNT, TeamNamespace, TeamNamespaceArgs
from goldenpath_infra.vector_collection import VectorCollection, VectorCollectionArgs
from goldenpath_infra.vector_store import VectorStore, VectorStoreArgs

# The one port every goldenpath service listens on (the templates' deploy programs, HTTP_PORT).
SERVICE_PORT = 8000

# Stack outputs, read by services' deploy programs through a StackReference.
OUTPUT_NAMES = (
    "environment",
    "region",
    "kubeconfig",
    "cluster_name",
    "oidc_provider_arn",
    "oidc_issuer_url",
    "node_security_group_id",
    "load_balancer_security_group_id",
    "vector_store_endpoint",
    "vector_store_reader_endpoint",
    "vector_store_port",
    "vector_store_database",
    "vector_store_secret_arn",
    "opensearch_collection_endpoint",
    "kms_key_arn",
    "vpc_id",
    "vpc_cidr",
    "public_subnet_cidrs",
    "private_subnet_cidrs",
    "public_subnet_ids",
    "private_subnet_ids",
    "isolated_subnet_ids",
    "team_namespaces",
    "chart_versions",
    "runner_security_group_id",
    "kubernetes_version",
)


def build_stack(cfg: StackConfig) -> dict[str, Any]:
    """Create every resource of one environment and return the stack outputs."""
    check_gpu_node_cap(
        cfg.environment, sum(pool.max_size for pool in cfg.gpu_node_pools), "gpuNodePools[*].max"
    )
    register_required_tags(cfg.tags)
    account_id = aws.get_caller_identity().account_id
    zones = aws.get_availability_zones(state="available").names[: cfg.az_count]
    prefix = cfg.name_prefix
    cluster_name = f"goldenpath-{cfg.environment}"

    keys = EnvironmentKeys(
        f"{prefix}-keys",
        EnvironmentKeysArgs(
            environment=cfg.environment,
            region=cfg.region,
            account_id=account_id,
            service_secrets=[f"{t.name}/{s}" for t in cfg.teams for s in t.services],
        ),
    )
    network = Network(
        f"{prefix}-net",
        NetworkArgs(
            environment=cfg.environment,
            region=cfg.region,
            cidr=cfg.vpc_cidr,
            availability_zones=zones,
            nat_gateway_per_az=cfg.nat_gateway_per_az,
            flow_log_retention_days=cfg.flow_log_retention_days,
            kms_key_arn=keys.key.arn,
            cluster_name=cluster_name,
        ),
    )
    cluster = GpuCluster(
        f"{prefix}-eks",
        GpuClusterArgs(
            environment=cfg.environment,
            cluster_name=cluster_name,
            kubernetes_version=cfg.kubernetes_version,
            support_type=cfg.support_type,
            account_id=account_id,
            vpc_id=network.vpc.id,
            platform_admin_role=cfg.platform_admin_role,
            ci_deploy_role=cfg.ci_deploy_role,
            teams=[t.name for t in cfg.teams],
            subnet_ids=network.private_subnet_ids,
            kms_key_arn=keys.key.arn,
            endpoint_public_access=cfg.endpoint_public_access,
            public_access_cidrs=cfg.public_access_cidrs,
            system_nodes=cfg.system_nodes,
            log_retention_days=cfg.log_retention_days,
            tags=cfg.tags,
        ),
        region=cfg.region,
    )
    # GPU capacity comes from Karpenter NodePools (karpenter.py), one per configured GPU pool.
    Karpenter(
        f"{prefix}-karpenter",
        KarpenterArgs(
            environment=cfg.environment,
            region=cfg.region,
            cluster_name=cluster.cluster.name,
            cluster_arn=cluster.cluster.arn,
            cluster_endpoint=cluster.cluster.endpoint,
            provider=cluster.provider,
            oidc_provider_arn=cluster.oidc_provider.arn,
            oidc_issuer_url=cluster.oidc_issuer,
            node_role_name=cluster.node_role.name,
            node_role_arn=cluster.node_role.arn,
            subnet_ids=network.private_subnet_ids,
            security_group_id=cluster.node_security_group_id,
            kms_key_arn=keys.key.arn,
            gpu_pools=cfg.gpu_node_pools,
            tags={**cfg.tags, f"kubernetes.io/cluster/{cluster_name}": "owned"},
        ),
    )
    addons = ClusterAddons(
        f"{prefix}-addons",
        ClusterAddonsArgs(
            cluster_name=cluster.cluster.name,
            region=cfg.region,
            provider=cluster.provider,
            oidc_provider_arn=cluster.oidc_provider.arn,
            oidc_issuer_url=cluster.oidc_issuer,
            kms_key_arn=keys.key.arn,
            vpc_id=network.vpc.id,
        ),
    )
    store = VectorStore(
        f"{prefix}-vectors",
        VectorStoreArgs(
            environment=cfg.environment,
            vpc_id=network.vpc.id,
            isolated_subnet_ids=network.isolated_subnet_ids,
            client_security_group_id=cluster.node_security_group_id,
            kms_key_arn=keys.key.arn,
            min_capacity=cfg.vector_store.min_capacity,
            max_capacity=cfg.vector_store.max_capacity,
            instances=cfg.vector_store.instances,
            backup_retention_days=cfg.vector_store.backup_retention_days,
            deletion_protection=cfg.vector_store.deletion_protection,
            engine_version=cfg.vector_store.engine_version,
            auto_minor_version_upgrade=cfg.vector_store.auto_minor_version_upgrade,
            data_api=cfg.vector_store.data_api,
        ),
    )
    DatabaseBootstrap(
        f"{prefix}-db-bootstrap",
        DatabaseBootstrapArgs(
            teams=[t.name for t in cfg.teams],
            region=cfg.region,
            provider=cluster.provider,
            oidc_provider_arn=cluster.oidc_provider.arn,
            oidc_issuer_url=cluster.oidc_issuer,
            kms_key_arn=keys.key.arn,
            master_secret_arn=store.secret_arn,
            endpoint=store.cluster.endpoint,
            port=store.cluster.port,
            database=store.cluster.database_name,
            external_secrets=addons.releases["external-secrets"],
        ),
    )
    teams: dict[str, Any] = {}
    team_roles = []
    for team in cfg.teams:
        data = TeamData(
            f"{prefix}-team-{team.name}",
            TeamDataArgs(
                environment=cfg.environment,
                team=team.name,
                services=team.services,
                kms_key_arn=keys.key.arn,
            ),
        )
        namespace = TeamNamespace(
            f"{prefix}-team-{team.name}",
            TeamNamespaceArgs(
                team=team.name,
                gpu_quota=team.gpu_quota,
                provider=cluster.provider,
                oidc_provider_arn=cluster.oidc_provider.arn,
                oidc_issuer_url=cluster.oidc_issuer,
                kms_key_arn=keys.key.arn,
                secret_arns={s: keys.secret_arns[f"{team.name}/{s}"] for s in team.services},
                db_cluster_resource_id=store.cluster.cluster_resource_id,
                region=cfg.region,
                account_id=account_id,
                data_bucket_arn=data.bucket.arn,
            ),
        )
        cluster.access.bind_team(team.name, namespace.namespace.metadata.name, cluster.provider)
        team_roles.append(namespace.role.arn)
        teams[team.name] = {
            "namespace": namespace.namespace.metadata.name,
            "service_account": SERVICE_ACCOUNT,
            "role_arn": namespace.role.arn,
            "deploy_role_arn": cluster.access.team_deploy_roles[team.name].arn,
            "data_bucket": data.bucket.bucket,
            "image_repositories": {s: r.repository_url for s, r in data.repositories.items()},
            "secret_arns": {s: keys.secret_arns[f"{team.name}/{s}"] for s in team.services},
        }

    # ALB targets are pod IPs in the nodes' (EKS cluster) security group: admit the platform's
    # load-balancer group on the service port, and nothing else. An explicit rule rather than
    # the controller's backend-rule management, which needs ec2:AuthorizeSecurityGroupIngress
    # on groups it does not own (its IRSA policy changes only groups tagged for the cluster).
    aws.vpc.SecurityGroupIngressRule(
        f"{prefix}-nodes-from-load-balancer",
        security_group_id=cluster.node_security_group_id,
        description="goldenpath services (pod IPs) from the platform's load balancers",
        ip_protocol="tcp",
        from_port=SERVICE_PORT,
        to_port=SERVICE_PORT,
        referenced_security_group_id=network.load_balancer_security_group_id,
    )

    collection_endpoint: Any = None
    if cfg.vector_store.opensearch_collection:
        collection_sg = GuardedSecurityGroup(
            f"{prefix}-aoss-sg",
            GuardedSecurityGroupArgs(
                vpc_id=network.vpc.id,
                description="OpenSearch Serverless endpoint: HTTPS from the EKS nodes",
                ingress=[
                    IngressRule(
                        "https from eks nodes",
                        "tcp",
                        443,
                        443,
                        source_security_group_id=cluster.node_security_group_id,
                    )
                ],
            ),
        )
        collection = VectorCollection(
            f"{prefix}-aoss",
            VectorCollectionArgs(
                environment=cfg.environment,
                vpc_id=network.vpc.id,
                subnet_ids=network.private_subnet_ids,
                security_group_id=collection_sg.group.id,
                kms_key_arn=keys.key.arn,
                reader_arns=team_roles,
            ),
        )
        collection_endpoint = collection.collection.collection_endpoint

    CostGuardrails(
        f"{prefix}-cost",
        CostGuardrailsArgs(
            environment=cfg.environment,
            monthly_limit_usd=cfg.budget.monthly_limit_usd,
            alert_emails=cfg.budget.alert_emails,
            thresholds_percent=cfg.budget.thresholds_percent,
        ),
    )
    outputs: dict[str, Any] = {
        "environment": cfg.environment,
        "region": cfg.region,
        "kubeconfig": cluster.kubeconfig,
        "cluster_name": cluster.cluster.name,
        "oidc_provider_arn": cluster.oidc_provider.arn,
        "oidc_issuer_url": cluster.oidc_issuer,
        "node_security_group_id": cluster.node_security_group_id,
        "load_balancer_security_group_id": network.load_balancer_security_group_id,
        "vector_store_endpoint": store.cluster.endpoint,
        "vector_store_reader_endpoint": store.cluster.reader_endpoint,
        "vector_store_port": store.cluster.port,
        "vector_store_database": store.cluster.database_name,
        "vector_store_secret_arn": store.secret_arn,
        "opensearch_collection_endpoint": collection_endpoint,
        "kms_key_arn": keys.key.arn,
        "vpc_id": network.vpc.id,
        "vpc_cidr": cfg.vpc_cidr,
        "public_subnet_cidrs": network.public_subnet_cidrs,
        "private_subnet_cidrs": network.private_subnet_cidrs,
        "public_subnet_ids": network.public_subnet_ids,
        "private_subnet_ids": network.private_subnet_ids,
        "isolated_subnet_ids": network.isolated_subnet_ids,
        "team_namespaces": teams,
        "chart_versions": {key: chart.version for key, chart in CHARTS.items()},
        "runner_security_group_id": cluster.access.runner_security_group.id,
        "kubernetes_version": cfg.kubernetes_version,
    }
    return outputs


def export_outputs(outputs: dict[str, Any]) -> None:
    """Export outputs; `kubeconfig` is already a secret and stays one."""
    for key, value in outputs.items():
        pulumi.export(key, value)

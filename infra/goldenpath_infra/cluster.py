"""EKS control plane with encrypted secrets, full logging, OIDC for IRSA and a system node pool."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from goldenpath_infra import rules
from goldenpath_infra.access import ClusterAccess, ClusterAccessArgs
from goldenpath_infra.config import NodePoolSpec
from goldenpath_infra.guardrails import (
    GuardrailError,
    check_cluster_endpoint,
    check_environment,
    check_kms_key,
    check_kubernetes_version,
    check_retention,
)
from goldenpath_infra.managed_addons import ManagedAddons, ManagedAddonsArgs
from goldenpath_infra.node_pool import NodePool, NodePoolArgs

NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
)


@dataclass(frozen=True)
class GpuClusterArgs:
    environment: str
    cluster_name: str
    kubernetes_version: str
    subnet_ids: Sequence[pulumi.Input[str]]
    kms_key_arn: pulumi.Input[str]
    endpoint_public_access: bool
    public_access_cidrs: Sequence[str]
    system_nodes: NodePoolSpec
    log_retention_days: int
    tags: Mapping[str, str]
    support_type: str = "STANDARD"
    account_id: str = "123456789012"
    vpc_id: pulumi.Input[str] = ""
    platform_admin_role: str = "goldenpath-platform-admin"
    ci_deploy_role: str = "goldenpath-ci-deploy"
    teams: Sequence[str] = ()


def _assume_role(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            ],
        }
    )


def kubeconfig(name: str, endpoint: str, ca_data: str, region: str) -> str:
    """Kubeconfig that fetches tokens with `aws eks get-token`; no static credentials."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {"server": endpoint, "certificate-authority-data": ca_data},
                }
            ],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [
                {
                    "name": name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": [
                                "eks",
                                "get-token",
                                "--cluster-name",
                                name,
                                "--region",
                                region,
                            ],
                        }
                    },
                }
            ],
        }
    )


def _oidc_issuer(identities: Sequence[aws.eks.outputs.ClusterIdentity]) -> str:
    oidcs = identities[0].oidcs or []
    return str(oidcs[0].issuer)


class GpuCluster(pulumi.ComponentResource):
    """The control plane and what every workload needs from it: IRSA, nodes, a provider."""

    cluster: aws.eks.Cluster
    oidc_provider: aws.iam.OpenIdConnectProvider
    node_role: aws.iam.Role
    system_pool: NodePool
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    managed_addons: ManagedAddons
    access: ClusterAccess
    node_security_group_id: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: GpuClusterArgs,
        region: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("goldenpath:cluster:GpuCluster", name, None, opts)
        check_environment(args.environment)
        check_kms_key(args.kms_key_arn)
        check_cluster_endpoint(
            args.environment, args.endpoint_public_access, args.public_access_cidrs
        )
        check_retention(args.log_retention_days, "log_retention_days", rules.MIN_LOG_RETENTION_DAYS)
        if not args.kubernetes_version.count(".") == 1:
            raise GuardrailError(
                "kubernetes_version", args.kubernetes_version, "pin a minor version such as 1.35"
            )
        check_kubernetes_version(args.kubernetes_version, args.support_type)
        child = pulumi.ResourceOptions(parent=self)

        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            description="EKS control plane",
            assume_role_policy=_assume_role("eks.amazonaws.com"),
            opts=child,
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=cluster_role.name,
            policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
            opts=child,
        )
        # Created first so the control plane writes into a group with retention and encryption.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane",
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=child,
        )
        self.cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=list(args.subnet_ids),
                endpoint_private_access=True,
                endpoint_public_access=args.endpoint_public_access,
                public_access_cidrs=list(args.public_access_cidrs)
                if args.endpoint_public_access
                else None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=args.kms_key_arn),
                resources=["secrets"],
            ),
            enabled_cluster_log_types=list(rules.CONTROL_PLANE_LOG_TYPES),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                # Admins come from explicit access entries (access.py); the creator, the CI
                # runner's role, is one of them, and a bootstrap entry would collide with it.
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type=args.support_type),
            deletion_protection=args.environment == "prod",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster_policy, log_group]),
        )
        self.oidc_issuer = self.cluster.identities.apply(_oidc_issuer)
        self.oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=self.oidc_issuer,
            client_id_lists=["sts.amazonaws.com"],
            opts=child,
        )
        self.node_role = aws.iam.Role(
            f"{name}-node-role",
            description="EKS worker nodes",
            assume_role_policy=_assume_role("ec2.amazonaws.com"),
            opts=child,
        )
        node_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{arn.rsplit('/', 1)[-1]}",
                role=self.node_role.name,
                policy_arn=arn,
                opts=child,
            )
            for arn in NODE_POLICIES
        ]
        self.managed_addons = ManagedAddons(
            f"{name}-addons",
            ManagedAddonsArgs(
                cluster_name=self.cluster.name,
                oidc_provider_arn=self.oidc_provider.arn,
                oidc_issuer_url=self.oidc_issuer,
                kms_key_arn=args.kms_key_arn,
            ),
            opts=child,
        )
        self._node_dependencies: list[pulumi.Resource] = [
            *node_policies,
            *self.managed_addons.before_nodes(),
        ]
        # Managed node groups carry the cluster security group; it is the nodes' identity for
        # security-group rules such as the database's ingress.
        self.node_security_group_id = self.cluster.vpc_config.apply(
            lambda vpc: str(vpc.cluster_security_group_id)
        )
        self._component_name = name
        self._private_subnet_ids = list(args.subnet_ids)
        self._environment = args.environment
        self._kms_key_arn = args.kms_key_arn
        self._tags = dict(args.tags)
        self.system_pool = self.add_node_pool(args.system_nodes, gpu=False)
        cluster_ready = self.managed_addons.after_nodes([self.system_pool])
        self.access = ClusterAccess(
            f"{name}-access",
            ClusterAccessArgs(
                environment=args.environment,
                cluster_name=self.cluster.name,
                cluster_arn=self.cluster.arn,
                account_id=args.account_id,
                platform_admin_role=args.platform_admin_role,
                ci_deploy_role=args.ci_deploy_role,
                teams=list(args.teams),
                vpc_id=args.vpc_id,
                cluster_security_group_id=self.node_security_group_id,
            ),
            opts=child,
        )
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(
                self.cluster.name,
                self.cluster.endpoint,
                self.cluster.certificate_authority.apply(lambda authority: authority.data),
            ).apply(lambda parts: kubeconfig(parts[0], parts[1], parts[2], region))
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.system_pool, *cluster_ready, *self.access.entries]
            ),
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster.name,
                "oidc_provider_arn": self.oidc_provider.arn,
                "kubeconfig": self.kubeconfig,
            }
        )

    def add_node_pool(self, spec: NodePoolSpec, gpu: bool) -> NodePool:
        """Attach a managed node pool to this cluster; GPU pools are tainted and capped."""
        return NodePool(
            f"{self._component_name}-{spec.name}",
            NodePoolArgs(
                environment=self._environment,
                cluster_name=self.cluster.name,
                node_role_arn=self.node_role.arn,
                subnet_ids=self._private_subnet_ids,
                instance_types=spec.instance_types,
                min_size=spec.min_size,
                desired_size=spec.desired_size,
                max_size=spec.max_size,
                kms_key_arn=self._kms_key_arn,
                tags=self._tags,
                gpu=gpu,
                capacity_type=spec.capacity_type,
                disk_size_gib=spec.disk_size_gib,
                labels=spec.labels,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=self._node_dependencies),
        )

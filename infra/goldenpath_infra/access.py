"""Who may use the cluster: EKS access entries for the platform admins, the CI runner and each
team's deploy role (scoped to the team's namespace), and the runner's path to the private API.

The cluster's authentication mode is API: only principals with an access entry get in ("Grant
IAM users access to Kubernetes with EKS access entries",
docs.aws.amazon.com/eks/latest/userguide/access-entries.html, read 2026-12-02). Team deploy roles
get a Kubernetes group bound to `edit` in their namespace (plus the Prometheus Operator objects a
service ships), never a cluster-wide policy.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from goldenpath_infra.guardrails import GuardrailError

CLUSTER_ADMIN_POLICY: Final = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def deploy_group(team: str) -> str:
    return f"goldenpath:deploy:{team}"


@dataclass(frozen=True)
class ClusterAccessArgs:
    environment: str
    cluster_name: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    account_id: str
    # IAM role names (in this account): people who administer the platform, and the role the
    # in-VPC CI runner uses for `pulumi up` of this stack.
    platform_admin_role: str
    ci_deploy_role: str
    teams: Sequence[str]
    vpc_id: pulumi.Input[str]
    cluster_security_group_id: pulumi.Input[str]


def team_deploy_trust(ci_role_arn: str) -> str:
    """The CI runner's role assumes a team's deploy role for that team's `deploy/` program."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ci_role_arn},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            ],
        }
    )


def team_deploy_policy(cluster_arn: str) -> str:
    """`aws eks get-token` needs nothing; kubeconfig discovery needs DescribeCluster on this one."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "eks:DescribeCluster", "Resource": cluster_arn}
            ],
        }
    )


class ClusterAccess(pulumi.ComponentResource):
    """Access entries and the runner security group; `bind_team` adds the namespace RBAC."""

    team_deploy_roles: dict[str, aws.iam.Role]
    runner_security_group: aws.ec2.SecurityGroup
    entries: list[aws.eks.AccessEntry]

    def __init__(
        self, name: str, args: ClusterAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:cluster:ClusterAccess", name, None, opts)
        for argument, role_name in (
            ("access.platformAdminRole", args.platform_admin_role),
            ("access.ciDeployRole", args.ci_deploy_role),
        ):
            if not role_name or "/" in role_name or ":" in role_name:
                raise GuardrailError(argument, role_name, "an IAM role name in this account")
        self._component_name = name
        child = pulumi.ResourceOptions(parent=self)
        account = args.account_id
        admins = {
            "platform-admin": f"arn:aws:iam::{account}:role/{args.platform_admin_role}",
            "ci-deploy": f"arn:aws:iam::{account}:role/{args.ci_deploy_role}",
        }
        self.entries = []
        for key, principal in admins.items():
            entry = aws.eks.AccessEntry(
                f"{name}-{key}",
                cluster_name=args.cluster_name,
                principal_arn=principal,
                type="STANDARD",
                opts=child,
            )
            aws.eks.AccessPolicyAssociation(
                f"{name}-{key}-admin",
                cluster_name=args.cluster_name,
                principal_arn=principal,
                policy_arn=CLUSTER_ADMIN_POLICY,
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
            )
            self.entries.append(entry)
        self.team_deploy_roles = {}
        for team in args.teams:
            role = aws.iam.Role(
                f"{name}-{team}-deploy",
                description=f"deploys team {team}'s services into namespace {team}",
                assume_role_policy=team_deploy_trust(admins["ci-deploy"]),
                max_session_duration=3600,
                opts=child,
            )
            aws.iam.RolePolicy(
                f"{name}-{team}-deploy",
                role=role.id,
                policy=pulumi.Output.from_input(args.cluster_arn).apply(team_deploy_policy),
                opts=child,
            )
            self.entries.append(
                aws.eks.AccessEntry(
                    f"{name}-{team}-deploy",
                    cluster_name=args.cluster_name,
                    principal_arn=role.arn,
                    type="STANDARD",
                    kubernetes_groups=[deploy_group(team)],
                    opts=child,
                )
            )
            self.team_deploy_roles[team] = role
        # The in-VPC runner (CodeBuild in the VPC, or a self-hosted CI runner in a private
        # subnet) carries this group; the cluster's security group admits it on 443.
        self.runner_security_group = aws.ec2.SecurityGroup(
            f"{name}-runner",
            vpc_id=args.vpc_id,
            description="goldenpath CI runner: reaches the private EKS API and AWS APIs",
            revoke_rules_on_delete=True,
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-runner-https",
            security_group_id=self.runner_security_group.id,
            description="HTTPS: EKS API, VPC endpoints, AWS APIs through NAT",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4="0.0.0.0/0",
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-api-from-runner",
            security_group_id=args.cluster_security_group_id,
            description="EKS API from the goldenpath CI runner",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            referenced_security_group_id=self.runner_security_group.id,
            opts=child,
        )
        self.register_outputs(
            {
                "runner_security_group_id": self.runner_security_group.id,
                "team_deploy_role_arns": {t: r.arn for t, r in self.team_deploy_roles.items()},
            }
        )

    def bind_team(self, team: str, namespace: pulumi.Input[str], provider: k8s.Provider) -> None:
        """Namespace RBAC for the team's deploy group: `edit`, plus ServiceMonitor and
        PrometheusRule (Prometheus Operator objects `edit` does not aggregate)."""
        opts = pulumi.ResourceOptions(parent=self, provider=provider)
        subject = k8s.rbac.v1.SubjectArgs(
            kind="Group", name=deploy_group(team), api_group="rbac.authorization.k8s.io"
        )
        monitoring = k8s.rbac.v1.Role(
            f"{self._team_child(team)}-monitoring",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="goldenpath-deploy-monitoring", namespace=namespace
            ),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=["monitoring.coreos.com"],
                    resources=["servicemonitors", "prometheusrules"],
                    verbs=["get", "list", "watch", "create", "update", "patch", "delete"],
                )
            ],
            opts=opts,
        )
        for role_kind, role_name, suffix in (
            ("ClusterRole", "edit", "edit"),
            ("Role", monitoring.metadata.name, "monitoring"),
        ):
            k8s.rbac.v1.RoleBinding(
                f"{self._team_child(team)}-{suffix}-binding",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"goldenpath-deploy-{suffix}", namespace=namespace
                ),
                role_ref=k8s.rbac.v1.RoleRefArgs(
                    api_group="rbac.authorization.k8s.io", kind=role_kind, name=role_name
                ),
                subjects=[subject],
                opts=opts,
            )

    def _team_child(self, team: str) -> str:
        return f"{self._component_name}-{team}"

"""EKS managed add-ons: networking with NetworkPolicy enforcement, DNS, Pod Identity, EBS CSI.

Without `enableNetworkPolicy` the VPC CNI ignores NetworkPolicy objects, so the team namespaces'
default-deny would do nothing ("Restrict Pod network traffic with Kubernetes network policies",
docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html, read 2026-12-02).
No `addon_version`: EKS installs its default version for the cluster's Kubernetes version.
"""

import json
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from goldenpath_infra.irsa import service_account_role

# Installed before any node joins: pods need the CNI and kube-proxy to start at all.
BEFORE_NODES: Final = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
# Deployments that need a node to become healthy.
AFTER_NODES: Final = ("coredns", "aws-ebs-csi-driver")
EBS_CSI_SERVICE_ACCOUNT: Final = "ebs-csi-controller-sa"
VPC_CNI_CONFIGURATION: Final = {"enableNetworkPolicy": "true"}


@dataclass(frozen=True)
class ManagedAddonsArgs:
    cluster_name: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]


def ebs_kms_policy(kms_key_arn: str) -> str:
    """Let the EBS CSI driver create volumes encrypted with the environment's key."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                    "Resource": kms_key_arn,
                    "Condition": {"Bool": {"kms:GrantIsForAWSResource": True}},
                },
                {
                    "Effect": "Allow",
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
                    "Resource": kms_key_arn,
                },
            ],
        }
    )


class ManagedAddons(pulumi.ComponentResource):
    """`before_nodes()` first, then `after_nodes()` once the system pool exists."""

    addons: dict[str, aws.eks.Addon]

    def __init__(
        self, name: str, args: ManagedAddonsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:cluster:ManagedAddons", name, None, opts)
        self._name, self._args = name, args
        self.addons = {}

    def _addon(
        self,
        addon: str,
        depends_on: list[pulumi.Resource],
        role_arn: pulumi.Input[str] | None = None,
        configuration: dict[str, str] | None = None,
    ) -> aws.eks.Addon:
        self.addons[addon] = aws.eks.Addon(
            f"{self._name}-{addon}",
            cluster_name=self._args.cluster_name,
            addon_name=addon,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            service_account_role_arn=role_arn,
            configuration_values=json.dumps(configuration) if configuration else None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )
        return self.addons[addon]

    def before_nodes(self) -> list[pulumi.Resource]:
        for addon in BEFORE_NODES:
            config = VPC_CNI_CONFIGURATION if addon == "vpc-cni" else None
            self._addon(addon, [], configuration=config)
        return [self.addons[a] for a in BEFORE_NODES]

    def after_nodes(self, nodes: list[pulumi.Resource]) -> list[pulumi.Resource]:
        ebs_role = service_account_role(
            f"{self._name}-ebs-csi",
            provider_arn=self._args.oidc_provider_arn,
            issuer_url=self._args.oidc_issuer_url,
            namespace="kube-system",
            service_account=EBS_CSI_SERVICE_ACCOUNT,
            description="EBS CSI driver controller (IRSA)",
            parent=self,
        )
        attach = aws.iam.RolePolicyAttachment(
            f"{self._name}-ebs-csi",
            role=ebs_role.name,
            policy_arn="arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
            opts=pulumi.ResourceOptions(parent=self),
        )
        kms = aws.iam.RolePolicy(
            f"{self._name}-ebs-csi-kms",
            role=ebs_role.id,
            policy=pulumi.Output.from_input(self._args.kms_key_arn).apply(ebs_kms_policy),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._addon("coredns", nodes)
        self._addon("aws-ebs-csi-driver", [*nodes, attach, kms], role_arn=ebs_role.arn)
        self.register_outputs({"addons": list(self.addons)})
        return [self.addons[a] for a in AFTER_NODES]

"""Karpenter, the default node autoscaler: a CPU NodePool and one GPU NodePool per configured
GPU pool, consolidation on, a GPU limit per pool, spot with on-demand fallback for spot pools.

Karpenter is AWS's recommended autoscaler for GPU capacity on EKS ("Karpenter" in the EKS best
practices guide, docs.aws.amazon.com/eks/latest/best-practices/karpenter.html, read
2026-12-02); chart karpenter 1.14.1 (aws/karpenter-provider-aws v1.14.1, 2026-08-26), API
karpenter.sh/v1 and karpenter.k8s.aws/v1. The controller runs on the managed system node group;
its nodes use the managed node groups' role, whose access entry EKS creates with the system
group. Spot interruptions arrive through an SQS queue fed by EventBridge.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from goldenpath_infra import rules
from goldenpath_infra.config import NodePoolSpec
from goldenpath_infra.guardrails import GuardrailError
from goldenpath_infra.irsa import service_account_role

CHART_REPO: Final = "oci://public.ecr.aws/karpenter/karpenter"
CHART_VERSION: Final = "1.14.1"
NAMESPACE: Final = "kube-system"
SERVICE_ACCOUNT: Final = "karpenter"
# GPUs per instance type the GPU pools may use (EC2 accelerated computing instance pages).
GPUS_PER_INSTANCE: Final = {
    "g5.xlarge": 1,
    "g5.2xlarge": 1,
    "g5.4xlarge": 1,
    "g5.12xlarge": 4,
    "g6.xlarge": 1,
    "g6.2xlarge": 1,
    "g6.4xlarge": 1,
    "g6.12xlarge": 4,
    "g6e.xlarge": 1,
    "g6e.2xlarge": 1,
    "g6e.4xlarge": 1,
    "g6e.12xlarge": 4,
    "p4d.24xlarge": 8,
    "p5.48xlarge": 8,
}
CPU_LIMITS: Final = {"dev": 32, "staging": 64, "prod": 256}
# EventBridge events Karpenter acts on (spot interruption and rebalance, health, state changes).
INTERRUPTION_EVENTS: Final = {
    "spot-interruption": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Spot Instance Interruption Warning"],
    },
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "state-change": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
    },
    "health": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
}


def gpu_limit(pool: NodePoolSpec) -> int:
    """The pool's GPU ceiling: its max nodes of its largest GPU count."""
    unknown = [t for t in pool.instance_types if t not in GPUS_PER_INSTANCE]
    if unknown:
        raise GuardrailError(
            f"gpuNodePools[{pool.name}].instanceTypes",
            unknown,
            f"GPU count unknown; one of {sorted(GPUS_PER_INSTANCE)}",
        )
    return pool.max_size * max(GPUS_PER_INSTANCE[t] for t in pool.instance_types)


def controller_policy(
    cluster_name: str, cluster_arn: str, node_role_arn: str, queue_arn: str, region: str
) -> str:
    """What the controller needs, scoped by the tags it puts on what it launches."""
    tagged = {"StringEquals": {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"}}
    on_create = {"StringEquals": {f"aws:RequestTag/kubernetes.io/cluster/{cluster_name}": "owned"}}
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Describe",
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeImages",
                "ec2:DescribeInstances",
                "ec2:DescribeInstanceTypeOfferings",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeSubnets",
                "pricing:GetProducts",
            ],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
        },
        {
            "Sid": "LaunchTagged",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
            "Resource": [
                f"arn:aws:ec2:{region}:*:fleet/*",
                f"arn:aws:ec2:{region}:*:instance/*",
                f"arn:aws:ec2:{region}:*:volume/*",
                f"arn:aws:ec2:{region}:*:network-interface/*",
                f"arn:aws:ec2:{region}:*:launch-template/*",
                f"arn:aws:ec2:{region}:*:spot-instances-request/*",
            ],
            "Condition": on_create,
        },
        {
            "Sid": "LaunchFrom",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Resource": [
                f"arn:aws:ec2:{region}::image/*",
                f"arn:aws:ec2:{region}::snapshot/*",
                f"arn:aws:ec2:{region}:*:security-group/*",
                f"arn:aws:ec2:{region}:*:subnet/*",
                f"arn:aws:ec2:{region}:*:launch-template/*",
            ],
        },
        {
            "Sid": "TagOnLaunch",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": [
                f"arn:aws:ec2:{region}:*:fleet/*",
                f"arn:aws:ec2:{region}:*:instance/*",
                f"arn:aws:ec2:{region}:*:volume/*",
                f"arn:aws:ec2:{region}:*:network-interface/*",
                f"arn:aws:ec2:{region}:*:launch-template/*",
                f"arn:aws:ec2:{region}:*:spot-instances-request/*",
            ],
            "Condition": {
                **on_create,
                "StringEqualsIfExists": {
                    "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"]
                },
            },
        },
        {
            "Sid": "ManageOwned",
            "Effect": "Allow",
            "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate", "ec2:CreateTags"],
            "Resource": [
                f"arn:aws:ec2:{region}:*:instance/*",
                f"arn:aws:ec2:{region}:*:launch-template/*",
            ],
            "Condition": tagged,
        },
        {
            "Sid": "PassNodeRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": node_role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        },
        {
            "Sid": "InstanceProfiles",
            "Effect": "Allow",
            "Action": [
                "iam:CreateInstanceProfile",
                "iam:TagInstanceProfile",
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:DeleteInstanceProfile",
                "iam:GetInstanceProfile",
                "iam:ListInstanceProfiles",
            ],
            "Resource": "arn:aws:iam::*:instance-profile/*",
        },
        {
            "Sid": "AmiParameters",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": f"arn:aws:ssm:{region}::parameter/aws/service/*",
        },
        {
            "Sid": "Cluster",
            "Effect": "Allow",
            "Action": "eks:DescribeCluster",
            "Resource": cluster_arn,
        },
        {
            "Sid": "Interruptions",
            "Effect": "Allow",
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
            "Resource": queue_arn,
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@dataclass(frozen=True)
class KarpenterArgs:
    environment: str
    region: str
    cluster_name: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    cluster_endpoint: pulumi.Input[str]
    provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    node_role_name: pulumi.Input[str]
    node_role_arn: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    gpu_pools: Sequence[NodePoolSpec]
    tags: Mapping[str, str]


def _requirement(key: str, values: Sequence[str], operator: str = "In") -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": list(values)}


class Karpenter(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    node_pools: dict[str, k8s.apiextensions.CustomResource]

    def __init__(
        self, name: str, args: KarpenterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:cluster:Karpenter", name, None, opts)
        limits = {pool.name: gpu_limit(pool) for pool in args.gpu_pools}
        child = pulumi.ResourceOptions(parent=self)
        queue = aws.sqs.Queue(
            f"{name}-interruptions",
            name=f"goldenpath-{args.environment}-karpenter",
            message_retention_seconds=300,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-interruptions",
            queue_url=queue.url,
            policy=queue.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {
                                    "Service": ["events.amazonaws.com", "sqs.amazonaws.com"]
                                },
                                "Action": "sqs:SendMessage",
                                "Resource": arn,
                            },
                            {
                                "Sid": "DenyHTTP",
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "sqs:*",
                                "Resource": arn,
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            },
                        ],
                    }
                )
            ),
            opts=child,
        )
        for event, pattern in INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{event}", event_pattern=json.dumps(pattern), opts=child
            )
            aws.cloudwatch.EventTarget(f"{name}-{event}", rule=rule.name, arn=queue.arn, opts=child)
        role = service_account_role(
            f"{name}-controller",
            provider_arn=args.oidc_provider_arn,
            issuer_url=args.oidc_issuer_url,
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            description="Karpenter controller (IRSA)",
            parent=self,
        )
        aws.iam.RolePolicy(
            f"{name}-controller",
            role=role.id,
            policy=pulumi.Output.all(
                args.cluster_name, args.cluster_arn, args.node_role_arn, queue.arn
            ).apply(lambda p: controller_policy(p[0], p[1], p[2], p[3], args.region)),
            opts=child,
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name="karpenter",
            chart=CHART_REPO,
            version=CHART_VERSION,
            namespace=NAMESPACE,
            atomic=True,
            timeout=900,
            values={
                "settings": {
                    "clusterName": args.cluster_name,
                    "clusterEndpoint": args.cluster_endpoint,
                    "interruptionQueue": queue.name,
                },
                "serviceAccount": {
                    "name": SERVICE_ACCOUNT,
                    "annotations": {"eks.amazonaws.com/role-arn": role.arn},
                },
                "replicas": 2,
            },
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        crd = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.release])
        self.node_pools = {}
        pools: list[tuple[str, int, dict[str, Any]]] = [
            ("cpu", 100, self._cpu_pool(args)),
            *[(p.name, p.disk_size_gib, self._gpu_pool(p, limits[p.name])) for p in args.gpu_pools],
        ]
        for pool_name, disk, spec in pools:
            k8s.apiextensions.CustomResource(
                f"{name}-{pool_name}-class",
                api_version="karpenter.k8s.aws/v1",
                kind="EC2NodeClass",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=pool_name),
                spec=self._node_class(args, disk),
                opts=crd,
            )
            self.node_pools[pool_name] = k8s.apiextensions.CustomResource(
                f"{name}-{pool_name}",
                api_version="karpenter.sh/v1",
                kind="NodePool",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=pool_name),
                spec=spec,
                opts=crd,
            )
        self.register_outputs({"node_pools": list(self.node_pools), "gpu_limits": limits})

    @staticmethod
    def _node_class(args: KarpenterArgs, disk_gib: int) -> dict[str, Any]:
        return {
            "role": args.node_role_name,
            # AL2023: Karpenter picks the NVIDIA variant for GPU instance types.
            "amiSelectorTerms": [{"alias": "al2023@latest"}],
            "subnetSelectorTerms": [{"id": subnet} for subnet in args.subnet_ids],
            "securityGroupSelectorTerms": [{"id": args.security_group_id}],
            "metadataOptions": {
                "httpEndpoint": "enabled",
                "httpTokens": "required",
                "httpPutResponseHopLimit": 1,
            },
            "blockDeviceMappings": [
                {
                    "deviceName": "/dev/xvda",
                    "ebs": {
                        "volumeSize": f"{disk_gib}Gi",
                        "volumeType": "gp3",
                        "encrypted": True,
                        "kmsKeyID": args.kms_key_arn,
                        "deleteOnTermination": True,
                    },
                }
            ],
            "tags": dict(args.tags),
        }

    @staticmethod
    def _disruption(after: str) -> dict[str, Any]:
        return {
            "consolidationPolicy": "WhenEmptyOrUnderutilized",
            "consolidateAfter": after,
            "budgets": [{"nodes": "10%"}],
        }

    def _cpu_pool(self, args: KarpenterArgs) -> dict[str, Any]:
        return {
            "template": {
                "metadata": {"labels": {"goldenpath.dev/pool": "cpu"}},
                "spec": {
                    "nodeClassRef": {
                        "group": "karpenter.k8s.aws",
                        "kind": "EC2NodeClass",
                        "name": "cpu",
                    },
                    "requirements": [
                        _requirement("karpenter.sh/capacity-type", ["on-demand", "spot"]),
                        _requirement("kubernetes.io/arch", ["amd64"]),
                        _requirement("karpenter.k8s.aws/instance-category", ["c", "m", "r"]),
                        _requirement("karpenter.k8s.aws/instance-generation", ["5"], "Gt"),
                    ],
                    "expireAfter": "720h",
                },
            },
            "limits": {"cpu": str(CPU_LIMITS[args.environment])},
            "disruption": self._disruption("1m"),
        }

    def _gpu_pool(self, pool: NodePoolSpec, limit: int) -> dict[str, Any]:
        # Spot pools (batch) fall back to on-demand when spot capacity is short.
        capacity = ["spot", "on-demand"] if pool.capacity_type == "SPOT" else ["on-demand"]
        labels = {
            **pool.labels,
            "goldenpath.dev/pool": pool.name,
            "goldenpath.dev/accelerator": "nvidia",
            rules.GPU_PRESENT_LABEL: "true",
        }
        return {
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeClassRef": {
                        "group": "karpenter.k8s.aws",
                        "kind": "EC2NodeClass",
                        "name": pool.name,
                    },
                    "requirements": [
                        _requirement("karpenter.sh/capacity-type", capacity),
                        _requirement("node.kubernetes.io/instance-type", pool.instance_types),
                    ],
                    "taints": [
                        {
                            "key": rules.GPU_TAINT_KEY,
                            "value": rules.GPU_TAINT_VALUE,
                            "effect": "NoSchedule",
                        }
                    ],
                    "expireAfter": "720h",
                },
            },
            "limits": {rules.GPU_RESOURCE: str(limit)},
            "disruption": self._disruption("10m"),
        }

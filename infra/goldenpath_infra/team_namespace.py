"""A namespace per team: GPU quota, default-deny network policy, one IRSA role."""

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from goldenpath_infra import rules
from goldenpath_infra.guardrails import GuardrailError, check_team_name
from goldenpath_infra.irsa import service_account_role

SERVICE_ACCOUNT = "workload"


@dataclass(frozen=True)
class TeamNamespaceArgs:
    team: str
    gpu_quota: int
    provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    # service name -> ARN of its Secrets Manager secret
    secret_arns: Mapping[str, pulumi.Input[str]]
    db_cluster_resource_id: pulumi.Input[str]
    region: str
    account_id: str
    # The team's S3 data bucket (team_data.TeamData); its objects are the team's alone.
    data_bucket_arn: pulumi.Input[str] = ""


def workload_policy(
    secret_arns: list[str],
    kms_key_arn: str,
    db_resource_id: str,
    region: str,
    account: str,
    namespace: str,
    bucket_arn: str = "",
) -> str:
    """Read this team's secrets, connect to the vector store as the namespace's database user
    (IAM authentication), use the team's bucket, and invoke Bedrock models in this region."""
    statements: list[dict[str, object]] = [
        {
            "Sid": "ConnectAsNamespaceUser",
            "Effect": "Allow",
            "Action": "rds-db:connect",
            "Resource": f"arn:aws:rds-db:{region}:{account}:dbuser:{db_resource_id}/{namespace}",
        },
        {
            "Sid": "InvokeBedrockModels",
            "Effect": "Allow",
            "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
            "Resource": [
                f"arn:aws:bedrock:{region}::foundation-model/*",
                f"arn:aws:bedrock:{region}:{account}:inference-profile/*",
            ],
        },
    ]
    if bucket_arn:
        statements += [
            {
                "Sid": "ListTeamBucket",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": bucket_arn,
            },
            {
                "Sid": "UseTeamBucketObjects",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                ],
                "Resource": f"{bucket_arn}/*",
            },
            {
                "Sid": "UseKeyThroughS3",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": kms_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            },
        ]
    if secret_arns:
        statements += [
            {
                "Sid": "ReadTeamSecrets",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Resource": secret_arns,
            },
            {
                "Sid": "DecryptThroughSecretsManager",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": kms_key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
                },
            },
        ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


class TeamNamespace(pulumi.ComponentResource):
    """Isolation by default: nothing talks to the namespace until a policy says so."""

    namespace: k8s.core.v1.Namespace
    role: aws.iam.Role

    def __init__(
        self, name: str, args: TeamNamespaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:cluster:TeamNamespace", name, None, opts)
        check_team_name(args.team)
        if args.gpu_quota < 0:
            raise GuardrailError("gpu_quota", args.gpu_quota, "must not be negative")
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.team,
                labels={
                    "goldenpath.dev/team": args.team,
                    # Pod Security Standards, restricted: non-root, no privilege escalation,
                    # capabilities dropped, a seccomp profile (kubernetes.io/docs/concepts/
                    # security/pod-security-standards/, read 2026-12-02).
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                    # ALB targets are pod IPs: the controller's readiness gate holds a rollout
                    # until each new pod is healthy in its target group (AWS Load Balancer
                    # Controller docs, "Pod readiness gate", read 2026-12-03).
                    "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled",
                },
            ),
            opts=k8s_opts,
        )
        ns_name = self.namespace.metadata.name
        k8s.core.v1.ResourceQuota(
            f"{name}-gpu-quota",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="gpu", namespace=ns_name),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(
                hard={f"requests.{rules.GPU_RESOURCE}": str(args.gpu_quota)}
            ),
            opts=k8s_opts,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny", namespace=ns_name),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                policy_types=["Ingress", "Egress"],
            ),
            opts=k8s_opts,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-dns",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="allow-dns", namespace=ns_name),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": "kube-system"}
                                ),
                                pod_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"k8s-app": "kube-dns"}
                                ),
                            )
                        ],
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol=p, port=53)
                            for p in ("UDP", "TCP")
                        ],
                    )
                ],
            ),
            opts=k8s_opts,
        )
        self.role = service_account_role(
            f"{name}-workload",
            provider_arn=args.oidc_provider_arn,
            issuer_url=args.oidc_issuer_url,
            namespace=args.team,
            service_account=SERVICE_ACCOUNT,
            description=f"workloads in namespace {args.team} (IRSA)",
            parent=self,
        )
        aws.iam.RolePolicy(
            f"{name}-workload",
            role=self.role.id,
            policy=pulumi.Output.all(
                list(args.secret_arns.values()),
                args.kms_key_arn,
                args.db_cluster_resource_id,
                args.data_bucket_arn,
            ).apply(
                lambda parts: workload_policy(
                    list(parts[0]),
                    parts[1],
                    parts[2],
                    args.region,
                    args.account_id,
                    args.team,
                    parts[3],
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        k8s.core.v1.ServiceAccount(
            f"{name}-workload",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SERVICE_ACCOUNT,
                namespace=ns_name,
                annotations={"eks.amazonaws.com/role-arn": self.role.arn},
            ),
            opts=k8s_opts,
        )
        self.register_outputs({"namespace": ns_name, "role_arn": self.role.arn})

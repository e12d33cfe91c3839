"""In-cluster add-ons as Helm releases with pinned chart versions.

Releases (not `helm.v4.Chart`) keep chart, version, repository and values on one resource,
where policies and tests can read them.
"""

import json
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from goldenpath_infra import rules
from goldenpath_infra.guardrails import check_pinned_chart_version
from goldenpath_infra.irsa import service_account_role


@dataclass(frozen=True)
class Chart:
    chart: str
    version: str
    repo: str
    namespace: str


# Versions checked against each chart repository's index; bump deliberately, one at a time.
CHARTS: Final = {
    "kube-prometheus-stack": Chart(
        "kube-prometheus-stack",
        "70.4.2",
        "https://prometheus-community.github.io/helm-charts",
        "monitoring",
    ),
    "metrics-server": Chart(
        "metrics-server",
        "3.12.2",
        "https://kubernetes-sigs.github.io/metrics-server/",
        "kube-system",
    ),
    "nvidia-device-plugin": Chart(
        "nvidia-device-plugin",
        "0.17.1",
        "https://nvidia.github.io/k8s-device-plugin",
        "nvidia-device-plugin",
    ),
    "dcgm-exporter": Chart(
        "dcgm-exporter",
        "4.1.3",
        "https://nvidia.github.io/dcgm-exporter/helm-charts",
        "monitoring",
    ),
    "kuberay-operator": Chart(
        "kuberay-operator", "1.3.2", "https://ray-project.github.io/kuberay-helm/", "kuberay"
    ),
    "cluster-autoscaler": Chart(
        "cluster-autoscaler", "9.46.6", "https://kubernetes.github.io/autoscaler", "kube-system"
    ),
}

GPU_TOLERATIONS: Final = [
    {"key": rules.GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
]
GPU_NODE_SELECTOR: Final = {"goldenpath.dev/accelerator": "nvidia"}
AUTOSCALER_SERVICE_ACCOUNT: Final = "cluster-autoscaler"


@dataclass(frozen=True)
class ClusterAddonsArgs:
    cluster_name: pulumi.Input[str]
    region: str
    provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]


def autoscaler_policy(cluster_name: str) -> str:
    """Scale only this cluster's groups: writes are conditioned on the ownership tag."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "autoscaling:DescribeAutoScalingGroups",
                        "autoscaling:DescribeAutoScalingInstances",
                        "autoscaling:DescribeLaunchConfigurations",
                        "autoscaling:DescribeScalingActivities",
                        "autoscaling:DescribeTags",
                        "ec2:DescribeImages",
                        "ec2:DescribeInstanceTypes",
                        "ec2:DescribeLaunchTemplateVersions",
                        "ec2:GetInstanceTypesFromInstanceRequirements",
                        "eks:DescribeNodegroup",
                    ],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": [
                        "autoscaling:SetDesiredCapacity",
                        "autoscaling:TerminateInstanceInAutoScalingGroup",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"
                        }
                    },
                },
            ],
        }
    )


class ClusterAddons(pulumi.ComponentResource):
    """GPU scheduling and telemetry, Ray, Prometheus, metrics and node autoscaling."""

    releases: dict[str, k8s.helm.v3.Release]

    def __init__(
        self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:cluster:ClusterAddons", name, None, opts)
        for key, chart in CHARTS.items():
            check_pinned_chart_version(key, chart.version)
        autoscaler_role = service_account_role(
            f"{name}-cluster-autoscaler",
            provider_arn=args.oidc_provider_arn,
            issuer_url=args.oidc_issuer_url,
            namespace=CHARTS["cluster-autoscaler"].namespace,
            service_account=AUTOSCALER_SERVICE_ACCOUNT,
            description="cluster-autoscaler (IRSA)",
            parent=self,
        )
        aws.iam.RolePolicy(
            f"{name}-cluster-autoscaler",
            role=autoscaler_role.id,
            policy=pulumi.Output.from_input(args.cluster_name).apply(autoscaler_policy),
            opts=pulumi.ResourceOptions(parent=self),
        )
        values: dict[str, Any] = {
            "nvidia-device-plugin": {
                "tolerations": GPU_TOLERATIONS,
                "nodeSelector": GPU_NODE_SELECTOR,
                "gfd": {"enabled": False},
            },
            "dcgm-exporter": {
                "tolerations": GPU_TOLERATIONS,
                "nodeSelector": GPU_NODE_SELECTOR,
                "serviceMonitor": {"enabled": True},
            },
            "kuberay-operator": {"singleNamespaceInstall": False},
            "kube-prometheus-stack": {
                "grafana": {"enabled": True},
                "prometheus": {
                    "prometheusSpec": {
                        "retention": "15d",
                        "serviceMonitorSelectorNilUsesHelmValues": False,
                    }
                },
            },
            "metrics-server": {"args": ["--kubelet-preferred-address-types=InternalIP"]},
            "cluster-autoscaler": {
                "autoDiscovery": {"clusterName": args.cluster_name},
                "awsRegion": args.region,
                "rbac": {
                    "serviceAccount": {
                        "name": AUTOSCALER_SERVICE_ACCOUNT,
                        "annotations": {"eks.amazonaws.com/role-arn": autoscaler_role.arn},
                    }
                },
                "extraArgs": {"balance-similar-node-groups": True, "expander": "least-waste"},
            },
        }
        self.releases = {}
        for key, chart in CHARTS.items():
            depends = [self.releases["kube-prometheus-stack"]] if key == "dcgm-exporter" else []
            self.releases[key] = k8s.helm.v3.Release(
                f"{name}-{key}",
                name=key,
                chart=chart.chart,
                version=chart.version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
                namespace=chart.namespace,
                create_namespace=True,
                atomic=True,
                timeout=900,
                values=values[key],
                opts=pulumi.ResourceOptions(
                    parent=self, provider=args.provider, depends_on=depends
                ),
            )
        self.register_outputs({"charts": {key: chart.version for key, chart in CHARTS.items()}})

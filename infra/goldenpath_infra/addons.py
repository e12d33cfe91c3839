"""In-cluster add-ons as Helm releases with pinned chart versions.

Releases (not `helm.v4.Chart`) keep chart, version, repository and values on one resource,
where policies and tests can read them.
"""

from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from goldenpath_infra import load_balancer_controller as lbc
from goldenpath_infra import rules
from goldenpath_infra.guardrails import check_pinned_chart_version
from goldenpath_infra.irsa import service_account_role


@dataclass(frozen=True)
class Chart:
    chart: str
    version: str
    repo: str
    namespace: str


# Chart versions current on 2026-12-02, each the newest release found in the chart's own release
# stream (source, date of that release); bump deliberately, one at a time.
CHARTS: Final = {
    # prometheus-community/helm-charts release kube-prometheus-stack-88.2.0, 2026-08-07.
    "kube-prometheus-stack": Chart(
        "kube-prometheus-stack",
        "88.2.0",
        "https://prometheus-community.github.io/helm-charts",
        "monitoring",
    ),
    # kubernetes-sigs/metrics-server chart 3.14.0 (Kubernetes deps v1.36.2), 2026-08-26.
    "metrics-server": Chart(
        "metrics-server",
        "3.14.0",
        "https://kubernetes-sigs.github.io/metrics-server/",
        "kube-system",
    ),
    # NVIDIA/k8s-device-plugin v0.19.1, 2026-04-24.
    "nvidia-device-plugin": Chart(
        "nvidia-device-plugin",
        "0.19.1",
        "https://nvidia.github.io/k8s-device-plugin",
        "nvidia-device-plugin",
    ),
    # NVIDIA/dcgm-exporter release 4.6.0-4.8.3 (chart 4.8.3), 2026-07-14.
    "dcgm-exporter": Chart(
        "dcgm-exporter",
        "4.8.3",
        "https://nvidia.github.io/dcgm-exporter/helm-charts",
        "monitoring",
    ),
    # ray-project/kuberay v1.5.2 helm release, 2026-04-23.
    "kuberay-operator": Chart(
        "kuberay-operator", "1.5.2", "https://ray-project.github.io/kuberay-helm/", "kuberay"
    ),
    # external-secrets/external-secrets v2.10.0 (helm chart 2.10.0), 2026-08-28. No AWS role of
    # its own: each SecretStore authenticates as its namespace's service account (IRSA).
    "external-secrets": Chart(
        "external-secrets",
        "2.10.0",
        "https://charts.external-secrets.io",
        "external-secrets",
    ),
    # aws/eks-charts aws-load-balancer-controller v3.4.2 automated release, 2026-07-13.
    "aws-load-balancer-controller": Chart(
        "aws-load-balancer-controller",
        "3.4.2",
        "https://aws.github.io/eks-charts",
        "kube-system",
    ),
}

# The placement defaults of the GPU charts' values.yaml, which Helm deep-merges under ours (maps
# merge, lists replace). nvidia-device-plugin: NVIDIA/k8s-device-plugin
# deployments/helm/nvidia-device-plugin/values.yaml (v0.17.1 to v0.19.1; read 2026-12-02): a
# required node affinity on NFD's PCI/CPU vendor labels or `nvidia.com/gpu.present=true`, so with
# GFD/NFD off a node must carry that label. dcgm-exporter: NVIDIA/dcgm-exporter
# deployment/values.yaml (4.8.3): no nodeSelector, affinity or tolerations of its own.
CHART_PLACEMENT_DEFAULTS: Final[dict[str, dict[str, Any]]] = {
    "nvidia-device-plugin": {
        "nodeSelector": {},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "feature.node.kubernetes.io/pci-10de.present",
                                    "operator": "In",
                                    "values": ["true"],
                                }
                            ]
                        },
                        {
                            "matchExpressions": [
                                {
                                    "key": "feature.node.kubernetes.io/cpu-model.vendor_id",
                                    "operator": "In",
                                    "values": ["NVIDIA"],
                                }
                            ]
                        },
                        {
                            "matchExpressions": [
                                {
                                    "key": rules.GPU_PRESENT_LABEL,
                                    "operator": "In",
                                    "values": ["true"],
                                }
                            ]
                        },
                    ]
                }
            }
        },
        "tolerations": [
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        ],
    },
    "dcgm-exporter": {"nodeSelector": {}, "affinity": {}, "tolerations": []},
}


def merged_values(defaults: Any, values: Any) -> Any:
    """Helm's coalescing of user values over chart defaults: maps merge, anything else replaces."""
    if isinstance(defaults, dict) and isinstance(values, dict):
        merged = dict(defaults)
        for key, value in values.items():
            merged[key] = merged_values(defaults.get(key), value)
        return merged
    return values


GPU_TOLERATIONS: Final = [
    {"key": rules.GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
]
GPU_NODE_SELECTOR: Final = {"goldenpath.dev/accelerator": "nvidia"}


@dataclass(frozen=True)
class ClusterAddonsArgs:
    cluster_name: pulumi.Input[str]
    region: str
    provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    vpc_id: pulumi.Input[str] = ""
    prometheus_storage_gib: int = 50


STORAGE_CLASS: Final = "gp3"


class ClusterAddons(pulumi.ComponentResource):
    """GPU scheduling and telemetry, Ray, Prometheus, metrics, secrets and load balancers
    (node autoscaling is Karpenter's, karpenter.py)."""

    releases: dict[str, k8s.helm.v3.Release]

    def __init__(
        self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:cluster:ClusterAddons", name, None, opts)
        for key, chart in CHARTS.items():
            check_pinned_chart_version(key, chart.version)
        # The default StorageClass: gp3 through the EBS CSI driver, encrypted with the environment's
        # key, bound where the pod lands (WaitForFirstConsumer keeps volume and pod in one AZ).
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS,
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
            ),
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": args.kms_key_arn},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        lbc_role = service_account_role(
            f"{name}-load-balancer-controller",
            provider_arn=args.oidc_provider_arn,
            issuer_url=args.oidc_issuer_url,
            namespace=CHARTS["aws-load-balancer-controller"].namespace,
            service_account=lbc.SERVICE_ACCOUNT,
            description="AWS Load Balancer Controller (IRSA)",
            parent=self,
        )
        aws.iam.RolePolicy(
            f"{name}-load-balancer-controller",
            role=lbc_role.id,
            policy=pulumi.Output.from_input(args.cluster_name).apply(lbc.controller_policy),
            opts=pulumi.ResourceOptions(parent=self),
        )
        values: dict[str, Any] = {
            "aws-load-balancer-controller": {
                "clusterName": args.cluster_name,
                "region": args.region,
                "vpcId": args.vpc_id,
                "replicaCount": 2,
                "enableShield": False,
                "enableWaf": False,
                "enableWafv2": False,
                "serviceAccount": {
                    "create": True,
                    "name": lbc.SERVICE_ACCOUNT,
                    "annotations": {"eks.amazonaws.com/role-arn": lbc_role.arn},
                },
            },
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
                        "ruleSelectorNilUsesHelmValues": False,
                        # 15 days of samples on a volume, not on the pod's emptyDir.
                        "storageSpec": {
                            "volumeClaimTemplate": {
                                "spec": {
                                    "storageClassName": STORAGE_CLASS,
                                    "accessModes": ["ReadWriteOnce"],
                                    "resources": {
                                        "requests": {"storage": f"{args.prometheus_storage_gib}Gi"}
                                    },
                                }
                            }
                        },
                    }
                },
            },
            "metrics-server": {"args": ["--kubelet-preferred-address-types=InternalIP"]},
            "external-secrets": {"installCRDs": True},
        }
        self.releases = {}
        for key, chart in CHARTS.items():
            depends: list[pulumi.Resource] = [storage_class]
            if key == "dcgm-exporter":
                depends.append(self.releases["kube-prometheus-stack"])
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

"""ServiceDeployment: one goldenpath service on the platform cluster, with its SLO alerts.

Everything a service needs to run safely in its team namespace is one component, so a
`pulumi up` cannot ship the Deployment without its probes, disruption budget, autoscaler,
scrape config or alerts. Unsafe inputs are refused before any resource is registered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

HTTP_PORT = 8000
DATA_DIR = "/app/.data"  # the image's WORKDIR is /app; the only writable paths are volumes
RUN_AS = 10001  # the `app` user of the Dockerfile
ENVIRONMENTS = ("dev", "staging", "prod")
MIN_PROD_REPLICAS = 2
PRE_STOP_SECONDS = 10  # well inside the 30 s grace period
# Must match infra/goldenpath_infra (rules.py, node_pool.py, addons.py).
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true",
                  "effect": "NoSchedule"}  # fmt: skip
GPU_NODE_SELECTOR = {"goldenpath.dev/accelerator": "nvidia"}
MONITORING_NAMESPACE = "monitoring"
# kube-prometheus-stack selects PrometheusRules by its Helm release label.
PROMETHEUS_SELECTOR_LABELS = {"release": "kube-prometheus-stack"}
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_HOST = re.compile(
    r"(?=.{4,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+(xn--[a-z0-9-]{1,59}|[a-z]{2,63})"
)
_ACM_ARN = re.compile(r"arn:aws(-cn|-us-gov)?:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}")
# A fixed response at the load balancer, named by a backend with port `use-annotation`.
_DENY_ACTION = "deny-internal"
_DENY = '{"type":"fixed-response","fixedResponseConfig":{"contentType":"text/plain","statusCode":"404","messageBody":"not found"}}'  # noqa: E501
INGRESS_SCHEMES = ("internet-facing", "internal")
# TLS 1.3 and 1.2 only (Elastic Load Balancing user guide, "Security policies for your
# Application Load Balancer", read 2026-12-03).
ALB_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


class DeployGuardrailError(ValueError):
    """An input the platform refuses: names the argument, the value and the rule."""

    def __init__(self, arg: str, value: object, rule: str) -> None:
        super().__init__(f"{arg}={value!r} refused: {rule}")
        self.arg, self.value, self.rule = arg, value, rule


def load_alert_groups(path: Path) -> list[dict[str, Any]]:
    """The `groups` of a Prometheus rules file: the service's SLO alerts as a PrometheusRule."""
    groups = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("groups") or []
    if not groups:
        raise DeployGuardrailError("alerts", str(path), "a service must ship its SLO alerts")
    return list(groups)


@dataclass(frozen=True)
class IngressArgs:
    """HTTPS from outside the cluster through the platform's AWS Load Balancer Controller.

    The Ingress names the platform's load-balancer security group (tcp/443 in, the VPC out)
    instead of letting the controller create one per Ingress. With an explicit group the
    controller leaves the nodes' group alone (AWS Load Balancer Controller docs, "Ingress
    annotations: security-groups", read 2026-12-03): the platform stack admits that group to
    the nodes on port 8000 itself. Targets are pod IPs (`target-type: ip`), so the service's
    NetworkPolicy admits the subnets the load balancer's nodes sit in (`source_cidrs`: the
    public subnets for an internet-facing one) and not the VPC, whose addresses every pod has.
    `/metrics` is answered 404 by the load balancer: Prometheus scrapes it inside the cluster.
    Each service gets its own ALB (no `group.name`).
    """

    host: str
    certificate_arn: str
    security_group_id: pulumi.Input[str]
    source_cidrs: pulumi.Input[Sequence[str]]
    scheme: str = "internet-facing"

    def __post_init__(self) -> None:
        if not _HOST.fullmatch(self.host):
            raise DeployGuardrailError(
                "ingressHost", self.host, "a lowercase DNS name such as api.example.com"
            )
        if not _ACM_ARN.fullmatch(self.certificate_arn):
            raise DeployGuardrailError(
                "certificateArn",
                self.certificate_arn,
                "an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>):"
                " the load balancer serves HTTPS only",
            )
        if self.scheme not in INGRESS_SCHEMES:
            raise DeployGuardrailError(
                "ingressScheme", self.scheme, f"must be one of {', '.join(INGRESS_SCHEMES)}"
            )

    def annotations(self) -> dict[str, pulumi.Input[str]]:
        prefix = "alb.ingress.kubernetes.io"
        return {
            f"{prefix}/scheme": self.scheme,
            f"{prefix}/target-type": "ip",
            f"{prefix}/listen-ports": '[{"HTTPS": 443}]',
            f"{prefix}/certificate-arn": self.certificate_arn,
            f"{prefix}/ssl-policy": ALB_SSL_POLICY,
            f"{prefix}/security-groups": self.security_group_id,
            f"{prefix}/healthcheck-path": "/readyz",
            f"{prefix}/actions.{_DENY_ACTION}": _DENY,
        }


@dataclass(frozen=True)
class ServiceDeploymentArgs:
    """What to run and how much of it; validated in `__post_init__`."""

    service: str
    environment: str
    image: str
    namespace: pulumi.Input[str]
    service_account: pulumi.Input[str]
    replicas: int
    max_replicas: int
    requests: Mapping[str, str]
    limits: Mapping[str, str]
    alert_groups: Sequence[Mapping[str, Any]]
    # Plain settings only: secrets come from Secrets Manager (SECRETS_ID) and the database
    # from IAM tokens, so no Secret value ever sits in the pod spec or an env var.
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    gpus: int = 0
    # True when state lives in one pod's file (SQLite): more replicas would split it.
    single_replica: bool = False
    target_cpu_percent: int = 70
    shared_memory: bool = False  # Ray's object store wants a real /dev/shm
    egress_tcp_ports: Sequence[int] = (443,)
    ingress: IngressArgs | None = None  # None: reachable inside the cluster only

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise DeployGuardrailError(
                "environment", self.environment, f"must be one of {', '.join(ENVIRONMENTS)}"
            )
        check_image(self.image)
        if self.replicas < 1:
            raise DeployGuardrailError("replicas", self.replicas, "must be at least 1")
        if self.environment == "prod" and self.replicas < MIN_PROD_REPLICAS:
            raise DeployGuardrailError(
                "replicas",
                self.replicas,
                f"prod runs at least {MIN_PROD_REPLICAS} replicas, so a rollout or node drain"
                " never takes the service down",
            )
        if self.single_replica and self.replicas != 1:
            raise DeployGuardrailError(
                "replicas",
                self.replicas,
                "state is kept in one pod's SQLite file: run 1 replica, or choose PostgreSQL",
            )
        if self.max_replicas < self.replicas:
            raise DeployGuardrailError(
                "max_replicas", self.max_replicas, f"must be >= replicas ({self.replicas})"
            )
        for kind in ("cpu", "memory"):
            if not str(self.limits.get(kind) or "").strip():
                raise DeployGuardrailError(
                    "resources.limits",
                    dict(self.limits),
                    f"a {kind} limit is required: a pod without one can starve its node",
                )
        if self.gpus < 0:
            raise DeployGuardrailError("gpus", self.gpus, "must not be negative")
        if not 1 <= self.target_cpu_percent <= 100:
            raise DeployGuardrailError(
                "target_cpu_percent", self.target_cpu_percent, "must be between 1 and 100"
            )


def check_image(image: str) -> None:
    """Pinned images only: a moving tag makes rollbacks and audits lie about what ran."""
    if _DIGEST.search(image):
        return
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag or not tag:
        raise DeployGuardrailError(
            "image", image, "pin the image with a tag (name:1.2.3) or a digest (name@sha256:...)"
        )
    if tag == "latest":
        raise DeployGuardrailError(
            "image", image, "the 'latest' tag moves: pin a version tag or a digest"
        )


class ServiceDeployment(pulumi.ComponentResource):
    """Deployment, Service, PDB, HPA, NetworkPolicy, ServiceMonitor and PrometheusRule, and
    an ALB Ingress when the args ask for one."""

    def __init__(
        self, name: str, args: ServiceDeploymentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:service:ServiceDeployment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        selector = {"app.kubernetes.io/name": args.service}
        labels = {
            **selector,
            "app.kubernetes.io/part-of": "goldenpath",
            "app.kubernetes.io/managed-by": "pulumi",
        }

        def meta(extra: Mapping[str, str] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=args.service, namespace=args.namespace, labels={**labels, **(extra or {})}
            )

        env = [k8s.core.v1.EnvVarArgs(name=key, value=value) for key, value in args.env.items()]

        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=args.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                strategy=_rollout(args.gpus),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=_pod_spec(args, env),
                ),
            ),
            opts=child,
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(),
            spec=k8s.core.v1.ServiceSpecArgs(
                selector=selector,
                ports=[
                    k8s.core.v1.ServicePortArgs(name="http", port=HTTP_PORT, target_port="http")
                ],
            ),
            opts=child,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=meta(),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector)
            ),
            opts=child,
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=meta(),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=self.deployment.metadata.name
                ),
                min_replicas=args.replicas,
                max_replicas=args.max_replicas,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization", average_utilization=args.target_cpu_percent
                            ),
                        ),
                    )
                ],
            ),
            opts=child,
        )
        # The team namespace denies all traffic by default: open exactly what the service uses.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=meta(),
            spec=_network_policy(
                selector, args.egress_tcp_ports, args.ingress.source_cidrs if args.ingress else None
            ),
            opts=child,
        )
        self.public_url: pulumi.Output[str] | None = None
        if args.ingress:
            # IngressClass `alb` is the one the controller's chart creates by default
            # (aws-load-balancer-controller values.yaml: ingressClass, createIngressClassResource).
            k8s.networking.v1.Ingress(
                f"{name}-ingress",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=args.service,
                    namespace=args.namespace,
                    labels=labels,
                    annotations=args.ingress.annotations(),
                ),
                spec=k8s.networking.v1.IngressSpecArgs(
                    ingress_class_name="alb",
                    rules=[
                        k8s.networking.v1.IngressRuleArgs(
                            host=args.ingress.host,
                            http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                                paths=[
                                    # Ingress rules match the longest path first.
                                    k8s.networking.v1.HTTPIngressPathArgs(
                                        path="/metrics",
                                        path_type="Prefix",
                                        backend=k8s.networking.v1.IngressBackendArgs(
                                            service=k8s.networking.v1.IngressServiceBackendArgs(
                                                name=_DENY_ACTION,
                                                port=k8s.networking.v1.ServiceBackendPortArgs(
                                                    name="use-annotation"
                                                ),
                                            )
                                        ),
                                    ),
                                    k8s.networking.v1.HTTPIngressPathArgs(
                                        path="/",
                                        path_type="Prefix",
                                        backend=k8s.networking.v1.IngressBackendArgs(
                                            service=k8s.networking.v1.IngressServiceBackendArgs(
                                                name=args.service,
                                                port=k8s.networking.v1.ServiceBackendPortArgs(
                                                    number=HTTP_PORT
                                                ),
                                            )
                                        ),
                                    ),
                                ]
                            ),
                        )
                    ],
                ),
                opts=child,
            )
            self.public_url = pulumi.Output.from_input(f"https://{args.ingress.host}")
        # Prometheus Operator objects: the scrape config and the SLO alerts ship with the service.
        monitoring = {
            "servicemonitor": ("ServiceMonitor", {
                "selector": {"matchLabels": selector},
                "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
            }),
            "rules": ("PrometheusRule", {"groups": [dict(g) for g in args.alert_groups]}),
        }  # fmt: skip
        for suffix, (kind, spec) in monitoring.items():
            k8s.apiextensions.CustomResource(
                f"{name}-{suffix}",
                api_version="monitoring.coreos.com/v1",
                kind=kind,
                metadata=meta(PROMETHEUS_SELECTOR_LABELS),
                spec=spec,
                opts=child,
            )
        self.url = pulumi.Output.concat(
            "http://", args.service, ".", args.namespace, ".svc.cluster.local:", str(HTTP_PORT)
        )
        self.register_outputs(
            {
                "deployment": self.deployment.metadata.name,
                "service": self.service.metadata.name,
                "namespace": args.namespace,
                "url": self.url,
            }
        )


def _rollout(gpus: int) -> k8s.apps.v1.DeploymentStrategyArgs:
    # GPU pods surge into the team's GPU quota and may not fit: replace them one at a time.
    surge, unavailable = (0, 1) if gpus else (1, 0)
    return k8s.apps.v1.DeploymentStrategyArgs(
        type="RollingUpdate",
        rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
            max_surge=surge, max_unavailable=unavailable
        ),
    )


def _pod_spec(args: ServiceDeploymentArgs, env: list[Any]) -> k8s.core.v1.PodSpecArgs:
    requests = {**args.limits, **args.requests}
    limits = dict(args.limits)
    if args.gpus:
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(args.gpus)
    scratch = {"data": DATA_DIR, "tmp": "/tmp"}
    volumes = [
        k8s.core.v1.VolumeArgs(name=volume, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs())
        for volume in scratch
    ]
    if args.shared_memory:
        scratch["dshm"] = "/dev/shm"
        volumes.append(
            k8s.core.v1.VolumeArgs(
                name="dshm", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(medium="Memory")
            )
        )

    def probe(path: str, period: int, failures: int) -> k8s.core.v1.ProbeArgs:
        return k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port="http"),
            period_seconds=period,
            timeout_seconds=3,
            failure_threshold=failures,
        )

    container = k8s.core.v1.ContainerArgs(
        name="service",
        image=args.image,
        ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=HTTP_PORT)],
        env=[k8s.core.v1.EnvVarArgs(name="DATA_DIR", value=DATA_DIR), *env],
        resources=k8s.core.v1.ResourceRequirementsArgs(requests=requests, limits=limits),
        # Model loads take a while: the startup probe holds liveness off for up to 5 minutes.
        # A pod leaving keeps serving a few seconds while load balancers and Services stop
        # sending it traffic (the sleep action: Kubernetes 1.30+, "Container Lifecycle Hooks").
        lifecycle=k8s.core.v1.LifecycleArgs(
            pre_stop=k8s.core.v1.LifecycleHandlerArgs(
                sleep=k8s.core.v1.SleepActionArgs(seconds=PRE_STOP_SECONDS)
            )
        ),
        startup_probe=probe("/healthz", 5, 60),
        liveness_probe=probe("/healthz", 10, 3),
        readiness_probe=probe("/readyz", 5, 2),
        security_context=k8s.core.v1.SecurityContextArgs(
            run_as_non_root=True,
            run_as_user=RUN_AS,
            run_as_group=RUN_AS,
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        ),
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name=volume, mount_path=path)
            for volume, path in scratch.items()
        ],
    )
    return k8s.core.v1.PodSpecArgs(
        service_account_name=args.service_account,
        # No Kubernetes API token: the service never calls the API server. The IRSA webhook
        # mounts its own web-identity token for AWS, whatever this says.
        automount_service_account_token=False,
        containers=[container],
        volumes=volumes,
        security_context=k8s.core.v1.PodSecurityContextArgs(
            run_as_non_root=True,
            run_as_user=RUN_AS,
            run_as_group=RUN_AS,
            fs_group=RUN_AS,
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        ),
        termination_grace_period_seconds=30,
        tolerations=[_gpu_toleration()] if args.gpus else None,
        node_selector=dict(GPU_NODE_SELECTOR) if args.gpus else None,
        topology_spread_constraints=[
            k8s.core.v1.TopologySpreadConstraintArgs(
                max_skew=1,
                topology_key="topology.kubernetes.io/zone",
                when_unsatisfiable="ScheduleAnyway",
                label_selector=k8s.meta.v1.LabelSelectorArgs(
                    match_labels={"app.kubernetes.io/name": args.service}
                ),
            )
        ],
    )


def _gpu_toleration() -> k8s.core.v1.TolerationArgs:
    t = GPU_TOLERATION
    return k8s.core.v1.TolerationArgs(
        key=t["key"], operator=t["operator"], value=t["value"], effect=t["effect"]
    )


def _network_policy(
    selector: Mapping[str, str],
    egress_tcp_ports: Sequence[int],
    load_balancer_cidrs: pulumi.Input[Sequence[str]] | None = None,
) -> k8s.networking.v1.NetworkPolicySpecArgs:
    """Ingress: the team's namespace and Prometheus (and the subnets of the ALB's nodes,
    when the service has an Ingress). Egress: the listed TCP ports (DNS is already allowed
    by the namespace)."""
    static: list[dict[str, Any]] = [
        {"podSelector": {}},
        {
            "namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}
            }
        },
    ]
    peers: pulumi.Input[Sequence[Any]] = static
    if load_balancer_cidrs is not None:
        peers = pulumi.Output.from_input(load_balancer_cidrs).apply(
            lambda cidrs: [*static, *({"ipBlock": {"cidr": cidr}} for cidr in cidrs)]
        )
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(selector)),
        policy_types=["Ingress", "Egress"],
        ingress=[
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=peers,
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=HTTP_PORT)],
            )
        ],
        egress=[
            k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                ports=[
                    k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=port)
                    for port in sorted(set(egress_tcp_ports))
                ]
            )
        ],
    )

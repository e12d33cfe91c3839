"""Construction-time guardrails: refuse unsafe arguments before anything is registered.

Each check raises `GuardrailError` naming the argument, the value and the rule, so a failed
`pulumi preview` points at the line of config to change rather than at an AWS error minutes later.
"""

import datetime
import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

from goldenpath_infra import rules, versions

_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


class GuardrailError(ValueError):
    """An argument breaks one of the organisation's infrastructure rules."""

    def __init__(self, argument: str, value: Any, rule: str) -> None:
        self.argument = argument
        self.value = value
        self.rule = rule
        super().__init__(f"{argument}={value!r} refused: {rule}")


def check_environment(environment: str) -> None:
    if environment not in rules.ENVIRONMENTS:
        raise GuardrailError("environment", environment, f"must be one of {rules.ENVIRONMENTS}")


def check_required_tags(tags: Mapping[str, str], argument: str = "tags") -> None:
    """Every taggable resource carries owner, cost centre, environment and classification."""
    missing = [key for key in rules.REQUIRED_TAGS if not str(tags.get(key, "")).strip()]
    if missing:
        raise GuardrailError(argument, dict(tags), f"required tags {missing} are missing or empty")
    if tags["environment"] not in rules.ENVIRONMENTS:
        raise GuardrailError(
            f"{argument}.environment",
            tags["environment"],
            f"must be one of {rules.ENVIRONMENTS}",
        )
    if tags["data-classification"] not in rules.DATA_CLASSIFICATIONS:
        raise GuardrailError(
            f"{argument}.data-classification",
            tags["data-classification"],
            f"must be one of {rules.DATA_CLASSIFICATIONS}",
        )


def check_gpu_instance_types(instance_types: Iterable[str], argument: str) -> None:
    types = list(instance_types)
    if not types:
        raise GuardrailError(argument, types, "at least one instance type is required")
    for instance_type in types:
        if rules.instance_family(instance_type) not in rules.GPU_INSTANCE_FAMILIES:
            raise GuardrailError(
                argument,
                instance_type,
                f"GPU instance family must be one of {rules.GPU_INSTANCE_FAMILIES}",
            )


def check_gpu_ami_type(ami_type: str, argument: str) -> None:
    if ami_type not in rules.GPU_AMI_TYPES:
        raise GuardrailError(
            argument,
            ami_type,
            f"GPU nodes need an NVIDIA AMI type, one of {rules.GPU_AMI_TYPES} "
            "(AL2 GPU AMIs are no longer published)",
        )


def check_scaling(min_size: int, desired_size: int, max_size: int, argument: str) -> None:
    if not 0 <= min_size <= desired_size <= max_size or max_size < 1:
        raise GuardrailError(
            argument,
            {"min": min_size, "desired": desired_size, "max": max_size},
            "needs 0 <= min <= desired <= max and max >= 1",
        )


def check_gpu_node_cap(environment: str, max_nodes: int, argument: str) -> None:
    cap = rules.GPU_NODE_CAP[environment]
    if max_nodes > cap:
        raise GuardrailError(
            argument, max_nodes, f"GPU max nodes in {environment} may not exceed {cap}"
        )


def check_cluster_endpoint(
    environment: str, public_access: bool, public_access_cidrs: Iterable[str]
) -> None:
    """Prod API servers are private; elsewhere a public endpoint needs a narrow allow-list."""
    cidrs = list(public_access_cidrs)
    if not public_access:
        return
    if environment == "prod":
        raise GuardrailError(
            "endpoint_public_access", True, "the EKS API endpoint must be private in prod"
        )
    if not cidrs:
        raise GuardrailError(
            "public_access_cidrs",
            cidrs,
            "a public EKS endpoint needs a CIDR allow-list",
        )
    for cidr in cidrs:
        network = parse_network(cidr, "public_access_cidrs")
        widest = rules.MIN_ALLOW_LIST_PREFIX[network.version]
        if network.prefixlen < widest:
            raise GuardrailError(
                "public_access_cidrs",
                cidr,
                f"allow-list entries must be /{widest} or narrower for IPv{network.version}",
            )


def parse_network(cidr: str, argument: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR as a network; a malformed one is refused naming the argument."""
    try:
        return ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        raise GuardrailError(argument, cidr, "must be a CIDR such as 10.0.0.0/16") from None


def reaches_internet(cidr: str, argument: str = "cidr") -> bool:
    """True unless the whole network lies inside private address space (rules.PRIVATE_NETWORKS).

    Compared as networks, not strings: 0.0.0.0/1, 0.0.0.0/0 and 8.8.0.0/16 all reach the internet.
    """
    network = parse_network(cidr, argument)
    for private in rules.PRIVATE_NETWORKS:
        block = ipaddress.ip_network(private)
        if block.version == network.version and network.subnet_of(block):  # type: ignore[arg-type]
            return False
    return True


def check_not_public(publicly_accessible: bool, argument: str = "publicly_accessible") -> None:
    if publicly_accessible:
        raise GuardrailError(argument, publicly_accessible, "databases are never public")


def check_encrypted(encrypted: bool, argument: str) -> None:
    if not encrypted:
        raise GuardrailError(argument, encrypted, "storage must be encrypted at rest")


def check_kms_key(kms_key_arn: object, argument: str = "kms_key_arn") -> None:
    if kms_key_arn is None or kms_key_arn == "":
        raise GuardrailError(argument, kms_key_arn, "the environment's KMS key is required")


def check_deletion_protection(environment: str, deletion_protection: bool) -> None:
    if environment == "prod" and not deletion_protection:
        raise GuardrailError(
            "deletion_protection", deletion_protection, "deletion protection is required in prod"
        )


def check_ingress(
    cidr: str | None, protocol: str, from_port: int, to_port: int, load_balancer: bool
) -> None:
    """Internet ingress (any prefix outside private space) only to a load balancer, on 443."""
    if cidr is None or not reaches_internet(cidr, "ingress.cidr"):
        return
    port = rules.LOAD_BALANCER_OPEN_PORT
    if not (load_balancer and protocol == "tcp" and from_port == port and to_port == port):
        raise GuardrailError(
            "ingress.cidr",
            cidr,
            f"ingress from anywhere is allowed only to a load balancer on tcp/{port} "
            f"(got {protocol} {from_port}-{to_port}, load_balancer={load_balancer})",
        )


def check_pinned_chart_version(chart: str, version: str) -> None:
    if not _SEMVER.match(version):
        raise GuardrailError(
            f"charts.{chart}.version", version, "Helm chart versions must be pinned to x.y.z"
        )


def check_retention(days: int, argument: str, minimum: int) -> None:
    if days < minimum:
        raise GuardrailError(argument, days, f"must be at least {minimum} days")


def check_team_name(team: str, argument: str = "team") -> None:
    """Team names are namespaces and parts of IAM and S3 names: a short RFC 1123 DNS label."""
    if len(team) > rules.TEAM_NAME_MAX_LENGTH or not re.match(rules.TEAM_NAME_PATTERN, team):
        raise GuardrailError(
            argument,
            team,
            f"must be a DNS label: lowercase letters, digits and inner hyphens, 1 to"
            f" {rules.TEAM_NAME_MAX_LENGTH} characters",
        )


def check_kubernetes_version(
    version: str, support_type: str, today: datetime.date | None = None
) -> None:
    """Refuse a version EKS does not list, or one past standard support unless EXTENDED is chosen.

    With `support_type=STANDARD` EKS upgrades a cluster past its standard-support end under the
    stack; with EXTENDED it stays, at the extended-support price per cluster hour.
    """
    if support_type not in ("STANDARD", "EXTENDED"):
        raise GuardrailError("cluster.supportType", support_type, "STANDARD or EXTENDED")
    support = versions.EKS_SUPPORT.get(version)
    if support is None:
        raise GuardrailError(
            "cluster.kubernetesVersion",
            version,
            f"not in the EKS support calendar (known: {', '.join(sorted(versions.EKS_SUPPORT))})",
        )
    today = today or datetime.date.today()
    if today >= support.extended_end:
        raise GuardrailError(
            "cluster.kubernetesVersion", version, f"extended support ended {support.extended_end}"
        )
    if today >= support.standard_end and support_type != "EXTENDED":
        raise GuardrailError(
            "cluster.kubernetesVersion",
            version,
            f"standard support ended {support.standard_end}: upgrade, or set"
            " cluster.supportType: EXTENDED (billed per cluster hour)",
        )


def check_db_instances(environment: str, instances: int) -> None:
    if instances < 1:
        raise GuardrailError("instances", instances, "at least one instance")
    if environment == "prod" and instances < rules.PROD_MIN_DB_INSTANCES:
        raise GuardrailError(
            "instances",
            instances,
            f"prod runs at least {rules.PROD_MIN_DB_INSTANCES} instances (a reader to fail over)",
        )


def check_engine_version(engine_version: str, auto_minor_version_upgrade: bool) -> None:
    """Pinned x.y with auto minor upgrades off, or the major alone with them on.

    A pinned minor with upgrades on drifts: AWS moves the cluster to 17.10 and the next `pulumi up`
    tries to go back to 17.9, which RDS refuses.
    """
    if auto_minor_version_upgrade and not re.fullmatch(r"\d+", engine_version):
        raise GuardrailError(
            "engine_version",
            engine_version,
            "with auto minor version upgrades on, give the major version only (e.g. 17)",
        )
    if not auto_minor_version_upgrade and not re.fullmatch(r"\d+\.\d+", engine_version):
        raise GuardrailError(
            "engine_version",
            engine_version,
            "pin major.minor (e.g. 17.9) when auto minor version upgrades are off",
        )

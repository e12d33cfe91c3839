"""Typed stack configuration: the only thing that differs between dev, staging and prod.

`parse_stack_config` takes the `goldenpath:*` values of a `Pulumi.<env>.yaml` (without the
namespace) so `__main__.py` and the tests build the same `StackConfig` from the same files.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from goldenpath_infra import versions
from goldenpath_infra.guardrails import (
    GuardrailError,
    check_environment,
    check_required_tags,
    check_team_name,
)


@dataclass(frozen=True)
class NodePoolSpec:
    """One managed node group: instance types and scaling bounds."""

    name: str
    instance_types: tuple[str, ...]
    min_size: int
    desired_size: int
    max_size: int
    capacity_type: str = "ON_DEMAND"
    disk_size_gib: int = 100
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TeamSpec:
    """A team namespace: its GPU quota and the services that get credentials."""

    name: str
    gpu_quota: int
    services: tuple[str, ...]


@dataclass(frozen=True)
class VectorStoreSpec:
    min_capacity: float
    max_capacity: float
    instances: int
    backup_retention_days: int
    deletion_protection: bool
    engine_version: str = versions.AURORA_POSTGRES_VERSION
    auto_minor_version_upgrade: bool = False
    # The RDS Data API is an HTTPS path into the database from outside the VPC: off unless asked.
    data_api: bool = False
    opensearch_collection: bool = False


@dataclass(frozen=True)
class BudgetSpec:
    monthly_limit_usd: int
    alert_emails: tuple[str, ...]
    thresholds_percent: tuple[int, ...] = (50, 80, 100)


@dataclass(frozen=True)
class StackConfig:
    environment: str
    region: str
    tags: Mapping[str, str]
    vpc_cidr: str
    az_count: int
    nat_gateway_per_az: bool
    flow_log_retention_days: int
    kubernetes_version: str
    support_type: str
    platform_admin_role: str
    ci_deploy_role: str
    endpoint_public_access: bool
    public_access_cidrs: tuple[str, ...]
    system_nodes: NodePoolSpec
    gpu_node_pools: tuple[NodePoolSpec, ...]
    teams: tuple[TeamSpec, ...]
    vector_store: VectorStoreSpec
    budget: BudgetSpec
    log_retention_days: int = 90

    @property
    def name_prefix(self) -> str:
        return f"gp-{self.environment}"


def _require(values: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in values:
        raise GuardrailError(f"{where}.{key}", None, "is required")
    return values[key]


def _node_pool(raw: Mapping[str, Any], where: str) -> NodePoolSpec:
    types = raw.get("instanceTypes") or [_require(raw, "instanceType", where)]
    return NodePoolSpec(
        name=str(_require(raw, "name", where)),
        instance_types=tuple(str(t) for t in types),
        min_size=int(_require(raw, "min", where)),
        desired_size=int(_require(raw, "desired", where)),
        max_size=int(_require(raw, "max", where)),
        capacity_type=str(raw.get("capacityType", "ON_DEMAND")),
        disk_size_gib=int(raw.get("diskSizeGib", 100)),
        labels={str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
    )


def _teams(raw: Any) -> tuple[TeamSpec, ...]:
    teams = []
    for index, team in enumerate(raw):
        name = str(_require(team, "name", f"teams[{index}]"))
        check_team_name(name, f"teams[{index}].name")
        services = tuple(str(s) for s in team.get("services") or ())
        for position, service in enumerate(services):
            check_team_name(service, f"teams[{index}].services[{position}]")
        teams.append(TeamSpec(name, int(team.get("gpuQuota", 0)), services))
    names = [team.name for team in teams]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise GuardrailError("teams", duplicates, "each team is listed once")
    return tuple(teams)


def parse_stack_config(environment: str, region: str, values: Mapping[str, Any]) -> StackConfig:
    """Build a `StackConfig` from the `goldenpath:` keys of a stack file."""
    check_environment(environment)
    tags = {str(k): str(v) for k, v in (values.get("tags") or {}).items()}
    tags.setdefault("environment", environment)
    if tags["environment"] != environment:
        raise GuardrailError("tags.environment", tags["environment"], f"must be {environment}")
    check_required_tags(tags)

    network = _require(values, "network", "goldenpath")
    cluster = _require(values, "cluster", "goldenpath")
    store = _require(values, "vectorStore", "goldenpath")
    budget = _require(values, "budget", "goldenpath")
    return StackConfig(
        environment=environment,
        region=region,
        tags=tags,
        vpc_cidr=str(_require(network, "cidr", "network")),
        az_count=int(_require(network, "azCount", "network")),
        nat_gateway_per_az=str(network.get("natGateways", "single")) == "per-az",
        flow_log_retention_days=int(network.get("flowLogRetentionDays", 90)),
        kubernetes_version=str(_require(cluster, "kubernetesVersion", "cluster")),
        support_type=str(cluster.get("supportType", "STANDARD")),
        platform_admin_role=str(
            (cluster.get("access") or {}).get("platformAdminRole", "goldenpath-platform-admin")
        ),
        ci_deploy_role=str(
            (cluster.get("access") or {}).get("ciDeployRole", "goldenpath-ci-deploy")
        ),
        endpoint_public_access=bool(cluster.get("endpointPublicAccess", False)),
        public_access_cidrs=tuple(str(c) for c in cluster.get("publicAccessCidrs") or ()),
        system_nodes=_node_pool(
            {"name": "system", **_require(cluster, "systemNodes", "cluster")}, "systemNodes"
        ),
        gpu_node_pools=tuple(
            _node_pool(pool, f"gpuNodePools[{i}]")
            for i, pool in enumerate(cluster.get("gpuNodePools") or ())
        ),
        teams=_teams(values.get("teams") or ()),
        vector_store=VectorStoreSpec(
            min_capacity=float(_require(store, "minCapacity", "vectorStore")),
            max_capacity=float(_require(store, "maxCapacity", "vectorStore")),
            instances=int(store.get("instances", 1)),
            backup_retention_days=int(store.get("backupRetentionDays", 7)),
            deletion_protection=bool(store.get("deletionProtection", environment == "prod")),
            engine_version=str(store.get("engineVersion", versions.AURORA_POSTGRES_VERSION)),
            auto_minor_version_upgrade=bool(store.get("autoMinorVersionUpgrade", False)),
            data_api=bool(store.get("dataApi", False)),
            opensearch_collection=bool(store.get("opensearchCollection", False)),
        ),
        budget=BudgetSpec(
            monthly_limit_usd=int(_require(budget, "monthlyLimitUsd", "budget")),
            alert_emails=tuple(str(e) for e in _require(budget, "alertEmails", "budget")),
            thresholds_percent=tuple(
                int(t) for t in budget.get("thresholdsPercent", (50, 80, 100))
            ),
        ),
        log_retention_days=int(values.get("logRetentionDays", 90)),
    )

"""Every `raise GuardrailError` in the components has a failing input here (finding 12).

Sites are found by reading the source; each case must raise from exactly one of them (the
innermost frame of the error's traceback), so a new refusal without a test fails this file.
"""

import ast
import dataclasses
import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from goldenpath_infra import guardrails as g
from goldenpath_infra.cluster import GpuCluster
from goldenpath_infra.config import NodePoolSpec, parse_stack_config
from goldenpath_infra.cost import CostGuardrails, CostGuardrailsArgs
from goldenpath_infra.karpenter import gpu_limit
from goldenpath_infra.keys import EnvironmentKeys, EnvironmentKeysArgs
from goldenpath_infra.network import Network, NetworkArgs, subnet_layout
from goldenpath_infra.node_pool import NodePool
from goldenpath_infra.security_group import (
    GuardedSecurityGroup,
    GuardedSecurityGroupArgs,
    IngressRule,
)
from goldenpath_infra.team_namespace import TeamNamespace, TeamNamespaceArgs
from goldenpath_infra.vector_collection import VectorCollection, VectorCollectionArgs
from goldenpath_infra.vector_store import VectorStore
from infra_mocks import INFRA, run_program
from test_guardrails import KEY, TAGS, cluster_args, node_pool_args, vector_store_args

PACKAGE = INFRA / "goldenpath_infra"


def refusal_sites() -> set[tuple[str, int]]:
    sites = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Raise)
                and isinstance(node.exc, ast.Call)
                and getattr(node.exc.func, "id", "") == "GuardrailError"
            ):
                sites.add((path.name, node.lineno))
    return sites


def dev_values(**changes: Any) -> dict[str, Any]:
    raw = yaml.safe_load((INFRA / "Pulumi.dev.yaml").read_text())["config"]
    values = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("goldenpath:")}
    values.pop("environment")
    return {**values, **changes}


def under_mocks(build: Callable[[], object]) -> Callable[[], object]:
    return lambda: run_program(lambda: (build(), {})[1], "refusals")


def network_args(**changes: Any) -> NetworkArgs:
    base = NetworkArgs("dev", "us-east-1", "10.20.0.0/16", ["a", "b"], False, 30, KEY, "c")
    return dataclasses.replace(base, **changes)


def team_args(**changes: Any) -> TeamNamespaceArgs:
    base = TeamNamespaceArgs(
        "search", 1, cast(Any, None), "arn:oidc", "https://oidc", KEY, {}, "db-1", "us-east-1", "1"
    )
    return dataclasses.replace(base, **changes)


LATER = datetime.date(2029, 1, 1)
# id -> (the call that must be refused, the argument the error names)
CASES: dict[str, tuple[Callable[[], object], str]] = {
    "access-role-name": (
        under_mocks(
            lambda: GpuCluster("eks", cluster_args(ci_deploy_role="arn:aws:iam::1:role/x"), "r")
        ),
        "access.ciDeployRole",
    ),
    "karpenter-gpu-count": (
        lambda: gpu_limit(NodePoolSpec("gpu", ("g7.xlarge",), 0, 0, 2)),
        "gpuNodePools[gpu].instanceTypes",
    ),
    "cluster-version-unpinned": (
        under_mocks(lambda: GpuCluster("eks", cluster_args(kubernetes_version="latest"), "r")),
        "kubernetes_version",
    ),
    "config-required-key": (
        lambda: parse_stack_config("dev", "us-east-1", {"tags": TAGS}),
        "goldenpath.network",
    ),
    "config-duplicate-team": (
        lambda: parse_stack_config("dev", "r", dev_values(teams=[{"name": "a"}, {"name": "a"}])),
        "teams",
    ),
    "config-tag-environment": (
        lambda: parse_stack_config("dev", "r", dev_values(tags={**TAGS, "environment": "prod"})),
        "tags.environment",
    ),
    "cost-limit": (
        under_mocks(lambda: CostGuardrails("c", CostGuardrailsArgs("dev", 0, ["a@b"], [50]))),
        "monthly_limit_usd",
    ),
    "cost-emails": (
        under_mocks(lambda: CostGuardrails("c", CostGuardrailsArgs("dev", 10, [], [50]))),
        "alert_emails",
    ),
    "cost-thresholds": (
        under_mocks(lambda: CostGuardrails("c", CostGuardrailsArgs("dev", 10, ["a@b"], [0]))),
        "thresholds_percent",
    ),
    "environment": (lambda: g.check_environment("qa"), "environment"),
    "tags-missing": (lambda: g.check_required_tags({"owner": "x"}), "tags"),
    "tags-environment": (
        lambda: g.check_required_tags({**TAGS, "environment": "qa"}),
        "tags.environment",
    ),
    "tags-classification": (
        lambda: g.check_required_tags({**TAGS, "data-classification": "secret"}),
        "tags.data-classification",
    ),
    "gpu-types-empty": (lambda: g.check_gpu_instance_types([], "instance_types"), "instance_types"),
    "gpu-types-family": (
        lambda: g.check_gpu_instance_types(["m6i.large"], "instance_types"),
        "instance_types",
    ),
    "gpu-ami": (lambda: g.check_gpu_ami_type("AL2_x86_64_GPU", "ami_type"), "ami_type"),
    "scaling": (lambda: g.check_scaling(2, 1, 3, "pool.scaling"), "pool.scaling"),
    "gpu-cap": (lambda: g.check_gpu_node_cap("dev", 5, "max_size"), "max_size"),
    "endpoint-prod": (
        lambda: g.check_cluster_endpoint("prod", True, ["203.0.113.0/24"]),
        "endpoint_public_access",
    ),
    "endpoint-no-list": (lambda: g.check_cluster_endpoint("dev", True, []), "public_access_cidrs"),
    "endpoint-wide-list": (
        lambda: g.check_cluster_endpoint("dev", True, ["52.0.0.0/8"]),
        "public_access_cidrs",
    ),
    "cidr-malformed": (
        lambda: g.check_cluster_endpoint("dev", True, ["203.0.113.0/33"]),
        "public_access_cidrs",
    ),
    "public-db": (lambda: g.check_not_public(True), "publicly_accessible"),
    "unencrypted": (lambda: g.check_encrypted(False, "storage_encrypted"), "storage_encrypted"),
    "kms-key": (lambda: g.check_kms_key(""), "kms_key_arn"),
    "deletion-protection": (
        lambda: g.check_deletion_protection("prod", False),
        "deletion_protection",
    ),
    "ingress-internet": (
        lambda: g.check_ingress("0.0.0.0/1", "tcp", 22, 22, False),
        "ingress.cidr",
    ),
    "chart-unpinned": (
        lambda: g.check_pinned_chart_version("x", "^1.0"),
        "charts.x.version",
    ),
    "retention": (lambda: g.check_retention(1, "log_retention_days", 30), "log_retention_days"),
    "team-name": (lambda: g.check_team_name("-bad-"), "team"),
    "support-type": (lambda: g.check_kubernetes_version("1.35", "LTS"), "cluster.supportType"),
    "version-unknown": (
        lambda: g.check_kubernetes_version("1.99", "STANDARD"),
        "cluster.kubernetesVersion",
    ),
    "version-extended-over": (
        lambda: g.check_kubernetes_version("1.32", "EXTENDED", LATER),
        "cluster.kubernetesVersion",
    ),
    "version-standard-over": (
        lambda: g.check_kubernetes_version("1.32", "STANDARD", datetime.date(2026, 12, 2)),
        "cluster.kubernetesVersion",
    ),
    "db-no-instances": (lambda: g.check_db_instances("dev", 0), "instances"),
    "db-prod-one-instance": (lambda: g.check_db_instances("prod", 1), "instances"),
    "engine-pinned-with-auto-upgrade": (
        lambda: g.check_engine_version("17.9", True),
        "engine_version",
    ),
    "engine-major-only-without-auto-upgrade": (
        lambda: g.check_engine_version("17", False),
        "engine_version",
    ),
    "keys-deletion-window": (
        under_mocks(lambda: EnvironmentKeys("k", EnvironmentKeysArgs("dev", "r", "1", [], 3))),
        "deletion_window_days",
    ),
    "keys-service-secret": (
        under_mocks(lambda: EnvironmentKeys("k", EnvironmentKeysArgs("dev", "r", "1", ["x"]))),
        "service_secrets",
    ),
    "network-cidr": (lambda: subnet_layout("10.0.0.0/8", 2), "network.cidr"),
    "network-zones": (
        under_mocks(lambda: Network("n", network_args(availability_zones=["a"]))),
        "availability_zones",
    ),
    "node-capacity-type": (
        under_mocks(lambda: NodePool("p", node_pool_args(capacity_type="RESERVED"))),
        "capacity_type",
    ),
    "node-gpu-in-cpu-pool": (
        under_mocks(lambda: NodePool("p", node_pool_args(gpu=False))),
        "instance_types",
    ),
    "sg-cidr-and-group": (
        under_mocks(
            lambda: GuardedSecurityGroup(
                "sg",
                GuardedSecurityGroupArgs(
                    "vpc", "d", [IngressRule("x", "tcp", 1, 1, "10.0.0.0/8", "sg-1")]
                ),
            )
        ),
        "ingress",
    ),
    "team-gpu-quota": (
        under_mocks(lambda: TeamNamespace("t", team_args(gpu_quota=-1))),
        "gpu_quota",
    ),
    "collection-readers": (
        under_mocks(
            lambda: VectorCollection("c", VectorCollectionArgs("dev", "vpc", ["s"], "sg", KEY, []))
        ),
        "reader_arns",
    ),
    "store-capacity": (
        under_mocks(lambda: VectorStore("db", vector_store_args(min_capacity=4, max_capacity=1))),
        "capacity",
    ),
}


def raised_from(call: Callable[[], object]) -> tuple[g.GuardrailError, tuple[str, int]]:
    with pytest.raises(g.GuardrailError) as caught:
        call()
    tb = caught.value.__traceback__
    assert tb is not None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return caught.value, (Path(tb.tb_frame.f_code.co_filename).name, tb.tb_lineno)


@pytest.mark.parametrize("case", sorted(CASES))
def test_refusal_names_its_argument(case: str) -> None:
    call, argument = CASES[case]
    error, site = raised_from(call)
    assert error.argument == argument, f"{case}: {error}"
    assert site in refusal_sites(), f"{case} raised from {site}, not a guardrail site"
    assert str(error).startswith(f"{argument}=") and " refused: " in str(error)


def test_every_refusal_site_has_a_failing_input() -> None:
    covered = {raised_from(call)[1] for call, _ in CASES.values()}
    missing = sorted(refusal_sites() - covered)
    assert missing == [], f"refusals without a failing-input test: {missing}"

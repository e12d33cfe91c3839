"""Every guardrail refuses its unsafe input, with the argument, the value and the rule."""

import dataclasses
from typing import Any

import pulumi
import pytest
from goldenpath_infra.addons import CHARTS
from goldenpath_infra.cluster import GpuCluster, GpuClusterArgs
from goldenpath_infra.config import NodePoolSpec, parse_stack_config
from goldenpath_infra.guardrails import GuardrailError, check_pinned_chart_version
from goldenpath_infra.node_pool import NodePool, NodePoolArgs
from goldenpath_infra.security_group import (
    GuardedSecurityGroup,
    GuardedSecurityGroupArgs,
    IngressRule,
)
from goldenpath_infra.tagging import required_tags_transform
from goldenpath_infra.vector_store import VectorStore, VectorStoreArgs

TAGS = {
    "owner": "platform-team",
    "cost-center": "cc-1",
    "environment": "dev",
    "data-classification": "internal",
}
KEY = "arn:aws:kms:us-east-1:123456789012:key/abc"


def vector_store_args(**changes: Any) -> VectorStoreArgs:
    base = VectorStoreArgs(
        environment="prod",
        vpc_id="vpc-1",
        isolated_subnet_ids=["subnet-a", "subnet-b"],
        client_security_group_id="sg-nodes",
        kms_key_arn=KEY,
        min_capacity=0.5,
        max_capacity=4,
        instances=2,
        backup_retention_days=14,
        deletion_protection=True,
    )
    return dataclasses.replace(base, **changes)


def node_pool_args(**changes: Any) -> NodePoolArgs:
    base = NodePoolArgs(
        environment="dev",
        cluster_name="goldenpath-dev",
        node_role_arn="arn:aws:iam::123456789012:role/nodes",
        subnet_ids=["subnet-a"],
        instance_types=["g6.xlarge"],
        min_size=0,
        desired_size=0,
        max_size=2,
        kms_key_arn=KEY,
        tags=TAGS,
        gpu=True,
    )
    return dataclasses.replace(base, **changes)


def cluster_args(**changes: Any) -> GpuClusterArgs:
    base = GpuClusterArgs(
        environment="prod",
        cluster_name="goldenpath-prod",
        kubernetes_version="1.35",
        subnet_ids=["subnet-a", "subnet-b"],
        kms_key_arn=KEY,
        endpoint_public_access=False,
        public_access_cidrs=[],
        system_nodes=NodePoolSpec("system", ("m6i.large",), 2, 2, 3),
        log_retention_days=90,
        tags={**TAGS, "environment": "prod"},
    )
    return dataclasses.replace(base, **changes)


def refuse(run_under_mocks: Any, build: Any) -> GuardrailError:
    """Run `build` as a Pulumi program and return the guardrail error it must raise."""
    with pytest.raises(GuardrailError) as caught:
        run_under_mocks(lambda: build() or {}, "guardrails")
    return caught.value


def test_valid_arguments_build(run_under_mocks: Any) -> None:
    def program() -> dict[str, Any]:
        store = VectorStore("db", vector_store_args())
        pool = NodePool("gpu", node_pool_args())
        return {"endpoint": store.cluster.endpoint, "pool": pool.node_group.id}

    resources, outputs = run_under_mocks(program, "guardrails")
    assert outputs["endpoint"].endswith(".rds.amazonaws.com")
    assert any(r.type == "aws:eks/nodeGroup:NodeGroup" for r in resources)


def test_publicly_reachable_database_is_refused(run_under_mocks: Any) -> None:
    error = refuse(
        run_under_mocks, lambda: VectorStore("db", vector_store_args(publicly_accessible=True))
    )
    assert str(error) == "publicly_accessible=True refused: databases are never public"


def test_unencrypted_database_storage_is_refused(run_under_mocks: Any) -> None:
    error = refuse(
        run_under_mocks, lambda: VectorStore("db", vector_store_args(storage_encrypted=False))
    )
    assert str(error) == "storage_encrypted=False refused: storage must be encrypted at rest"


def test_database_without_kms_key_is_refused(run_under_mocks: Any) -> None:
    error = refuse(run_under_mocks, lambda: VectorStore("db", vector_store_args(kms_key_arn="")))
    assert error.argument == "kms_key_arn"


def test_unencrypted_node_volumes_are_refused(run_under_mocks: Any) -> None:
    error = refuse(
        run_under_mocks, lambda: NodePool("gpu", node_pool_args(encrypted_volumes=False))
    )
    assert (error.argument, error.value) == ("encrypted_volumes", False)


def test_deletion_protection_off_in_prod_is_refused(run_under_mocks: Any) -> None:
    error = refuse(
        run_under_mocks, lambda: VectorStore("db", vector_store_args(deletion_protection=False))
    )
    assert str(error) == (
        "deletion_protection=False refused: deletion protection is required in prod"
    )


def test_deletion_protection_may_be_off_in_dev(run_under_mocks: Any) -> None:
    args = vector_store_args(environment="dev", deletion_protection=False)
    resources, _ = run_under_mocks(lambda: {"id": VectorStore("db", args).cluster.id}, "dev")
    (cluster,) = [r for r in resources if r.type == "aws:rds/cluster:Cluster"]
    assert cluster.inputs["skipFinalSnapshot"] is True


def test_short_backup_retention_is_refused(run_under_mocks: Any) -> None:
    error = refuse(
        run_under_mocks, lambda: VectorStore("db", vector_store_args(backup_retention_days=1))
    )
    assert str(error) == "backup_retention_days=1 refused: must be at least 7 days"


@pytest.mark.parametrize(
    "instance_type", ["p3.2xlarge", "g4dn.xlarge", "p5e.48xlarge", "m6i.large"]
)
def test_gpu_instance_type_outside_allow_list_is_refused(
    run_under_mocks: Any, instance_type: str
) -> None:
    error = refuse(
        run_under_mocks,
        lambda: NodePool("gpu", node_pool_args(instance_types=["g6.xlarge", instance_type])),
    )
    assert error.argument == "instance_types"
    assert error.value == instance_type
    assert "('g5', 'g6', 'g6e', 'p4d', 'p5')" in error.rule


def test_gpu_max_nodes_above_environment_cap_is_refused(run_under_mocks: Any) -> None:
    error = refuse(run_under_mocks, lambda: NodePool("gpu", node_pool_args(min_size=0, max_size=5)))
    assert str(error) == "max_size=5 refused: GPU max nodes in dev may not exceed 4"


def test_gpu_pools_summing_above_cap_are_refused(stack_config: Any, build_from_config: Any) -> None:
    config = stack_config("dev")
    pool = config.gpu_node_pools[0]
    config = dataclasses.replace(
        config, gpu_node_pools=(pool, dataclasses.replace(pool, name="b", max_size=3))
    )
    with pytest.raises(GuardrailError) as caught:
        build_from_config(config)
    assert str(caught.value) == (
        "gpuNodePools[*].max=5 refused: GPU max nodes in dev may not exceed 4"
    )


def test_scaling_bounds_out_of_order_are_refused(run_under_mocks: Any) -> None:
    error = refuse(
        run_under_mocks,
        lambda: NodePool("gpu", node_pool_args(min_size=2, desired_size=1, max_size=2)),
    )
    assert error.rule == "needs 0 <= min <= desired <= max and max >= 1"


def test_non_nvidia_ami_for_gpu_pool_is_refused(run_under_mocks: Any) -> None:
    error = refuse(
        run_under_mocks, lambda: NodePool("gpu", node_pool_args(ami_type="AL2_x86_64_GPU"))
    )
    assert error.argument == "ami_type" and "no longer published" in error.rule


def test_gpu_instances_in_a_cpu_pool_are_refused(run_under_mocks: Any) -> None:
    error = refuse(run_under_mocks, lambda: NodePool("cpu", node_pool_args(gpu=False)))
    assert error.value == ["g6.xlarge"]


def test_node_pool_without_required_tags_is_refused(run_under_mocks: Any) -> None:
    tags = {k: v for k, v in TAGS.items() if k != "owner"}
    error = refuse(run_under_mocks, lambda: NodePool("gpu", node_pool_args(tags=tags)))
    assert "required tags ['owner'] are missing or empty" in str(error)


def test_public_endpoint_in_prod_is_refused(run_under_mocks: Any) -> None:
    args = cluster_args(endpoint_public_access=True, public_access_cidrs=["203.0.113.0/24"])
    error = refuse(run_under_mocks, lambda: GpuCluster("eks", args, region="us-east-1"))
    assert str(error) == (
        "endpoint_public_access=True refused: the EKS API endpoint must be private in prod"
    )


def test_public_endpoint_without_allow_list_is_refused(run_under_mocks: Any) -> None:
    args = cluster_args(environment="dev", endpoint_public_access=True, public_access_cidrs=[])
    error = refuse(run_under_mocks, lambda: GpuCluster("eks", args, region="us-east-1"))
    assert str(error) == (
        "public_access_cidrs=[] refused: a public EKS endpoint needs a CIDR allow-list"
    )


def test_public_endpoint_open_to_the_internet_is_refused(run_under_mocks: Any) -> None:
    args = cluster_args(
        environment="staging", endpoint_public_access=True, public_access_cidrs=["0.0.0.0/0"]
    )
    error = refuse(run_under_mocks, lambda: GpuCluster("eks", args, region="us-east-1"))
    assert (error.argument, error.value) == ("public_access_cidrs", "0.0.0.0/0")


def test_unpinned_kubernetes_version_is_refused(run_under_mocks: Any) -> None:
    args = cluster_args(kubernetes_version="latest")
    error = refuse(run_under_mocks, lambda: GpuCluster("eks", args, region="us-east-1"))
    assert error.argument == "kubernetes_version"


@pytest.mark.parametrize(
    ("rule", "load_balancer"),
    [
        (IngressRule("ssh", "tcp", 22, 22, cidr="0.0.0.0/0"), False),
        (IngressRule("ssh", "tcp", 22, 22, cidr="0.0.0.0/0"), True),
        (IngressRule("https", "tcp", 443, 443, cidr="0.0.0.0/0"), False),
        (IngressRule("all", "-1", 0, 0, cidr="::/0"), True),
        (IngressRule("range", "tcp", 80, 443, cidr="0.0.0.0/0"), True),
    ],
)
def test_ingress_from_anywhere_is_refused_except_load_balancer_https(
    run_under_mocks: Any, rule: IngressRule, load_balancer: bool
) -> None:
    args = GuardedSecurityGroupArgs("vpc-1", "test", [rule], load_balancer=load_balancer)
    error = refuse(run_under_mocks, lambda: GuardedSecurityGroup("sg", args))
    assert error.argument == "ingress.cidr"
    assert "only to a load balancer on tcp/443" in error.rule


def test_load_balancer_https_from_anywhere_is_allowed(run_under_mocks: Any) -> None:
    rule = IngressRule("https", "tcp", 443, 443, cidr="0.0.0.0/0")
    args = GuardedSecurityGroupArgs("vpc-1", "lb", [rule], load_balancer=True)
    resources, _ = run_under_mocks(lambda: {"id": GuardedSecurityGroup("sg", args).group.id}, "t")
    assert [r.inputs["cidrIpv4"] for r in resources if "IngressRule" in r.type] == ["0.0.0.0/0"]


def test_missing_required_tags_are_refused_in_stack_config() -> None:
    with pytest.raises(GuardrailError) as caught:
        parse_stack_config("dev", "us-east-1", {"tags": {"owner": "x"}})
    assert "required tags ['cost-center', 'data-classification'] are missing" in str(caught.value)


def test_tag_transform_refuses_incomplete_tags() -> None:
    with pytest.raises(GuardrailError):
        required_tags_transform({"owner": "x", "environment": "dev"})


def test_tag_transform_tags_aws_resources_only() -> None:
    transform = required_tags_transform(TAGS)

    def run(type_token: str, props: dict[str, Any]) -> Any:
        return transform(
            pulumi.ResourceTransformArgs(
                custom=True, type_=type_token, name="n", props=props, opts=pulumi.ResourceOptions()
            )
        )

    result = run("aws:ec2/vpc:Vpc", {"tags": {"Name": "v", "data-classification": "restricted"}})
    assert result.props["tags"] == {**TAGS, "Name": "v", "data-classification": "restricted"}
    assert run("aws:iam/rolePolicy:RolePolicy", {}) is None
    assert run("kubernetes:core/v1:Namespace", {}) is None


def test_unpinned_chart_versions_are_refused() -> None:
    for version in ("", "^70.0.0", "70.x", "latest", "70.4"):
        with pytest.raises(GuardrailError):
            check_pinned_chart_version("kube-prometheus-stack", version)
    for chart in CHARTS.values():
        check_pinned_chart_version(chart.chart, chart.version)


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(GuardrailError) as caught:
        parse_stack_config("qa", "us-east-1", {})
    assert (
        str(caught.value) == "environment='qa' refused: must be one of ('dev', 'staging', 'prod')"
    )


@pytest.mark.parametrize(
    "cidr", ["0.0.0.0/1", "128.0.0.0/1", "8.8.8.0/24", "::/1", "2001:db8::/32"]
)
def test_ingress_from_any_internet_prefix_is_refused(run_under_mocks: Any, cidr: str) -> None:
    """Compared as networks: half the internet on tcp/22 is as open as all of it."""
    rule = IngressRule("ssh", "tcp", 22, 22, cidr=cidr)
    args = GuardedSecurityGroupArgs("vpc-1", "test", [rule])
    error = refuse(run_under_mocks, lambda: GuardedSecurityGroup("sg", args))
    assert (error.argument, error.value) == ("ingress.cidr", cidr)


@pytest.mark.parametrize("cidr", ["10.20.0.0/16", "172.16.4.0/24", "100.64.0.0/16", "fd00::/8"])
def test_ingress_from_private_space_is_allowed(run_under_mocks: Any, cidr: str) -> None:
    rule = IngressRule("ssh from vpn", "tcp", 22, 22, cidr=cidr)
    args = GuardedSecurityGroupArgs("vpc-1", "test", [rule])
    resources, _ = run_under_mocks(lambda: {"id": GuardedSecurityGroup("sg", args).group.id}, "t")
    assert [r.inputs["cidrIpv4"] for r in resources if "IngressRule" in r.type] == [cidr]


@pytest.mark.parametrize("cidr", ["52.0.0.0/8", "198.0.0.0/15", "2001:db8::/32"])
def test_wide_public_allow_list_is_refused(run_under_mocks: Any, cidr: str) -> None:
    args = cluster_args(environment="dev", endpoint_public_access=True, public_access_cidrs=[cidr])
    error = refuse(run_under_mocks, lambda: GpuCluster("eks", args, region="us-east-1"))
    assert (error.argument, error.value) == ("public_access_cidrs", cidr)
    assert "or narrower" in error.rule


@pytest.mark.parametrize("team", ["-bad-", "x" * 70, "Search", "team_a", "a.b", ""])
def test_team_names_that_are_not_short_dns_labels_are_refused(team: str) -> None:
    from infra_mocks import load_stack_config

    config = load_stack_config("dev")
    values = {
        "tags": dict(config.tags),
        "network": {"cidr": "10.20.0.0/16", "azCount": 2},
        "cluster": {
            "kubernetesVersion": "1.35",
            "systemNodes": {"instanceType": "m6i.large", "min": 1, "desired": 1, "max": 2},
        },
        "vectorStore": {"minCapacity": 0.5, "maxCapacity": 1},
        "budget": {"monthlyLimitUsd": 10, "alertEmails": ["a@example.com"]},
        "teams": [{"name": "search"}, {"name": team}],
    }
    with pytest.raises(GuardrailError) as caught:
        parse_stack_config("dev", "us-east-1", values)
    assert (caught.value.argument, caught.value.value) == ("teams[1].name", team)
    assert "DNS label" in caught.value.rule


def test_prod_database_with_one_instance_is_refused(run_under_mocks: Any) -> None:
    error = refuse(run_under_mocks, lambda: VectorStore("db", vector_store_args(instances=1)))
    assert str(error) == (
        "instances=1 refused: prod runs at least 2 instances (a reader to fail over)"
    )


def test_data_api_is_off_unless_asked(run_under_mocks: Any) -> None:
    def clusters(**changes: Any) -> list[Any]:
        store = vector_store_args(environment="dev", deletion_protection=False, **changes)
        resources, _ = run_under_mocks(lambda: {"id": VectorStore("db", store).cluster.id}, "d")
        return [r for r in resources if r.type == "aws:rds/cluster:Cluster"]

    (default,) = clusters()
    assert default.inputs.get("enableHttpEndpoint") is False
    (asked,) = clusters(data_api=True)
    assert asked.inputs["enableHttpEndpoint"] is True


def test_engine_version_and_auto_minor_upgrade_agree(run_under_mocks: Any) -> None:
    error = refuse(
        run_under_mocks,
        lambda: VectorStore(
            "db", vector_store_args(engine_version="17.9", auto_minor_version_upgrade=True)
        ),
    )
    assert error.argument == "engine_version" and "major version only" in error.rule
    store = vector_store_args(engine_version="17", auto_minor_version_upgrade=True)
    resources, _ = run_under_mocks(lambda: {"id": VectorStore("db", store).cluster.id}, "p")
    instances = [r for r in resources if r.type == "aws:rds/clusterInstance:ClusterInstance"]
    assert {i.inputs["autoMinorVersionUpgrade"] for i in instances} == {True}
    (cluster,) = [r for r in resources if r.type == "aws:rds/cluster:Cluster"]
    assert cluster.inputs["engineVersion"] == "17"


def test_kubernetes_version_past_standard_support_needs_extended_support() -> None:
    import datetime

    from goldenpath_infra.guardrails import check_kubernetes_version

    today = datetime.date(2026, 12, 2)  # 1.34's standard support ends this day (versions.py)
    with pytest.raises(GuardrailError) as caught:
        check_kubernetes_version("1.34", "STANDARD", today)
    assert "standard support ended 2026-12-02" in caught.value.rule
    check_kubernetes_version("1.34", "EXTENDED", today)
    check_kubernetes_version("1.35", "STANDARD", today)
    with pytest.raises(GuardrailError):
        check_kubernetes_version("1.32", "STANDARD", today)


def test_cluster_refuses_a_version_past_standard_support(run_under_mocks: Any) -> None:
    args = cluster_args(kubernetes_version="1.32")
    error = refuse(run_under_mocks, lambda: GpuCluster("eks", args, region="us-east-1"))
    assert error.argument == "cluster.kubernetesVersion"
    built, _ = run_under_mocks(
        lambda: {
            "n": GpuCluster(
                "eks", cluster_args(kubernetes_version="1.32", support_type="EXTENDED"), region="r"
            ).cluster.name
        },
        "extended",
    )
    (cluster,) = [r for r in built if r.type == "aws:eks/cluster:Cluster"]
    assert cluster.inputs["upgradePolicy"] == {"supportType": "EXTENDED"}

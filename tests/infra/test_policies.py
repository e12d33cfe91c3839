"""Each CrossGuard policy passes a compliant resource and fails a non-compliant one, and the
kit's own stacks pass the pack with zero mandatory violations."""

from typing import Any

import goldenpath_policies as pack
import pytest
from goldenpath_infra import rules
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

TAGS = {
    "owner": "platform-team",
    "cost-center": "cc-1",
    "environment": "prod",
    "data-classification": "internal",
}
KEY = "arn:aws:kms:us-east-1:123456789012:key/abc"
GPU_GROUP = {
    "instanceTypes": ["g6e.2xlarge"],
    "amiType": "AL2023_x86_64_NVIDIA",
    "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
    "scalingConfig": {"minSize": 0, "desiredSize": 1, "maxSize": 4},
    "launchTemplate": {"id": "lt-1", "version": "1"},
    "tags": TAGS,
}
CLUSTER = {
    "version": "1.35",
    "encryptionConfig": {"provider": {"keyArn": KEY}, "resources": ["secrets"]},
    "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False},
    "enabledClusterLogTypes": list(rules.CONTROL_PLANE_LOG_TYPES),
    "tags": TAGS,
}
AURORA = {
    "storageEncrypted": True,
    "kmsKeyId": KEY,
    "manageMasterUserPassword": True,
    "iamDatabaseAuthenticationEnabled": True,
    "deletionProtection": True,
    "skipFinalSnapshot": False,
    "backupRetentionPeriod": 14,
    "tags": TAGS,
}
LAUNCH_TEMPLATE = {
    "metadataOptions": {"httpTokens": "required"},
    "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true"}}],
    "tags": TAGS,
}
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
KARPENTER_GPU_POOL: dict[str, Any] = {
    "template": {
        "spec": {
            "requirements": [
                {
                    "key": "node.kubernetes.io/instance-type",
                    "operator": "In",
                    "values": ["g6e.xlarge"],
                }
            ],
            "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
        }
    },
    "limits": {"nvidia.com/gpu": "4"},
}
NODE_CLASS: dict[str, Any] = {
    "metadataOptions": {"httpTokens": "required"},
    "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": True}}],
}


def changed(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


# policy name -> (resource type, compliant props, non-compliant props)
CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "required-tags": (
        "aws:ec2/vpc:Vpc",
        {"cidrBlock": "10.0.0.0/16", "tags": TAGS},
        {"cidrBlock": "10.0.0.0/16", "tags": {"owner": "x"}},
    ),
    "eks-secrets-encrypted": (
        "aws:eks/cluster:Cluster",
        CLUSTER,
        changed(CLUSTER, encryptionConfig=None),
    ),
    "eks-endpoint-restricted": (
        "aws:eks/cluster:Cluster",
        CLUSTER,
        changed(
            CLUSTER,
            vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]},
        ),
    ),
    "eks-control-plane-logging": (
        "aws:eks/cluster:Cluster",
        CLUSTER,
        changed(CLUSTER, enabledClusterLogTypes=["api"]),
    ),
    "eks-pinned-version": ("aws:eks/cluster:Cluster", CLUSTER, changed(CLUSTER, version=None)),
    "gpu-instance-allow-list": (
        "aws:eks/nodeGroup:NodeGroup",
        GPU_GROUP,
        changed(GPU_GROUP, instanceTypes=["p3.8xlarge"]),
    ),
    "gpu-node-group-ami-and-taint": (
        "aws:eks/nodeGroup:NodeGroup",
        GPU_GROUP,
        changed(GPU_GROUP, amiType="AL2_x86_64_GPU"),
    ),
    "gpu-node-group-bounds": (
        "aws:eks/nodeGroup:NodeGroup",
        GPU_GROUP,
        changed(GPU_GROUP, scalingConfig={"minSize": 0, "desiredSize": 1, "maxSize": 40}),
    ),
    "node-group-launch-template": (
        "aws:eks/nodeGroup:NodeGroup",
        GPU_GROUP,
        changed(GPU_GROUP, launchTemplate=None),
    ),
    "imdsv2-required": (
        "aws:ec2/launchTemplate:LaunchTemplate",
        LAUNCH_TEMPLATE,
        changed(LAUNCH_TEMPLATE, metadataOptions={"httpTokens": "optional"}),
    ),
    "launch-template-encrypted-volumes": (
        "aws:ec2/launchTemplate:LaunchTemplate",
        LAUNCH_TEMPLATE,
        changed(
            LAUNCH_TEMPLATE,
            blockDeviceMappings=[{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 100}}],
        ),
    ),
    "ebs-volume-encrypted": (
        "aws:ebs/volume:Volume",
        {"encrypted": True, "size": 10, "tags": TAGS},
        {"encrypted": False, "size": 10, "tags": TAGS},
    ),
    "rds-storage-encrypted": (
        "aws:rds/cluster:Cluster",
        AURORA,
        changed(AURORA, storageEncrypted=False),
    ),
    "rds-not-public": (
        "aws:rds/clusterInstance:ClusterInstance",
        {"publiclyAccessible": False, "tags": TAGS},
        {"publiclyAccessible": True, "tags": TAGS},
    ),
    "rds-managed-master-password": (
        "aws:rds/cluster:Cluster",
        AURORA,
        changed(AURORA, manageMasterUserPassword=False, masterPassword="hunter2-example"),
    ),
    "rds-iam-authentication": (
        "aws:rds/cluster:Cluster",
        AURORA,
        changed(AURORA, iamDatabaseAuthenticationEnabled=False),
    ),
    "rds-prod-deletion-protection": (
        "aws:rds/cluster:Cluster",
        AURORA,
        changed(AURORA, deletionProtection=False),
    ),
    "rds-backup-retention": (
        "aws:rds/cluster:Cluster",
        AURORA,
        changed(AURORA, backupRetentionPeriod=1),
    ),
    "kms-key-rotation": (
        "aws:kms/key:Key",
        {"enableKeyRotation": True, "tags": TAGS},
        {"enableKeyRotation": False, "tags": TAGS},
    ),
    "no-open-ingress": (
        INGRESS,
        {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443},
        {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 22, "toPort": 22},
    ),
    "default-security-group-closed": (
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        {"ingress": [], "egress": [], "tags": TAGS},
        {"ingress": [{"protocol": "-1", "selfReferencing": True}], "egress": [], "tags": TAGS},
    ),
    "log-group-retention-and-encryption": (
        "aws:cloudwatch/logGroup:LogGroup",
        {"retentionInDays": 90, "kmsKeyId": KEY, "tags": TAGS},
        {"tags": TAGS},
    ),
    "secrets-customer-kms": (
        "aws:secretsmanager/secret:Secret",
        {"kmsKeyId": KEY, "tags": TAGS},
        {"tags": TAGS},
    ),
    "helm-release-pinned-version": (
        "kubernetes:helm.sh/v3:Release",
        {"chart": "metrics-server", "version": "3.12.2"},
        {"chart": "metrics-server", "version": ">=3.0.0"},
    ),
    "opensearch-serverless-private-encrypted": (
        "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy",
        {"type": "network", "policy": '[{"AllowFromPublic": false, "SourceVPCEs": ["vpce-1"]}]'},
        {"type": "network", "policy": '[{"AllowFromPublic": true}]'},
    ),
    "iam-no-admin-inline-policy": (
        "aws:iam/rolePolicy:RolePolicy",
        {
            "policy": '{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject",'
            ' "Resource": "arn:aws:s3:::b/*"}]}'
        },
        {"policy": '{"Statement": [{"Effect": "Allow", "Action": "*:*", "Resource": "*"}]}'},
    ),
    "rds-data-api-off": (
        "aws:rds/cluster:Cluster",
        AURORA,
        changed(AURORA, enableHttpEndpoint=True),
    ),
    "karpenter-gpu-node-pool": (
        "kubernetes:karpenter.sh/v1:NodePool",
        {"spec": KARPENTER_GPU_POOL},
        {
            "spec": {
                **KARPENTER_GPU_POOL,
                "template": {"spec": {**KARPENTER_GPU_POOL["template"]["spec"], "taints": []}},
                "limits": {},
            }
        },
    ),
    "karpenter-node-class-hardened": (
        "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
        {"spec": NODE_CLASS},
        {
            "spec": {
                **NODE_CLASS,
                "metadataOptions": {"httpTokens": "optional"},
                "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": False}}],
            }
        },
    ),
    "s3-public-access-blocked": (
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        {
            k: True
            for k in (
                "blockPublicAcls",
                "blockPublicPolicy",
                "ignorePublicAcls",
                "restrictPublicBuckets",
            )
        },
        {"blockPublicAcls": True, "blockPublicPolicy": False},
    ),
}


def resource_args(
    resource_type: str, props: dict[str, Any], name: str = "r"
) -> ResourceValidationArgs:
    options = PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=None,  # type: ignore[arg-type]
        additional_secret_outputs=[],
    )
    return ResourceValidationArgs(
        resource_type=resource_type,
        props=props,
        urn=f"urn:pulumi:test::goldenpath::{resource_type}::{name}",
        name=name,
        opts=options,
        provider=None,
    )


def violations(policy: Any, args: Any) -> list[str]:
    found: list[str] = []
    validators = policy.validate if isinstance(policy.validate, list) else [policy.validate]
    for validate in validators:
        validate(args, lambda message, urn=None: found.append(message))
    return found


def test_pack_has_enough_policies_with_both_levels() -> None:
    assert len(pack.POLICIES) >= 15
    names = [p.name for p in pack.POLICIES]
    assert len(names) == len(set(names))
    levels = {p.enforcement_level for p in pack.POLICIES}
    assert levels == {EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY}


def test_every_resource_policy_has_a_case() -> None:
    assert {p.name for p in pack.RESOURCE_POLICIES} == set(CASES)


@pytest.mark.parametrize("policy", pack.RESOURCE_POLICIES, ids=lambda p: p.name)
def test_policy_passes_compliant_and_fails_non_compliant(policy: Any) -> None:
    resource_type, good, bad = CASES[policy.name]
    assert violations(policy, resource_args(resource_type, good)) == []
    assert violations(policy, resource_args(resource_type, bad)), f"{policy.name} missed {bad}"


def test_policies_ignore_other_resource_types() -> None:
    args = resource_args("kubernetes:core/v1:Namespace", {"metadata": {"name": "x"}})
    for policy in pack.RESOURCE_POLICIES:
        assert violations(policy, args) == [], policy.name


def test_endpoint_policy_allows_allow_listed_public_endpoint_outside_prod() -> None:
    props = changed(
        CLUSTER,
        tags={**TAGS, "environment": "dev"},
        vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]},
    )
    policy = pack.eks_endpoint_restricted
    assert violations(policy, resource_args("aws:eks/cluster:Cluster", props)) == []
    props["vpcConfig"] = {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}
    assert violations(policy, resource_args("aws:eks/cluster:Cluster", props))


def _stack_resource(resource_type: str, name: str) -> PolicyResource:
    return PolicyResource(
        resource_type=resource_type,
        props={},
        urn=f"urn:pulumi:test::goldenpath::{resource_type}::{name}",
        name=name,
        opts=resource_args(resource_type, {}).opts,
        provider=None,
        parent=None,
        dependencies=[],
        property_dependencies={},
    )


@pytest.mark.parametrize(
    "rule",
    [
        {"cidrIpv4": "0.0.0.0/1", "ipProtocol": "tcp", "fromPort": 22, "toPort": 22},
        {"cidrIpv4": "128.0.0.0/1", "ipProtocol": "tcp", "fromPort": 22, "toPort": 22},
        {"cidrIpv6": "2000::/3", "ipProtocol": "-1", "fromPort": 0, "toPort": 0},
        {"cidrIpv4": "not-a-cidr", "ipProtocol": "tcp", "fromPort": 22, "toPort": 22},
    ],
)
def test_no_open_ingress_compares_networks_not_strings(rule: dict[str, Any]) -> None:
    assert violations(pack.no_open_ingress, resource_args(INGRESS, rule))


def test_no_open_ingress_allows_private_sources() -> None:
    rule = {"cidrIpv4": "10.20.0.0/16", "ipProtocol": "tcp", "fromPort": 22, "toPort": 22}
    assert violations(pack.no_open_ingress, resource_args(INGRESS, rule)) == []


def test_endpoint_policy_refuses_a_slash_8_allow_list() -> None:
    props = changed(
        CLUSTER,
        tags={**TAGS, "environment": "dev"},
        vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["52.0.0.0/8"]},
    )
    assert violations(pack.eks_endpoint_restricted, resource_args("aws:eks/cluster:Cluster", props))


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Allow", "Action": ["s3:GetObject", "*:*"], "Resource": ["*"]},
    ],
)
def test_admin_policy_is_caught_inline_on_roles_too(statement: dict[str, Any]) -> None:
    import json

    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    role = {"assumeRolePolicy": "{}", "inlinePolicies": [{"name": "x", "policy": document}]}
    assert violations(pack.iam_no_admin_inline_policy, resource_args("aws:iam/role:Role", role))
    standalone = resource_args("aws:iam/policy:Policy", {"policy": document})
    assert violations(pack.iam_no_admin_inline_policy, standalone)


def test_prod_database_needs_two_instances() -> None:
    def resource(resource_type: str, name: str, props: dict[str, Any]) -> PolicyResource:
        base = _stack_resource(resource_type, name)
        return PolicyResource(
            resource_type=resource_type,
            props=props,
            urn=base.urn,
            name=name,
            opts=base.opts,
            provider=None,
            parent=None,
            dependencies=[],
            property_dependencies={},
        )

    cluster = resource("aws:rds/cluster:Cluster", "db", {"clusterIdentifier": "db-1", "tags": TAGS})
    one = [resource("aws:rds/clusterInstance:ClusterInstance", "i0", {"clusterIdentifier": "db-1"})]
    two = [
        *one,
        resource("aws:rds/clusterInstance:ClusterInstance", "i1", {"clusterIdentifier": "db-1"}),
    ]
    policy = pack.prod_database_instances
    assert violations(policy, StackValidationArgs([cluster, *one]))
    assert violations(policy, StackValidationArgs([cluster, *two])) == []
    dev = resource(
        "aws:rds/cluster:Cluster",
        "db",
        {"clusterIdentifier": "db-1", "tags": {**TAGS, "environment": "dev"}},
    )
    assert violations(policy, StackValidationArgs([dev, *one])) == []


def test_stack_budget_policy() -> None:
    cluster = _stack_resource("aws:eks/cluster:Cluster", "eks")
    budget = _stack_resource("aws:budgets/budget:Budget", "budget")
    assert violations(pack.stack_has_budget, StackValidationArgs([cluster, budget])) == []
    assert violations(pack.stack_has_budget, StackValidationArgs([cluster]))


def test_pack_rules_match_the_components_rules() -> None:
    for name in (
        "REQUIRED_TAGS",
        "GPU_INSTANCE_FAMILIES",
        "GPU_AMI_TYPES",
        "GPU_NODE_CAP",
        "OPEN_CIDRS",
        "CONTROL_PLANE_LOG_TYPES",
        "MIN_BACKUP_RETENTION_DAYS",
        "MIN_LOG_RETENTION_DAYS",
        "PRIVATE_NETWORKS",
        "MIN_ALLOW_LIST_PREFIX",
        "PROD_MIN_DB_INSTANCES",
    ):
        assert getattr(pack, name) == getattr(rules, name), name


def test_kit_stacks_pass_the_pack(stack: Any) -> None:
    mandatory: list[str] = []
    advisory: list[str] = []
    custom = [r for r in stack.resources if r.custom]
    for resource in custom:
        args = resource_args(resource.type, resource.inputs, resource.name)
        for policy in pack.RESOURCE_POLICIES:
            found = violations(policy, args)
            target = (
                mandatory if policy.enforcement_level == EnforcementLevel.MANDATORY else advisory
            )
            target += [f"{policy.name}: {resource.urn}: {message}" for message in found]
    # Stack policies see each resource's props; the mocks' ids stand in for the cluster's id.
    stack_args = StackValidationArgs(
        [
            PolicyResource(
                resource_type=r.type,
                props={**r.inputs, "id": f"{r.name}-id"},
                urn=r.urn,
                name=r.name,
                opts=resource_args(r.type, {}).opts,
                provider=None,
                parent=None,
                dependencies=[],
                property_dependencies={},
            )
            for r in custom
        ]
    )
    for policy in pack.STACK_POLICIES:
        found = violations(policy, stack_args)
        target = mandatory if policy.enforcement_level == EnforcementLevel.MANDATORY else advisory
        target += [f"{policy.name}: {message}" for message in found]
    assert mandatory == []
    assert advisory == []

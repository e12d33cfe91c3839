"""CrossGuard policies: the guardrails the kit's components enforce, for any stack of the org.

Kept apart from `__main__.py` because constructing a `PolicyPack` starts the policy server;
tests import this module and call each policy's `validate(args, report)` directly.
Property names are the engine's (camelCase), as Pulumi passes them to policies.
"""

import functools
import importlib
import inspect
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

# Copied from goldenpath_infra.rules (the pack ships on its own); a test keeps them equal.
REQUIRED_TAGS: Final = ("owner", "cost-center", "environment", "data-classification")
GPU_INSTANCE_FAMILIES: Final = ("g5", "g6", "g6e", "p4d", "p5")
GPU_AMI_TYPES: Final = ("AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA")
GPU_NODE_CAP: Final = {"dev": 4, "staging": 8, "prod": 32}
OPEN_CIDRS: Final = ("0.0.0.0/0", "::/0")
CONTROL_PLANE_LOG_TYPES: Final = ("api", "audit", "authenticator", "controllerManager", "scheduler")
MIN_BACKUP_RETENTION_DAYS: Final = 7
MIN_LOG_RETENTION_DAYS: Final = 30
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")

Validate = Callable[[ResourceValidationArgs, ReportViolation], None]
MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY


def _for_types(*type_tokens: str) -> Callable[[Validate], Validate]:
    """Run a check only for the given resource types."""

    def decorate(check: Validate) -> Validate:
        @functools.wraps(check)
        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if args.resource_type in type_tokens:
                check(args, report)

        return validate

    return decorate


def _environment(props: Mapping[str, Any]) -> str | None:
    tags = props.get("tags") or {}
    return tags.get("environment") if isinstance(tags, Mapping) else None


def _family(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def _is_gpu(instance_type: str) -> bool:
    return _family(instance_type)[:1] in ("g", "p")


@functools.cache
def is_taggable(type_token: str) -> bool:
    """pulumi-aws resource types whose SDK class takes `tags`."""
    package, _, rest = type_token.partition(":")
    module, _, class_name = rest.partition(":")
    module = module.split("/", 1)[0]
    if package != "aws" or not class_name or module == "index":
        return False
    try:
        sdk_module = importlib.import_module(f"pulumi_aws.{module.replace('-', '_')}")
    except ImportError:
        return False
    init = getattr(getattr(sdk_module, class_name, None), "_internal_init", None)
    return init is not None and "tags" in inspect.signature(init).parameters


def _required_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_taggable(args.resource_type):
        return
    tags = args.props.get("tags") or {}
    missing = [key for key in REQUIRED_TAGS if not str(tags.get(key, "")).strip()]
    if missing:
        report(f"required tags {missing} are missing or empty", None)


required_tags = ResourceValidationPolicy(
    name="required-tags",
    description="Taggable AWS resources carry the four required tags.",
    enforcement_level=MANDATORY,
    validate=_required_tags,
)


@_for_types("aws:eks/cluster:Cluster")
def _eks_secrets_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    config = args.props.get("encryptionConfig") or {}
    if "secrets" not in (config.get("resources") or []) or not (
        (config.get("provider") or {}).get("keyArn")
    ):
        report("EKS secrets must be envelope-encrypted with a KMS key", None)


eks_secrets_encrypted = ResourceValidationPolicy(
    name="eks-secrets-encrypted",
    description="EKS clusters envelope-encrypt Kubernetes secrets with a customer KMS key.",
    enforcement_level=MANDATORY,
    validate=_eks_secrets_encrypted,
)


@_for_types("aws:eks/cluster:Cluster")
def _eks_endpoint(args: ResourceValidationArgs, report: ReportViolation) -> None:
    vpc = args.props.get("vpcConfig") or {}
    if not vpc.get("endpointPublicAccess", True):
        return
    if _environment(args.props) == "prod":
        report("the EKS API endpoint must be private in prod", None)
    cidrs = vpc.get("publicAccessCidrs") or []
    if not cidrs:
        report("a public EKS endpoint needs a CIDR allow-list", None)
    for cidr in cidrs:
        if ipaddress.ip_network(cidr, strict=False).prefixlen < 8:
            report(f"public access CIDR {cidr} is too wide (/8 or narrower)", None)


eks_endpoint_restricted = ResourceValidationPolicy(
    name="eks-endpoint-restricted",
    description="EKS API endpoints are private in prod and allow-listed elsewhere.",
    enforcement_level=MANDATORY,
    validate=_eks_endpoint,
)


@_for_types("aws:eks/cluster:Cluster")
def _eks_logging(args: ResourceValidationArgs, report: ReportViolation) -> None:
    enabled = set(args.props.get("enabledClusterLogTypes") or [])
    missing = [t for t in CONTROL_PLANE_LOG_TYPES if t not in enabled]
    if missing:
        report(f"control-plane log types {missing} are not enabled", None)


eks_control_plane_logging = ResourceValidationPolicy(
    name="eks-control-plane-logging",
    description="EKS control-plane logging is on for every log type.",
    enforcement_level=MANDATORY,
    validate=_eks_logging,
)


@_for_types("aws:eks/cluster:Cluster")
def _eks_version(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not re.fullmatch(r"1\.\d+", str(args.props.get("version") or "")):
        report("pin the Kubernetes version (for example 1.32)", None)


eks_pinned_version = ResourceValidationPolicy(
    name="eks-pinned-version",
    description="EKS clusters pin a Kubernetes minor version; upgrades are deliberate.",
    enforcement_level=MANDATORY,
    validate=_eks_version,
)


def _gpu_types(props: Mapping[str, Any]) -> list[str]:
    return [t for t in props.get("instanceTypes") or [] if _is_gpu(t)]


@_for_types("aws:eks/nodeGroup:NodeGroup")
def _gpu_instance_allow_list(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for instance_type in _gpu_types(args.props):
        if _family(instance_type) not in GPU_INSTANCE_FAMILIES:
            report(f"GPU instance type {instance_type} is outside {GPU_INSTANCE_FAMILIES}", None)


gpu_instance_allow_list = ResourceValidationPolicy(
    name="gpu-instance-allow-list",
    description="GPU node groups use the allow-listed families (g5, g6, g6e, p4d, p5).",
    enforcement_level=MANDATORY,
    validate=_gpu_instance_allow_list,
)


@_for_types("aws:eks/nodeGroup:NodeGroup")
def _gpu_node_shape(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _gpu_types(args.props):
        return
    if args.props.get("amiType") not in GPU_AMI_TYPES:
        report(f"GPU node groups need an NVIDIA AMI type, one of {GPU_AMI_TYPES}", None)
    taints = args.props.get("taints") or []
    if not any(
        t.get("key") == "nvidia.com/gpu" and t.get("effect") == "NO_SCHEDULE" for t in taints
    ):
        report("GPU node groups carry the taint nvidia.com/gpu=true:NoSchedule", None)


gpu_node_group_shape = ResourceValidationPolicy(
    name="gpu-node-group-ami-and-taint",
    description="GPU node groups use an NVIDIA AMI type and the nvidia.com/gpu NoSchedule taint.",
    enforcement_level=MANDATORY,
    validate=_gpu_node_shape,
)


@_for_types("aws:eks/nodeGroup:NodeGroup")
def _gpu_node_cap(args: ResourceValidationArgs, report: ReportViolation) -> None:
    scaling = args.props.get("scalingConfig") or {}
    low, want, high = (scaling.get(k, 0) for k in ("minSize", "desiredSize", "maxSize"))
    if not low <= want <= high:
        report(f"scaling bounds out of order: min {low}, desired {want}, max {high}", None)
    cap = GPU_NODE_CAP.get(_environment(args.props) or "", GPU_NODE_CAP["dev"])
    if _gpu_types(args.props) and high > cap:
        report(f"GPU max nodes {high} exceed the environment's cap of {cap}", None)


gpu_node_cap = ResourceValidationPolicy(
    name="gpu-node-group-bounds",
    description="Node groups have ordered bounds; GPU groups stay under the environment's cap.",
    enforcement_level=MANDATORY,
    validate=_gpu_node_cap,
)


@_for_types("aws:eks/nodeGroup:NodeGroup")
def _node_group_launch_template(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not (args.props.get("launchTemplate") or {}).get("id") and not (
        args.props.get("launchTemplate") or {}
    ).get("name"):
        report("node groups use a launch template (IMDSv2, encrypted volumes)", None)


node_group_launch_template = ResourceValidationPolicy(
    name="node-group-launch-template",
    description="Managed node groups use a launch template so IMDSv2 and encryption apply.",
    enforcement_level=ADVISORY,
    validate=_node_group_launch_template,
)


@_for_types("aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance")
def _imdsv2(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if (args.props.get("metadataOptions") or {}).get("httpTokens") != "required":
        report("instance metadata must require IMDSv2 tokens (httpTokens=required)", None)


imdsv2_required = ResourceValidationPolicy(
    name="imdsv2-required",
    description="Launch templates and instances require IMDSv2.",
    enforcement_level=MANDATORY,
    validate=_imdsv2,
)


@_for_types("aws:ec2/launchTemplate:LaunchTemplate")
def _lt_volumes(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for mapping in args.props.get("blockDeviceMappings") or []:
        ebs = mapping.get("ebs") or {}
        if str(ebs.get("encrypted", "false")).lower() != "true":
            report(f"volume {mapping.get('deviceName')} is not encrypted", None)


launch_template_encrypted_volumes = ResourceValidationPolicy(
    name="launch-template-encrypted-volumes",
    description="Every EBS volume in a launch template is encrypted.",
    enforcement_level=MANDATORY,
    validate=_lt_volumes,
)


@_for_types("aws:ebs/volume:Volume")
def _ebs_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.props.get("encrypted") is not True:
        report("EBS volumes are encrypted", None)


ebs_encrypted = ResourceValidationPolicy(
    name="ebs-volume-encrypted",
    description="Standalone EBS volumes are encrypted.",
    enforcement_level=MANDATORY,
    validate=_ebs_encrypted,
)


@_for_types("aws:rds/cluster:Cluster", "aws:rds/instance:Instance")
def _rds_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.props.get("storageEncrypted") is not True:
        report("database storage must be encrypted at rest", None)


rds_storage_encrypted = ResourceValidationPolicy(
    name="rds-storage-encrypted",
    description="RDS and Aurora storage is encrypted.",
    enforcement_level=MANDATORY,
    validate=_rds_encrypted,
)


@_for_types("aws:rds/clusterInstance:ClusterInstance", "aws:rds/instance:Instance")
def _rds_not_public(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.props.get("publiclyAccessible") is True:
        report("databases are never publicly accessible", None)


rds_not_public = ResourceValidationPolicy(
    name="rds-not-public",
    description="No database instance is publicly accessible.",
    enforcement_level=MANDATORY,
    validate=_rds_not_public,
)


@_for_types("aws:rds/cluster:Cluster", "aws:rds/instance:Instance")
def _rds_managed_password(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.props.get("masterPassword") or not args.props.get("manageMasterUserPassword"):
        report("the master password is managed by Secrets Manager, never set in code", None)


rds_managed_master_password = ResourceValidationPolicy(
    name="rds-managed-master-password",
    description="Master passwords live in Secrets Manager (manageMasterUserPassword).",
    enforcement_level=MANDATORY,
    validate=_rds_managed_password,
)


@_for_types("aws:rds/cluster:Cluster", "aws:rds/instance:Instance")
def _rds_iam_auth(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not args.props.get("iamDatabaseAuthenticationEnabled"):
        report("enable IAM database authentication so services need no passwords", None)


rds_iam_authentication = ResourceValidationPolicy(
    name="rds-iam-authentication",
    description="Databases accept IAM authentication.",
    enforcement_level=ADVISORY,
    validate=_rds_iam_auth,
)


@_for_types("aws:rds/cluster:Cluster", "aws:rds/instance:Instance")
def _rds_prod_protection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if _environment(args.props) != "prod":
        return
    if args.props.get("deletionProtection") is not True:
        report("deletion protection is required in prod", None)
    if args.props.get("skipFinalSnapshot", False):
        report("prod databases take a final snapshot", None)


rds_prod_deletion_protection = ResourceValidationPolicy(
    name="rds-prod-deletion-protection",
    description="Prod databases have deletion protection and a final snapshot.",
    enforcement_level=MANDATORY,
    validate=_rds_prod_protection,
)


@_for_types("aws:rds/cluster:Cluster", "aws:rds/instance:Instance")
def _rds_backups(args: ResourceValidationArgs, report: ReportViolation) -> None:
    days = args.props.get("backupRetentionPeriod") or 1
    if days < MIN_BACKUP_RETENTION_DAYS:
        report(f"backup retention {days} days is under {MIN_BACKUP_RETENTION_DAYS}", None)


rds_backup_retention = ResourceValidationPolicy(
    name="rds-backup-retention",
    description=f"Backups are kept at least {MIN_BACKUP_RETENTION_DAYS} days.",
    enforcement_level=ADVISORY,
    validate=_rds_backups,
)


@_for_types("aws:kms/key:Key")
def _kms_rotation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    symmetric = args.props.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
    if symmetric and args.props.get("enableKeyRotation") is not True:
        report("KMS keys rotate automatically", None)


kms_key_rotation = ResourceValidationPolicy(
    name="kms-key-rotation",
    description="Symmetric KMS keys have automatic rotation on.",
    enforcement_level=MANDATORY,
    validate=_kms_rotation,
)


def _open_rule_ok(protocol: Any, from_port: Any, to_port: Any) -> bool:
    return str(protocol) in ("tcp", "6") and from_port == 443 and to_port == 443


def _no_open_ingress(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        cidrs = [props.get("cidrIpv4"), props.get("cidrIpv6")]
        rules = [(cidrs, props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"))]
    elif args.resource_type == "aws:ec2/securityGroupRule:SecurityGroupRule":
        if props.get("type") != "ingress":
            return
        cidrs = (props.get("cidrBlocks") or []) + (props.get("ipv6CidrBlocks") or [])
        rules = [(cidrs, props.get("protocol"), props.get("fromPort"), props.get("toPort"))]
    elif args.resource_type == "aws:ec2/securityGroup:SecurityGroup":
        rules = [
            (
                (rule.get("cidrBlocks") or []) + (rule.get("ipv6CidrBlocks") or []),
                rule.get("protocol"),
                rule.get("fromPort"),
                rule.get("toPort"),
            )
            for rule in props.get("ingress") or []
        ]
    else:
        return
    for cidrs, protocol, from_port, to_port in rules:
        if any(c in OPEN_CIDRS for c in cidrs) and not _open_rule_ok(protocol, from_port, to_port):
            report(
                f"ingress from anywhere on {protocol} {from_port}-{to_port}; only tcp/443 "
                "to a load balancer may be open",
                None,
            )


no_open_ingress = ResourceValidationPolicy(
    name="no-open-ingress",
    description="Ingress from 0.0.0.0/0 or ::/0 only on tcp/443 (load balancers).",
    enforcement_level=MANDATORY,
    validate=_no_open_ingress,
)


@_for_types("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
def _default_sg(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.props.get("ingress") or args.props.get("egress"):
        report("the default security group allows nothing", None)


default_security_group_closed = ResourceValidationPolicy(
    name="default-security-group-closed",
    description="VPC default security groups have no rules.",
    enforcement_level=MANDATORY,
    validate=_default_sg,
)


@_for_types("aws:cloudwatch/logGroup:LogGroup")
def _log_retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
    days = args.props.get("retentionInDays") or 0
    if days < MIN_LOG_RETENTION_DAYS:
        report(f"log retention must be set, at least {MIN_LOG_RETENTION_DAYS} days", None)
    if not args.props.get("kmsKeyId"):
        report("log groups are encrypted with the environment's KMS key", None)


log_group_retention_and_encryption = ResourceValidationPolicy(
    name="log-group-retention-and-encryption",
    description="Log groups have a retention period and a KMS key.",
    enforcement_level=ADVISORY,
    validate=_log_retention,
)


@_for_types("aws:secretsmanager/secret:Secret")
def _secret_kms(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not args.props.get("kmsKeyId"):
        report(
            "secrets are encrypted with the environment's KMS key, not the AWS-managed one", None
        )


secrets_customer_kms = ResourceValidationPolicy(
    name="secrets-customer-kms",
    description="Secrets Manager secrets use the environment's customer-managed key.",
    enforcement_level=ADVISORY,
    validate=_secret_kms,
)


@_for_types("kubernetes:helm.sh/v3:Release")
def _helm_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    version = str(args.props.get("version") or "")
    if not _SEMVER.match(version):
        report(f"chart {args.props.get('chart')} version {version!r} is not pinned to x.y.z", None)


helm_release_pinned = ResourceValidationPolicy(
    name="helm-release-pinned-version",
    description="Helm releases pin an exact chart version.",
    enforcement_level=MANDATORY,
    validate=_helm_pinned,
)


@_for_types("aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy")
def _aoss_policy(args: ResourceValidationArgs, report: ReportViolation) -> None:
    document = json.loads(args.props.get("policy") or "null")
    if args.props.get("type") == "network":
        for rule in document if isinstance(document, list) else [document]:
            if rule.get("AllowFromPublic"):
                report("OpenSearch Serverless collections are reachable only through VPC", None)
    elif args.props.get("type") == "encryption" and document.get("AWSOwnedKey", False):
        report("OpenSearch Serverless collections use the environment's KMS key", None)


opensearch_private_and_encrypted = ResourceValidationPolicy(
    name="opensearch-serverless-private-encrypted",
    description="OpenSearch Serverless: no public network access, customer KMS encryption.",
    enforcement_level=MANDATORY,
    validate=_aoss_policy,
)


@_for_types("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
def _s3_public_block(args: ResourceValidationArgs, report: ReportViolation) -> None:
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    off = [k for k in keys if args.props.get(k) is not True]
    if off:
        report(f"S3 public access block settings {off} are off", None)


s3_public_access_blocked = ResourceValidationPolicy(
    name="s3-public-access-blocked",
    description="S3 public access blocks turn on all four settings.",
    enforcement_level=MANDATORY,
    validate=_s3_public_block,
)


def _budget_present(args: StackValidationArgs, report: ReportViolation) -> None:
    types = {resource.resource_type for resource in args.resources}
    spends = any(t.startswith(("aws:eks/", "aws:rds/", "aws:ec2/instance")) for t in types)
    if spends and "aws:budgets/budget:Budget" not in types:
        report("stacks that run compute or databases define an AWS Budget", None)


stack_has_budget = StackValidationPolicy(
    name="stack-has-budget",
    description="Stacks with clusters or databases carry an AWS Budget with alerts.",
    enforcement_level=ADVISORY,
    validate=_budget_present,
)

RESOURCE_POLICIES: Final[list[ResourceValidationPolicy]] = [
    required_tags,
    eks_secrets_encrypted,
    eks_endpoint_restricted,
    eks_control_plane_logging,
    eks_pinned_version,
    gpu_instance_allow_list,
    gpu_node_group_shape,
    gpu_node_cap,
    node_group_launch_template,
    imdsv2_required,
    launch_template_encrypted_volumes,
    ebs_encrypted,
    rds_storage_encrypted,
    rds_not_public,
    rds_managed_master_password,
    rds_iam_authentication,
    rds_prod_deletion_protection,
    rds_backup_retention,
    kms_key_rotation,
    no_open_ingress,
    default_security_group_closed,
    log_group_retention_and_encryption,
    secrets_customer_kms,
    helm_release_pinned,
    opensearch_private_and_encrypted,
    s3_public_access_blocked,
]
STACK_POLICIES: Final[list[StackValidationPolicy]] = [stack_has_budget]
POLICIES: Final = [*RESOURCE_POLICIES, *STACK_POLICIES]

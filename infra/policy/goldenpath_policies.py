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
PRIVATE_NETWORKS: Final = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
)
MIN_ALLOW_LIST_PREFIX: Final = {4: 16, 6: 48}
PROD_MIN_DB_INSTANCES: Final = 2
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


RESOURCE_POLICIES: Final[list[ResourceValidationPolicy]] = []


def _policy(
    name: str, description: str, level: EnforcementLevel, *type_tokens: str
) -> Callable[[Validate], ResourceValidationPolicy]:
    """Declare a resource policy; its check runs only for `type_tokens` (every type if none)."""

    def declare(check: Validate) -> ResourceValidationPolicy:
        policy = ResourceValidationPolicy(
            name=name,
            description=description,
            enforcement_level=level,
            validate=_for_types(*type_tokens)(check) if type_tokens else check,
        )
        RESOURCE_POLICIES.append(policy)
        return policy

    return declare


def reaches_internet(cidr: Any) -> bool:
    """Compared as networks: any prefix not wholly inside private space counts (0.0.0.0/1 does).

    A value that is not a CIDR counts too: a policy must not pass what it cannot read.
    """
    try:
        network = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        return True
    return not any(
        network.version == block.version and network.subnet_of(block)  # type: ignore[arg-type]
        for block in map(ipaddress.ip_network, PRIVATE_NETWORKS)
    )


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


@_policy("required-tags", "Taggable AWS resources carry the four required tags.", MANDATORY)
def required_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_taggable(args.resource_type):
        return
    tags = args.props.get("tags") or {}
    missing = [key for key in REQUIRED_TAGS if not str(tags.get(key, "")).strip()]
    if missing:
        report(f"required tags {missing} are missing or empty", None)


@_policy(
    "eks-secrets-encrypted",
    "EKS clusters envelope-encrypt Kubernetes secrets with a customer KMS key.",
    MANDATORY,
    "aws:eks/cluster:Cluster",
)
def eks_secrets_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    config = args.props.get("encryptionConfig") or {}
    if "secrets" not in (config.get("resources") or []) or not (
        (config.get("provider") or {}).get("keyArn")
    ):
        report("EKS secrets must be envelope-encrypted with a KMS key", None)


@_policy(
    "eks-endpoint-restricted",
    "EKS API endpoints are private in prod and allow-listed elsewhere.",
    MANDATORY,
    "aws:eks/cluster:Cluster",
)
def eks_endpoint_restricted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    vpc = args.props.get("vpcConfig") or {}
    if not vpc.get("endpointPublicAccess", True):
        return
    if _environment(args.props) == "prod":
        report("the EKS API endpoint must be private in prod", None)
    cidrs = vpc.get("publicAccessCidrs") or []
    if not cidrs:
        report("a public EKS endpoint needs a CIDR allow-list", None)
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            report(f"public access CIDR {cidr!r} is not a CIDR", None)
            continue
        widest = MIN_ALLOW_LIST_PREFIX[network.version]
        if network.prefixlen < widest:
            report(f"public access CIDR {cidr} is too wide (/{widest} or narrower)", None)


@_policy(
    "eks-control-plane-logging",
    "EKS control-plane logging is on for every log type.",
    MANDATORY,
    "aws:eks/cluster:Cluster",
)
def eks_control_plane_logging(args: ResourceValidationArgs, report: ReportViolation) -> None:
    enabled = set(args.props.get("enabledClusterLogTypes") or [])
    missing = [t for t in CONTROL_PLANE_LOG_TYPES if t not in enabled]
    if missing:
        report(f"control-plane log types {missing} are not enabled", None)


@_policy(
    "eks-pinned-version",
    "EKS clusters pin a Kubernetes minor version; upgrades are deliberate.",
    MANDATORY,
    "aws:eks/cluster:Cluster",
)
def eks_pinned_version(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not re.fullmatch(r"1\.\d+", str(args.props.get("version") or "")):
        report("pin the Kubernetes version (for example 1.32)", None)


def _gpu_types(props: Mapping[str, Any]) -> list[str]:
    return [t for t in props.get("instanceTypes") or [] if _is_gpu(t)]


@_policy(
    "gpu-instance-allow-list",
    "GPU node groups use the allow-listed families (g5, g6, g6e, p4d, p5).",
    MANDATORY,
    "aws:eks/nodeGroup:NodeGroup",
)
def gpu_instance_allow_list(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for instance_type in _gpu_types(args.props):
        if _family(instance_type) not in GPU_INSTANCE_FAMILIES:
            report(f"GPU instance type {instance_type} is outside {GPU_INSTANCE_FAMILIES}", None)


@_policy(
    "gpu-node-group-ami-and-taint",
    "GPU node groups use an NVIDIA AMI type and the nvidia.com/gpu NoSchedule taint.",
    MANDATORY,
    "aws:eks/nodeGroup:NodeGroup",
)
def gpu_node_group_shape(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not _gpu_types(args.props):
        return
    if args.props.get("amiType") not in GPU_AMI_TYPES:
        report(f"GPU node groups need an NVIDIA AMI type, one of {GPU_AMI_TYPES}", None)
    taints = args.props.get("taints") or []
    if not any(
        t.get("key") == "nvidia.com/gpu" and t.get("effect") == "NO_SCHEDULE" for t in taints
    ):
        report("GPU node groups carry the taint nvidia.com/gpu=true:NoSchedule", None)


@_policy(
    "gpu-node-group-bounds",
    "Node groups have ordered bounds; GPU groups stay under the environment's cap.",
    MANDATORY,
    "aws:eks/nodeGroup:NodeGroup",
)
def gpu_node_cap(args: ResourceValidationArgs, report: ReportViolation) -> None:
    scaling = args.props.get("scalingConfig") or {}
    low, want, high = (scaling.get(k, 0) for k in ("minSize", "desiredSize", "maxSize"))
    if not low <= want <= high:
        report(f"scaling bounds out of order: min {low}, desired {want}, max {high}", None)
    cap = GPU_NODE_CAP.get(_environment(args.props) or "", GPU_NODE_CAP["dev"])
    if _gpu_types(args.props) and high > cap:
        report(f"GPU max nodes {high} exceed the environment's cap of {cap}", None)


@_policy(
    "node-group-launch-template",
    "Managed node groups use a launch template so IMDSv2 and encryption apply.",
    ADVISORY,
    "aws:eks/nodeGroup:NodeGroup",
)
def node_group_launch_template(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not (args.props.get("launchTemplate") or {}).get("id") and not (
        args.props.get("launchTemplate") or {}
    ).get("name"):
        report("node groups use a launch template (IMDSv2, encrypted volumes)", None)


@_policy(
    "imdsv2-required",
    "Launch templates and instances require IMDSv2.",
    MANDATORY,
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/instance:Instance",
)
def imdsv2_required(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if (args.props.get("metadataOptions") or {}).get("httpTokens") != "required":
        report("instance metadata must require IMDSv2 tokens (httpTokens=required)", None)


@_policy(
    "launch-template-encrypted-volumes",
    "Every EBS volume in a launch template is encrypted.",
    MANDATORY,
    "aws:ec2/launchTemplate:LaunchTemplate",
)
def launch_template_encrypted_volumes(
    args: ResourceValidationArgs, report: ReportViolation
) -> None:
    for mapping in args.props.get("blockDeviceMappings") or []:
        ebs = mapping.get("ebs") or {}
        if str(ebs.get("encrypted", "false")).lower() != "true":
            report(f"volume {mapping.get('deviceName')} is not encrypted", None)


@_policy(
    "ebs-volume-encrypted",
    "Standalone EBS volumes are encrypted.",
    MANDATORY,
    "aws:ebs/volume:Volume",
)
def ebs_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.props.get("encrypted") is not True:
        report("EBS volumes are encrypted", None)


@_policy(
    "rds-storage-encrypted",
    "RDS and Aurora storage is encrypted.",
    MANDATORY,
    "aws:rds/cluster:Cluster",
    "aws:rds/instance:Instance",
)
def rds_storage_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.props.get("storageEncrypted") is not True:
        report("database storage must be encrypted at rest", None)


@_policy(
    "rds-not-public",
    "No database instance is publicly accessible.",
    MANDATORY,
    "aws:rds/clusterInstance:ClusterInstance",
    "aws:rds/instance:Instance",
)
def rds_not_public(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.props.get("publiclyAccessible") is True:
        report("databases are never publicly accessible", None)


@_policy(
    "rds-managed-master-password",
    "Master passwords live in Secrets Manager (manageMasterUserPassword).",
    MANDATORY,
    "aws:rds/cluster:Cluster",
    "aws:rds/instance:Instance",
)
def rds_managed_master_password(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.props.get("masterPassword") or not args.props.get("manageMasterUserPassword"):
        report("the master password is managed by Secrets Manager, never set in code", None)


@_policy(
    "rds-iam-authentication",
    "Databases accept IAM authentication.",
    ADVISORY,
    "aws:rds/cluster:Cluster",
    "aws:rds/instance:Instance",
)
def rds_iam_authentication(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not args.props.get("iamDatabaseAuthenticationEnabled"):
        report("enable IAM database authentication so services need no passwords", None)


@_policy(
    "rds-prod-deletion-protection",
    "Prod databases have deletion protection and a final snapshot.",
    MANDATORY,
    "aws:rds/cluster:Cluster",
    "aws:rds/instance:Instance",
)
def rds_prod_deletion_protection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if _environment(args.props) != "prod":
        return
    if args.props.get("deletionProtection") is not True:
        report("deletion protection is required in prod", None)
    if args.props.get("skipFinalSnapshot", False):
        report("prod databases take a final snapshot", None)


@_policy(
    "rds-backup-retention",
    f"Backups are kept at least {MIN_BACKUP_RETENTION_DAYS} days.",
    ADVISORY,
    "aws:rds/cluster:Cluster",
    "aws:rds/instance:Instance",
)
def rds_backup_retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
    days = args.props.get("backupRetentionPeriod") or 1
    if days < MIN_BACKUP_RETENTION_DAYS:
        report(f"backup retention {days} days is under {MIN_BACKUP_RETENTION_DAYS}", None)


@_policy(
    "kms-key-rotation",
    "Symmetric KMS keys have automatic rotation on.",
    MANDATORY,
    "aws:kms/key:Key",
)
def kms_key_rotation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    symmetric = args.props.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
    if symmetric and args.props.get("enableKeyRotation") is not True:
        report("KMS keys rotate automatically", None)


def _open_rule_ok(protocol: Any, from_port: Any, to_port: Any) -> bool:
    return str(protocol) in ("tcp", "6") and from_port == 443 and to_port == 443


@_policy(
    "no-open-ingress",
    "Ingress from any internet prefix (not only 0.0.0.0/0) only on tcp/443 (load balancers).",
    MANDATORY,
)
def no_open_ingress(args: ResourceValidationArgs, report: ReportViolation) -> None:
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
        internet = any(reaches_internet(c) for c in cidrs if c)
        if internet and not _open_rule_ok(protocol, from_port, to_port):
            report(
                f"ingress from anywhere on {protocol} {from_port}-{to_port}; only tcp/443 "
                "to a load balancer may be open",
                None,
            )


@_policy(
    "default-security-group-closed",
    "VPC default security groups have no rules.",
    MANDATORY,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
)
def default_security_group_closed(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.props.get("ingress") or args.props.get("egress"):
        report("the default security group allows nothing", None)


@_policy(
    "log-group-retention-and-encryption",
    "Log groups have a retention period and a KMS key.",
    ADVISORY,
    "aws:cloudwatch/logGroup:LogGroup",
)
def log_group_retention_and_encryption(
    args: ResourceValidationArgs, report: ReportViolation
) -> None:
    days = args.props.get("retentionInDays") or 0
    if days < MIN_LOG_RETENTION_DAYS:
        report(f"log retention must be set, at least {MIN_LOG_RETENTION_DAYS} days", None)
    if not args.props.get("kmsKeyId"):
        report("log groups are encrypted with the environment's KMS key", None)


@_policy(
    "secrets-customer-kms",
    "Secrets Manager secrets use the environment's customer-managed key.",
    ADVISORY,
    "aws:secretsmanager/secret:Secret",
)
def secrets_customer_kms(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not args.props.get("kmsKeyId"):
        report(
            "secrets are encrypted with the environment's KMS key, not the AWS-managed one", None
        )


@_policy(
    "helm-release-pinned-version",
    "Helm releases pin an exact chart version.",
    MANDATORY,
    "kubernetes:helm.sh/v3:Release",
)
def helm_release_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    version = str(args.props.get("version") or "")
    if not _SEMVER.match(version):
        report(f"chart {args.props.get('chart')} version {version!r} is not pinned to x.y.z", None)


@_policy(
    "opensearch-serverless-private-encrypted",
    "OpenSearch Serverless: no public network access, customer KMS encryption.",
    MANDATORY,
    "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy",
)
def opensearch_private_and_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    document = json.loads(args.props.get("policy") or "null")
    if args.props.get("type") == "network":
        for rule in document if isinstance(document, list) else [document]:
            if rule.get("AllowFromPublic"):
                report("OpenSearch Serverless collections are reachable only through VPC", None)
    elif args.props.get("type") == "encryption" and document.get("AWSOwnedKey", False):
        report("OpenSearch Serverless collections use the environment's KMS key", None)


def _karpenter_spec(props: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = props.get("spec")
    return spec if isinstance(spec, Mapping) else {}


@_policy(
    "karpenter-gpu-node-pool",
    "Karpenter NodePools that launch GPUs: allow-listed families, the nvidia.com/gpu taint and a"
    " GPU limit.",
    MANDATORY,
    "kubernetes:karpenter.sh/v1:NodePool",
)
def karpenter_gpu_node_pool(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _karpenter_spec(args.props)
    template = (spec.get("template") or {}).get("spec") or {}
    types = [
        value
        for requirement in template.get("requirements") or []
        if requirement.get("key") == "node.kubernetes.io/instance-type"
        and requirement.get("operator") == "In"
        for value in requirement.get("values") or []
    ]
    limits = spec.get("limits") or {}
    gpu_types = [t for t in types if _is_gpu(t)]
    if not gpu_types and "nvidia.com/gpu" not in limits:
        return
    outside = [t for t in gpu_types if _family(t) not in GPU_INSTANCE_FAMILIES]
    if outside or not gpu_types:
        report(f"GPU NodePools list allow-listed instance types only, got {types}", None)
    if not any(
        t.get("key") == "nvidia.com/gpu" and t.get("effect") == "NoSchedule"
        for t in template.get("taints") or []
    ):
        report("GPU NodePools carry the taint nvidia.com/gpu=true:NoSchedule", None)
    if not str(limits.get("nvidia.com/gpu", "")).isdigit():
        report("GPU NodePools set a nvidia.com/gpu limit", None)


@_policy(
    "karpenter-node-class-hardened",
    "Karpenter EC2NodeClasses require IMDSv2 and encrypt every volume.",
    MANDATORY,
    "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
)
def karpenter_node_class_hardened(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _karpenter_spec(args.props)
    if (spec.get("metadataOptions") or {}).get("httpTokens") != "required":
        report("EC2NodeClass metadataOptions.httpTokens must be required (IMDSv2)", None)
    for mapping in spec.get("blockDeviceMappings") or []:
        if (mapping.get("ebs") or {}).get("encrypted") is not True:
            report(f"EC2NodeClass volume {mapping.get('deviceName')} is not encrypted", None)


@_policy(
    "s3-public-access-blocked",
    "S3 public access blocks turn on all four settings.",
    MANDATORY,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
)
def s3_public_access_blocked(args: ResourceValidationArgs, report: ReportViolation) -> None:
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    off = [k for k in keys if args.props.get(k) is not True]
    if off:
        report(f"S3 public access block settings {off} are off", None)


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    if not isinstance(document, Mapping):
        return []
    statements = document.get("Statement") or []
    return [s for s in ([statements] if isinstance(statements, Mapping) else statements)]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def admin_statements(document: Any) -> list[Mapping[str, Any]]:
    """Allow statements granting every action (`*` or `*:*`) on every resource."""
    return [
        s
        for s in _statements(document)
        if s.get("Effect") == "Allow"
        and any(a in ("*", "*:*") for a in _as_list(s.get("Action")))
        and "*" in _as_list(s.get("Resource"))
    ]


@_policy(
    "iam-no-admin-inline-policy",
    "No IAM policy document grants every action on every resource (Action *:* or *).",
    MANDATORY,
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
    "aws:iam/policy:Policy",
    "aws:iam/role:Role",
)
def iam_no_admin_inline_policy(args: ResourceValidationArgs, report: ReportViolation) -> None:
    documents = [args.props.get("policy")]
    documents += [p.get("policy") for p in args.props.get("inlinePolicies") or []]
    for document in documents:
        if document and admin_statements(document):
            report("an IAM policy grants *:* on *: scope actions and resources", None)


@_policy(
    "rds-data-api-off",
    "The RDS Data API (an HTTPS path into the database) stays off unless a stack asks for it.",
    ADVISORY,
    "aws:rds/cluster:Cluster",
)
def rds_data_api_off(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.props.get("enableHttpEndpoint"):
        report("the RDS Data API is enabled", None)


def _prod_db_instances(args: StackValidationArgs, report: ReportViolation) -> None:
    clusters = [
        r
        for r in args.resources
        if r.resource_type == "aws:rds/cluster:Cluster" and _environment(r.props) == "prod"
    ]
    instances = [
        r for r in args.resources if r.resource_type == "aws:rds/clusterInstance:ClusterInstance"
    ]
    for cluster in clusters:
        ids = {cluster.props.get("clusterIdentifier"), cluster.props.get("id"), cluster.name}
        count = sum(1 for i in instances if i.props.get("clusterIdentifier") in ids)
        if count < PROD_MIN_DB_INSTANCES:
            report(
                f"prod database {cluster.name} has {count} instance(s); at least"
                f" {PROD_MIN_DB_INSTANCES} (a reader to fail over to)",
                None,
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

prod_database_instances = StackValidationPolicy(
    name="rds-prod-multi-instance",
    description=f"Prod Aurora clusters run at least {PROD_MIN_DB_INSTANCES} instances.",
    enforcement_level=MANDATORY,
    validate=_prod_db_instances,
)

STACK_POLICIES: Final[list[StackValidationPolicy]] = [stack_has_budget, prod_database_instances]
POLICIES: Final = [*RESOURCE_POLICIES, *STACK_POLICIES]

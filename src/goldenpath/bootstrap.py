"""`goldenpath infra bootstrap|preflight`: the Pulumi state backend and a region's readiness.

`bootstrap` creates (or brings back into shape) the S3 bucket Pulumi keeps state in and the KMS
key its secrets provider uses; a second run finds nothing to change. `preflight` checks what
`pulumi up` would otherwise discover half-way: on-demand and spot vCPU quotas for what the stack
config may launch, the state bucket, and the deployer's IAM permissions. The logic is plain
functions over boto3 clients, so tests drive it with moto (a moto server on 127.0.0.1, and
botocore's Stubber where moto has no implementation). No AWS error reaches the operator as a
traceback: each is one line naming what failed and what to do.
"""

import functools
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, ParamSpec, TypeVar

import boto3
import click
import yaml
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError

DEFAULT_KMS_ALIAS: Final = "alias/goldenpath-pulumi-secrets"
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

# EC2 vCPU quotas by instance family letter and purchase option (Service Quotas, service "ec2";
# "Amazon EC2 service quotas", docs.aws.amazon.com/ec2/latest/instancetypes/
# ec2-instance-quotas.html, read 2026-12-02). Standard covers A, C, D, H, I, M, R, T and Z.
QUOTA_CODES: Final = {
    ("standard", "ON_DEMAND"): "L-1216C47A",
    ("g", "ON_DEMAND"): "L-DB2E81BA",
    ("p", "ON_DEMAND"): "L-417A185B",
    ("standard", "SPOT"): "L-34B43A08",
    ("g", "SPOT"): "L-3819A6DF",
    ("p", "SPOT"): "L-7212CCBC",
}
GPU_QUOTAS: Final = {
    "L-1216C47A": "Running On-Demand Standard instances (vCPUs)",
    "L-DB2E81BA": "Running On-Demand G and VT instances (vCPUs)",
    "L-417A185B": "Running On-Demand P instances (vCPUs)",
    "L-34B43A08": "All Standard Spot Instance Requests (vCPUs)",
    "L-3819A6DF": "All G and VT Spot Instance Requests (vCPUs)",
    "L-7212CCBC": "All P Spot Instance Requests (vCPUs)",
}

# What `pulumi up` on infra/ calls, sampled per service; a denial here would stop a deploy.
REQUIRED_ACTIONS: Final = (
    "ec2:CreateVpc",
    "ec2:CreateNatGateway",
    "ec2:CreateVpcEndpoint",
    "ec2:CreateLaunchTemplate",
    "ec2:CreateFlowLogs",
    "eks:CreateCluster",
    "eks:CreateNodegroup",
    "iam:CreateRole",
    "iam:CreateOpenIDConnectProvider",
    "iam:PassRole",
    "kms:CreateKey",
    "rds:CreateDBCluster",
    "secretsmanager:CreateSecret",
    "logs:CreateLogGroup",
    "budgets:ModifyBudget",
    "aoss:CreateCollection",
)


class BootstrapError(click.ClickException):
    """A problem the operator must fix; shown without a traceback."""


def describe_aws_error(error: Exception) -> str:
    """One line for an AWS failure: what, and what to do about it."""
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials found: set AWS_PROFILE (or --profile), or run where a role is"
            " attached"
        )
    if isinstance(error, ProfileNotFound):
        return f"{error}: check --profile and ~/.aws/config"
    if isinstance(error, ClientError):
        code = _code(error)
        operation = getattr(error, "operation_name", "") or "an AWS call"
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("Throttling", "ThrottlingException", "TooManyRequestsException"):
            return f"AWS throttled {operation}: wait a minute and run again"
        if isinstance(status, int) and status >= 500:
            return f"AWS failed {operation} (HTTP {status} {code}): a service error, run again"
        message = error.response.get("Error", {}).get("Message", "")
        return f"AWS refused {operation} ({code}): {message}".rstrip(": ")
    if isinstance(error, ResponseParserError):
        return "AWS answered with something that is not an AWS response (an HTTP 500 page?)"
    if isinstance(error, BotoCoreError):
        return f"AWS call failed: {error}"
    return f"{type(error).__name__}: {error}"


# ResponseParserError is not a BotoCoreError: an HTML 500 page from a proxy or a mock raises it.
_AWS_ERRORS: Final = (BotoCoreError, ClientError, ResponseParserError)
P = ParamSpec("P")
R = TypeVar("R")


def no_traceback(command: Callable[P, R]) -> Callable[P, R]:
    """Every AWS error a command meets leaves as a one-line `Error:` and exit code 1."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except _AWS_ERRORS as error:
            raise BootstrapError(describe_aws_error(error)) from error

    return run


@contextmanager
def _as_check(name: str, checks: list["Check"]) -> Iterator[None]:
    """Record an AWS failure as a failed check, so the remaining checks still run."""
    try:
        yield
    except _AWS_ERRORS as error:
        checks.append(Check(name, False, describe_aws_error(error)))


@dataclass
class BackendReport:
    bucket: str
    region: str
    kms_key_arn: str
    kms_alias: str
    changes: list[str] = field(default_factory=list)

    @property
    def login_url(self) -> str:
        return f"s3://{self.bucket}?region={self.region}&awssdk=v2"

    @property
    def secrets_provider(self) -> str:
        return f"awskms://{self.kms_alias}?region={self.region}"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def ensure_secrets_key(kms: Any, alias: str, changes: list[str]) -> str:
    """Return the ARN of the key behind `alias`, creating it with rotation on if missing."""
    if not alias.startswith("alias/"):
        raise BootstrapError(f"--kms-alias {alias!r}: must start with 'alias/'")
    try:
        key_arn = str(kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"])
    except ClientError as error:
        if _code(error) != "NotFoundException":
            raise BootstrapError(f"cannot read KMS alias {alias}: {error}") from error
        key = kms.create_key(
            Description="Pulumi secrets provider for goldenpath stacks",
            KeyUsage="ENCRYPT_DECRYPT",
            Tags=[{"TagKey": "goldenpath:purpose", "TagValue": "pulumi-secrets"}],
        )
        key_arn = str(key["KeyMetadata"]["Arn"])
        kms.create_alias(AliasName=alias, TargetKeyId=key_arn)
        changes.append(f"created KMS key {key_arn} as {alias}")
    if not kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"]:
        kms.enable_key_rotation(KeyId=key_arn)
        changes.append(f"enabled rotation on {alias}")
    return key_arn


def _tls_only_policy(bucket: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def bucket_drift(s3: Any, bucket: str, key_arn: str | None) -> list[str]:
    """What the state bucket lacks: versioning, KMS encryption, public-access block, TLS policy."""
    drift: list[str] = []
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        drift.append("versioning")
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        default = rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]
        if default.get("SSEAlgorithm") != "aws:kms" or (
            key_arn is not None and default.get("KMSMasterKeyID") != key_arn
        ):
            drift.append("encryption")
    except ClientError as error:
        if _code(error) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        drift.append("encryption")
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        if not all(block.values()) or len(block) < 4:
            drift.append("public-access-block")
    except ClientError as error:
        if _code(error) != "NoSuchPublicAccessBlockConfiguration":
            raise
        drift.append("public-access-block")
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        if policy != _tls_only_policy(bucket):
            drift.append("tls-only-policy")
    except ClientError as error:
        if _code(error) != "NoSuchBucketPolicy":
            raise
        drift.append("tls-only-policy")
    return drift


def _bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError as error:
        if _code(error) in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise BootstrapError(
            f"bucket {bucket!r} exists but this account cannot use it ({_code(error)}); "
            "bucket names are global: choose another"
        ) from error


def ensure_state_backend(
    session: boto3.Session, bucket: str, region: str, kms_alias: str = DEFAULT_KMS_ALIAS
) -> BackendReport:
    """Create or repair the state bucket and secrets key; report what changed (nothing on rerun)."""
    if not _BUCKET_NAME.match(bucket) or ".." in bucket:
        raise BootstrapError(f"--bucket {bucket!r}: not a valid S3 bucket name")
    s3 = session.client("s3", region_name=region)
    kms = session.client("kms", region_name=region)
    report = BackendReport(bucket=bucket, region=region, kms_key_arn="", kms_alias=kms_alias)
    report.kms_key_arn = ensure_secrets_key(kms, kms_alias, report.changes)

    if not _bucket_exists(s3, bucket):
        create: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**create)
        report.changes.append(f"created bucket {bucket}")
    drift = bucket_drift(s3, bucket, report.kms_key_arn)
    if "versioning" in drift:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    if "encryption" in drift:
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": report.kms_key_arn,
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
    if "public-access-block" in drift:
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
    if "tls-only-policy" in drift:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(_tls_only_policy(bucket)))
    report.changes += [f"set {item} on {bucket}" for item in drift]
    return report


def check_gpu_quotas(quotas: Any, required_vcpus: Mapping[str, int]) -> list[Check]:
    """Compare applied (or, if never raised, default) vCPU quotas with what the stack may use."""
    checks = []
    for code, needed in required_vcpus.items():
        label = GPU_QUOTAS.get(code, code)
        if needed <= 0:
            continue
        try:
            try:
                quota = quotas.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]
            except ClientError as error:
                if _code(error) != "NoSuchResourceException":
                    raise
                quota = quotas.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode=code)[
                    "Quota"
                ]
        except _AWS_ERRORS as error:
            checks.append(Check(f"quota {code}", False, f"{label}: {describe_aws_error(error)}"))
            continue
        value = int(quota["Value"])
        checks.append(
            Check(
                f"quota {code}",
                value >= needed,
                f"{label}: {value} available, {needed} needed"
                + ("" if value >= needed else " - request an increase in Service Quotas"),
            )
        )
    return checks


def check_state_bucket(s3: Any, bucket: str) -> Check:
    try:
        if not _bucket_exists(s3, bucket):
            return Check("state bucket", False, f"{bucket} does not exist: run `infra bootstrap`")
        drift = bucket_drift(s3, bucket, None)
    except BootstrapError as error:
        return Check("state bucket", False, f"{bucket}: {error}")
    except _AWS_ERRORS as error:
        return Check("state bucket", False, f"{bucket}: {describe_aws_error(error)}")
    if drift:
        return Check("state bucket", False, f"{bucket} lacks {drift}: rerun `infra bootstrap`")
    return Check("state bucket", True, f"{bucket}: versioned, KMS-encrypted, private, TLS only")


def _principal_arn(caller_arn: str) -> str:
    """IAM simulates roles, not sessions: map an assumed-role session ARN to its role."""
    match = re.match(r"^arn:(aws[\w-]*):sts::(\d+):assumed-role/([^/]+)/.+$", caller_arn)
    if match:
        partition, account, role = match.groups()
        return f"arn:{partition}:iam::{account}:role/{role}"
    return caller_arn


def check_permissions(sts: Any, iam: Any, actions: Sequence[str] = REQUIRED_ACTIONS) -> Check:
    try:
        caller = str(sts.get_caller_identity()["Arn"])
    except _AWS_ERRORS as error:
        return Check("iam permissions", False, describe_aws_error(error))
    if caller.endswith(":root"):
        return Check("iam permissions", True, "root user: allowed everything (prefer a role)")
    principal = _principal_arn(caller)
    try:
        results = iam.simulate_principal_policy(
            PolicySourceArn=principal, ActionNames=list(actions)
        )["EvaluationResults"]
    except _AWS_ERRORS as error:
        return Check(
            "iam permissions",
            False,
            f"cannot simulate {principal} ({describe_aws_error(error)}):"
            " allow iam:SimulatePrincipalPolicy",
        )
    denied = sorted(r["EvalActionName"] for r in results if r["EvalDecision"] != "allowed")
    if denied:
        return Check("iam permissions", False, f"{principal} is denied {denied}")
    return Check("iam permissions", True, f"{principal}: {len(actions)} actions allowed")


@dataclass(frozen=True)
class PoolDemand:
    """What one node pool of a stack may launch at its maximum size."""

    name: str
    instance_types: tuple[str, ...]
    max_size: int
    capacity_type: str


def stack_pools(path: Path) -> list[PoolDemand]:
    """The node pools of `infra/Pulumi.<env>.yaml` (system and GPU), read as infra/ reads them."""
    try:
        config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    except (OSError, yaml.YAMLError) as error:
        raise BootstrapError(f"--stack-config {path}: cannot read it ({error})") from error
    cluster = config.get("goldenpath:cluster")
    if not isinstance(cluster, dict) or "systemNodes" not in cluster:
        raise BootstrapError(f"--stack-config {path}: no goldenpath:cluster.systemNodes in it")
    raw = [{"name": "system", **cluster["systemNodes"]}, *(cluster.get("gpuNodePools") or [])]
    pools = []
    for pool in raw:
        types = tuple(pool.get("instanceTypes") or [pool.get("instanceType")])
        if not all(isinstance(t, str) and "." in t for t in types):
            raise BootstrapError(f"--stack-config {path}: pool {pool.get('name')!r} types {types}")
        pools.append(
            PoolDemand(
                str(pool["name"]),
                types,
                int(pool.get("max", 0)),
                str(pool.get("capacityType", "ON_DEMAND")),
            )
        )
    return pools


def _quota_family(instance_type: str) -> str:
    letter = instance_type[:1]
    return letter if letter in ("g", "p") else "standard"


def required_vcpus(ec2: Any, pools: Sequence[PoolDemand]) -> dict[str, int]:
    """vCPUs per quota code if every pool scales to its max with its largest instance type.

    vCPU counts come from EC2 (DescribeInstanceTypes), not from a table typed in here.
    """
    types = sorted({t for pool in pools for t in pool.instance_types})
    described = ec2.describe_instance_types(InstanceTypes=types)["InstanceTypes"]
    vcpus = {t["InstanceType"]: int(t["VCpuInfo"]["DefaultVCpus"]) for t in described}
    missing = sorted(set(types) - set(vcpus))
    if missing:
        raise BootstrapError(f"EC2 does not know instance types {missing} in this region")
    needed: dict[str, int] = defaultdict(int)
    for pool in pools:
        for family in {_quota_family(t) for t in pool.instance_types}:
            largest = max(vcpus[t] for t in pool.instance_types if _quota_family(t) == family)
            needed[QUOTA_CODES[(family, pool.capacity_type)]] += largest * pool.max_size
    return dict(needed)


def run_preflight(
    *,
    s3: Any,
    sts: Any,
    iam: Any,
    quotas: Any,
    ec2: Any,
    bucket: str,
    pools: Sequence[PoolDemand],
) -> list[Check]:
    checks: list[Check] = []
    with _as_check("instance vCPUs", checks):
        checks += check_gpu_quotas(quotas, required_vcpus(ec2, pools))
    return [*checks, check_state_bucket(s3, bucket), check_permissions(sts, iam)]


ClientFactory = Callable[[boto3.Session, str, str], Any]


def _client(session: boto3.Session, service: str, region: str) -> Any:
    return session.client(service, region_name=region)  # type: ignore[call-overload]


# Replaced in tests where moto lacks an API (service-quotas for ec2, IAM policy simulation).
client_factory: ClientFactory = _client


def _session(profile: str | None, region: str) -> boto3.Session:
    return boto3.Session(profile_name=profile, region_name=region)


@click.group("infra")
def bootstrap_group() -> None:
    """Prepare an AWS account and region for the platform stacks in infra/."""


@bootstrap_group.command("bootstrap")
@click.option("--bucket", required=True, help="S3 bucket for Pulumi state (globally unique).")
@click.option("--region", required=True, help="AWS region for the bucket and key.")
@click.option("--kms-alias", default=DEFAULT_KMS_ALIAS, show_default=True)
@click.option("--profile", default=None, help="AWS named profile.")
@no_traceback
def bootstrap_command(bucket: str, region: str, kms_alias: str, profile: str | None) -> None:
    """Create the Pulumi state bucket and secrets key; safe to run again."""
    report = ensure_state_backend(_session(profile, region), bucket, region, kms_alias)
    for change in report.changes:
        click.echo(f"changed: {change}")
    if not report.changes:
        click.echo("nothing to change: backend already in shape")
    click.echo(f"pulumi login '{report.login_url}'")
    # A self-managed backend has no organisations: the literal `organization` is the namespace.
    click.echo(
        "pulumi stack init organization/goldenpath-infra/<env>"
        f" --secrets-provider='{report.secrets_provider}'"
    )


@bootstrap_group.command("preflight")
@click.option("--region", required=True)
@click.option("--bucket", required=True, help="The state bucket `bootstrap` created.")
@click.option(
    "--stack-config",
    required=True,
    type=click.Path(path_type=Path),
    help="infra/Pulumi.<env>.yaml: the node pools whose vCPUs must fit the quotas.",
)
@click.option("--profile", default=None)
@no_traceback
def preflight_command(region: str, bucket: str, stack_config: Path, profile: str | None) -> None:
    """Check vCPU quotas (on-demand and spot), the state bucket and IAM before `pulumi up`."""
    pools = stack_pools(stack_config)
    session = _session(profile, region)
    checks = run_preflight(
        s3=client_factory(session, "s3", region),
        sts=client_factory(session, "sts", region),
        iam=client_factory(session, "iam", region),
        quotas=client_factory(session, "service-quotas", region),
        ec2=client_factory(session, "ec2", region),
        bucket=bucket,
        pools=pools,
    )
    for check in checks:
        click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    failed = [c.name for c in checks if not c.ok]
    if failed:
        raise click.ClickException(f"preflight failed: {', '.join(failed)}")

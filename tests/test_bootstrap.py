"""`goldenpath infra bootstrap|preflight` against moto; Stubber where moto has no API."""

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner
from moto import mock_aws

from goldenpath import bootstrap
from goldenpath.bootstrap import (
    BootstrapError,
    PoolDemand,
    bootstrap_group,
    check_gpu_quotas,
    check_permissions,
    describe_aws_error,
    ensure_state_backend,
    required_vcpus,
    run_preflight,
    stack_pools,
)

REGION = "eu-west-1"
BUCKET = "acme-goldenpath-pulumi-state"
INFRA = Path(__file__).resolve().parents[1] / "infra"
DEV_STACK = INFRA / "Pulumi.dev.yaml"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        # Preflight reads instance types only: skip moto's seconds-long default AMI load.
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def quota_client(responses: list[tuple[str, dict[str, Any], dict[str, Any] | str]]) -> Any:
    """A service-quotas client answering from `responses`; moto has no ec2 quotas."""
    client = boto3.client("service-quotas", region_name=REGION)
    stubber = Stubber(client)
    for method, params, answer in responses:
        if isinstance(answer, str):
            stubber.add_client_error(method, service_error_code=answer, expected_params=params)
        else:
            stubber.add_response(method, answer, params)
    stubber.activate()
    return client


def quota(code: str, value: float) -> dict[str, Any]:
    return {"Quota": {"QuotaCode": code, "ServiceCode": "ec2", "Value": value}}


def iam_client(decisions: dict[str, str], principal: str) -> Any:
    client = boto3.client("iam", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response(
        "simulate_principal_policy",
        {
            "EvaluationResults": [
                {"EvalActionName": action, "EvalDecision": decision}
                for action, decision in decisions.items()
            ]
        },
        {"PolicySourceArn": principal, "ActionNames": list(bootstrap.REQUIRED_ACTIONS)},
    )
    stubber.activate()
    return client


def test_bootstrap_creates_a_locked_down_backend(aws: boto3.Session) -> None:
    report = ensure_state_backend(aws, BUCKET, REGION)
    assert report.changes[0].startswith("created KMS key")
    assert f"created bucket {BUCKET}" in report.changes
    s3 = aws.client("s3")
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    sse = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
    default = sse["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert default == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": report.kms_key_arn}
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    kms = aws.client("kms")
    assert kms.get_key_rotation_status(KeyId=report.kms_key_arn)["KeyRotationEnabled"]
    assert report.login_url == f"s3://{BUCKET}?region={REGION}&awssdk=v2"
    assert report.secrets_provider == f"awskms://alias/goldenpath-pulumi-secrets?region={REGION}"


def test_bootstrap_twice_changes_nothing(aws: boto3.Session) -> None:
    first = ensure_state_backend(aws, BUCKET, REGION)
    second = ensure_state_backend(aws, BUCKET, REGION)
    assert first.changes and second.changes == []
    assert second.kms_key_arn == first.kms_key_arn
    assert len(aws.client("kms").list_keys()["Keys"]) == 1


def test_bootstrap_repairs_drift(aws: boto3.Session) -> None:
    ensure_state_backend(aws, BUCKET, REGION)
    aws.client("s3").delete_public_access_block(Bucket=BUCKET)
    report = ensure_state_backend(aws, BUCKET, REGION)
    assert report.changes == [f"set public-access-block on {BUCKET}"]


def test_bootstrap_refuses_invalid_bucket_names(aws: boto3.Session) -> None:
    with pytest.raises(BootstrapError, match="not a valid S3 bucket name"):
        ensure_state_backend(aws, "Bad_Bucket", REGION)


def test_bootstrap_refuses_bad_alias(aws: boto3.Session) -> None:
    with pytest.raises(BootstrapError, match="must start with 'alias/'"):
        ensure_state_backend(aws, BUCKET, REGION, kms_alias="pulumi")


def test_quotas_pass_fail_and_fall_back_to_defaults() -> None:
    client = quota_client(
        [
            (
                "get_service_quota",
                {"ServiceCode": "ec2", "QuotaCode": "L-DB2E81BA"},
                quota("L-DB2E81BA", 128.0),
            ),
            (
                "get_service_quota",
                {"ServiceCode": "ec2", "QuotaCode": "L-417A185B"},
                "NoSuchResourceException",
            ),
            (
                "get_aws_default_service_quota",
                {"ServiceCode": "ec2", "QuotaCode": "L-417A185B"},
                quota("L-417A185B", 0.0),
            ),
        ]
    )
    checks = check_gpu_quotas(client, {"L-DB2E81BA": 64, "L-417A185B": 96})
    assert [c.ok for c in checks] == [True, False]
    assert (
        checks[0].detail == "Running On-Demand G and VT instances (vCPUs): 128 available, 64 needed"
    )
    assert "0 available, 96 needed - request an increase" in checks[1].detail


def test_quota_read_errors_are_reported_not_raised() -> None:
    client = quota_client(
        [
            (
                "get_service_quota",
                {"ServiceCode": "ec2", "QuotaCode": "L-DB2E81BA"},
                "AccessDeniedException",
            )
        ]
    )
    (check,) = check_gpu_quotas(client, {"L-DB2E81BA": 8})
    assert not check.ok and "AWS refused GetServiceQuota (AccessDeniedException)" in check.detail


def test_permissions_simulated_for_the_role_behind_a_session(aws: boto3.Session) -> None:
    sts = aws.client("sts")
    caller = sts.get_caller_identity()["Arn"]
    decisions = {a: "allowed" for a in bootstrap.REQUIRED_ACTIONS}
    assert check_permissions(sts, iam_client(decisions, caller)).ok
    decisions["eks:CreateCluster"] = "implicitDeny"
    check = check_permissions(sts, iam_client(decisions, caller))
    assert not check.ok and "denied ['eks:CreateCluster']" in check.detail
    assert (
        bootstrap._principal_arn("arn:aws:sts::123456789012:assumed-role/deployer/ci-run-1")
        == "arn:aws:iam::123456789012:role/deployer"
    )


def test_preflight_reports_missing_and_healthy_bucket(aws: boto3.Session) -> None:
    sts = aws.client("sts")
    caller = sts.get_caller_identity()["Arn"]
    allowed = {a: "allowed" for a in bootstrap.REQUIRED_ACTIONS}
    responses = [
        (
            "get_service_quota",
            {"ServiceCode": "ec2", "QuotaCode": "L-DB2E81BA"},
            quota("L-DB2E81BA", 64.0),
        ),
    ]

    def preflight() -> list:
        return run_preflight(
            s3=aws.client("s3"),
            sts=sts,
            iam=iam_client(allowed, caller),
            quotas=quota_client(responses),
            ec2=aws.client("ec2"),
            bucket=BUCKET,
            pools=[PoolDemand("gpu", ("g6.4xlarge", "g5.4xlarge"), 4, "ON_DEMAND")],
        )

    checks = preflight()
    assert [c.name for c in checks if not c.ok] == ["state bucket"]
    ensure_state_backend(aws, BUCKET, REGION)
    checks = preflight()
    assert all(c.ok for c in checks), checks


def test_cli_bootstrap_is_idempotent(aws: boto3.Session) -> None:
    runner = CliRunner()
    args = ["bootstrap", "--bucket", BUCKET, "--region", REGION]
    first = runner.invoke(bootstrap_group, args)
    assert first.exit_code == 0, first.output
    assert "changed: created bucket" in first.output
    second = runner.invoke(bootstrap_group, args)
    assert second.exit_code == 0
    assert "nothing to change" in second.output
    assert f"pulumi login 's3://{BUCKET}?region={REGION}&awssdk=v2'" in second.output


def test_cli_bootstrap_error_is_clear(aws: boto3.Session) -> None:
    result = CliRunner().invoke(bootstrap_group, ["bootstrap", "--bucket", "x", "--region", REGION])
    assert result.exit_code == 1
    assert "Error: --bucket 'x': not a valid S3 bucket name" in result.output


def test_cli_preflight_fails_with_exit_code(
    aws: boto3.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller = aws.client("sts").get_caller_identity()["Arn"]
    stubs = {
        # dev: system m6i.large x 3 on demand (6 vCPUs), gpu-small g6/g5.xlarge x 2 spot (8).
        "service-quotas": quota_client(
            [
                (
                    "get_service_quota",
                    {"ServiceCode": "ec2", "QuotaCode": "L-1216C47A"},
                    quota("L-1216C47A", 32.0),
                ),
                (
                    "get_service_quota",
                    {"ServiceCode": "ec2", "QuotaCode": "L-3819A6DF"},
                    quota("L-3819A6DF", 4.0),
                ),
            ]
        ),
        "iam": iam_client({a: "allowed" for a in bootstrap.REQUIRED_ACTIONS}, caller),
    }

    def factory(session: boto3.Session, service: str, region: str) -> Any:
        return stubs.get(service) or session.client(service, region_name=region)

    monkeypatch.setattr(bootstrap, "client_factory", factory)
    ensure_state_backend(aws, BUCKET, REGION)
    result = CliRunner().invoke(
        bootstrap_group,
        ["preflight", "--region", REGION, "--bucket", BUCKET, "--stack-config", str(DEV_STACK)],
    )
    assert result.exit_code == 1
    assert (
        "ok   quota L-1216C47A: Running On-Demand Standard instances (vCPUs): 32 available, 6"
        in result.output
    )
    assert (
        "FAIL quota L-3819A6DF: All G and VT Spot Instance Requests (vCPUs): 4 available, 8"
        in result.output
    )
    assert "ok   state bucket" in result.output
    assert "Error: preflight failed: quota L-3819A6DF" in result.output


def test_group_shape() -> None:
    assert bootstrap_group.name == "infra"
    assert set(bootstrap_group.commands) == {"bootstrap", "preflight"}


def test_required_vcpus_come_from_the_stack_config(aws: boto3.Session) -> None:
    """Per family and purchase option, each pool at max with its largest type; vCPU counts
    from EC2's DescribeInstanceTypes (finding 13)."""
    pools = stack_pools(INFRA / "Pulumi.prod.yaml")
    assert [p.name for p in pools] == ["system", "inference", "batch", "training"]
    needed = required_vcpus(aws.client("ec2"), pools)
    assert needed == {
        "L-1216C47A": 4 * 6,  # system: m6i.xlarge x 6, on demand
        "L-DB2E81BA": 16 * 12,  # inference: g6e.4xlarge (largest) x 12, on demand
        "L-3819A6DF": 16 * 12,  # batch: g6.4xlarge / g5.4xlarge x 12, spot
        "L-417A185B": 96 * 2,  # training: p4d.24xlarge x 2, on demand
    }


def test_unreadable_stack_config_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "Pulumi.x.yaml"
    broken.write_text("config: {goldenpath:cluster: {}}\n")
    result = CliRunner().invoke(
        bootstrap_group,
        ["preflight", "--region", REGION, "--bucket", BUCKET, "--stack-config", str(broken)],
    )
    assert result.exit_code == 1
    assert "Error: --stack-config" in result.output and "systemNodes" in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An environment with no credentials anywhere boto looks, and no metadata service."""
    for key in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.parametrize("command", ["bootstrap", "preflight"])
def test_no_credentials_is_one_clear_line(no_credentials: None, command: str) -> None:
    args = [command, "--bucket", BUCKET, "--region", REGION]
    if command == "preflight":
        args += ["--stack-config", str(DEV_STACK)]
    result = CliRunner().invoke(bootstrap_group, args)
    assert ("Traceback" not in result.output and result.exception is None) or isinstance(
        result.exception, SystemExit
    )
    assert result.exit_code == 1
    assert "no AWS credentials found" in result.output


def test_unknown_profile_is_one_clear_line(no_credentials: None) -> None:
    args = ["bootstrap", "--bucket", BUCKET, "--region", REGION, "--profile", "nope"]
    result = CliRunner().invoke(bootstrap_group, args)
    assert result.exit_code == 1
    assert "Error: The config profile (nope) could not be found" in result.output


def test_throttling_and_server_errors_read_as_one_line() -> None:
    from botocore.exceptions import ClientError

    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetServiceQuota"
    )
    assert describe_aws_error(throttled) == (
        "AWS throttled GetServiceQuota: wait a minute and run again"
    )
    failed = ClientError(
        {"Error": {"Code": "InternalFailure"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
        "SimulatePrincipalPolicy",
    )
    assert "HTTP 500 InternalFailure" in describe_aws_error(failed)
    client = quota_client(
        [
            (
                "get_service_quota",
                {"ServiceCode": "ec2", "QuotaCode": "L-DB2E81BA"},
                "ThrottlingException",
            )
        ]
    )
    (check,) = check_gpu_quotas(client, {"L-DB2E81BA": 8})
    assert not check.ok and "throttled" in check.detail


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    import logging

    from moto.server import ThreadedMotoServer

    # The server logs its own tracebacks for actions it lacks; the CLI's output is what counts.
    logging.getLogger("werkzeug").disabled = True
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_preflight_against_a_moto_server_prints_every_check(
    moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto answers 500 where it has no implementation (IAM simulation, default quotas):
    each becomes a failed check, the others still run, and no traceback is printed."""
    from botocore.config import Config

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        monkeypatch.setenv(key, value)
    once = Config(retries={"max_attempts": 1, "mode": "standard"})

    def factory(session: boto3.Session, service: str, region: str) -> Any:
        return session.client(service, region_name=region, endpoint_url=moto_server, config=once)

    monkeypatch.setattr(bootstrap, "client_factory", factory)
    result = CliRunner().invoke(
        bootstrap_group,
        ["preflight", "--region", REGION, "--bucket", BUCKET, "--stack-config", str(DEV_STACK)],
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "FAIL quota L-1216C47A",
        "FAIL quota L-3819A6DF",
        "FAIL state bucket",
        "FAIL iam permissions",
    ], result.output
    assert "cannot simulate" in lines[3]
    assert lines[-1].startswith("Error: preflight failed:")

"""The environment's KMS key and the Secrets Manager secrets holding service credentials."""

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from goldenpath_infra.guardrails import GuardrailError, check_environment


@dataclass(frozen=True)
class EnvironmentKeysArgs:
    environment: str
    region: str
    account_id: str
    # "team/service" pairs; each gets one secret, its value written by the owning team: a JSON
    # object of lowercase setting names to values, e.g. {"api_key": "...", "admin_token": "..."}.
    service_secrets: Sequence[str]
    deletion_window_days: int = 30


def key_policy(account_id: str, region: str) -> str:
    """Account administrators manage the key; CloudWatch Logs may use it for this account's logs;
    EC2 Auto Scaling may use it for the node groups' encrypted volumes.

    Managed node groups launch through the AWSServiceRoleForAutoScaling service-linked role; with
    a customer key that role is not granted, instances fail with "Client.InternalError: Client error
    on launch" ("encrypted with an inaccessible AWS KMS key"). The two statements are the ones the
    EC2 Auto Scaling guide gives ("Required AWS KMS key policy for use with encrypted volumes",
    docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html,
    read 2026-12-02).
    """
    autoscaling = (
        f"arn:aws:iam::{account_id}:role/aws-service-role/autoscaling.amazonaws.com/"
        "AWSServiceRoleForAutoScaling"
    )
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AutoScalingUsesKeyForVolumes",
                    "Effect": "Allow",
                    "Principal": {"AWS": autoscaling},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                },
                {
                    "Sid": "AutoScalingGrantsForVolumes",
                    "Effect": "Allow",
                    "Principal": {"AWS": autoscaling},
                    "Action": "kms:CreateGrant",
                    "Resource": "*",
                    "Condition": {"Bool": {"kms:GrantIsForAWSResource": True}},
                },
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchLogsEncrypt",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": (
                                f"arn:aws:logs:{region}:{account_id}:*"
                            )
                        }
                    },
                },
            ],
        }
    )


class EnvironmentKeys(pulumi.ComponentResource):
    """One customer-managed key per environment, rotated yearly, and the service secrets."""

    key: aws.kms.Key
    secret_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: EnvironmentKeysArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:keys:EnvironmentKeys", name, None, opts)
        check_environment(args.environment)
        if not 7 <= args.deletion_window_days <= 30:
            raise GuardrailError(
                "deletion_window_days", args.deletion_window_days, "must be between 7 and 30"
            )
        child = pulumi.ResourceOptions(parent=self)
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"goldenpath {args.environment}: EKS secrets, Aurora, logs, secrets",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=args.deletion_window_days,
            policy=key_policy(args.account_id, args.region),
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/goldenpath-{args.environment}",
            target_key_id=self.key.key_id,
            opts=child,
        )
        self.secret_arns = {}
        # No SecretVersion here: a value written by Pulumi would sit in its state.
        recovery_days = 30 if args.environment == "prod" else 7
        for team_service in args.service_secrets:
            team, _, service = team_service.partition("/")
            if not team or not service:
                raise GuardrailError("service_secrets", team_service, "must be 'team/service'")
            secret = aws.secretsmanager.Secret(
                f"{name}-{team}-{service}",
                name=f"goldenpath/{args.environment}/{team}/{service}",
                description=(
                    f"credentials for {service} (team {team}): a JSON object of setting names"
                    " to values, set by the team"
                ),
                kms_key_id=self.key.arn,
                recovery_window_in_days=recovery_days,
                opts=child,
            )
            self.secret_arns[team_service] = secret.arn
        self.register_outputs({"key_arn": self.key.arn, "secret_arns": self.secret_arns})

"""Per-team data: an S3 bucket for batch input and output, and one ECR repository per service.

Private, encrypted with the environment's key, TLS only, versioned; images immutable and
scanned. The team's IRSA role (team_namespace.workload_policy) gets exactly this bucket.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from goldenpath_infra.guardrails import check_kms_key, check_team_name


@dataclass(frozen=True)
class TeamDataArgs:
    environment: str
    team: str
    services: Sequence[str]
    kms_key_arn: pulumi.Input[str]


def tls_only_policy(bucket_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyPlainHttp",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


class TeamData(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    repositories: dict[str, aws.ecr.Repository]

    def __init__(
        self, name: str, args: TeamDataArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:data:TeamData", name, None, opts)
        check_team_name(args.team)
        check_kms_key(args.kms_key_arn)
        child = pulumi.ResourceOptions(parent=self)
        # Auto-named (the name plus a random suffix): bucket names are global.
        self.bucket = aws.s3.Bucket(
            f"{name}-data", force_destroy=args.environment != "prod", opts=child
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-data",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-data",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-data",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-data",
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-data",
            bucket=self.bucket.id,
            policy=self.bucket.arn.apply(tls_only_policy),
            opts=child,
        )
        self.repositories = {}
        for service in args.services:
            self.repositories[service] = aws.ecr.Repository(
                f"{name}-{service}",
                name=f"goldenpath/{args.team}/{service}",
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=True
                ),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(
                        encryption_type="KMS", kms_key=args.kms_key_arn
                    )
                ],
                force_delete=args.environment != "prod",
                opts=child,
            )
        self.register_outputs(
            {
                "bucket": self.bucket.bucket,
                "repositories": {s: r.repository_url for s, r in self.repositories.items()},
            }
        )

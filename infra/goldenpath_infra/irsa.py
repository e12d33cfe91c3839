"""IAM roles for Kubernetes service accounts: trust bound to one namespace and one account."""

import json

import pulumi
import pulumi_aws as aws


def trust_policy(provider_arn: str, issuer_url: str, namespace: str, service_account: str) -> str:
    """Only `system:serviceaccount:<namespace>:<service_account>` may assume the role."""
    issuer = issuer_url.removeprefix("https://")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                            f"{issuer}:aud": "sts.amazonaws.com",
                        }
                    },
                }
            ],
        }
    )


def service_account_role(
    name: str,
    *,
    provider_arn: pulumi.Input[str],
    issuer_url: pulumi.Input[str],
    namespace: str,
    service_account: str,
    description: str,
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """Create the role; permissions are attached by the caller as inline policies."""
    return aws.iam.Role(
        name,
        description=description,
        assume_role_policy=pulumi.Output.all(provider_arn, issuer_url).apply(
            lambda parts: trust_policy(parts[0], parts[1], namespace, service_account)
        ),
        max_session_duration=3600,
        opts=pulumi.ResourceOptions(parent=parent),
    )

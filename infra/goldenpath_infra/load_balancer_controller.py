"""AWS Load Balancer Controller permissions: what it needs to run ALBs and NLBs for this cluster.

Written for this kit from the controller's documented behaviour ("Installation guide",
kubernetes-sigs.github.io/aws-load-balancer-controller, v3.4 line, read 2026-12-02): it
describes the network and certificates freely, but creates, changes and deletes only load
balancers, target groups and security groups that carry its `elbv2.k8s.aws/cluster` tag. WAF and
Shield integrations are switched off in the chart values, so their permissions are not granted.
"""

import json
from typing import Any, Final

CLUSTER_TAG: Final = "elbv2.k8s.aws/cluster"
SERVICE_ACCOUNT: Final = "aws-load-balancer-controller"


def controller_policy(cluster_name: str) -> str:
    owned = {"Null": {f"aws:ResourceTag/{CLUSTER_TAG}": "false"}}
    tagged_on_create = {"Null": {f"aws:RequestTag/{CLUSTER_TAG}": "false"}}
    statements: list[dict[str, Any]] = [
        {
            "Sid": "CreateElbServiceLinkedRole",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}
            },
        },
        {
            "Sid": "Describe",
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeVpcs",
                "ec2:DescribeVpcPeeringConnections",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeTags",
                "ec2:DescribeRouteTables",
                "ec2:GetCoipPoolUsage",
                "ec2:DescribeCoipPools",
                "ec2:GetSecurityGroupsForVpc",
                "ec2:DescribeIpamPools",
                "elasticloadbalancing:Describe*",
                "acm:ListCertificates",
                "acm:DescribeCertificate",
                "cognito-idp:DescribeUserPoolClient",
            ],
            "Resource": "*",
        },
        {
            "Sid": "CreateTaggedSecurityGroups",
            "Effect": "Allow",
            "Action": "ec2:CreateSecurityGroup",
            "Resource": "*",
            "Condition": tagged_on_create,
        },
        {
            "Sid": "TagOnlyWhenCreating",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": "arn:aws:ec2:*:*:security-group/*",
            "Condition": {
                "StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"},
                **tagged_on_create,
            },
        },
        {
            "Sid": "ManageOwnSecurityGroups",
            "Effect": "Allow",
            "Action": [
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup",
                "ec2:CreateTags",
                "ec2:DeleteTags",
            ],
            "Resource": "arn:aws:ec2:*:*:security-group/*",
            "Condition": owned,
        },
        {
            "Sid": "CreateTaggedLoadBalancers",
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:CreateTargetGroup",
            ],
            "Resource": "*",
            "Condition": tagged_on_create,
        },
        {
            "Sid": "ListenersAndRules",
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:DeleteRule",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:AddListenerCertificates",
                "elasticloadbalancing:RemoveListenerCertificates",
                "elasticloadbalancing:SetRulePriorities",
            ],
            "Resource": "*",
        },
        {
            "Sid": "ManageOwnLoadBalancers",
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags",
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:SetIpAddressType",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:RegisterTargets",
                "elasticloadbalancing:DeregisterTargets",
            ],
            "Resource": [
                "arn:aws:elasticloadbalancing:*:*:loadbalancer/*",
                "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
            ],
            "Condition": {"StringEquals": {f"aws:ResourceTag/{CLUSTER_TAG}": cluster_name}},
        },
        {
            "Sid": "TagListenersAndRulesOnCreate",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:AddTags",
            "Resource": [
                "arn:aws:elasticloadbalancing:*:*:listener/*",
                "arn:aws:elasticloadbalancing:*:*:listener-rule/*",
            ],
            "Condition": {
                "StringEquals": {
                    "elasticloadbalancing:CreateAction": ["CreateListener", "CreateRule"]
                }
            },
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})

"""A security group whose ingress rules pass the open-ingress guardrail."""

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from goldenpath_infra.guardrails import GuardrailError, check_ingress


@dataclass(frozen=True)
class IngressRule:
    """One ingress rule: from a CIDR or from another security group, never both."""

    description: str
    protocol: str
    from_port: int
    to_port: int
    cidr: str | None = None
    source_security_group_id: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class GuardedSecurityGroupArgs:
    vpc_id: pulumi.Input[str]
    description: str
    ingress: Sequence[IngressRule]
    # Only a load balancer's group may take traffic from the internet, and only on 443.
    load_balancer: bool = False
    egress_cidrs: Sequence[str] = field(default_factory=tuple)


class GuardedSecurityGroup(pulumi.ComponentResource):
    """Security group with separate rule resources, so each rule is visible to policies."""

    group: aws.ec2.SecurityGroup

    def __init__(
        self, name: str, args: GuardedSecurityGroupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:network:GuardedSecurityGroup", name, None, opts)
        for rule in args.ingress:
            if (rule.cidr is None) == (rule.source_security_group_id is None):
                raise GuardrailError(
                    "ingress", rule.description, "give exactly one of cidr or source group"
                )
            check_ingress(
                rule.cidr, rule.protocol, rule.from_port, rule.to_port, args.load_balancer
            )
        child = pulumi.ResourceOptions(parent=self)
        self.group = aws.ec2.SecurityGroup(
            name,
            vpc_id=args.vpc_id,
            description=args.description,
            revoke_rules_on_delete=True,
            opts=child,
        )
        for index, rule in enumerate(args.ingress):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-in-{index}",
                security_group_id=self.group.id,
                description=rule.description,
                ip_protocol=rule.protocol,
                from_port=rule.from_port,
                to_port=rule.to_port,
                cidr_ipv4=rule.cidr,
                referenced_security_group_id=rule.source_security_group_id,
                opts=child,
            )
        for index, cidr in enumerate(args.egress_cidrs):
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-out-{index}",
                security_group_id=self.group.id,
                description="egress",
                ip_protocol="-1",
                cidr_ipv4=cidr,
                opts=child,
            )
        self.register_outputs({"security_group_id": self.group.id})

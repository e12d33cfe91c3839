"""VPC with public, private and isolated subnets, NAT, VPC endpoints and flow logs."""

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from goldenpath_infra import rules
from goldenpath_infra.guardrails import (
    GuardrailError,
    check_environment,
    check_kms_key,
    check_retention,
)
from goldenpath_infra.security_group import (
    GuardedSecurityGroup,
    GuardedSecurityGroupArgs,
    IngressRule,
)

# Interface endpoints keep image pulls, token exchange, secret reads and logs off the NAT.
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts", "secretsmanager", "logs")


@dataclass(frozen=True)
class NetworkArgs:
    environment: str
    region: str
    cidr: str
    availability_zones: Sequence[str]
    nat_gateway_per_az: bool
    flow_log_retention_days: int
    kms_key_arn: pulumi.Input[str]
    cluster_name: str


def subnet_layout(cidr: str, az_count: int) -> dict[str, list[str]]:
    """Carve the VPC: large private subnets (pods take VPC addresses), small public and isolated."""
    vpc = ipaddress.IPv4Network(cidr)
    if not 16 <= vpc.prefixlen <= 20:
        raise GuardrailError("network.cidr", cidr, "VPC prefix must be between /16 and /20")
    quarters = list(vpc.subnets(new_prefix=vpc.prefixlen + 3))
    private = [str(block) for block in quarters[:az_count]]
    small = list(quarters[4].subnets(new_prefix=vpc.prefixlen + 6))
    small_isolated = list(quarters[5].subnets(new_prefix=vpc.prefixlen + 6))
    return {
        "public": [str(block) for block in small[:az_count]],
        "private": private,
        "isolated": [str(block) for block in small_isolated[:az_count]],
    }


class Network(pulumi.ComponentResource):
    """Three subnet tiers per AZ: public for load balancers and NAT, private for nodes,
    isolated (no route out) for databases."""

    vpc: aws.ec2.Vpc
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    isolated_subnet_ids: list[pulumi.Output[str]]
    load_balancer_security_group_id: pulumi.Output[str]
    public_subnet_cidrs: list[str]
    private_subnet_cidrs: list[str]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:network:Network", name, None, opts)
        check_environment(args.environment)
        check_kms_key(args.kms_key_arn)
        check_retention(
            args.flow_log_retention_days, "flow_log_retention_days", rules.MIN_LOG_RETENTION_DAYS
        )
        az_count = len(args.availability_zones)
        if az_count < 2 or az_count > 3:
            raise GuardrailError(
                "availability_zones", list(args.availability_zones), "use 2 or 3 zones"
            )
        layout = subnet_layout(args.cidr, az_count)
        self.public_subnet_cidrs, self.private_subnet_cidrs = layout["public"], layout["private"]
        child = pulumi.ResourceOptions(parent=self)

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=self.vpc.id,
            ingress=[],
            egress=[],
            tags={"Name": f"{name}-default-deny"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, opts=child)

        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=self.vpc.id, tags={"Name": f"{name}-public"}, opts=child
        )
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )

        cluster_tag = f"kubernetes.io/cluster/{args.cluster_name}"
        self.public_subnet_ids, self.private_subnet_ids, self.isolated_subnet_ids = [], [], []
        nat_ids: list[pulumi.Output[str]] = []
        private_route_tables: list[aws.ec2.RouteTable] = []
        isolated_rt = aws.ec2.RouteTable(
            f"{name}-isolated-rt",
            vpc_id=self.vpc.id,
            tags={"Name": f"{name}-isolated"},
            opts=child,
        )
        for index, zone in enumerate(args.availability_zones):
            public = aws.ec2.Subnet(
                f"{name}-public-{index}",
                vpc_id=self.vpc.id,
                cidr_block=layout["public"][index],
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={
                    "Name": f"{name}-public-{zone}",
                    "kubernetes.io/role/elb": "1",
                    cluster_tag: "shared",
                },
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{index}",
                subnet_id=public.id,
                route_table_id=public_rt.id,
                opts=child,
            )
            self.public_subnet_ids.append(public.id)

            if args.nat_gateway_per_az or index == 0:
                eip = aws.ec2.Eip(f"{name}-nat-{index}", domain="vpc", opts=child)
                nat = aws.ec2.NatGateway(
                    f"{name}-nat-{index}",
                    allocation_id=eip.allocation_id,
                    subnet_id=public.id,
                    tags={"Name": f"{name}-nat-{zone}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
                nat_ids.append(nat.id)

            private = aws.ec2.Subnet(
                f"{name}-private-{index}",
                vpc_id=self.vpc.id,
                cidr_block=layout["private"][index],
                availability_zone=zone,
                tags={
                    "Name": f"{name}-private-{zone}",
                    "kubernetes.io/role/internal-elb": "1",
                    cluster_tag: "shared",
                },
                opts=child,
            )
            private_rt = aws.ec2.RouteTable(
                f"{name}-private-rt-{index}",
                vpc_id=self.vpc.id,
                tags={"Name": f"{name}-private-{zone}"},
                opts=child,
            )
            aws.ec2.Route(
                f"{name}-private-default-{index}",
                route_table_id=private_rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat_ids[-1],
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{index}",
                subnet_id=private.id,
                route_table_id=private_rt.id,
                opts=child,
            )
            private_route_tables.append(private_rt)
            self.private_subnet_ids.append(private.id)

            isolated = aws.ec2.Subnet(
                f"{name}-isolated-{index}",
                vpc_id=self.vpc.id,
                cidr_block=layout["isolated"][index],
                availability_zone=zone,
                tags={"Name": f"{name}-isolated-{zone}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-isolated-{index}",
                subnet_id=isolated.id,
                route_table_id=isolated_rt.id,
                opts=child,
            )
            self.isolated_subnet_ids.append(isolated.id)

        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_route_tables] + [isolated_rt.id],
            opts=child,
        )
        endpoint_sg = GuardedSecurityGroup(
            f"{name}-endpoints",
            GuardedSecurityGroupArgs(
                vpc_id=self.vpc.id,
                description="HTTPS from inside the VPC to interface endpoints",
                ingress=[IngressRule("https from vpc", "tcp", 443, 443, cidr=args.cidr)],
            ),
            opts=child,
        )
        for service in INTERFACE_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=self.private_subnet_ids,
                security_group_ids=[endpoint_sg.group.id],
                opts=child,
            )
        load_balancer_sg = GuardedSecurityGroup(
            f"{name}-public-lb",
            GuardedSecurityGroupArgs(
                vpc_id=self.vpc.id,
                description="Internet-facing load balancers: HTTPS only",
                ingress=[IngressRule("https from internet", "tcp", 443, 443, cidr="0.0.0.0/0")],
                load_balancer=True,
                egress_cidrs=[args.cidr],
            ),
            opts=child,
        )
        self.load_balancer_security_group_id = load_balancer_sg.group.id

        self._flow_logs(name, args, child)
        self.register_outputs(
            {
                "vpc_id": self.vpc.id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "isolated_subnet_ids": self.isolated_subnet_ids,
            }
        )

    def _flow_logs(self, name: str, args: NetworkArgs, child: pulumi.ResourceOptions) -> None:
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/goldenpath/{args.environment}/vpc-flow-logs",
            retention_in_days=args.flow_log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            description="VPC flow logs delivery to CloudWatch Logs",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=log_group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "logs:CreateLogStream",
                                    "logs:PutLogEvents",
                                    "logs:DescribeLogStreams",
                                ],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            opts=child,
        )

"""A managed node group behind a launch template that enforces IMDSv2 and encrypted gp3 disks."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from goldenpath_infra import rules
from goldenpath_infra.guardrails import (
    GuardrailError,
    check_encrypted,
    check_gpu_ami_type,
    check_gpu_instance_types,
    check_gpu_node_cap,
    check_kms_key,
    check_required_tags,
    check_scaling,
)

CPU_AMI_TYPE = "AL2023_x86_64_STANDARD"


@dataclass(frozen=True)
class NodePoolArgs:
    environment: str
    cluster_name: pulumi.Input[str]
    node_role_arn: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    instance_types: Sequence[str]
    min_size: int
    desired_size: int
    max_size: int
    kms_key_arn: pulumi.Input[str]
    # Launched instances and volumes are tagged through the launch template; the stack
    # transform only reaches the template itself.
    tags: Mapping[str, str]
    gpu: bool = False
    ami_type: str | None = None
    capacity_type: str = "ON_DEMAND"
    disk_size_gib: int = 100
    encrypted_volumes: bool = True
    labels: Mapping[str, str] = field(default_factory=dict)


class NodePool(pulumi.ComponentResource):
    """GPU pools get the NVIDIA AMI, the allow-listed families and the `nvidia.com/gpu` taint."""

    node_group: aws.eks.NodeGroup
    launch_template: aws.ec2.LaunchTemplate

    def __init__(
        self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("goldenpath:cluster:NodePool", name, None, opts)
        check_scaling(args.min_size, args.desired_size, args.max_size, f"{name}.scaling")
        check_encrypted(args.encrypted_volumes, "encrypted_volumes")
        check_kms_key(args.kms_key_arn)
        check_required_tags(args.tags)
        if args.capacity_type not in ("ON_DEMAND", "SPOT"):
            raise GuardrailError("capacity_type", args.capacity_type, "ON_DEMAND or SPOT")
        if args.gpu:
            ami_type = args.ami_type or rules.GPU_AMI_TYPES[0]
            check_gpu_instance_types(args.instance_types, "instance_types")
            check_gpu_ami_type(ami_type, "ami_type")
            check_gpu_node_cap(args.environment, args.max_size, "max_size")
        else:
            ami_type = args.ami_type or CPU_AMI_TYPE
            gpu_types = [t for t in args.instance_types if rules.is_gpu_instance_type(t)]
            if gpu_types:
                raise GuardrailError(
                    "instance_types", gpu_types, "GPU instances belong in a GPU pool (gpu=True)"
                )
        child = pulumi.ResourceOptions(parent=self)
        instance_tags = {**args.tags, "Name": name}
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=f"{name}: IMDSv2 only, encrypted gp3 root volume",
            update_default_version=True,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                # Pods use IRSA, not the node's role: one hop keeps them away from IMDS.
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=args.disk_size_gib,
                        volume_type="gp3",
                        encrypted="true",
                        kms_key_id=args.kms_key_arn,
                        delete_on_termination="true",
                    ),
                )
            ],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=instance_tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            opts=child,
        )
        labels = {**args.labels, "goldenpath.dev/pool": name}
        taints = []
        if args.gpu:
            labels["goldenpath.dev/accelerator"] = "nvidia"
            # No Node Feature Discovery on these nodes: this label is what lets the
            # nvidia-device-plugin DaemonSet's default affinity select them (rules.py).
            labels[rules.GPU_PRESENT_LABEL] = "true"
            taints.append(
                aws.eks.NodeGroupTaintArgs(
                    key=rules.GPU_TAINT_KEY,
                    value=rules.GPU_TAINT_VALUE,
                    effect=rules.GPU_TAINT_EFFECT,
                )
            )
        self.node_group = aws.eks.NodeGroup(
            f"{name}-ng",
            cluster_name=args.cluster_name,
            node_role_arn=args.node_role_arn,
            subnet_ids=list(args.subnet_ids),
            ami_type=ami_type,
            capacity_type=args.capacity_type,
            instance_types=list(args.instance_types),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=args.min_size, desired_size=args.desired_size, max_size=args.max_size
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable_percentage=33),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=self.launch_template.id,
                version=self.launch_template.latest_version.apply(str),
            ),
            labels=labels,
            taints=taints,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["scalingConfig.desiredSize"]),
        )
        self.register_outputs(
            {"node_group_name": self.node_group.node_group_name, "ami_type": ami_type}
        )

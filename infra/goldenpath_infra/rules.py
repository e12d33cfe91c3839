"""The organisation's infrastructure rules, in one place.

Components check these at construction; the CrossGuard pack in `infra/policy` carries its own
copy (it is deployed on its own) and a test keeps the two in step.
"""

from typing import Final

ENVIRONMENTS: Final = ("dev", "staging", "prod")
REQUIRED_TAGS: Final = ("owner", "cost-center", "environment", "data-classification")
DATA_CLASSIFICATIONS: Final = ("public", "internal", "confidential", "restricted")

GPU_INSTANCE_FAMILIES: Final = ("g5", "g6", "g6e", "p4d", "p5")
GPU_AMI_TYPES: Final = ("AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA")
GPU_TAINT_KEY: Final = "nvidia.com/gpu"
GPU_TAINT_VALUE: Final = "true"
GPU_TAINT_EFFECT: Final = "NO_SCHEDULE"
GPU_RESOURCE: Final = "nvidia.com/gpu"

# Upper bound on the sum of GPU node groups' max sizes: a typo in max_size must not be able to
# buy forty p5.48xlarge instances.
GPU_NODE_CAP: Final = {"dev": 4, "staging": 8, "prod": 32}

OPEN_CIDRS: Final = ("0.0.0.0/0", "::/0")
LOAD_BALANCER_OPEN_PORT: Final = 443

MIN_BACKUP_RETENTION_DAYS: Final = 7
MIN_LOG_RETENTION_DAYS: Final = 30
CONTROL_PLANE_LOG_TYPES: Final = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def instance_family(instance_type: str) -> str:
    """Return the family of an EC2 instance type: `g6e` for `g6e.12xlarge`."""
    return instance_type.split(".", 1)[0]


def is_gpu_instance_type(instance_type: str) -> bool:
    """Accelerated families start with g or p; used to tell GPU node groups from CPU ones."""
    return instance_family(instance_type)[:1] in ("g", "p")


# Address space that never reaches the internet: RFC 1918, carrier-grade NAT (RFC 6598) and IPv6
# unique-local (RFC 4193). Any other prefix counts as internet, whatever its length: 0.0.0.0/1 is
# half the internet, not a private range.
PRIVATE_NETWORKS: Final = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
)
# A public EKS endpoint allow-list entry may cover at most a /16 (IPv4) or a /48 (IPv6): an office
# or a VPN egress range, never a provider's whole block.
MIN_ALLOW_LIST_PREFIX: Final = {4: 16, 6: 48}

# Team names become namespaces (RFC 1123 DNS labels), IAM role and S3 bucket name parts: lowercase
# letters, digits and inner hyphens, at most 32 characters so `gp-staging-team-<team>-workload`
# plus Pulumi's 8-character suffix stays under IAM's 64.
TEAM_NAME_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
TEAM_NAME_MAX_LENGTH: Final = 32

# Prod Aurora keeps a reader in another AZ to fail over to.
PROD_MIN_DB_INSTANCES: Final = 2

# Label the nvidia-device-plugin chart's default node affinity accepts when Node Feature
# Discovery is off (chart values.yaml, `nvidia.com/gpu.present In [true]`; NVIDIA/k8s-device-plugin
# deployments/helm/nvidia-device-plugin/values.yaml, v0.17.1 to v0.19.1, read 2026-12-02).
GPU_PRESENT_LABEL: Final = "nvidia.com/gpu.present"

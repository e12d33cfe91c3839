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

"""Pulumi entry point: read this stack's config and build the environment.

All logic lives in `goldenpath_infra`; the tests build the same stacks from the same
`Pulumi.<env>.yaml` files under mocks.
"""

from typing import Any

import pulumi
from goldenpath_infra.config import parse_stack_config
from goldenpath_infra.stack import build_stack, export_outputs

CONFIG_KEYS = ("tags", "network", "cluster", "teams", "vectorStore", "budget", "logRetentionDays")

config = pulumi.Config("goldenpath")
values: dict[str, Any] = {}
for key in CONFIG_KEYS:
    value = config.get_object(key)
    if value is not None:
        values[key] = value

stack_config = parse_stack_config(
    environment=config.require("environment"),
    region=pulumi.Config("aws").require("region"),
    values=values,
)
export_outputs(build_stack(stack_config))

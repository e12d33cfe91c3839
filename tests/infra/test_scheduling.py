"""GPU pods are schedulable on the nodes the stacks create (finding 1).

The device plugin is what advertises `nvidia.com/gpu`: a GPU node it cannot land on has no GPUs
for the scheduler. Placement is read from the built Helm releases merged over the charts'
own defaults (addons.CHART_PLACEMENT_DEFAULTS, cited there).
"""

from typing import Any

import pytest
from goldenpath_infra import rules
from goldenpath_infra.addons import CHART_PLACEMENT_DEFAULTS, merged_values
from goldenpath_infra.scheduling import (
    Node,
    PodPlacement,
    node_from_group,
    node_from_pool,
    placements,
    why_not,
)

GPU_DAEMONSETS = ("nvidia-device-plugin", "dcgm-exporter")


def stack_nodes(stack: Any) -> list[Node]:
    """The managed node groups' nodes and the nodes each Karpenter NodePool can launch."""
    return [
        *(
            node_from_group(g.name, g.inputs.get("labels") or {}, g.inputs.get("taints") or [])
            for g in stack.of_type("aws:eks/nodeGroup:NodeGroup")
        ),
        *(node_from_pool(p.inputs) for p in stack.of_type("kubernetes:karpenter.sh/v1:NodePool")),
    ]


def release_placement(stack: Any, chart: str) -> PodPlacement:
    (release,) = [
        r for r in stack.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == chart
    ]
    values = merged_values(CHART_PLACEMENT_DEFAULTS[chart], release.inputs.get("values") or {})
    return PodPlacement(
        chart,
        node_selector=values.get("nodeSelector") or {},
        affinity=values.get("affinity") or {},
        tolerations=values.get("tolerations") or [],
    )


def gpu_capable(stack: Any) -> list[Node]:
    """GPU nodes on which the device plugin runs: the only ones that advertise nvidia.com/gpu."""
    plugin = release_placement(stack, "nvidia-device-plugin")
    return [n for n in stack_nodes(stack) if n.gpus and why_not(plugin, n) is None]


@pytest.mark.parametrize("chart", GPU_DAEMONSETS)
def test_gpu_daemonsets_land_on_every_gpu_node_group(stack: Any, chart: str) -> None:
    placement = release_placement(stack, chart)
    gpu_nodes = [n for n in stack_nodes(stack) if n.gpus]
    assert len(gpu_nodes) == len(stack.config.gpu_node_pools)
    for node in gpu_nodes:
        assert why_not(placement, node) is None, (
            f"{chart} cannot run on {node.pool}: {why_not(placement, node)}"
        )


def test_a_gpu_pod_with_the_platform_toleration_has_a_gpu_node(stack: Any) -> None:
    # The placement the deploy programs give GPU pods (templates/_shared/deploy/service).
    pod = PodPlacement(
        "gpu-workload",
        node_selector={"goldenpath.dev/accelerator": "nvidia"},
        tolerations=[
            {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
        ],
        gpus=1,
    )
    assert placements(pod, gpu_capable(stack)), f"no GPU node in {stack.environment} takes {pod}"
    # The same pod without the toleration is kept off every GPU node by the taint.
    untolerated = PodPlacement("no-toleration", node_selector=pod.node_selector, gpus=1)
    assert placements(untolerated, stack_nodes(stack)) == []


def test_device_plugin_misses_a_gpu_node_without_the_gpu_present_label(dev_stack: Any) -> None:
    """The check has teeth: today's chart defaults refuse a node with only our own labels."""
    plugin = release_placement(dev_stack, "nvidia-device-plugin")
    (node,) = [n for n in stack_nodes(dev_stack) if n.gpus]
    bare = Node(
        node.pool,
        {k: v for k, v in node.labels.items() if k != rules.GPU_PRESENT_LABEL},
        node.taints,
        1,
    )
    assert "required node affinity" in str(why_not(plugin, bare))


def test_system_pods_stay_off_gpu_nodes(stack: Any) -> None:
    plain = PodPlacement("cpu-pod")
    assert placements(plain, stack_nodes(stack)) == [
        n.pool for n in stack_nodes(stack) if not n.gpus
    ]

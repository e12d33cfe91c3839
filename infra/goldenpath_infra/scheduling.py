"""Would the scheduler place a pod on a node? nodeSelector, required node affinity, taints.

Enough of kube-scheduler's filter phase (NodeAffinity, TaintToleration plugins) to prove, from
the resources a stack registers, that GPU pods and the device plugin have somewhere to run.
Rules: kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/ and
taint-and-toleration/ (read 2026-12-02): nodeSelectorTerms are ORed, the expressions of one
term ANDed; a NoSchedule or NoExecute taint repels every pod without a matching toleration.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# EKS managed node group taint effects as the API spells them, and as Kubernetes does.
_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": ""}


@dataclass(frozen=True)
class Node:
    """A node as a node group or NodePool would create it."""

    pool: str
    labels: Mapping[str, str]
    taints: Sequence[Mapping[str, str]] = ()
    gpus: int = 0


@dataclass(frozen=True)
class PodPlacement:
    """The parts of a pod spec that decide where it may run."""

    name: str
    node_selector: Mapping[str, str] = field(default_factory=dict)
    affinity: Mapping[str, Any] = field(default_factory=dict)
    tolerations: Sequence[Mapping[str, Any]] = ()
    gpus: int = 0


def node_from_group(name: str, labels: Mapping[str, str], taints: Sequence[Any]) -> Node:
    """A managed node group's node: its labels, the well-known ones, taints in Kubernetes form."""
    well_known = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    kube_taints = [
        {
            "key": t["key"],
            "value": t.get("value", ""),
            "effect": _EFFECTS.get(t["effect"], t["effect"]),
        }
        for t in taints
    ]
    gpu = any(t["key"] == "nvidia.com/gpu" for t in kube_taints)
    return Node(name, {**well_known, **labels}, [t for t in kube_taints if t["effect"]], int(gpu))


def _expression_matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator = expression["key"], expression["operator"]
    values = [str(v) for v in expression.get("values") or []]
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    if operator in ("Gt", "Lt"):
        if key not in labels:
            return False
        number, bound = int(labels[key]), int(values[0])
        return number > bound if operator == "Gt" else number < bound
    raise ValueError(f"unknown node selector operator {operator!r}")


def _tolerated(taint: Mapping[str, str], tolerations: Sequence[Mapping[str, Any]]) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") and toleration["effect"] != taint["effect"]:
            continue
        operator = toleration.get("operator", "Equal")
        if operator == "Exists" and toleration.get("key") in (None, "", taint["key"]):
            return True
        if (
            operator == "Equal"
            and toleration.get("key") == taint["key"]
            and str(toleration.get("value", "")) == str(taint.get("value", ""))
        ):
            return True
    return False


def why_not(pod: PodPlacement, node: Node) -> str | None:
    """None when `pod` may run on `node`, else the first reason it may not."""
    for key, value in pod.node_selector.items():
        if node.labels.get(key) != value:
            return f"nodeSelector {key}={value} (node has {node.labels.get(key)!r})"
    required = (
        (pod.affinity.get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms") or []
    if required and not any(
        all(_expression_matches(e, node.labels) for e in term.get("matchExpressions") or [])
        for term in required
    ):
        return f"required node affinity {required} matches none of its terms"
    for taint in node.taints:
        if not _tolerated(taint, pod.tolerations):
            return f"untolerated taint {taint['key']}={taint.get('value')}:{taint['effect']}"
    if pod.gpus and not node.gpus:
        return f"requests {pod.gpus} nvidia.com/gpu and the node has none"
    return None


def placements(pod: PodPlacement, nodes: Sequence[Node]) -> list[str]:
    """The pools whose nodes may run `pod`."""
    return [node.pool for node in nodes if why_not(pod, node) is None]


def node_from_pool(pool: Mapping[str, Any]) -> Node:
    """A Karpenter NodePool's node: template labels, plus the label each single-valued `In`
    requirement fixes (Karpenter sets those on the node), taints as written."""
    template = pool["spec"]["template"]
    labels = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    labels.update((template.get("metadata") or {}).get("labels") or {})
    for requirement in template["spec"].get("requirements") or []:
        if requirement["operator"] == "In" and len(requirement.get("values") or []) == 1:
            labels[requirement["key"]] = requirement["values"][0]
    taints = list(template["spec"].get("taints") or [])
    gpu = "nvidia.com/gpu" in (pool["spec"].get("limits") or {})
    return Node(pool["metadata"]["name"], labels, taints, int(gpu))

"""The batch template's GPU RayJob lands on the platform's GPU node pools: its node selector,
toleration and GPU resource are read from infra/ (the labels and taint the node pools get),
not copied, so a change on either side fails here."""

from __future__ import annotations

from pathlib import Path

import yaml
from cookiecutter.main import cookiecutter
from goldenpath_infra import addons, rules

from goldenpath.matrix import SUPPORTED

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "batch-inference"
# EKS writes taint effects in its API's spelling; Kubernetes tolerations use the core one.
EFFECTS = {
    "NO_SCHEDULE": "NoSchedule",
    "NO_EXECUTE": "NoExecute",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
}


def test_the_gpu_rayjob_selects_and_tolerates_the_platform_gpu_pools(tmp_path: Path) -> None:
    (gpu,) = [c for c in SUPPORTED if c.template == "batch-inference"
              and c.answers.get("accelerator") == "gpu"]  # fmt: skip
    project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(tmp_path),
                                extra_context=gpu.answers))  # fmt: skip
    job = yaml.safe_load((project / "deploy" / "rayjob.yaml").read_text(encoding="utf-8"))
    (workers,) = job["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    pod = workers["template"]["spec"]
    (container,) = pod["containers"]

    assert pod["nodeSelector"] == addons.GPU_NODE_SELECTOR
    toleration = {"key": rules.GPU_TAINT_KEY, "operator": "Equal", "value": rules.GPU_TAINT_VALUE,
                  "effect": EFFECTS[rules.GPU_TAINT_EFFECT]}  # fmt: skip
    assert toleration in pod["tolerations"]
    assert container["resources"]["requests"][rules.GPU_RESOURCE] == "1"
    assert container["resources"]["limits"][rules.GPU_RESOURCE] == "1"

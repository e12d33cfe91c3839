"""deploy/rayjob.yaml: the RayJob asks for GPUs, tolerates the GPU taint and selects GPU
nodes exactly when accelerator=gpu."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFEST = Path(__file__).resolve().parents[1] / "deploy" / "rayjob.yaml"


def test_rayjob_runs_the_cli_and_matches_the_accelerator():
    job = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert job["kind"] == "RayJob" and job["apiVersion"] == "ray.io/v1"
    assert job["spec"]["entrypoint"].startswith("{{ cookiecutter.project_slug }} run ")
    assert job["spec"]["shutdownAfterJobFinishes"] is True
    (workers,) = job["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    pod = workers["template"]["spec"]
    (container,) = pod["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["ACCELERATOR"] == "{{ cookiecutter.accelerator }}"
    assert env["RAY_ADDRESS"] == "auto"
{%- if cookiecutter.accelerator == "gpu" %}
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true",
            "effect": "NoSchedule"} in pod["tolerations"]  # fmt: skip
    assert pod["nodeSelector"] == {"goldenpath.dev/accelerator": "nvidia"}
{%- else %}
    assert "nvidia.com/gpu" not in str(container["resources"])
    assert "tolerations" not in pod and "nodeSelector" not in pod
{%- endif %}


def test_rayjob_pods_use_the_irsa_account_and_an_explicit_image():
    job = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    cluster = job["spec"]["rayClusterSpec"]
    pods = [cluster["headGroupSpec"]["template"]["spec"]]
    pods += [group["template"]["spec"] for group in cluster["workerGroupSpecs"]]
    for pod in pods:
        assert pod["serviceAccountName"] == "workload"
        assert all(c["image"] == "${IMAGE}" for c in pod["containers"])

"""deploy/rayjob.yaml: the RayJob asks for GPUs, tolerates the GPU taint and selects GPU
nodes exactly when accelerator=gpu; every variable it sets is a real setting; Ray gets a
memory-backed /dev/shm."""

from __future__ import annotations

from pathlib import Path

import yaml

from {{ cookiecutter.package_name }}.settings import Settings

MANIFEST = Path(__file__).resolve().parents[1] / "deploy" / "rayjob.yaml"


def test_rayjob_runs_the_cli_and_matches_the_accelerator():
    job = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert job["kind"] == "RayJob" and job["apiVersion"] == "ray.io/v1"
    assert job["spec"]["entrypoint"].startswith("{{ cookiecutter.project_slug }} run ")
    assert job["spec"]["shutdownAfterJobFinishes"] is True
    (workers,) = job["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    pod = workers["template"]["spec"]
    (container,) = pod["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
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


# Read by Ray or Hugging Face, not by the service's settings.
NOT_SETTINGS = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "HF_HUB_OFFLINE"}


def test_every_rayjob_env_var_is_a_setting_by_its_real_name():
    """pydantic-settings ignores unknown variables silently: a misspelt one is a lost setting."""
    job = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    cluster = job["spec"]["rayClusterSpec"]
    pods = [cluster["headGroupSpec"]["template"]["spec"]]
    pods += [group["template"]["spec"] for group in cluster["workerGroupSpecs"]]
    known = {name.upper() for name in Settings.model_fields} | NOT_SETTINGS
    for pod in pods:
        (container,) = pod["containers"]
        names = {item["name"] for item in container["env"]}
        assert names <= known, f"not settings: {sorted(names - known)}"
        assert {"STORAGE_ROOT", "DATA_DIR", "DATABASE_URL"} <= names
{%- if cookiecutter.storage == "s3" %}
        assert "S3_ALLOWED_BUCKETS" in names
{%- endif %}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["dshm"]["emptyDir"] == {"medium": "Memory"}
        assert {"name": "dshm", "mountPath": "/dev/shm"} in container["volumeMounts"]

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
        assert {"STORAGE_ROOT", "DATA_DIR", "DATABASE_URL", "DATABASE_IAM_AUTH"} <= names
{%- if cookiecutter.storage == "s3" %}
        assert "S3_ALLOWED_BUCKETS" in names
{%- endif %}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["dshm"]["emptyDir"] == {"medium": "Memory"}
        assert {"name": "dshm", "mountPath": "/dev/shm"} in container["volumeMounts"]


NETWORK = MANIFEST.parent / "rayjob-network.yaml"


def _allows(policy: dict, direction: str, labels: dict, port: int) -> bool:
    """Does one of the policy's rules let a pod with `labels` in (or out) on `port`?"""
    peers_key = "from" if direction == "ingress" else "to"
    for rule in policy["spec"].get(direction, []):
        ports = [p["port"] for p in rule.get("ports", [])]
        peers = rule.get(peers_key)
        if ports and port not in ports:
            continue
        if peers is None or any(
            "podSelector" in peer and "namespaceSelector" not in peer
            and peer["podSelector"]["matchLabels"].items() <= labels.items()
            for peer in peers
        ):  # fmt: skip
            return True
    return False


def test_network_policies_let_head_workers_and_submitter_talk_in_the_team_namespace():
    """The namespace denies all but DNS: without these the submitter never reaches the head."""
    job = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    ray, submitter = yaml.safe_load_all(NETWORK.read_text(encoding="utf-8"))
    cluster = job["spec"]["rayClusterSpec"]
    head = cluster["headGroupSpec"]["template"]["metadata"]["labels"]
    (workers,) = cluster["workerGroupSpecs"]
    worker = workers["template"]["metadata"]["labels"]
    # Kubernetes labels a Job's pods with its name; KubeRay names the submitter Job after the RayJob
    submitter_pod = {"batch.kubernetes.io/job-name": job["metadata"]["name"]}
    selected = ray["spec"]["podSelector"]["matchLabels"]
    assert selected.items() <= head.items() and selected.items() <= worker.items()
    assert submitter["spec"]["podSelector"]["matchLabels"] == submitter_pod
    for policy in (ray, submitter):
        assert policy["kind"] == "NetworkPolicy" and policy["spec"]["policyTypes"] == [
            "Ingress", "Egress"]  # fmt: skip
    for port in (6379, 8265, 10001, 12345):  # GCS, dashboard, client, a worker port
        assert _allows(ray, "ingress", worker, port) and _allows(ray, "egress", head, port)
    assert _allows(ray, "ingress", submitter_pod, 8265)
    assert _allows(submitter, "egress", head, 8265)
    assert not _allows(submitter, "ingress", head, 8265)  # nothing calls the submitter
    operator = [r for r in ray["spec"]["ingress"] for p in r["from"] if "namespaceSelector" in p]
    assert operator and operator[0]["ports"] == [{"protocol": "TCP", "port": 8265}]
    assert _allows(ray, "egress", {}, 443) and _allows(ray, "egress", {}, 5432)  # S3, PostgreSQL

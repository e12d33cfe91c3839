"""The platform-to-service seam (findings 6 and 9): each template, rendered with its defaults,
deploys onto the dev and staging stacks' REAL outputs (the stacks built here under mocks), and
every Kubernetes object either side creates is valid at the stack's Kubernetes version and
admissible in a Pod Security `restricted` namespace.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from cookiecutter.main import cookiecutter
from goldenpath_infra import rules
from goldenpath_infra.scheduling import PodPlacement, placements
from infra_mocks import INFRA, built_stack
from test_scheduling import gpu_capable

ROOT = INFRA.parent
TEMPLATES = ("rag-service", "batch-inference", "agent-orchestrator")
# Besides the defaults: one GPU service, so the GPU placement check has a GPU pod to place.
VARIANTS = {"batch-inference-gpu": ("batch-inference", {"accelerator": "gpu"})}
ENVIRONMENTS = ("dev", "staging")
PROJECT = yaml.safe_load((INFRA / "Pulumi.yaml").read_text())["name"]
# What an operator sets with `pulumi config set` (deploy/Pulumi.<env>.yaml says which).
OPERATOR = {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/{slug}:1.0.0"}
# Staging also publishes each service through the platform's load balancer (deploy/README).
OPERATOR_INGRESS = {
    "ingressHost": "{slug}.staging.example.com",
    "certificateArn": (
        "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    ),
}
INGRESS_ENVIRONMENTS = ("staging",)
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # how the mocks mark a secret value
# Objects whose schema comes from a CRD the platform installs, not from Kubernetes itself.
CRD_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "kube-prometheus-stack",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "kube-prometheus-stack",
    ("ray.io/v1", "RayJob"): "kuberay-operator",
    ("external-secrets.io/v1", "SecretStore"): "external-secrets",
    ("external-secrets.io/v1", "ExternalSecret"): "external-secrets",
    ("karpenter.sh/v1", "NodePool"): "karpenter",
    ("karpenter.k8s.aws/v1", "EC2NodeClass"): "karpenter",
}


def plain(value: Any) -> Any:
    """Engine values with Pulumi's secret wrapper removed."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return plain(value["value"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    # The engine carries every number as a float; Kubernetes integers are integers.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def platform_outputs(environment: str) -> dict[str, Any]:
    """The outputs the stack exported, exactly as a StackReference would read them."""
    outputs = dict(built_stack(environment).outputs)
    outputs.pop("__secret__")
    return json.loads(json.dumps(outputs))


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    renders = {}
    for key, (template, answers) in {**{t: (t, {}) for t in TEMPLATES}, **VARIANTS}.items():
        out = tmp_path_factory.mktemp(key)
        renders[key] = Path(
            cookiecutter(
                str(ROOT / "templates" / template),
                no_input=True,
                extra_context=answers,
                output_dir=str(out),
            )
        )
    return renders


@pytest.fixture(scope="module")
def runs(renders: dict[str, Path]) -> dict[str, Any]:
    platforms = {f"organization/{PROJECT}/{e}": platform_outputs(e) for e in ENVIRONMENTS}
    specs = []
    for template, project in renders.items():
        deploy = project / "deploy"
        slug = yaml.safe_load((deploy / "Pulumi.yaml").read_text())["name"]
        for environment in ENVIRONMENTS:
            raw = yaml.safe_load((deploy / f"Pulumi.{environment}.yaml").read_text())["config"]
            config = {k.split(":", 1)[1]: v for k, v in raw.items()}
            config.update({k: v.format(slug=slug) for k, v in OPERATOR.items()})
            if environment in INGRESS_ENVIRONMENTS:
                config.update({k: v.format(slug=slug) for k, v in OPERATOR_INGRESS.items()})
            specs.append(
                {
                    "key": f"{template}-{environment}",
                    "deploy": str(deploy),
                    "project": slug,
                    "stack": environment,
                    "config": config,
                    "secrets": [],
                    "platforms": platforms,
                }
            )
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("seam_runner.py"))],
        input=json.dumps(specs),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.splitlines()[-1])


def kubernetes_objects(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        plain(r["inputs"])
        for r in resources
        if r["type"].startswith("kubernetes:")
        and r["custom"]
        and not r["type"].startswith("kubernetes:helm.sh/")
        and r["type"] != "pulumi:providers:kubernetes"
    ]


CASES = [(t, e) for t in TEMPLATES for e in ENVIRONMENTS]


@pytest.mark.parametrize(("template", "environment"), CASES)
def test_default_render_deploys_onto_the_stack_unchanged(
    runs: dict[str, Any], template: str, environment: str
) -> None:
    run = runs[f"{template}-{environment}"]
    assert run["error"] is None, run["error"]
    outputs = platform_outputs(environment)
    objects = kubernetes_objects(run["resources"])
    assert len(objects) >= 7
    team = outputs["team_namespaces"]["ml-platform"]
    for manifest in objects:
        assert manifest["metadata"]["namespace"] == team["namespace"], manifest["metadata"]
    (deployment,) = [o for o in objects if o.get("kind") == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    # The service account the stack annotated with the team's IRSA role.
    assert pod["serviceAccountName"] == team["service_account"]
    stack_accounts = {
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"])
        for r in built_stack(environment).of_type("kubernetes:core/v1:ServiceAccount")
    }
    assert (team["namespace"], team["service_account"]) in stack_accounts
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["SECRETS_ID"] == team["secret_arns"][template]
    # The database path closes with IAM tokens: the URL's user (no password) is the login the
    # bootstrap Job creates with rds_iam and the one the team's IRSA role may connect as.
    assert env["DATABASE_IAM_AUTH"] == "true"
    url = urlsplit(env["DATABASE_URL"])
    assert url.password is None and "sslmode=verify-full" in url.query
    # The CA bundle the deploy program names is the one the image ships.
    bundle = dict(pair.split("=", 1) for pair in url.query.split("&"))["sslrootcert"]
    dockerfile = (ROOT / "templates" / "_shared" / "project" / "Dockerfile").read_text()
    assert f" {bundle}" in dockerfile
    assert url.hostname == outputs["vector_store_endpoint"]
    stack = built_stack(environment)
    scripts = "\n".join(
        value
        for r in stack.of_type("kubernetes:core/v1:ConfigMap")
        for value in (plain(r.inputs).get("data") or {}).values()
    )
    assert f'GRANT rds_iam TO "{url.username}";' in scripts
    connects = [
        statement["Resource"]
        for r in stack.of_type("aws:iam/rolePolicy:RolePolicy")
        for statement in json.loads(plain(r.inputs)["policy"])["Statement"]
        if statement["Action"] == "rds-db:connect"
    ]
    assert any(arn.endswith(f"/{url.username}") for arn in connects), connects


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_published_service_uses_the_platforms_load_balancer_group_and_vpc(
    runs: dict[str, Any], template: str, environment: str
) -> None:
    """The Ingress names the stack's real load-balancer security group (tcp/443 only) and the
    NetworkPolicy admits the stack's real public subnets, the source of ALB traffic to pod IPs;
    `/metrics` never leaves the cluster."""
    objects = kubernetes_objects(runs[f"{template}-{environment}"]["resources"])
    ingresses = [o for o in objects if o.get("kind") == "Ingress"]
    (policy,) = [o for o in objects if o.get("kind") == "NetworkPolicy"]
    blocks = [p["ipBlock"]["cidr"] for p in policy["spec"]["ingress"][0]["from"] if "ipBlock" in p]
    if environment not in INGRESS_ENVIRONMENTS:
        assert not ingresses and not blocks
        return
    outputs = platform_outputs(environment)
    (ingress,) = ingresses
    notes = ingress["metadata"]["annotations"]
    assert (
        notes["alb.ingress.kubernetes.io/security-groups"]
        == (outputs["load_balancer_security_group_id"])
    )
    # The public subnets the stack really made (an internet-facing ALB's nodes), not the VPC,
    # whose addresses every pod has under the VPC CNI.
    public = [
        r.inputs["cidrBlock"]
        for r in built_stack(environment).of_type("aws:ec2/subnet:Subnet")
        if "-public-" in r.inputs["tags"]["Name"]
    ]
    assert blocks == outputs["public_subnet_cidrs"] == public
    assert outputs["vpc_cidr"] not in blocks
    paths = {
        p["path"]: p["backend"]["service"] for p in ingress["spec"]["rules"][0]["http"]["paths"]
    }
    assert paths["/metrics"]["port"] == {"name": "use-annotation"}
    # The port the stack opens from the load balancers to the nodes is the one pods listen on.
    (deployment,) = [o for o in objects if o.get("kind") == "Deployment"]
    (port,) = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    opened = [
        r.inputs["fromPort"]
        for r in built_stack(environment).of_type(
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
        )
        if r.inputs.get("referencedSecurityGroupId") == outputs["load_balancer_security_group_id"]
    ]
    assert opened == [port["containerPort"]]


def validation_errors(manifest: dict[str, Any], version: str) -> list[str]:
    key = (manifest.get("apiVersion"), manifest.get("kind"))
    if key in CRD_KINDS:
        return []
    try:
        kubernetes_validate.validate(manifest, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{key} {manifest['metadata'].get('name')}: {error.message} at {list(error.path)}"]
    return []


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_kubernetes_object_validates_at_the_stack_version(
    runs: dict[str, Any], environment: str
) -> None:
    version = f"{platform_outputs(environment)['kubernetes_version']}.0"
    stack = built_stack(environment)
    objects = kubernetes_objects(
        [{"type": r.type, "inputs": r.inputs, "custom": r.custom} for r in stack.resources]
    )
    for template in TEMPLATES:
        objects += kubernetes_objects(runs[f"{template}-{environment}"]["resources"])
    kinds = {(o.get("apiVersion"), o.get("kind")) for o in objects}
    assert ("apps/v1", "Deployment") in kinds and ("v1", "Namespace") in kinds, kinds
    errors = [e for manifest in objects for e in validation_errors(manifest, version)]
    assert errors == []
    assert {k for k in kinds if k in CRD_KINDS} <= set(CRD_KINDS)
    installed = {r.inputs["name"] for r in stack.of_type("kubernetes:helm.sh/v3:Release")}
    assert {CRD_KINDS[k] for k in kinds if k in CRD_KINDS} <= installed


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """Pod Security Standards `restricted` (kubernetes.io/docs/concepts/security/
    pod-security-standards/, read 2026-12-02), the checks a service's pod can fail."""
    found = []
    pod_security = pod.get("securityContext") or {}
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        found.append("host namespaces")
    allowed_volumes = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral"}
    allowed_volumes |= {"persistentVolumeClaim", "projected", "secret", "name"}
    for volume in pod.get("volumes") or []:
        if set(volume) - allowed_volumes:
            found.append(f"volume type {sorted(set(volume) - allowed_volumes)}")
    for container in [*(pod.get("initContainers") or []), *pod["containers"]]:
        security = container.get("securityContext") or {}
        name = container["name"]
        if security.get("privileged"):
            found.append(f"{name}: privileged")
        if security.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation must be false")
        if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
            found.append(f"{name}: capabilities must drop ALL")
        added = set((security.get("capabilities") or {}).get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            found.append(f"{name}: adds capabilities {sorted(added)}")
        if not (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
            found.append(f"{name}: runAsNonRoot")
        if security.get("runAsUser", pod_security.get("runAsUser")) == 0:
            found.append(f"{name}: runAsUser 0")
        seccomp = (security.get("seccompProfile") or pod_security.get("seccompProfile") or {}).get(
            "type"
        )
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name}: seccompProfile {seccomp!r}")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                found.append(f"{name}: hostPort")
    return found


@pytest.mark.parametrize(("template", "environment"), CASES)
def test_service_pods_are_admitted_by_pod_security_restricted(
    runs: dict[str, Any], template: str, environment: str
) -> None:
    labels = {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"]
        for r in built_stack(environment).of_type("kubernetes:core/v1:Namespace")
    }
    assert labels["ml-platform"]["pod-security.kubernetes.io/enforce"] == "restricted"
    objects = kubernetes_objects(runs[f"{template}-{environment}"]["resources"])
    pods = [o["spec"]["template"]["spec"] for o in objects if o.get("kind") == "Deployment"]
    assert pods
    for pod in pods:
        assert restricted_violations(pod) == [], template


def test_restricted_check_refuses_a_root_pod() -> None:
    pod = {"containers": [{"name": "c", "securityContext": {"runAsUser": 0}}]}
    assert "c: runAsUser 0" in restricted_violations(pod)
    assert "c: allowPrivilegeEscalation must be false" in restricted_violations(pod)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_gpu_requests_land_on_a_gpu_node(runs: dict[str, Any], environment: str) -> None:
    run = runs[f"batch-inference-gpu-{environment}"]
    assert run["error"] is None, run["error"]
    objects = kubernetes_objects(run["resources"])
    placed = 0
    for deployment in [o for o in objects if o.get("kind") == "Deployment"]:
        pod = deployment["spec"]["template"]["spec"]
        gpus = sum(
            int((c.get("resources") or {}).get("limits", {}).get(rules.GPU_RESOURCE, 0))
            for c in pod["containers"]
        )
        if not gpus:
            continue
        placement = PodPlacement(
            deployment["metadata"]["name"],
            node_selector=pod.get("nodeSelector") or {},
            affinity=pod.get("affinity") or {},
            tolerations=pod.get("tolerations") or [],
            gpus=gpus,
        )
        assert placements(placement, gpu_capable(built_stack(environment))), placement
        placed += 1
    assert placed == 1


# Checks checkov reports that these objects fail by design, each with the reason.
CHECKOV_SUPPRESSIONS: dict[str, str] = {
    "CKV_K8S_15": "imagePullPolicy Always: images are pinned (check_image) in IMMUTABLE ECR"
    " repositories (team_data.py), so IfNotPresent never runs a stale image and spares GPU"
    " nodes a registry round trip per start",
    "CKV_K8S_43": "image digest: a tag in an IMMUTABLE ECR repository names one image for good;"
    " the deploy program accepts name@sha256 digests too",
}


def checkov() -> str:
    """checkov lives in its own environment (make install): it pins a boto3 older than the kit's."""
    found = ROOT / ".venv-checkov" / "bin" / "checkov"
    if not found.exists():
        pytest.fail(f"checkov is not installed at {found}: run `make install`")
    return str(found)


def test_checkov_finds_no_failed_kubernetes_checks(runs: dict[str, Any], tmp_path: Path) -> None:
    for environment in ENVIRONMENTS:
        stack = built_stack(environment)
        objects = kubernetes_objects(
            [{"type": r.type, "inputs": r.inputs, "custom": r.custom} for r in stack.resources]
        )
        for key in [*TEMPLATES, *VARIANTS]:
            objects += kubernetes_objects(runs[f"{key}-{environment}"]["resources"])
        (tmp_path / f"{environment}.yaml").write_text(yaml.safe_dump_all(objects))
    # --skip-download: no call to the vendor's API; the proxy makes any other call fail fast.
    offline = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    done = subprocess.run(
        [
            checkov(),
            *("-d", str(tmp_path), "--framework", "kubernetes", "-o", "json"),
            *("--quiet", "--compact", "--skip-download"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", **offline},
    )
    report = json.loads(done.stdout)
    summary = report["summary"]
    assert summary["parsing_errors"] == 0 and summary["resource_count"] > 40, summary
    failed = [
        f"{c['check_id']} {c['check_name']}: {c['resource']}"
        for c in report["results"]["failed_checks"]
        if c["check_id"] not in CHECKOV_SUPPRESSIONS
    ]
    assert failed == [], "\n".join(failed)


# What the `edit` ClusterRole lets a subject do in a namespace: read and write most namespaced
# built-in objects, but not Roles or RoleBindings ("User-facing roles", kubernetes.io/docs/
# reference/access-authn-authz/rbac/, read 2026-12-02); custom resources only where a Role says so.
EDIT_ALLOWS_GROUPS = {"", "apps", "batch", "autoscaling", "policy", "networking.k8s.io"}
EDIT_DENIES = {("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "RoleBinding")}


@pytest.mark.parametrize(("template", "environment"), CASES)
def test_the_team_deploy_role_may_create_everything_the_deploy_program_does(
    runs: dict[str, Any], template: str, environment: str
) -> None:
    """The team's deploy role gets `edit` plus a monitoring Role in its namespace (access.py):
    every object the deploy program creates must fall inside them (finding 4)."""
    stack = built_stack(environment)
    granted = {
        (group, resource)
        for role in stack.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
        if role.inputs["metadata"]["namespace"] == "ml-platform"
        for rule in role.inputs["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    for manifest in kubernetes_objects(runs[f"{template}-{environment}"]["resources"]):
        group = manifest["apiVersion"].rpartition("/")[0]
        kind = manifest["kind"]
        resource = kind.lower() + "s"
        if (group, resource) in granted:
            continue
        assert group in EDIT_ALLOWS_GROUPS and (group, kind) not in EDIT_DENIES, (
            f"{template}: the deploy role may not create {group}/{kind}"
        )

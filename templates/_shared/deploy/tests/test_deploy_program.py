{%- set gpu = cookiecutter.get("accelerator") == "gpu" -%}
{%- set sqlite = cookiecutter.get("checkpointer") == "sqlite" -%}
"""deploy/: the Pulumi program under unit-test mocks (no CLI, no cluster, no cloud).

Pulumi's mocks are process-global, so the program runs in one child process (this file, run
as a script) for every scenario at once; the tests assert on what it registered.
"""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[1]
DEPLOY = PROJECT / "deploy"
SERVICE = "{{ cookiecutter.project_slug }}"
TEAM = "{{ cookiecutter.owner_team }}"
IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{SERVICE}:1.4.2"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # marks a secret in the values the mocks receive
SECRET_ARN = (
    f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:goldenpath/staging/{TEAM}/{SERVICE}-Ab1"
)
KUBECONFIG = '{"apiVersion": "v1", "kind": "Config", "clusters": []}'
# What `infra/` exports (goldenpath_infra/stack.py), as a StackReference reads it.
PLATFORM_OUTPUTS: dict[str, Any] = {
    "environment": "staging",
    "region": "eu-west-1",
    "kubeconfig": KUBECONFIG,
    "cluster_name": "goldenpath-staging",
    "vector_store_endpoint": "vectors.cluster-abc.eu-west-1.rds.amazonaws.com",
    "vector_store_port": 5432,
    "vector_store_database": "vectors",
    "vector_store_secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db",
    "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/k",
    "load_balancer_security_group_id": "sg-0123456789abcdef0",
    "vpc_cidr": "10.20.0.0/16",
    "public_subnet_cidrs": ["10.20.0.0/24", "10.20.1.0/24"],
    "private_subnet_cidrs": ["10.20.64.0/19", "10.20.96.0/19"],
    "team_namespaces": {
        name: {
            "namespace": name,
            "service_account": "workload",
            "role_arn": f"arn:aws:iam::123456789012:role/{name}-workload",
            "secret_arns": {SERVICE: SECRET_ARN} if name == TEAM else {},
        }
        for name in (TEAM, "other-team")
    },
}


def stack_config(stack: str, **overrides: Any) -> dict[str, Any]:
    """deploy/Pulumi.<stack>.yaml plus what an operator sets with `pulumi config set`."""
    raw = yaml.safe_load((DEPLOY / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    values = {key.split(":", 1)[1]: value for key, value in raw["config"].items()}
    values.update(image=IMAGE)
    values.update(overrides)
    return values


CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
SCENARIOS: dict[str, tuple[str, dict[str, Any]]] = {
    "staging": ("staging", stack_config("staging")),
    "prod": ("prod", stack_config("prod")),
    "prod_one_replica": ("prod", stack_config("prod", replicas=1)),
    "image_latest": ("staging", stack_config("staging", image=f"registry.local/{SERVICE}:latest")),
    "image_untagged": ("staging", stack_config("staging", image=f"registry.local/{SERVICE}")),
    "no_limits": (
        "staging",
        stack_config("staging", resources={"requests": {"cpu": "1", "memory": "1Gi"}}),
    ),
    "no_service_secret": ("staging", stack_config("staging", team="other-team")),
    "ingress": (
        "staging",
        stack_config("staging", ingressHost="api.example.com", certificateArn=CERTIFICATE),
    ),
    "ingress_no_certificate": ("staging", stack_config("staging", ingressHost="api.example.com")),
    "ingress_bad_host": (
        "staging",
        stack_config("staging", ingressHost="API_example", certificateArn=CERTIFICATE),
    ),
    "ingress_host_newline": (
        "staging",
        stack_config("staging", ingressHost="api.example.com\n", certificateArn=CERTIFICATE),
    ),
    "secrets_id_set": (
        "staging",
        stack_config("staging", team="other-team", secretsId="goldenpath/staging/shared/one"),
    ),
{%- if sqlite %}
    "sqlite_two_replicas": ("staging", stack_config("staging", replicas=2, maxReplicas=2)),
{%- endif %}
}


def run_scenarios(scenarios: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Child process: run deploy/__main__.py once per scenario under fresh mocks."""
    import pulumi

    class Mocks(pulumi.runtime.Mocks):
        def __init__(self) -> None:
            self.resources: list[dict[str, Any]] = []

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
            self.resources.append(
                {"type": args.typ, "name": args.name, "inputs": args.inputs,
                 "provider": args.provider or "", "custom": bool(args.custom)}
            )  # fmt: skip
            if args.typ == "pulumi:pulumi:StackReference":
                return f"{args.name}-id", {
                    "name": args.inputs["name"],
                    "outputs": PLATFORM_OUTPUTS,
                    "secretOutputNames": ["kubeconfig"],
                }
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
            raise AssertionError(f"unexpected invoke {args.token}")

    def run_program() -> None:
        runpy.run_path(str(DEPLOY / "__main__.py"))

    sys.path.insert(0, str(DEPLOY))
    results: dict[str, Any] = {}
    for key, (stack, values) in scenarios.items():
        mocks = Mocks()
        pulumi.runtime.set_mocks(mocks, project=SERVICE, stack=stack, preview=False)
        pulumi.runtime.set_all_config(
            {
                f"{SERVICE}:{k}": v if isinstance(v, str) else json.dumps(v)
                for k, v in values.items()
            },
            [],
        )
        error = None
        try:
            pulumi.runtime.test(run_program)()
        except Exception as exc:  # reported to the parent, which asserts on it
            error = f"{type(exc).__name__}: {exc}"
        results[key] = {"resources": mocks.resources, "error": error}
    return results


@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__],
        input=json.dumps(SCENARIOS),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=DEPLOY,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.splitlines()[-1])


def secret_value(value: Any) -> Any:
    """The plain value of a Pulumi secret as the mocks see it; fails if it is not a secret."""
    assert isinstance(value, dict) and SECRET_SIG in value, f"not a secret: {value!r}"
    return value["value"]


def resources(run: dict[str, Any], type_token: str) -> list[dict[str, Any]]:
    return [r for r in run["resources"] if r["type"] == type_token]


def one(run: dict[str, Any], type_token: str) -> dict[str, Any]:
    (found,) = resources(run, type_token)
    return found["inputs"]


@pytest.fixture(scope="module")
def staging(runs: dict[str, Any]) -> dict[str, Any]:
    assert runs["staging"]["error"] is None, runs["staging"]["error"]
    return runs["staging"]


@pytest.fixture(scope="module")
def pod(staging: dict[str, Any]) -> dict[str, Any]:
    return one(staging, "kubernetes:apps/v1:Deployment")["spec"]["template"]["spec"]


def test_reads_the_platform_stack_and_deploys_through_its_kubeconfig(staging):
    reference = one(staging, "pulumi:pulumi:StackReference")
    assert reference["name"] == "organization/goldenpath-infra/staging"
    # The kubeconfig stays a secret all the way into the provider.
    assert secret_value(one(staging, "pulumi:providers:kubernetes")["kubeconfig"]) == KUBECONFIG
    assert len(resources(staging, "goldenpath:service:ServiceDeployment")) == 1
    children = [r for r in staging["resources"] if r["type"].startswith("kubernetes:")]
    assert len(children) >= 7
    for child in children:
        assert child["name"].startswith(f"{SERVICE}-"), child["name"]
        assert "pulumi:providers:kubernetes::platform" in child["provider"], child["name"]
        assert child["inputs"]["metadata"]["namespace"] == TEAM, child["name"]


def test_pod_runs_as_the_irsa_workload_account_non_root_read_only(pod):
    assert pod["serviceAccountName"] == "workload"
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["runAsUser"] == 10001
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/app/.data"]] and "emptyDir" in volumes[mounts["/tmp"]]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DATA_DIR"] == "/app/.data"
    assert container["image"] == IMAGE


def test_probes_hit_the_chassis_health_endpoints(pod):
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    # Load balancers and Services stop sending before the process is told to stop.
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": 10}}}
    assert (
        container["lifecycle"]["preStop"]["sleep"]["seconds"] < pod["terminationGracePeriodSeconds"]
    )
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]


def test_environment_comes_from_config_and_the_platform_stack(staging, pod):
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["ENVIRONMENT"]["value"] == "staging"
    assert env["AWS_REGION"]["value"] == "eu-west-1"
    # The service's one JSON secret, the only one its IRSA role may read.
    assert env["SECRETS_ID"]["value"] == SECRET_ARN
    # IAM database authentication: the URL names the user and no password, over TLS.
    assert env["DATABASE_IAM_AUTH"]["value"] == "true"
    assert env["DATABASE_URL"]["value"] == (
        f"postgresql://{TEAM}@vectors.cluster-abc.eu-west-1.rds.amazonaws.com"
        ":5432/vectors?sslmode=verify-full&sslrootcert=/etc/ssl/rds/global-bundle.pem"
    )


def test_no_secret_value_reaches_the_pod_spec(staging, pod):
    """Secrets come from Secrets Manager at run time and the database from IAM tokens: no
    Kubernetes Secret, no secretKeyRef env (checkov CKV_K8S_35), nothing to leak in state."""
    assert not resources(staging, "kubernetes:core/v1:Secret")
    (container,) = pod["containers"]
    assert not [e["name"] for e in container["env"] if "valueFrom" in e]


def test_resources_and_gpu_placement(pod):
    (container,) = pod["containers"]
    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    assert limits["cpu"] and limits["memory"] and requests["cpu"] and requests["memory"]
{%- if gpu %}
    assert limits["nvidia.com/gpu"] == requests["nvidia.com/gpu"] == "1"
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    assert pod["nodeSelector"] == {"goldenpath.dev/accelerator": "nvidia"}
{%- else %}
    assert "nvidia.com/gpu" not in limits
    assert "tolerations" not in pod and "nodeSelector" not in pod
{%- endif %}


def test_service_pdb_hpa_and_network_policy(staging):
    config = stack_config("staging")
    service = one(staging, "kubernetes:core/v1:Service")
    # The Service name is the Prometheus job label the alerts select on.
    assert service["metadata"]["name"] == SERVICE
    assert service["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http"}]
    selector = service["spec"]["selector"]
    assert one(staging, "kubernetes:policy/v1:PodDisruptionBudget")["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": selector},
    }
    hpa = one(staging, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")["spec"]
    deployment = one(staging, "kubernetes:apps/v1:Deployment")
    assert hpa["minReplicas"] == config["replicas"] == deployment["spec"]["replicas"]
    assert hpa["maxReplicas"] == config["maxReplicas"]
    assert hpa["scaleTargetRef"]["name"] == SERVICE
    policy = one(staging, "kubernetes:networking.k8s.io/v1:NetworkPolicy")["spec"]
    assert policy["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8000}]
    egress_ports = {p["port"] for p in policy["egress"][0]["ports"]}
    assert 443 in egress_ports and 5432 in egress_ports


def test_service_monitor_scrapes_metrics(staging):
    monitor = one(staging, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    service = one(staging, "kubernetes:core/v1:Service")
    assert monitor["spec"]["selector"] == {"matchLabels": service["spec"]["selector"]}
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["spec"]["endpoints"][0]["port"] == "http"


def test_prometheus_rule_ships_the_services_own_slo_alerts(staging):
    rule = one(staging, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    alerts = yaml.safe_load((PROJECT / "observability" / "alerts.yml").read_text(encoding="utf-8"))
    assert rule["spec"]["groups"] == alerts["groups"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_without_a_host_the_service_has_no_ingress(staging):
    assert not resources(staging, "kubernetes:networking.k8s.io/v1:Ingress")
    policy = one(staging, "kubernetes:networking.k8s.io/v1:NetworkPolicy")["spec"]
    assert not [peer for peer in policy["ingress"][0]["from"] if "ipBlock" in peer]


def test_an_ingress_host_gets_https_through_the_platform_load_balancer(runs):
    run = runs["ingress"]
    assert run["error"] is None, run["error"]
    ingress = one(run, "kubernetes:networking.k8s.io/v1:Ingress")
    notes = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert notes["alb.ingress.kubernetes.io/security-groups"] == "sg-0123456789abcdef0"
    assert notes["alb.ingress.kubernetes.io/certificate-arn"] == CERTIFICATE
    assert notes["alb.ingress.kubernetes.io/listen-ports"] == '[{"HTTPS": 443}]'
    assert notes["alb.ingress.kubernetes.io/target-type"] == "ip"
    assert notes["alb.ingress.kubernetes.io/healthcheck-path"] == "/readyz"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "api.example.com"
    metrics, root = rule["http"]["paths"]
    assert root["path"] == "/" and root["backend"]["service"] == {
        "name": SERVICE,
        "port": {"number": 8000},
    }
    # /metrics stays inside the cluster: the load balancer answers it with a fixed 404.
    assert metrics["path"] == "/metrics"
    action = metrics["backend"]["service"]
    assert action["port"] == {"name": "use-annotation"}
    deny = json.loads(notes[f"alb.ingress.kubernetes.io/actions.{action['name']}"])
    assert deny["type"] == "fixed-response"
    assert deny["fixedResponseConfig"]["statusCode"] == "404"
    # ALB targets are pod IPs: the NetworkPolicy admits the public subnets (where an
    # internet-facing ALB's nodes are) on the service port, not the VPC every pod is in.
    policy = one(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy")["spec"]
    (rule_in,) = policy["ingress"]
    blocks = [peer["ipBlock"]["cidr"] for peer in rule_in["from"] if "ipBlock" in peer]
    assert blocks == ["10.20.0.0/24", "10.20.1.0/24"]
    assert rule_in["ports"] == [{"protocol": "TCP", "port": 8000}]


def test_an_explicit_secrets_id_is_used_as_given(runs):
    run = runs["secrets_id_set"]
    assert run["error"] is None, run["error"]
    (container,) = one(run, "kubernetes:apps/v1:Deployment")["spec"]["template"]["spec"][
        "containers"
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SECRETS_ID"] == "goldenpath/staging/shared/one"


def test_prod_stack_file(runs):
{%- if sqlite %}
    # SQLite state lives in one pod: prod's replica floor refuses it.
    assert "replicas=1 refused: prod runs at least 2 replicas" in runs["prod"]["error"]
{%- else %}
    assert runs["prod"]["error"] is None, runs["prod"]["error"]
    deployment = one(runs["prod"], "kubernetes:apps/v1:Deployment")
    assert deployment["spec"]["replicas"] >= 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ENVIRONMENT"] == "production"
{%- endif %}


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("prod_one_replica", "replicas=1 refused: prod runs at least 2 replicas"),
        ("image_latest", f"image='registry.local/{SERVICE}:latest' refused: the 'latest' tag"),
        ("image_untagged", f"image='registry.local/{SERVICE}' refused: pin the image with a tag"),
        ("no_limits", "resources.limits={} refused: a cpu limit is required"),
        ("ingress_no_certificate", "certificateArn='' refused: an ACM certificate ARN"),
        ("ingress_bad_host", "ingressHost='API_example' refused: a lowercase DNS name"),
        ("ingress_host_newline", "ingressHost='api.example.com\\n' refused: a lowercase DNS"),
        (
            "no_service_secret",
            f"service={SERVICE!r} refused: the platform stack has no secret for it in team"
            " 'other-team' (its services: none)",
        ),
{%- if sqlite %}
        ("sqlite_two_replicas", "replicas=2 refused: state is kept in one pod's SQLite file"),
{%- endif %}
    ],
)
def test_guardrails_refuse_unsafe_input_before_deploying_anything(runs, scenario, message):
    run = runs[scenario]
    assert run["error"] is not None and message in run["error"], run["error"]
    assert not [r for r in run["resources"] if r["type"].startswith("kubernetes:")]


if __name__ == "__main__":
    print(json.dumps(run_scenarios(json.loads(sys.stdin.read())), default=str))

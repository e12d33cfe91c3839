{%- set uses_openai = "openai-compatible" in [cookiecutter.get("generation_mode"), cookiecutter.get("embeddings"), cookiecutter.get("llm")] -%}
{%- set default_gpus = 1 if cookiecutter.get("accelerator") == "gpu" else 0 -%}
"""Deploys this service onto the goldenpath platform stack: run `pulumi up` in this folder.

The only module that reads Pulumi config; `service_deployment` receives plain, typed values.
"""

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pulumi
import pulumi_kubernetes as k8s
from service_deployment import (
    IngressArgs,
    ServiceDeployment,
    ServiceDeploymentArgs,
    load_alert_groups,
)

SERVICE = "{{ cookiecutter.project_slug }}"
RDS_CA_BUNDLE = "/etc/ssl/rds/global-bundle.pem"  # added by the Dockerfile
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# ENVIRONMENT as the service's settings spell it, per platform environment.
SETTINGS_ENVIRONMENT = {"dev": "development", "staging": "staging", "prod": "production"}

config = pulumi.Config()


def config_int(key: str, default: int) -> int:
    """An integer setting; an explicit 0 stays 0 so the guardrails can see it."""
    value = config.get_int(key)
    return default if value is None else value


environment = config.get("environment") or pulumi.get_stack()
team = config.get("team") or "{{ cookiecutter.owner_team }}"
replicas = config_int("replicas", 2)
resources = config.get_object("resources") or {}
otel_endpoint = config.get("otelEndpoint")
secrets_id = config.get("secretsId")

platform = pulumi.StackReference(config.require("platformStack"))


def team_namespace(teams: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The team's namespace; refused when the platform stack has no namespace or no secret."""
    if team not in teams:
        raise ValueError(
            f"team={team!r} refused: the platform stack has no namespace for it"
            f" (teams: {', '.join(sorted(teams)) or 'none'})"
        )
    arns = teams[team].get("secret_arns") or {}
    if not secrets_id and SERVICE not in arns:
        raise ValueError(
            f"service={SERVICE!r} refused: the platform stack has no secret for it in team"
            f" {team!r} (its services: {', '.join(sorted(arns)) or 'none'}); add the service to"
            " the team's `services` in infra/, or set secretsId"
        )
    return teams[team]


namespace = platform.require_output("team_namespaces").apply(team_namespace)
env: dict[str, pulumi.Input[str]] = {
    "ENVIRONMENT": SETTINGS_ENVIRONMENT.get(environment, environment),
    "AWS_REGION": config.get("awsRegion") or platform.require_output("region"),
    # The service's one Secrets Manager secret (JSON: setting name -> value), made by the
    # platform stack; the namespace's IAM role may read this secret and no other.
    "SECRETS_ID": secrets_id or namespace.apply(lambda ns: ns["secret_arns"][SERVICE]),
}
egress_tcp_ports = [443]  # AWS APIs (Secrets Manager, S3, Bedrock) through the VPC endpoints
if otel_endpoint:
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otel_endpoint
    egress_tcp_ports.append(urlsplit(otel_endpoint).port or 4318)
{%- if uses_openai %}
# The OpenAI-compatible model endpoint: vLLM on the GPU nodes unless configured otherwise.
env["OPENAI_BASE_URL"] = openai_base_url = (
    config.get("openaiBaseUrl") or "http://vllm.inference.svc.cluster.local:8000/v1"
)
egress_tcp_ports.append(urlsplit(openai_base_url).port or 443)
{%- endif %}
{%- if "accelerator" in cookiecutter %}
env["ACCELERATOR"] = "{{ cookiecutter.accelerator }}"
{%- if cookiecutter.get("storage") == "local" %}
# Local storage lives on the pod's scratch volume; use storage=s3 for data that must outlast it.
env["STORAGE_ROOT"] = "/app/.data/storage"
{%- endif %}
{%- endif %}
# Aurora PostgreSQL from the platform stack, as the user named after the namespace: every
# service keeps its shared state there (release routing, kill switch, audit, cache epochs).
# IAM database authentication, so no password exists anywhere: infra's bootstrap Job created
# the user with `GRANT rds_iam`, the namespace's IRSA role may `rds-db:connect` as it, and the
# chassis signs a 15-minute token per new connection (DATABASE_IAM_AUTH). RDS takes IAM tokens
# over TLS only (AuroraUserGuide UsingWithRDS.IAMDBAuth.Connecting, read 2026-12-03), and the
# token is the password inside it: verify-full against the RDS CA bundle the image carries.
database_user = team  # the login infra's bootstrap Job creates and rds-db:connect names
env["DATABASE_IAM_AUTH"] = "true"
env["DATABASE_URL"] = database_url = pulumi.Output.all(
    platform.require_output("vector_store_endpoint"),
    platform.require_output("vector_store_port"),
    platform.require_output("vector_store_database"),
).apply(
    lambda parts: (
        f"postgresql://{quote(database_user)}@{parts[0]}:{int(parts[1])}/{parts[2]}"
        f"?sslmode=verify-full&sslrootcert={RDS_CA_BUNDLE}"
    )
)
egress_tcp_ports.append(5432)

# HTTPS through the platform's load balancer when the operator names a host (and its ACM
# certificate); without one the service is reachable inside the cluster only.
ingress_host = config.get("ingressHost")
ingress_scheme = config.get("ingressScheme") or "internet-facing"
ingress = (
    IngressArgs(
        host=ingress_host,
        certificate_arn=config.get("certificateArn") or "",
        security_group_id=platform.require_output("load_balancer_security_group_id"),
        # The load balancer's nodes sit in the public subnets (internal: the private ones,
        # which the pods share, so an internal ALB cannot be told apart from a pod by address).
        source_cidrs=platform.require_output(
            "private_subnet_cidrs" if ingress_scheme == "internal" else "public_subnet_cidrs"
        ),
        scheme=ingress_scheme,
    )
    if ingress_host
    else None
)

args = ServiceDeploymentArgs(
    service=SERVICE,
    environment=environment,
    image=config.require("image"),
    namespace=namespace.apply(lambda ns: ns["namespace"]),
    service_account=namespace.apply(lambda ns: ns["service_account"]),
    replicas=replicas,
    max_replicas=config_int("maxReplicas", replicas),
    requests=resources.get("requests") or {},
    limits=resources.get("limits") or {},
    alert_groups=load_alert_groups(PROJECT_ROOT / "observability" / "alerts.yml"),
    env=env,
    gpus=config_int("gpus", {{ default_gpus }}),
{%- if cookiecutter.get("checkpointer") == "sqlite" %}
    single_replica=True,
{%- endif %}
{%- if cookiecutter.get("_ray") == "y" %}
    shared_memory=True,
{%- endif %}
    egress_tcp_ports=egress_tcp_ports,
    ingress=ingress,
)
provider = k8s.Provider("platform", kubeconfig=platform.require_output("kubeconfig"))
service = ServiceDeployment(SERVICE, args, pulumi.ResourceOptions(providers=[provider]))

pulumi.export("namespace", args.namespace)
pulumi.export("url", service.url)
if service.public_url is not None:
    pulumi.export("public_url", service.public_url)
pulumi.export("image", args.image)
pulumi.export("database_url", database_url)  # for jobs beside the service (RayJob)

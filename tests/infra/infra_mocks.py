"""Pulumi mocks and stack builders shared by the infra tests (and the seam tests).

Mocks record every registered resource (after the stack's transforms, as the engine applies
them), so tests and the policy run inspect exactly what `pulumi up` would send to providers.
"""

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml

INFRA = Path(__file__).resolve().parents[2] / "infra"
for path in (INFRA, INFRA / "policy"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from goldenpath_infra.config import StackConfig, parse_stack_config  # noqa: E402
from goldenpath_infra.stack import build_stack  # noqa: E402

ACCOUNT = "123456789012"
ENVIRONMENTS = ("dev", "staging", "prod")


@dataclass
class Registered:
    """One resource as the provider would receive it."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    custom: bool


def _computed(args: pulumi.runtime.MockResourceArgs, region: str) -> dict[str, Any]:
    """Outputs a provider would compute, keyed on type token."""
    name, inputs = args.name, args.inputs
    service = args.typ.split(":")[1].split("/")[0]
    outputs: dict[str, Any] = {"arn": f"arn:aws:{service}:{region}:{ACCOUNT}:{name}"}
    if args.typ == "aws:eks/cluster:Cluster":
        outputs.update(
            endpoint=f"https://{name}.gr7.{region}.eks.amazonaws.com",
            certificateAuthority={"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"},
            identities=[
                {"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/AB12"}]}
            ],
            vpcConfig={**inputs.get("vpcConfig", {}), "clusterSecurityGroupId": "sg-cluster"},
        )
    elif args.typ == "aws:rds/cluster:Cluster":
        outputs.update(
            endpoint=f"{name}.cluster-abc.{region}.rds.amazonaws.com",
            readerEndpoint=f"{name}.cluster-ro-abc.{region}.rds.amazonaws.com",
            port=5432,
            clusterResourceId="cluster-ABCDEFGHIJ",
            masterUserSecrets=[
                {"secretArn": f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:rds!{name}"}
            ],
        )
    elif args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
        outputs["latestVersion"] = 1
    elif args.typ == "aws:kms/key:Key":
        outputs["keyId"] = f"key-{name}"
    elif args.typ == "aws:ec2/eip:Eip":
        outputs["allocationId"] = f"eipalloc-{name}"
    elif args.typ == "aws:opensearch/serverlessCollection:ServerlessCollection":
        outputs["collectionEndpoint"] = f"https://{name}.{region}.aoss.amazonaws.com"
    elif (
        args.typ == "aws:rds/subnetGroup:SubnetGroup"
        or args.typ == "aws:rds/clusterParameterGroup:ClusterParameterGroup"
    ):
        outputs["name"] = inputs.get("name", name)
    return outputs


class GoldenpathMocks(pulumi.runtime.Mocks):
    """Mocks that run stack transforms the way the engine does, then record the resource."""

    def __init__(self, stack: str, region: str) -> None:
        self.stack = stack
        self.region = region
        self.transforms: list[Callable[..., Any]] = []
        self.resources: list[Registered] = []

    def register_transform(self, transform: Any) -> None:
        self.transforms.append(transform)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        for transform in self.transforms:
            result = transform(
                pulumi.ResourceTransformArgs(
                    custom=bool(args.custom),
                    type_=args.typ,
                    name=args.name,
                    props=inputs,
                    opts=pulumi.ResourceOptions(),
                )
            )
            if result is not None:
                inputs = dict(result.props)
        urn = f"urn:pulumi:{self.stack}::goldenpath-infra::{args.typ}::{args.name}"
        self.resources.append(Registered(args.typ, args.name, urn, inputs, bool(args.custom)))
        state = {**inputs, **_computed(args, self.region)}
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/test",
                "userId": "AIDATEST",
                "id": ACCOUNT,
            }
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{suffix}" for suffix in "abcd"]
            return {"names": names, "zoneIds": [f"use1-az{i}" for i in range(4)], "id": "z"}
        raise AssertionError(f"unexpected invoke {args.token}")


@dataclass
class BuiltStack:
    environment: str
    config: StackConfig
    resources: list[Registered]
    outputs: dict[str, Any]
    seconds: float

    @property
    def secret_outputs(self) -> set[str]:
        return {key for key, secret in self.outputs["__secret__"].items() if secret}

    def of_type(self, type_token: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_token]


def load_stack_config(environment: str) -> StackConfig:
    """Parse `infra/Pulumi.<env>.yaml` as `__main__.py` would read it through pulumi.Config."""
    raw = yaml.safe_load((INFRA / f"Pulumi.{environment}.yaml").read_text())["config"]
    values = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("goldenpath:")}
    return parse_stack_config(
        environment=values.pop("environment"), region=raw["aws:region"], values=values
    )


def run_program(
    program: Callable[[], dict[str, Any]], stack: str, region: str = "us-east-1"
) -> tuple[list[Registered], dict[str, Any]]:
    """Run `program` under fresh mocks with preview off, so every output is known."""
    mocks = GoldenpathMocks(stack, region)
    pulumi.runtime.set_mocks(mocks, project="goldenpath-infra", stack=stack, preview=False)
    resolved: dict[str, Any] = {}

    def body() -> pulumi.Output[Any]:
        outputs = program()
        secret_flags = {
            key: pulumi.Output.from_input(asyncio.ensure_future(value.is_secret()))
            for key, value in outputs.items()
            if isinstance(value, pulumi.Output)
        }
        resolved["__secret__"] = {}
        return pulumi.Output.all(
            pulumi.Output.from_input(outputs).apply(resolved.update),
            pulumi.Output.from_input(secret_flags).apply(resolved["__secret__"].update),
        )

    pulumi.runtime.test(body)()
    return mocks.resources, resolved


def build(config: StackConfig) -> BuiltStack:
    started = time.perf_counter()
    resources, outputs = run_program(lambda: build_stack(config), config.environment, config.region)
    return BuiltStack(config.environment, config, resources, outputs, time.perf_counter() - started)


_BUILT: dict[str, BuiltStack] = {}


def built_stack(environment: str) -> BuiltStack:
    if environment not in _BUILT:
        _BUILT[environment] = build(load_stack_config(environment))
    return _BUILT[environment]

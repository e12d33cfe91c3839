"""Child process: run rendered services' `deploy/` programs under Pulumi mocks.

Reads JSON on stdin: a list of runs {key, deploy, project, stack, config, secrets, platforms},
where `platforms` maps a fully qualified stack name to the outputs that stack really exported.
A StackReference to any other name fails as it would against the backend. Writes one JSON line:
key -> {resources, error}. A process of its own because Pulumi's mocks are process-global.
"""

import json
import runpy
import sys
from typing import Any

import pulumi


class DeployMocks(pulumi.runtime.Mocks):
    def __init__(self, platforms: dict[str, dict[str, Any]]) -> None:
        self.platforms = platforms
        self.resources: list[dict[str, Any]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(
            {
                "type": args.typ,
                "name": args.name,
                "inputs": args.inputs,
                "custom": bool(args.custom),
            }
        )
        if args.typ == "pulumi:pulumi:StackReference":
            name = args.inputs["name"]
            if name not in self.platforms:
                raise RuntimeError(f"unknown stack {name!r} (backend has {sorted(self.platforms)})")
            return f"{name}-id", {
                "name": name,
                "outputs": self.platforms[name],
                "secretOutputNames": ["kubeconfig"],
            }
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        raise AssertionError(f"unexpected invoke {args.token}")


def run(spec: dict[str, Any]) -> dict[str, Any]:
    sys.path.insert(0, spec["deploy"])
    sys.modules.pop("service_deployment", None)
    mocks = DeployMocks(spec["platforms"])
    pulumi.runtime.set_mocks(mocks, project=spec["project"], stack=spec["stack"], preview=False)
    pulumi.runtime.set_all_config(
        {
            f"{spec['project']}:{k}": v if isinstance(v, str) else json.dumps(v)
            for k, v in spec["config"].items()
        },
        [f"{spec['project']}:{k}" for k in spec["secrets"]],
    )
    error = None
    try:
        pulumi.runtime.test(lambda: runpy.run_path(f"{spec['deploy']}/__main__.py"))()
    except Exception as exc:  # reported to the parent test, which asserts on it
        error = f"{type(exc).__name__}: {exc}"
    finally:
        sys.path.remove(spec["deploy"])
    return {"resources": mocks.resources, "error": error}


if __name__ == "__main__":
    specs = json.loads(sys.stdin.read())
    print(json.dumps({spec["key"]: run(spec) for spec in specs}, default=str))

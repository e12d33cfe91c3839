"""The batch template's RayJob is valid for the KubeRay the platform installs: each render's
deploy/rayjob.yaml validates against the RayJob CRD's own schema at the pinned chart version
(vendored in tests/data/kuberay, see PROVENANCE.md), with the API server's strictness: a
field the schema does not name is an error (`kubectl apply` rejects it under strict field
validation; without it the field is silently pruned), so a misspelt field fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cookiecutter.main import cookiecutter
from goldenpath_infra import addons

KIT = Path(__file__).resolve().parents[2]
TEMPLATE = KIT / "templates" / "batch-inference"
DATA = KIT / "tests" / "data" / "kuberay"
SCHEMA_VERSION = "1.5.2"
# What envsubst puts in at deploy time (deploy/rayjob.yaml's header).
VALUES = {"IMAGE": "registry.example/batch:1a2b3c", "GIT_SHA": "1a2b3c", "INPUT": "s3://b/in/",
          "OUTPUT": "s3://b/out/1", "BUCKET": "b", "CALLER": "key:team",
          "DATABASE_URL": "postgresql://team@db.example/vectors?sslmode=verify-full"}  # fmt: skip


def strict(node: Any) -> Any:
    """The schema with unknown fields refused, as the API server prunes/rejects them."""
    if isinstance(node, dict):
        node = {key: strict(value) for key, value in node.items()}
        if ("properties" in node and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):  # fmt: skip
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [strict(value) for value in node]
    return node


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads((DATA / f"rayjob-v1-openapi-v{SCHEMA_VERSION}.json").read_text())
    return jsonschema.Draft7Validator(strict(schema))


def rendered(tmp_path: Path, **answers: str) -> dict[str, Any]:
    project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(tmp_path),
                                extra_context=answers))  # fmt: skip
    text = (project / "deploy" / "rayjob.yaml").read_text(encoding="utf-8")
    text = re.sub(r"\$\{(\w+)\}", lambda m: VALUES[m.group(1)], text)
    return yaml.safe_load(text)


def test_the_vendored_schema_is_the_pinned_chart_version() -> None:
    assert addons.CHARTS["kuberay-operator"].version == SCHEMA_VERSION
    assert f"`v{SCHEMA_VERSION}`" in (DATA / "PROVENANCE.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "answers",
    [{}, {"storage": "s3"}, {"accelerator": "gpu", "storage": "s3", "task": "custom"}],
    ids=["defaults", "s3", "gpu"],
)
def test_each_rendered_rayjob_validates_against_the_kuberay_crd(
    tmp_path: Path, validator: jsonschema.Draft7Validator, answers: dict[str, str]
) -> None:
    job = rendered(tmp_path, **answers)
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(job)]  # fmt: skip
    assert not errors, errors


def test_a_misspelt_or_mistyped_field_is_refused(
    tmp_path: Path, validator: jsonschema.Draft7Validator
) -> None:
    job = rendered(tmp_path)
    body = {"spec": {**job["spec"], "backofLimit": 3}}
    assert any("backofLimit" in e.message for e in validator.iter_errors(body))
    body = {"spec": {**job["spec"], "backoffLimit": "three"}}
    assert any(list(e.absolute_path) == ["spec", "backoffLimit"]
               for e in validator.iter_errors(body))  # fmt: skip

"""The golden paths appear in Backstage's /create: each template.yaml is a valid v1beta3
Template (Backstage's own JSON Schemas, vendored in tests/data/backstage with their provenance)
that asks cookiecutter's questions with the hook's patterns, is current with cookiecutter.json,
and its bundle renders without the kit around it; every rendered catalog-info.yaml is valid,
names a System the kit defines, and links to real places."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from goldenpath import KIT_ROOT, TEMPLATES_DIR
from goldenpath.bake import BakeResult
from goldenpath.matrix import TEMPLATES
from goldenpath.new import load_checks

from .test_generated import IDS

SCHEMAS = Path(__file__).parent / "data" / "backstage"
KINDS = {
    "Template": "Template.v1beta3", "API": "API.v1alpha1", "Component": "Component.v1alpha1",
    "System": "System.v1alpha1", "Location": "Location.v1alpha1",
}  # fmt: skip


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return loaded


REGISTRY = Registry().with_resources(
    (s["$id"], Resource.from_contents(s, default_specification=DRAFT7))
    for s in (schema("Entity"), schema("EntityMeta"), schema("common"))
)


def errors_of(entity: dict[str, Any]) -> list[str]:
    validator = Draft7Validator(schema(KINDS[entity["kind"]]), registry=REGISTRY)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(entity)]


def test_the_vendored_schema_refuses_a_broken_template() -> None:
    broken = {"apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template",
              "metadata": {}, "spec": {"steps": [{"name": "no action"}]}, "extra": 1}  # fmt: skip
    assert len(errors_of(broken)) >= 4


def test_the_templates_are_current_with_cookiecutter_json() -> None:
    done = subprocess.run([str(Path(sys.executable).with_name("goldenpath")), "backstage"],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_is_valid_and_asks_cookiecutters_questions(template: str) -> None:
    entity = yaml.safe_load((TEMPLATES_DIR / template / "template.yaml").read_text())
    assert not errors_of(entity)
    questions = json.loads((TEMPLATES_DIR / template / "cookiecutter.json").read_text())
    asked = {k: v for step in entity["spec"]["parameters"] for k, v in step["properties"].items()}
    visible = [k for k in questions if not k.startswith("_")]
    assert list(asked) == [*visible, "repoUrl"] or set(asked) == {*visible, "repoUrl"}
    checks = load_checks(TEMPLATES_DIR / template)
    assert asked["project_slug"]["pattern"] == checks.SLUG.pattern
    assert asked["package_name"]["pattern"] == checks.PACKAGE.pattern
    assert asked["owner_email"]["pattern"] == checks.EMAIL.pattern
    for field, raw in questions.items():
        if isinstance(raw, list) and not field.startswith("_"):
            assert asked[field]["enum"] == raw, field
    steps = {s["action"]: s["input"] for s in entity["spec"]["steps"]}
    assert set(steps) == {"fetch:cookiecutter", "publish:github", "catalog:register"}
    assert set(steps["fetch:cookiecutter"]["values"]) == set(visible)


def test_a_bundle_renders_without_the_kit_around_it(tmp_path: Path) -> None:
    """Backstage fetches the template folder alone: its bundle must have no symlinks."""
    goldenpath = str(Path(sys.executable).with_name("goldenpath"))
    subprocess.run([goldenpath, "backstage", "--bundle", str(tmp_path / "bundle")],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    bundle = tmp_path / "bundle" / "batch-inference"
    assert not [p for p in bundle.rglob("*") if p.is_symlink()]
    moved = tmp_path / "elsewhere"
    bundle.rename(moved)
    done = subprocess.run([sys.executable, "-m", "cookiecutter", "--no-input", "-o",
                           str(tmp_path / "out"), str(moved)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "GOLDENPATH_QUIET": "1"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "batch-inference" / "catalog-info.yaml").is_file()


def test_the_kit_catalog_defines_the_system_and_lists_every_template() -> None:
    entities = list(yaml.safe_load_all((KIT_ROOT / "catalog-info.yaml").read_text()))
    assert all(not errors_of(e) for e in entities)
    (location,) = [e for e in entities if e["kind"] == "Location"]
    targets = sorted(location["spec"]["targets"])
    assert targets == sorted(f"./templates/{t}/template.yaml" for t in TEMPLATES)


@pytest.mark.parametrize("key", IDS)
def test_rendered_catalog_info_is_valid_and_links_are_real(
    baked: dict[str, BakeResult], key: str
) -> None:
    project = baked[key].project
    assert project is not None
    entities = list(yaml.safe_load_all((project / "catalog-info.yaml").read_text()))
    kit = list(yaml.safe_load_all((KIT_ROOT / "catalog-info.yaml").read_text()))
    systems = {e["metadata"]["name"] for e in kit if e["kind"] == "System"}
    (component,) = [e for e in entities if e["kind"] == "Component"]
    (api,) = [e for e in entities if e["kind"] == "API"]
    # Backstage substitutes $text before validating: the definition becomes the file's text
    definition = api["spec"]["definition"]
    assert definition == {"$text": "./docs/openapi.json"}
    api = {**api, "spec": {**api["spec"], "definition": "{}"}}
    for entity in (component, api):
        assert not errors_of(entity), errors_of(entity)
        assert entity["spec"]["system"] in systems
    assert component["spec"]["providesApis"] == [api["metadata"]["name"]]
    annotations = component["metadata"]["annotations"]
    assert annotations["backstage.io/kubernetes-id"] == component["metadata"]["name"]
    assert annotations["backstage.io/source-location"].startswith("url:https://")
    assert annotations["backstage.io/source-location"].endswith("/")
    assert (project / "mkdocs.yml").is_file()  # techdocs-ref dir:.
    for link in component["metadata"]["links"]:
        assert link["url"].startswith("https://") and "127.0.0.1" not in link["url"]
    makefile = (project / "Makefile").read_text()
    assert "openapi --output docs/openapi.json" in makefile

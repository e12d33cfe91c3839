"""Backstage software templates for the golden paths, made from the cookiecutter questions.

Each template's `template.yaml` (scaffolder.backstage.io/v1beta3) asks the same questions as
cookiecutter, in the same order, with the same defaults, choices and validation patterns (the
pre-generation hook's own regexes), then runs the cookiecutter template itself
(`fetch:cookiecutter`, from @backstage/plugin-scaffolder-backend-module-cookiecutter, whose hook
run judges the answers once more), publishes the repository and registers its
catalog-info.yaml. The files are generated, committed and checked by tests/test_backstage.py,
so they cannot drift from cookiecutter.json: `goldenpath backstage --write` regenerates them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .new import load_checks

# Patterns for answers the hook judges by range: the form's first line of defence (the hook,
# run by fetch:cookiecutter, stays the judge).
RANGE_PATTERNS = {
    "availability_slo": r"^9[0-9](\.[0-9]{1,3})?$",
    "latency_slo_p95_ms": r"^[1-9][0-9]{1,4}$",
    "approval_ttl_minutes": r"^[1-9][0-9]{0,4}$",
    "run_budget_usd": r"^[0-9]{1,5}(\.[0-9]{1,2})?$",
}
COMMON = (
    "project_name", "project_slug", "package_name", "description", "owner_team", "owner_email",
    "repository_url",
)  # fmt: skip


def _prompt(prompts: dict[str, Any], field: str) -> str:
    prompt = prompts.get(field, field)
    return str(prompt["__prompt__"] if isinstance(prompt, dict) else prompt)


def _property(field: str, raw: Any, prompts: dict[str, Any], checks: Any) -> dict[str, Any]:
    prop: dict[str, Any] = {"title": _prompt(prompts, field), "type": "string"}
    if isinstance(raw, list):
        labels = prompts.get(field, {})
        prop |= {"enum": raw, "default": raw[0]}
        if isinstance(labels, dict):
            prop["enumNames"] = [labels.get(value, value) for value in raw]
        return prop
    if "{{" not in str(raw):  # a default cookiecutter computes from other answers is left out
        prop["default"] = str(raw)
    patterns = {
        "project_slug": checks.SLUG.pattern,
        "package_name": checks.PACKAGE.pattern,
        "owner_team": checks.TEAM.pattern,
        "owner_email": checks.EMAIL.pattern,
        "repository_url": checks.REPOSITORY_URL.pattern,
        **RANGE_PATTERNS,
    }
    if field in patterns:
        prop["pattern"] = patterns[field]
    if field == "aws_region":
        prop["enum"] = sorted(checks.AWS_REGIONS)
    return prop


def scaffolder_template(template_dir: Path, kit_root: Path) -> dict[str, Any]:
    """The v1beta3 Template entity for one cookiecutter template of the kit."""
    questions: dict[str, Any] = json.loads((template_dir / "cookiecutter.json").read_text())
    chooser = json.loads((kit_root / "cookiecutter.json").read_text())["templates"]
    entry = chooser[template_dir.name]
    prompts = questions.get("__prompts__", {})
    checks = load_checks(template_dir)
    fields = [k for k in questions if not k.startswith("_")]
    own = [f for f in fields if f not in COMMON]

    def step(title: str, names: list[str]) -> dict[str, Any]:
        return {
            "title": title,
            "required": [n for n in names if n != "description"],
            "properties": {n: _property(n, questions[n], prompts, checks) for n in names},
        }

    repository = {
        "title": "Repository",
        "required": ["repoUrl"],
        "properties": {
            "repoUrl": {
                "title": "Repository location",
                "type": "string",
                "ui:field": "RepoUrlPicker",
                "ui:options": {"allowedHosts": ["github.com"]},
            }
        },
    }
    values = {f: "${{ parameters." + f + " }}" for f in fields}
    return {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {
            "name": template_dir.name,
            "title": entry["title"],
            "description": entry["description"],
            "tags": ["python", "ai", "golden-path"],
            "annotations": {"backstage.io/techdocs-ref": "dir:../.."},
        },
        "spec": {
            "owner": "group:default/platform",
            "type": "service",
            "parameters": [
                step("Service", [f for f in COMMON if f in fields]),
                step("Options", own),
                repository,
            ],
            "steps": [
                {
                    "id": "fetch",
                    "name": "Render the golden path",
                    "action": "fetch:cookiecutter",
                    # the self-contained copy `goldenpath backstage --bundle` makes of this
                    # folder (its shared partials are symlinks, which a fetched subtree lacks)
                    "input": {"url": ".", "targetPath": ".", "values": values},
                },
                {
                    "id": "publish",
                    "name": "Publish the repository",
                    "action": "publish:github",
                    "input": {
                        "repoUrl": "${{ parameters.repoUrl }}",
                        "description": "${{ parameters.description }}",
                        "defaultBranch": "main",  # the action's own default is documented both ways
                        "repoVisibility": "private",
                    },
                },
                {
                    "id": "register",
                    "name": "Register in the catalog",
                    "action": "catalog:register",
                    "input": {
                        "repoContentsUrl": "${{ steps['publish'].output.repoContentsUrl }}",
                        "catalogInfoPath": "/catalog-info.yaml",
                    },
                },
            ],
            "output": {
                "links": [
                    {"title": "Repository", "url": "${{ steps['publish'].output.remoteUrl }}"},
                    {
                        "title": "Open in catalog",
                        "icon": "catalog",
                        "entityRef": "${{ steps['register'].output.entityRef }}",
                    },
                ]
            },
        },
    }


def bundle(kit_root: Path, template: str, out: Path) -> Path:
    """A self-contained copy of one template for Backstage to fetch: symlinks (the shared
    partials and hooks) replaced by what they point to."""
    import shutil

    target = out / template
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(kit_root / "templates" / template, target, symlinks=False)
    return target


def dump(template: dict[str, Any]) -> str:
    header = (
        "# Generated from cookiecutter.json by `goldenpath backstage --write`: edit the questions"
        " there.\n"
    )
    body: str = yaml.safe_dump(template, sort_keys=False, allow_unicode=True, width=100)
    return header + body

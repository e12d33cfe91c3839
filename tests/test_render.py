"""Every template renders every curated combination into a clean, lint-free project, and each
answer changes what it should."""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from goldenpath import KIT_ROOT, TEMPLATES_DIR
from goldenpath.bake import BakeResult
from goldenpath.matrix import SUPPORTED, TEMPLATES, Combination

from .conftest import combination_id

IDS = [combination_id(c) for c in SUPPORTED]
COMMON = [
    "project_name", "project_slug", "package_name", "description", "owner_team", "owner_email",
    "repository_url", "aws_region", "python_version", "ci_provider", "availability_slo",
    "latency_slo_p95_ms", "license", "lifecycle",
]  # fmt: skip


def template_options(template: str) -> dict:
    return json.loads((TEMPLATES_DIR / template / "cookiecutter.json").read_text())


def answers_of(combination: Combination) -> dict[str, str]:
    options = template_options(combination.template)
    defaults = {
        k: v[0] for k, v in options.items() if isinstance(v, list) and not k.startswith("_")
    }
    return {**defaults, **combination.answers}


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_choice_value_is_rendered_by_some_combination(template: str) -> None:
    rendered = [answers_of(c) for c in SUPPORTED if c.template == template]
    for option, values in template_options(template).items():
        if isinstance(values, list) and not option.startswith("_"):
            missing = set(values) - {answers[option] for answers in rendered}
            assert not missing, f"{template}: {option} values never rendered: {missing}"


def test_templates_share_the_same_common_questions() -> None:
    options = [template_options(t) for t in TEMPLATES]
    for key in COMMON:
        variants = {json.dumps(o[key]) for o in options if key not in ("project_name",
                    "description", "latency_slo_p95_ms")}  # fmt: skip
        assert len(variants) <= 1, f"{key} differs between templates: {variants}"
        assert all(key in o["__prompts__"] for o in options), f"{key} has no human question"


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_question_has_a_human_prompt(template: str) -> None:
    options = template_options(template)
    asked = [k for k in options if not k.startswith("_")]
    assert set(asked) <= set(options["__prompts__"])


@pytest.mark.parametrize("key", IDS)
def test_combination_renders_clean(baked: dict[str, BakeResult], key: str) -> None:
    result = baked[key]
    assert result.ok, "\n".join(result.failures)


@pytest.mark.parametrize("key", IDS)
def test_answers_reach_the_generated_project(baked: dict[str, BakeResult], key: str) -> None:
    result = baked[key]
    assert result.project is not None
    project, answers = result.project, answers_of(result.combination)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={answers['python_version']}"
    catalog = next(yaml.safe_load_all((project / "catalog-info.yaml").read_text()))
    assert catalog["spec"]["lifecycle"] == answers["lifecycle"]
    assert catalog["spec"]["owner"] == "group:ml-platform"
    github, gitlab = project / ".github/workflows/ci.yml", project / ".gitlab-ci.yml"
    assert github.exists() == (answers["ci_provider"] == "github")
    assert gitlab.exists() == (answers["ci_provider"] == "gitlab")
    licence = (project / "LICENSE").read_text()
    expected = {"MIT": "MIT License", "Apache-2.0": "Apache License", "Proprietary": "proprietary"}
    assert expected[answers["license"]] in licence
    assert f"python:{answers['python_version']}-slim" in (project / "Dockerfile").read_text()
    for required in ("README.md", "Makefile", "Dockerfile", ".dockerignore", "releases.yaml"):
        assert (project / required).is_file(), f"{required} missing"


@pytest.mark.parametrize("key", IDS)
def test_what_make_leaves_behind_is_git_ignored(baked: dict[str, BakeResult], key: str) -> None:
    """`git add -A` after `make test`/`make run` must not commit the venv, data or reports."""
    project = baked[key].project
    assert project is not None
    subprocess.run(["git", "init", "-q"], cwd=project, check=True, timeout=30)
    leftovers = [".venv/bin/python", ".data/postgres/PG_VERSION", "eval/report.json",
                 "src/x.egg-info/PKG-INFO", "src/x/__pycache__/a.pyc", "main.py.rej"]  # fmt: skip
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", *leftovers], cwd=project,
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert sorted(done.stdout.split()) == sorted(leftovers)
    shutil.rmtree(project / ".git")


def test_rendered_records_answers_for_cruft(baked: dict[str, BakeResult]) -> None:
    project = baked["rag-service:defaults"].project
    assert project is not None
    record = json.loads((project / ".cruft.json").read_text())
    assert record["directory"] == "templates/rag-service"
    assert Path(record["template"]) == KIT_ROOT
    assert record["context"]["cookiecutter"]["project_slug"] == "rag-service"

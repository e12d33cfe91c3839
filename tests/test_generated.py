"""Each generated project's own test suite passes, run in this one shared environment (the
kit's .venv, built once), and that environment really holds what each project declares."""

from __future__ import annotations

import json
import shutil
import tomllib
from importlib.metadata import PackageNotFoundError, version

import pytest
from packaging.requirements import Requirement

from goldenpath.bake import BakeResult, run_suite, smoke_serve
from goldenpath.matrix import SUPPORTED

from .conftest import combination_id, git

IDS = [combination_id(c) for c in SUPPORTED]


@pytest.mark.parametrize("key", IDS)
def test_declared_dependencies_are_what_the_suite_runs_with(
    baked: dict[str, BakeResult], key: str
) -> None:
    project = baked[key].project
    assert project is not None
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    requirements = [
        *pyproject["project"]["dependencies"],
        *pyproject["project"]["optional-dependencies"]["dev"],
    ]
    missing = []
    for line in requirements:
        requirement = Requirement(line)
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            missing.append(f"{requirement.name} (not installed)")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            missing.append(f"{requirement} (installed {installed})")
    assert not missing, f"add to the kit's pyproject [dev] extra: {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("key", IDS)
def test_generated_suite_passes(baked: dict[str, BakeResult], key: str) -> None:
    """Its own suite passes; for each template's defaults, `make run`'s command serves and
    stops on SIGTERM with exit code 0; and neither leaves anything `git status` would show."""
    result = baked[key]
    assert result.ok and result.project is not None, "\n".join(result.failures)
    project = result.project
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "rendered")
    # Crash tests (SIGKILL/SIGTERM of real processes, minutes each) exercise code every
    # combination shares: the kit runs them once per template, on its defaults. Each
    # project's own `make test` (and `goldenpath bake`, and the kit's fresh-install CI job)
    # runs them all.
    defaults = result.combination.name == "defaults"
    failures = run_suite(project, markers="" if defaults else "not crash")
    assert not failures, failures[0]
    if defaults:
        answers = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
        failures = smoke_serve(project, answers["package_name"])
        assert not failures, failures[0]
    left = git(project, "status", "--porcelain", "--untracked-files=all")
    shutil.rmtree(project / ".git")
    assert not left, f"the suite or `make run` left files git would commit:\n{left}"

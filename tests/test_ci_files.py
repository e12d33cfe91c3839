"""CI files that a supply-chain review accepts: every action pinned by a full commit SHA with
its release named, pip cached, the evaluation report kept, the image scanned with an SBOM;
and the kit's own CI runs each template's `make test` on a fresh virtual environment."""

from __future__ import annotations

import re

import pytest
import yaml

from goldenpath import KIT_ROOT
from goldenpath.bake import BakeResult
from goldenpath.matrix import TEMPLATES

from .test_generated import IDS

USES = re.compile(r"uses:\s*(\S+)(.*)$", re.M)
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def unpinned(text: str) -> list[str]:
    return [
        f"{ref}{rest}" for ref, rest in USES.findall(text)
        if not PINNED.match(ref) or not re.search(r"#\s*v?\d+\.\d+", rest)
    ]  # fmt: skip


def test_the_kits_actions_are_pinned_and_each_template_gets_a_fresh_install() -> None:
    text = (KIT_ROOT / ".github/workflows/ci.yml").read_text()
    assert not unpinned(text)
    jobs = yaml.safe_load(text)["jobs"]
    fresh = jobs["fresh-install"]
    assert sorted(fresh["strategy"]["matrix"]["template"]) == sorted(TEMPLATES)
    commands = " ".join(step.get("run", "") for step in fresh["steps"])
    assert "cookiecutter --no-input" in commands and "make test" in commands
    assert ".venv" not in commands  # the project's own Makefile makes its venv
    assert commands.index("make lock lock-check") < commands.index("make test"), "tested locked"


@pytest.mark.parametrize("key", IDS)
def test_generated_ci_is_pinned_cached_scanned_and_keeps_reports(
    baked: dict[str, BakeResult], key: str
) -> None:
    project = baked[key].project
    assert project is not None
    github = project / ".github" / "workflows" / "ci.yml"
    eval_gate = (project / "eval").is_dir()
    if github.exists():
        text = github.read_text()
        assert not unpinned(text), unpinned(text)
        jobs = yaml.safe_load(text)["jobs"]
        for name in ("lint", "test", "template-check"):
            setup = [s for s in jobs[name]["steps"] if "setup-python" in s.get("uses", "")]
            assert setup and setup[0]["with"]["cache"] == "pip", name
        image = " ".join(s.get("uses", "") for s in jobs["image"]["steps"])
        assert "trivy-action" in image and "sbom-action" in image
        if eval_gate:
            kept = [s for s in jobs["eval-gate"]["steps"] if "upload-artifact" in s.get("uses", "")]
            assert (
                kept
                and kept[0]["if"] == "always()"
                and kept[0]["with"]["path"] == "eval/report.json"
            )
    else:
        gitlab = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
        assert gitlab["variables"]["PIP_CACHE_DIR"] and gitlab["default"]["cache"]["paths"]
        assert {"template": "Jobs/Container-Scanning.gitlab-ci.yml"} in gitlab["include"]
        if eval_gate:
            assert gitlab["eval-gate"]["artifacts"]["paths"] == ["eval/report.json"]

"""A service made with `cruft create` later receives a template fix with `cruft update`,
shared chassis partials included; and the three ways in all render."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from goldenpath import KIT_ROOT

from .conftest import git

CHASSIS_FILE = "chassis/goldenpath_chassis/redaction.py"


@pytest.fixture
def kit_repo(tmp_path: Path) -> Path:
    """A git copy of the kit (templates, hooks, chooser), as a team's fork would be."""
    repo = tmp_path / "kit"
    repo.mkdir()
    shutil.copytree(KIT_ROOT / "templates", repo / "templates", symlinks=True)
    shutil.copytree(KIT_ROOT / "hooks", repo / "hooks")
    shutil.copytree(
        KIT_ROOT / "chassis" / "goldenpath_chassis", repo / "chassis" / "goldenpath_chassis"
    )
    shutil.copy(KIT_ROOT / "cookiecutter.json", repo / "cookiecutter.json")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "kit")
    return repo


def cruft(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cruft", *args], cwd=cwd, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_cruft_update_brings_a_shared_chassis_fix(kit_repo: Path, tmp_path: Path) -> None:
    services = tmp_path / "services"
    services.mkdir()
    created = cruft(services, "create", str(kit_repo), "--directory", "templates/batch-inference",
                    "--no-input")  # fmt: skip
    assert created.returncode == 0, created.stderr
    service = services / "batch-inference"
    git(service, "init", "-q", "-b", "main")
    git(service, "add", "-A")
    git(service, "commit", "-q", "-m", "generated")

    chassis = kit_repo / CHASSIS_FILE
    chassis.write_text(chassis.read_text() + "\nREDACTION_RULES_VERSION = 2\n")
    git(kit_repo, "commit", "-q", "-am", "chassis fix")

    assert cruft(service, "check").returncode != 0, "cruft should see the template moved on"
    updated = cruft(service, "update", "--skip-apply-ask", "--allow-untracked-files")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    rendered = service / "src/batch_inference/platform/redaction.py"
    assert "REDACTION_RULES_VERSION = 2" in rendered.read_text()
    assert cruft(service, "check").returncode == 0


@pytest.mark.parametrize(
    "how",
    ["chooser", "directory", "path"],
)
def test_three_ways_in_render(kit_repo: Path, tmp_path: Path, how: str) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(out)]
    command += {
        "chooser": [str(kit_repo)],
        "directory": [str(kit_repo), "--directory", "templates/agent-orchestrator"],
        "path": [str(kit_repo / "templates" / "batch-inference")],
    }[how]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    expected = {"chooser": "rag-service", "directory": "agent-orchestrator",
                "path": "batch-inference"}[how]  # fmt: skip
    assert (out / expected / "src" / expected.replace("-", "_") / "platform" / "app.py").is_file()


def test_chooser_lists_the_three_golden_paths_and_renders_the_choice(
    kit_repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    answers = "2\n" + "\n" * 40  # pick the second golden path, then accept every default
    done = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "-o", str(out), str(kit_repo)],
        input=answers, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for title in ("RAG service", "Batch inference", "Agent orchestrator"):
        assert title in done.stdout
    assert (out / "batch-inference" / "Makefile").is_file()


@pytest.mark.slow
def test_a_conflicting_update_is_caught_and_the_team_told_what_to_do(
    kit_repo: Path, tmp_path: Path
) -> None:
    """A chassis API change that also changes `main.py`, against a service whose team edited
    the same line: cruft leaves conflict markers and exits 0; the generated template check
    (which CI runs) fails, names the file and says how to finish the update."""
    services = tmp_path / "services"
    services.mkdir()
    created = cruft(services, "create", str(kit_repo), "--directory",
                    "templates/agent-orchestrator", "--no-input")  # fmt: skip
    assert created.returncode == 0, created.stderr
    service = services / "agent-orchestrator"
    main_py = service / "src/agent_orchestrator/main.py"
    ours = "lifespan=agent_lifespan,  # ours: wired to our audit"
    main_py.write_text(main_py.read_text().replace("lifespan=agent_lifespan,", ours))
    git(service, "init", "-q", "-b", "main")
    git(service, "add", "-A")
    git(service, "commit", "-q", "-m", "generated and edited")

    template_main = kit_repo / "templates/agent-orchestrator/{{cookiecutter.project_slug}}" / (
        "src/{{cookiecutter.package_name}}/main.py")  # fmt: skip
    theirs = "lifespan=agent_lifespan,  # chassis v3: domain lifespan"
    template_main.write_text(template_main.read_text().replace("lifespan=agent_lifespan,", theirs))
    app = kit_repo / "chassis/goldenpath_chassis/app.py"
    app.write_text(app.read_text() + "\nCHASSIS_API = 3\n")
    git(kit_repo, "commit", "-q", "-am", "chassis API v3")

    updated = cruft(service, "update", "--skip-apply-ask", "--allow-untracked-files")
    assert updated.returncode == 0  # cruft reports success even with a conflict left behind
    assert "CHASSIS_API = 3" in (service / "src/agent_orchestrator/platform/app.py").read_text()
    checked = subprocess.run(
        [sys.executable, "-m", "agent_orchestrator.platform.template_check", "."],
        cwd=service, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(service / "src")},
    )  # fmt: skip
    assert checked.returncode == 1
    assert "src/agent_orchestrator/main.py" in checked.stderr  # markers or a .rej file
    assert "keep your change and the template's" in checked.stderr

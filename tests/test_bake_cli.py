"""`goldenpath bake` prints a pass/fail table per combination, reads the templates and
combinations from the kit it is given (so a fork bakes what it added), and fails when a
template breaks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner

from goldenpath import KIT_ROOT
from goldenpath.cli import main


def fork_of_the_kit(root: Path) -> Path:
    fork = root / "fork"
    shutil.copytree(KIT_ROOT / "templates", fork / "templates", symlinks=True)
    shutil.copytree(KIT_ROOT / "hooks", fork / "hooks")
    shutil.copytree(
        KIT_ROOT / "chassis" / "goldenpath_chassis", fork / "chassis" / "goldenpath_chassis"
    )
    shutil.copy(KIT_ROOT / "cookiecutter.json", fork / "cookiecutter.json")
    return fork


def test_bake_prints_a_table_and_keeps_projects(tmp_path: Path) -> None:
    keep = tmp_path / "kept"
    result = CliRunner().invoke(
        main, ["bake", "--template", "agent-orchestrator", "--no-tests", "--keep", str(keep)]
    )
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("agent-orchestrator")]
    assert sum(" pass " in row for row in rows) == 3, result.output
    assert "is ready in" not in result.output  # the hook's next steps are not true of a bake
    assert (keep / "agent-orchestrator" / "defaults" / "agent-orchestrator" / "Makefile").is_file()


def test_a_fork_bakes_a_template_it_added(tmp_path: Path) -> None:
    fork = fork_of_the_kit(tmp_path)
    added = fork / "templates" / "embedding-jobs"
    shutil.copytree(fork / "templates" / "batch-inference", added, symlinks=True)
    questions = json.loads((added / "cookiecutter.json").read_text())
    questions["project_name"] = "Embedding Jobs"
    (added / "cookiecutter.json").write_text(json.dumps(questions, indent=4))
    chooser = json.loads((fork / "cookiecutter.json").read_text())
    chooser["templates"]["embedding-jobs"] = {
        "path": "./templates/embedding-jobs", "title": "Embedding jobs", "description": "A fork's",
    }  # fmt: skip
    (fork / "cookiecutter.json").write_text(json.dumps(chooser, indent=4))
    matrix = yaml.safe_load((fork / "templates" / "matrix.yaml").read_text())
    matrix["supported"]["embedding-jobs"] = {"defaults": {}, "jsonl": {"output_format": "jsonl"}}
    (fork / "templates" / "matrix.yaml").write_text(yaml.safe_dump(matrix))

    result = CliRunner().invoke(
        main, ["bake", "--kit", str(fork), "--template", "embedding-jobs", "--no-tests"]
    )
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if " pass " in line]
    assert [row.split()[:2] for row in rows] == [
        ["embedding-jobs", "defaults"], ["embedding-jobs", "jsonl"]
    ]  # fmt: skip
    assert "2 passed, 0 failed" in result.output


def test_bake_refuses_a_template_the_kit_does_not_list(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["bake", "--template", "nope", "--no-tests"])
    assert result.exit_code == 2
    assert "['nope'] not in the kit's chooser: rag-service, batch-inference" in result.output


def test_bake_fails_on_a_broken_fork(tmp_path: Path) -> None:
    fork = fork_of_the_kit(tmp_path)
    broken = fork / "chassis/goldenpath_chassis/redaction.py"
    broken.write_text("import os\n" + broken.read_text())  # an unused import: ruff must fail
    result = CliRunner().invoke(
        main, ["bake", "--kit", str(fork), "--template", "batch-inference", "--no-tests"]
    )
    assert result.exit_code == 1
    assert "FAIL" in result.output
    assert "ruff check failed" in result.output

"""`goldenpath bake` prints a pass/fail table per combination and fails when a template breaks."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from goldenpath import KIT_ROOT
from goldenpath.cli import main


def test_bake_prints_a_table_and_keeps_projects(tmp_path: Path) -> None:
    keep = tmp_path / "kept"
    result = CliRunner().invoke(
        main, ["bake", "--template", "agent-orchestrator", "--no-tests", "--keep", str(keep)]
    )
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("agent-orchestrator")]
    assert len(rows) == 3 and all(" pass " in row for row in rows)
    assert (keep / "agent-orchestrator" / "defaults" / "agent-orchestrator" / "Makefile").is_file()


def test_bake_fails_on_a_broken_fork(tmp_path: Path) -> None:
    fork = tmp_path / "fork"
    shutil.copytree(KIT_ROOT / "templates", fork / "templates", symlinks=True)
    shutil.copytree(KIT_ROOT / "hooks", fork / "hooks")
    shutil.copytree(
        KIT_ROOT / "chassis" / "goldenpath_chassis", fork / "chassis" / "goldenpath_chassis"
    )
    broken = fork / "chassis/goldenpath_chassis/redaction.py"
    broken.write_text("import os\n" + broken.read_text())  # an unused import: ruff must fail
    result = CliRunner().invoke(
        main, ["bake", "--kit", str(fork), "--template", "batch-inference", "--no-tests"]
    )
    assert result.exit_code == 1
    assert "FAIL" in result.output
    assert "ruff check failed" in result.output

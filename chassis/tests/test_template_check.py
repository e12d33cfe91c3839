"""The template check finds what a half-applied `cruft update` leaves behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from goldenpath_chassis.template_check import main, problems


def test_a_clean_project_passes(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Title\n=======\n")  # a heading, not a marker
    assert problems(tmp_path) == [] and main([str(tmp_path)]) == 0


def test_markers_and_rejected_hunks_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/main.py").write_text("a\n<<<<<<< ours\nb\n=======\nc\n>>>>>>> theirs\n")
    (tmp_path / "Makefile.rej").write_text("@@ -1 +1 @@\n")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv/x.py").write_text("<<<<<<< ignored\n")
    assert main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "src/main.py:2: conflict marker" in err and "src/main.py:6: conflict marker" in err
    assert "Makefile.rej: rejected hunks" in err and ".venv" not in err
    assert "keep your change and the template's" in err

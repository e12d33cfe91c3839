"""The lock inputs are what pyproject.toml declares, and `check` names every requirement a lock
no longer meets: a dependency added, or a lower bound raised, without running `make lock`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from goldenpath_chassis import locks

PYPROJECT = """
[project]
name = "svc"
version = "0.1.0"
dependencies = ["fastapi>=0.115", "uvicorn[standard]>=0.30", "tomli>=2; python_version < '3.0'"]
[project.optional-dependencies]
cpu = ["torch==2.13.0+cpu"]
dev = ["pytest>=8"]
"""


def package(name: str, version: str) -> str:
    return f'[[packages]]\nname = "{name}"\nversion = "{version}"\n\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    return tmp_path


def test_inputs_are_the_dependencies_plus_the_chosen_extras(project: Path) -> None:
    listed = locks.requirements(project / "pyproject.toml", ["dev", "cpu"])
    assert listed[:2] == ["fastapi>=0.115", "uvicorn[standard]>=0.30"]
    assert listed[-2:] == ["pytest>=8", "torch==2.13.0+cpu"]
    with pytest.raises(ValueError, match=r"extra='gpu' is not in pyproject.toml"):
        locks.requirements(project / "pyproject.toml", ["gpu"])


def test_a_lock_that_meets_every_requirement_passes(project: Path) -> None:
    lock = project / "pylock.dev.toml"
    lock.write_text(
        'lock-version = "1.0"\n\n'
        + package("FastAPI", "0.120.0")  # names compare canonicalised
        + package("uvicorn", "0.38.0")
        + package("torch", "2.13.0+cpu")
        + package("pytest", "9.0.1")
    )
    assert locks.unmet(project / "pyproject.toml", lock, ["dev", "cpu"]) == []


def test_a_dependency_added_or_raised_without_relocking_is_named(project: Path) -> None:
    lock = project / "pylock.dev.toml"
    lock.write_text(package("fastapi", "0.110.0") + package("uvicorn", "0.38.0"))
    assert locks.unmet(project / "pyproject.toml", lock, ["dev"]) == [
        "pylock.dev.toml: 'fastapi>=0.115' is not met by the locked 0.110.0",
        "pylock.dev.toml: 'pytest>=8' is not locked",
    ]
    assert locks.unmet(project / "pyproject.toml", project / "pylock.gpu.toml") == [
        "pylock.gpu.toml: missing"
    ]


def test_the_script_runs_before_anything_is_installed(project: Path) -> None:
    """`make lock` runs it by path with the bare interpreter: stdlib only, clear exit codes."""
    script = Path(locks.__file__)
    run = [sys.executable, "-I", str(script), "--pyproject", str(project / "pyproject.toml")]
    listed = subprocess.run([*run, "inputs", "--extra", "cpu"], capture_output=True, text=True)
    assert listed.returncode == 0 and listed.stdout.splitlines()[-1] == "torch==2.13.0+cpu"
    missing = subprocess.run([*run, "check", str(project / "pylock.dev.toml")],
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 1 and "make lock" in missing.stderr
    bad = subprocess.run([*run, "inputs", "--extra", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr

"""Shared fixtures for the kit's tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from goldenpath.bake import BakeResult, bake
from goldenpath.matrix import SUPPORTED, Combination


@pytest.fixture(scope="session")
def baked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BakeResult]:
    """Every supported combination rendered and checked once per session (tests not run)."""
    root: Path = tmp_path_factory.mktemp("baked")
    return {
        combination_id(c): bake(c, root / c.template / c.name, run_tests=False) for c in SUPPORTED
    }


def combination_id(combination: Combination) -> str:
    return f"{combination.template}:{combination.name}"


def git(cwd: Path, *args: str) -> str:
    """git with an identity, for tests that commit (a CI runner may have none)."""
    done = subprocess.run(
        ["git", "-c", "user.name=kit", "-c", "user.email=kit@example.com", *args],
        cwd=cwd, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout

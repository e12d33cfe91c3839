"""A render's `make lock` writes hashed PEP 751 locks with pip's own `pip lock`; `make install`
and the image install exactly what the locks pin (torch's CPU build for `cpu` and the dev
environment, the CUDA build for `gpu`); `make lock-check` names a dependency added without
relocking. Offline: pip resolves against local indexes built from the render's own
requirements (one minimal wheel per requirement), with no machine configuration."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from goldenpath.bake import render
from goldenpath.matrix import Combination

from .test_torch_install import CPU, CUDA, VERSION, resolve, wheel

DEV_TOOLS = {"pip", "setuptools", "wheel"}


def pinned_version(requirement: Requirement) -> str:
    """A version that meets the requirement: its `==` pin or its lower bound."""
    for spec in requirement.specifier:
        if spec.operator in ("==", ">=", "~="):
            return spec.version
    return "1.0"


def fake_indexes(project: Path, root: Path) -> dict[str, str]:
    """A default and a CPU index holding what the project requires, like the real ones."""
    default, cpu = root / "default", root / "cpu"
    script = project / "src" / project.name.replace("-", "_") / "platform" / "locks.py"
    listed = subprocess.run(
        [sys.executable, str(script), "--pyproject", str(project / "pyproject.toml"),
         "inputs", "--extra", "dev", "--extra", "cpu", "--extra", "gpu"],
        capture_output=True, text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    for line in filter(None, listed):
        requirement = Requirement(line)
        if requirement.name != "torch":
            wheel(default, requirement.name.replace("-", "_"), pinned_version(requirement))
    wheel(default, "torch", VERSION, ("nvidia_cublas_cu12==12.8.4.1",))  # the CUDA build
    wheel(default, "nvidia_cublas_cu12", "12.8.4.1")
    wheel(cpu, "torch", f"{VERSION}+cpu")
    return {"default": default.as_uri(), "cpu": cpu.as_uri()}


def offline_env(indexes: dict[str, str]) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    return clean | {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": indexes["default"],
                    "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}  # fmt: skip


def make(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`make` with the kit's interpreter (its pip has `pip lock`) standing for the project's
    .venv, marked installed, so nothing is installed from the fake indexes."""
    venv = project.parent / "venv"
    venv.mkdir(exist_ok=True)
    (venv / ".installed").touch()
    command = ["make", *args, f"PY={sys.executable}", f"VENV={venv}"]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip


def locked(path: Path) -> dict[str, str]:
    packages = tomllib.loads(path.read_text())["packages"]
    for package in packages:
        assert package["wheels"] and all(w["hashes"]["sha256"] for w in package["wheels"])
    return {p["name"]: p["version"] for p in packages if p["name"] not in DEV_TOOLS}


@pytest.fixture(scope="module", params=["batch-inference", "agent-orchestrator"])
def locked_project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp(f"locks-{request.param}")
    project = render(Combination(request.param, "defaults", {}), root / "render")
    indexes = fake_indexes(project, root / "indexes")
    env = offline_env(indexes)
    done = make(project, env, "lock", f"TORCH_INDEX={indexes['cpu']}")
    assert done.returncode == 0, done.stderr[-2000:]
    return project, indexes, env


def test_make_lock_pins_the_right_torch_for_each_environment(locked_project, tmp_path: Path):
    project, _indexes, _env = locked_project
    locks = {p.name: locked(p) for p in sorted(project.glob("pylock.*.toml"))}
    if "torch==" not in (project / "pyproject.toml").read_text():
        assert sorted(locks) == ["pylock.dev.toml", "pylock.image.toml"]
        assert not any("torch" in lock for lock in locks.values())
        return
    assert sorted(locks) == ["pylock.cpu.toml", "pylock.dev.toml", "pylock.gpu.toml"]
    for name in ("pylock.dev.toml", "pylock.cpu.toml"):
        assert locks[name]["torch"] == CPU["torch"] and "nvidia-cublas-cu12" not in locks[name]
    assert {k: locks["pylock.gpu.toml"][k] for k in CUDA} == CUDA
    assert "pytest" in locks["pylock.dev.toml"] and "pytest" not in locks["pylock.cpu.toml"]


def test_make_install_and_the_image_install_exactly_the_lock(locked_project, tmp_path: Path):
    project, indexes, _env = locked_project
    recipe = subprocess.run(["make", "-n", "-B", ".venv/.installed"], cwd=project,
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "pip install -q -r pylock.dev.toml" in recipe and "torch==" not in recipe
    assert "-e '.[dev,cpu]'" not in recipe, "with a lock nothing is resolved afresh"
    line = next(x for x in recipe.splitlines() if "-r pylock.dev.toml" in x)
    installed = resolve(line, indexes, tmp_path, cwd=project)
    assert installed == locked(project / "pylock.dev.toml")

    dockerfile = (project / "Dockerfile").read_text()
    step = re.search(r'RUN --mount=[^\n]*\\\n\s+(if \[ -f "\$LOCK" \].*?); fi\n', dockerfile, re.S)
    assert step, "the Dockerfile's dependency step"
    shell = step.group(1).split("; \\\n")[0] + "; fi"  # the locked branch
    default_lock = re.search(r"^ARG LOCK=(\S+)$", dockerfile, re.M)
    assert default_lock
    images = (
        {"cpu": "pylock.cpu.toml", "gpu": "pylock.gpu.toml"}
        if "ACCELERATOR" in dockerfile
        else {"image": "pylock.image.toml"}
    )
    for lock in images.values():
        built = resolve(shell, indexes, tmp_path, cwd=project, LOCK=lock)
        assert built == locked(project / lock), lock
    assert "pylock.*.tom[l]" in dockerfile, "the lock reaches the build context's layer"


def test_lock_check_names_a_dependency_added_without_relocking(locked_project):
    project, _indexes, env = locked_project
    assert make(project, env, "lock-check").returncode == 0
    pyproject = project / "pyproject.toml"
    original = pyproject.read_text()
    try:
        pyproject.write_text(original.replace('"httpx>=0.27",', '"httpx>=0.27",\n    "rich>=13",'))
        done = make(project, env, "lock-check")
        assert done.returncode != 0
        assert "pylock.dev.toml: 'rich>=13' is not locked" in done.stderr
        assert "run `make lock`" in done.stderr
    finally:
        pyproject.write_text(original)

"""Every install command the kit and its renders run takes torch's CPU build from PyTorch's CPU
index for `cpu` and the CUDA build for `gpu`, proven by pip itself resolving each command
(`--dry-run --report`) against two local indexes that mimic the real ones: a default index
whose `torch==X` is the CUDA build (it needs nvidia-* wheels, as on the real index), and a CPU
index holding `X+cpu`. No machine configuration (this machine's own wheel folder holds `+cpu`)
takes part."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from goldenpath import KIT_ROOT
from goldenpath.bake import BakeResult

from .test_generated import IDS

VERSION = "2.13.0"


def wheel(index: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> None:
    """A minimal valid wheel in a PEP 503 'simple' folder: metadata is all pip resolves on."""
    folder = index / name.replace("_", "-")
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}"
    metadata = "\n".join(
        ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        + [f"Requires-Dist: {r}" for r in requires]
    )
    files = {
        f"{name}-{version}.dist-info/METADATA": metadata + "\n",
        f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{name}/__init__.py": "",
    }
    files[f"{name}-{version}.dist-info/RECORD"] = "".join(f"{f},,\n" for f in files)
    with zipfile.ZipFile(folder / f"{dist}-py3-none-any.whl", "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    links = "".join(f'<a href="{w.name}">{w.name}</a>' for w in sorted(folder.glob("*.whl")))
    (folder / "index.html").write_text(f"<html><body>{links}</body></html>")


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("indexes")
    default, cpu = root / "default", root / "cpu"
    wheel(default, "torch", VERSION, ("nvidia_cublas_cu12==12.8.4.1",))  # the CUDA build
    wheel(default, "nvidia_cublas_cu12", "12.8.4.1")
    wheel(cpu, "torch", f"{VERSION}+cpu")
    return {"default": default.as_uri(), "cpu": cpu.as_uri()}


def resolve(
    command: str, indexes: dict[str, str], tmp_path: Path, cwd: Path | None = None, **env: str
) -> dict[str, str]:
    """Run one shell install command with pip in dry-run mode: {name: version} it would install."""
    report = tmp_path / "report.json"
    pip = f"{shlex.quote(sys.executable)} -m pip install --dry-run --ignore-installed -q"
    pip += f" --report {report}"
    command = re.sub(r"\S*(?:python\S*\s+-m\s+pip|/pip)\s+install(?:\s+-q)?", pip, command)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    clean |= {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": indexes["default"],
              "PIP_DISABLE_PIP_VERSION_CHECK": "1", **env}  # fmt: skip
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=clean,
                          cwd=cwd, timeout=120, check=False)  # fmt: skip
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    installs = json.loads(report.read_text())["install"]
    return {
        item["metadata"]["name"].replace("_", "-").lower(): item["metadata"]["version"]
        for item in installs
    }


def torch_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "torch==" in line and "install" in line]


def make_commands(project: Path, target: str, **variables: str) -> str:
    """The recipe `make` would run for `target`, variables applied (nothing is run)."""
    assigned = [f"{k}={v}" for k, v in variables.items()]
    done = subprocess.run(["make", "-n", "-B", target, *assigned], cwd=project,
                          capture_output=True, text=True, check=True, timeout=30)  # fmt: skip
    return done.stdout


CUDA = {"torch": VERSION, "nvidia-cublas-cu12": "12.8.4.1"}
CPU = {"torch": f"{VERSION}+cpu"}


def test_the_kits_own_install_takes_the_cpu_build(indexes: dict[str, str], tmp_path: Path) -> None:
    recipe = make_commands(KIT_ROOT, ".venv/.installed", TORCH_INDEX=indexes["cpu"])
    (line,) = torch_lines(recipe)
    assert resolve(line, indexes, tmp_path) == CPU


@pytest.mark.parametrize("key", IDS)
def test_every_rendered_install_command_takes_the_right_build(
    baked: dict[str, BakeResult], key: str, indexes: dict[str, str], tmp_path: Path
) -> None:
    project = baked[key].project
    assert project is not None
    pyproject = (project / "pyproject.toml").read_text()
    uses_torch = "torch==" in pyproject
    recipe = make_commands(project, ".venv/.installed", TORCH_INDEX=indexes["cpu"])
    if not uses_torch:
        assert not torch_lines(recipe) and "torch" not in (project / "Dockerfile").read_text()
        return
    # make install (laptops and CI: the generated CI runs make) takes the CPU build
    (line,) = torch_lines(recipe)
    assert resolve(line, indexes, tmp_path) == CPU
    # the extras themselves: `cpu` cannot be met by the default index alone (no silent CUDA)
    extras = dict(re.findall(r'^(cpu|gpu) = \["(torch==[^"]+)"\]', pyproject, re.M))
    assert "error" in resolve(f"python -m pip install '{extras['cpu']}'", indexes, tmp_path)
    assert resolve(f"python -m pip install '{extras['gpu']}'", indexes, tmp_path) == CUDA
    # the Dockerfile: CPU images from the CPU index, GPU images the CUDA build
    dockerfile = (project / "Dockerfile").read_text()
    match = re.search(r'(if \[ "\$ACCELERATOR" = gpu \].*?fi);', dockerfile, re.S)
    assert match, "the Dockerfile's torch step"
    shell = match.group(1).replace("\\\n", "\n")
    built = {
        accelerator: resolve(
            shell, indexes, tmp_path, ACCELERATOR=accelerator, TORCH_INDEX=indexes["cpu"]
        )
        for accelerator in ("cpu", "gpu")
    }
    assert built == {"cpu": CPU, "gpu": CUDA}
    default = re.search(r"^ARG ACCELERATOR=(\w+)$", dockerfile, re.M)
    chosen = baked[key].combination.answers.get("accelerator", "cpu")
    assert default and default.group(1) == chosen, "the image builds what the answer chose"
    ci = [p for p in (project / ".github", project / ".gitlab-ci.yml") if p.exists()]
    for path in ci:
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        texts = [p.read_text() for p in files]
        assert not any("pip install" in t and "torch" in t for t in texts), "CI installs via make"

"""Template CI: render each template with each curated combination, check what comes out,
and run the generated project's own test suite.

Used by the kit's tests and by `goldenpath bake` for teams that fork the kit.
"""

from __future__ import annotations

import compileall
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from cookiecutter.main import cookiecutter

from . import TEMPLATES_DIR
from .matrix import Combination

LEFTOVER_MARKERS = re.compile(r"\{\{-?\s*cookiecutter|\{%-?\s*(if|elif|for|include|set|raw)\b")
QUIET = "GOLDENPATH_QUIET"  # read by the post-generation hook
SKIP_DIRS = {".venv", ".data", "__pycache__", ".ruff_cache", ".pytest_cache", ".mypy_cache"}


@dataclass
class BakeResult:
    combination: Combination
    project: Path | None = None
    failures: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


def render(combination: Combination, output_dir: Path, templates_dir: Path = TEMPLATES_DIR) -> Path:
    """Render one combination by the template's own path (the chooser always picks the first)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    os.environ[QUIET] = "1"  # the hook's "is ready, next: cd ..." is not true of a bake
    project = cookiecutter(
        str(templates_dir / combination.template),
        no_input=True,
        extra_context=dict(combination.answers),
        output_dir=str(output_dir),
    )
    return Path(project)


def _text_files(project: Path) -> Iterable[Path]:
    for path in project.rglob("*"):
        if path.is_file() and not SKIP_DIRS.intersection(path.relative_to(project).parts):
            yield path


def check_leftover_markers(project: Path) -> list[str]:
    found = []
    for path in _text_files(project):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if LEFTOVER_MARKERS.search(text):
            found.append(f"unrendered template marker in {path.relative_to(project)}")
    return found


def check_parses(project: Path) -> list[str]:
    """Every .py compiles; every YAML, JSON and TOML file parses."""
    failures = []
    if not compileall.compile_dir(str(project / "src"), quiet=2, force=True, legacy=False):
        failures.append("a Python file under src/ does not compile")
    if (project / "tests").is_dir() and not compileall.compile_dir(
        str(project / "tests"), quiet=2, force=True
    ):
        failures.append("a Python file under tests/ does not compile")
    loaders: dict[str, Callable[[str], object]] = {
        ".yaml": lambda text: list(yaml.safe_load_all(text)),
        ".yml": lambda text: list(yaml.safe_load_all(text)),
        ".json": json.loads,
        ".toml": tomllib.loads,
    }
    for path in _text_files(project):
        loader = loaders.get(path.suffix)
        if loader is None:
            continue
        try:
            loader(path.read_text(encoding="utf-8"))
        except Exception as exc:  # any parser error is a template defect
            failures.append(f"{path.relative_to(project)} does not parse: {exc}")
    return failures


def _run(command: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def check_ruff(project: Path) -> list[str]:
    """Lint and formatting, as the generated project's own `make lint` runs them."""
    failures = []
    for command in (["check"], ["format", "--check"]):
        done = _run([sys.executable, "-m", "ruff", *command, "--no-cache", "."], project, 120)
        if done.returncode != 0:
            failures.append(f"ruff {' '.join(command)} failed:\n{done.stdout[-4000:]}")
    return failures


COLLECTED = re.compile(r"collected (\d+) items?")
OUTCOME = re.compile(r"^\S+\.py ([.sFExX]+)")  # a progress line: "tests/test_x.py ..F.s"

Progress = Callable[[int, int], None]  # (tests run, tests collected)


def run_suite(
    project: Path, timeout: float = 900, progress: Progress | None = None, markers: str = ""
) -> list[str]:
    """Run the generated project's own tests with this interpreter (one shared environment),
    reporting tests run out of collected as pytest prints them; `markers` selects (`-m`)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    command = [sys.executable, "-m", "pytest", "-x", "-p", "no:cacheprovider", "--color=no"]
    command += ["-m", markers] if markers else []
    process = subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    output: list[str] = []
    total = done = 0
    try:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if match := COLLECTED.search(line):
                total = int(match.group(1))
            elif match := OUTCOME.match(line):
                done += len(match.group(1))
            else:
                continue
            if progress is not None:
                progress(done, total)
        returncode = process.wait()
    finally:
        timer.cancel()
    if returncode == 0 or (returncode == 5 and markers):  # 5: the selection left no tests
        return []
    reason = f"killed after {timeout:g} s" if returncode < 0 else f"exit code {returncode}"
    return [f"generated test suite failed ({reason}):\n{''.join(output)[-6000:]}"]


SHELL_BLOCK = re.compile(r"^```(?:sh|bash|shell|console)\n(.*?)^```", re.S | re.M)
PLACEHOLDER = re.compile(r"<[a-z][^>]*>|\$[A-Z][A-Z_]*")  # <id>, $THREAD: filled by a person
ASSIGNMENT = re.compile(r"^[A-Z][A-Z_]*='")  # a setting shown as an example, not a command


def readme_commands(readme: Path) -> list[str]:
    """The commands of the README's shell blocks, continuation lines joined, comments and
    lines a person must fill in (placeholders, example settings) left out."""
    commands = []
    for block in SHELL_BLOCK.findall(readme.read_text()):
        for command in re.sub(r"\\\n\s*", " ", block).splitlines():
            command = re.sub(r"\s+#.*$", "", command).strip()
            if command and not command.startswith("#") and not ASSIGNMENT.match(command):
                commands.append(command)
    return [c for c in commands if not PLACEHOLDER.search(c.replace("$(", ""))]


def run_readme_commands(project: Path, package: str, port: int, env: dict[str, str]) -> list[str]:
    """Run each README command as typed, against the live service: `make` targets must exist
    (`make -n`: they install, so they are not run), `.venv/bin/<cli>` runs with this
    interpreter, and curl must get a success status."""
    cli = f"{shlex.quote(sys.executable)} -m {package}.cli"
    failures = []
    for command in readme_commands(project / "README.md"):
        typed = command
        if command.startswith("make "):
            command = command.replace("make ", "make -n ", 1)
        command = re.sub(r"\.venv/bin/[a-z0-9-]+", cli, command)
        command = re.sub(r"(localhost|127\.0\.0\.1):8000", f"127.0.0.1:{port}", command)
        command = re.sub(r"\bcurl -s", "curl --fail-with-body -s", command)
        done = subprocess.run(["sh", "-c", command], cwd=project, capture_output=True,
                              text=True, timeout=180, env=env, check=False)  # fmt: skip
        if done.returncode != 0:
            failures.append(f"README command failed as typed ({done.returncode}): {typed}\n"
                            f"{(done.stdout + done.stderr)[-1500:]}")  # fmt: skip
    return failures


def _serve_then_terminate(
    process: subprocess.Popen[str], port: int, timeout: float, while_up: Callable[[], list[str]]
) -> list[str]:
    failures: list[str] = []
    deadline = time.monotonic() + timeout
    ready = False
    while not ready and time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                ready = answer.status == 200
        except OSError:
            time.sleep(0.2)
    if not ready:
        failures.append(f"`make run` was not ready on 127.0.0.1:{port} in {timeout:g} s")
    else:
        failures += while_up()
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait(10)
            failures.append("`make run` ignored SIGTERM for 60 s")
        if ready and code != 0:
            failures.append(f"`make run` exited {code} on SIGTERM, not 0")
    return failures


def smoke_serve(project: Path, package: str, timeout: float = 120) -> list[str]:
    """`make run`'s command with this interpreter: it must become ready on 127.0.0.1, answer
    its README's commands as typed, then stop on SIGTERM (what Kubernetes sends on every
    rollout) with exit code 0 and no traceback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "HOST": "127.0.0.1", "PORT": str(port),
           "PYTHONPATH": str(project / "src"), "AGENT_URL": f"http://127.0.0.1:{port}"}  # fmt: skip
    with tempfile.TemporaryFile(mode="w+") as log:
        command = [sys.executable, "-m", f"{package}.cli", "serve"]
        process = subprocess.Popen(
            command, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
        failures = _serve_then_terminate(
            process, port, timeout, lambda: run_readme_commands(project, package, port, env)
        )
        log.seek(0)
        output = log.read()
    if re.search(r"ERROR\s+uvicorn\.error|Exception in ASGI application|CancelledError", output):
        failures.append("`make run` logged an error while serving or shutting down")
    return [f"{f}:\n{output[-4000:]}" for f in failures]


def bake(
    combination: Combination,
    output_dir: Path,
    run_tests: bool = True,
    templates_dir: Path = TEMPLATES_DIR,
    progress: Progress | None = None,
) -> BakeResult:
    result = BakeResult(combination)
    started = time.perf_counter()
    try:
        result.project = render(combination, output_dir, templates_dir)
    except Exception as exc:  # cookiecutter raises several types; report, don't crash the run
        result.failures.append(f"render failed: {exc}")
        return result
    result.seconds["render"] = time.perf_counter() - started
    started = time.perf_counter()
    result.failures += check_leftover_markers(result.project)
    result.failures += check_parses(result.project)
    result.failures += check_ruff(result.project)
    result.seconds["checks"] = time.perf_counter() - started
    if run_tests and result.ok:
        started = time.perf_counter()
        result.failures += run_suite(result.project, progress=progress)
        if result.ok:
            cruft = json.loads((result.project / ".cruft.json").read_text())
            package = cruft["context"]["cookiecutter"]["package_name"]
            result.failures += smoke_serve(result.project, package)
        result.seconds["tests"] = time.perf_counter() - started
    return result

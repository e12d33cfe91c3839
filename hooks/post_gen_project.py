"""Shape the generated project: drop files of options not chosen, record the answers for
`cruft update`, and print the next commands. Shared by all goldenpath templates."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ANSWERS: dict = json.loads(r"""{{ cookiecutter | tojson }}""")
PACKAGE = Path("src") / ANSWERS["package_name"]

MACHINE_SPECIFIC = {"_output_dir", "_repo_dir", "_checkout", "_cookiecutter"}
# (template kind, answer, value that keeps the files) -> files that only that value needs.
OPTIONAL_FILES: dict[tuple[str, str, str], list[Path]] = {
    ("*", "ci_provider", "github"): [Path(".github")],
    ("*", "ci_provider", "gitlab"): [Path(".gitlab-ci.yml")],
    ("rag-service", "streaming", "y"): [
        PACKAGE / "api" / "routes" / "stream.py",
        Path("tests") / "test_stream.py",
    ],
    ("rag-service", "hybrid_search", "y"): [Path("tests") / "test_hybrid_search.py"],
    ("batch-inference", "storage", "s3"): [Path("tests") / "test_s3_storage.py"],
    ("batch-inference", "task", "custom"): [PACKAGE / "predictors" / "custom.py"],
    ("agent-orchestrator", "human_approval", "y"): [
        Path("tests") / "test_approval.py",
        Path("tests") / "test_decisions.py",
    ],
    ("agent-orchestrator", "checkpointer", "postgres"): [
        Path("tests") / "test_postgres_checkpointer.py"
    ],
}


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def remove_unselected_files() -> None:
    for (kind, field, keep_value), paths in OPTIONAL_FILES.items():
        if kind not in ("*", ANSWERS["_kind"]) or ANSWERS.get(field) == keep_value:
            continue
        for path in paths:
            remove(path)


def _git(repo: str, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", repo, *args], capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def record_answers() -> None:
    """Write .cruft.json (unless `cruft create` is writing it) so `cruft update` works later."""
    target = Path(".cruft.json")
    if target.exists() or "_repo_dir" not in ANSWERS:
        return  # cruft renders without _repo_dir and writes .cruft.json itself
    repo_dir = Path(ANSWERS["_repo_dir"])
    if not repo_dir.is_absolute():  # relative to where cookiecutter ran, not to this hook
        repo_dir = Path(os.environ.get("PWD", ".")) / repo_dir
    repo_dir = str(repo_dir.resolve())
    top = _git(repo_dir, "rev-parse", "--show-toplevel")
    directory = str(Path(repo_dir).relative_to(top)) if top else None
    template = ANSWERS["_template"]
    if top and not ("://" in template or template.startswith("git@")):
        template = top  # a local kit: cruft needs the repository root, not the chosen folder
    record = {
        "template": template,
        "commit": _git(repo_dir, "rev-parse", "HEAD") if top else None,
        "checkout": ANSWERS.get("_checkout"),
        "context": {"cookiecutter": {
            k: v for k, v in ANSWERS.items() if k not in MACHINE_SPECIFIC
        }},
        "directory": None if directory in (None, ".") else directory,
    }
    target.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def print_next_steps() -> None:
    """Only where a person will cd into it: not in a bake, nor cruft update's scratch copy."""
    here = Path.cwd().resolve()
    if os.environ.get("GOLDENPATH_QUIET") or here.is_relative_to(
        Path(tempfile.gettempdir()).resolve()
    ):
        return
    where = os.path.relpath(here, os.environ.get("PWD", here))
    where = where if where.startswith(".") else f"./{where}"
    print(f"\n{ANSWERS['project_name']} is ready in {where}. Next:\n")
    print(f"  cd {where}")
    print("  make test    # installs into .venv, runs lint and the test suite")
    print("  make run     # serves on http://127.0.0.1:8000 (docs at /docs)\n")


def main() -> None:
    remove_unselected_files()
    record_answers()
    print_next_steps()


if __name__ == "__main__":
    main()

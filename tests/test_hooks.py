"""The shared pre-generation hook refuses every bad answer with one clear line and leaves
nothing on disk."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from goldenpath import TEMPLATES_DIR
from goldenpath.matrix import REFUSED, Refused


def run_cookiecutter(
    template: str, answers: dict[str, str], out: Path
) -> subprocess.CompletedProcess[str]:
    args = [f"{key}={value}" for key, value in answers.items()]
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(out),
         str(TEMPLATES_DIR / template), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_at_least_twelve_distinct_refusals_are_covered() -> None:
    distinct = {tuple(sorted(r.answers.items())) for r in REFUSED}
    assert len(distinct) >= 12


@pytest.mark.parametrize("refused", REFUSED, ids=lambda r: f"{r.template}:{sorted(r.answers)}")
def test_bad_answer_is_refused_with_one_clear_line_and_nothing_left(
    refused: Refused, tmp_path: Path
) -> None:
    done = run_cookiecutter(refused.template, refused.answers, tmp_path)
    assert done.returncode != 0
    assert list(tmp_path.iterdir()) == [], "a refused render left files behind"
    if refused.by == "cookiecutter":
        assert refused.message in done.stderr
        return
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    fields = [line.split("=", 1)[0] for line in errors]
    assert errors and len(set(fields)) == len(fields), done.stderr  # one line per bad field
    assert any(refused.message in line for line in errors), done.stderr
    assert all("is not allowed" in line for line in errors)


@pytest.mark.parametrize(
    "answers",
    [
        {"project_slug": "a", "package_name": "a"},
        {"project_slug": "x" * 63, "package_name": "x_service"},
        {"package_name": "payments_v2", "aws_region": "eu-central-2"},
        {"availability_slo": "99.999", "latency_slo_p95_ms": "10"},
        {"owner_email": "ml.platform+alerts@corp.example.co.uk", "owner_team": "team-7"},
    ],
)
def test_good_edge_answers_are_accepted(answers: dict[str, str], tmp_path: Path) -> None:
    done = run_cookiecutter("batch-inference", answers, tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.iterdir())) == 1


def test_language_model_latency_floor_allows_extractive_mode(tmp_path: Path) -> None:
    done = run_cookiecutter("rag-service", {"latency_slo_p95_ms": "200"}, tmp_path)
    assert done.returncode == 0, done.stderr


def test_every_bad_answer_is_reported_at_once_with_the_replay_file(tmp_path: Path) -> None:
    bad = {
        "project_slug": "Bad Slug",
        "package_name": "class",
        "owner_email": "nobody",
        "latency_slo_p95_ms": "fast",
        "human_approval": "y",
        "checkpointer": "sqlite",
    }
    done = run_cookiecutter("agent-orchestrator", bad, tmp_path)
    assert done.returncode != 0 and list(tmp_path.iterdir()) == []
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    named = sorted(line.split("=", 1)[0].removeprefix("error: ") for line in errors)
    # the slug also makes the default repository_url, which is refused with it
    assert named == sorted((bad.keys() - {"human_approval"}) | {"repository_url"}), done.stderr
    assert "--replay-file ~/.cookiecutter_replay/agent-orchestrator.json" in done.stderr

"""`goldenpath new` asks cookiecutter's questions under a real terminal and re-asks a bad answer
at once with the hook's one-line reason; a refused combination is caught when its second
answer is typed; the project it renders is the one plain cookiecutter would make."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect
import pytest

from goldenpath import KIT_ROOT

GOLDENPATH = str(Path(sys.executable).with_name("goldenpath"))
PROMPT_END = r"\): "  # rich ends each prompt with its default in parentheses


def spawn(*args: str, cwd: Path) -> pexpect.spawn:
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}
    return pexpect.spawn(GOLDENPATH, ["new", *args], cwd=str(cwd), env=env, encoding="utf-8",
                         timeout=60, dimensions=(50, 200))  # fmt: skip


def answer(child: pexpect.spawn, question: str, value: str = "") -> None:
    child.expect(question)
    child.expect(PROMPT_END)
    child.sendline(value)


def test_a_bad_answer_is_asked_again_with_its_reason_then_the_project_is_made(
    tmp_path: Path,
) -> None:
    child = spawn("batch-inference", "-o", str(tmp_path), cwd=tmp_path)
    answer(child, "Service name", "Search v2.0")
    child.expect(r"Repository and Kubernetes name.*search-v2-0")  # a real slugifier's default
    child.expect(PROMPT_END)
    child.sendline("Bad Slug")
    child.expect(r"error: project_slug='Bad Slug' is not allowed: use 1-63 lowercase")
    answer(child, "Repository and Kubernetes name", "search-two")
    answer(child, "Python package name", "")
    answer(child, "One sentence", "")
    answer(child, "Owning team", "ML Platform")
    child.expect(r"error: owner_team='ML Platform' is not allowed")
    answer(child, "Owning team", "ml-platform")
    answer(child, "Owning team's email", "nobody")
    child.expect(r"error: owner_email='nobody' is not allowed")
    answer(child, "Owning team's email", "")
    while True:  # the rest keep their defaults
        index = child.expect([PROMPT_END, r"made (\S+)", pexpect.EOF])
        if index == 0:
            child.sendline("")
        else:
            break
    assert index == 1, child.before
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    project = tmp_path / "search-two"
    answers = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert (answers["project_slug"], answers["package_name"]) == ("search-two", "search_two")
    assert answers["owner_team"] == "ml-platform"


def test_a_refused_combination_is_caught_when_its_second_answer_is_typed(tmp_path: Path) -> None:
    template = KIT_ROOT / "templates" / "agent-orchestrator"
    questions = json.loads((template / "cookiecutter.json").read_text())
    order = [k for k in questions if not k.startswith("_")]
    assert order.index("checkpointer") < order.index("human_approval")
    child = spawn("agent-orchestrator", "-o", str(tmp_path), cwd=tmp_path)
    while child.expect([r"checkpointed\?[\s\S]*?" + PROMPT_END, PROMPT_END]) == 1:
        child.sendline("")  # defaults up to the checkpointer
    child.sendline("2")  # sqlite
    answer(child, "Ask a human before risky tools run", "")  # default: y
    child.expect(r"error: checkpointer='sqlite' is not allowed: human approval resumes")
    answer(child, "Ask a human before risky tools run", "2")  # n: sqlite is fine without
    child.sendcontrol("c")  # stop before rendering: nothing may be written
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus != 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["Q&A Bot", "Search v2.0", "Ünïcode Service"])
def test_default_slugs_of_awkward_names_are_accepted(name: str, tmp_path: Path) -> None:
    child = spawn("rag-service", "--no-input", "-o", str(tmp_path), f"project_name={name}",
                  cwd=tmp_path)  # fmt: skip
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    (project,) = tmp_path.iterdir()
    assert project.name.replace("-", "").isalnum() and project.name.isascii()

"""`goldenpath new`: cookiecutter's questions, each answer checked as it is typed.

Plain cookiecutter asks every question first and the pre-generation hook judges the answers
at the end, so one typo costs the whole session. Here the same questions are asked (the
template's own cookiecutter.json, its prompts and defaults) and judged by the same hook's
checks as soon as they can be: a field alone on entry, a combination once both of its answers
are known. A refused answer is asked again with the one-line reason. Then cookiecutter renders
the project as usual, so its hooks, replay file and `.cruft.json` are the same as ever.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import jinja2
from cookiecutter.generate import generate_context
from cookiecutter.main import cookiecutter
from cookiecutter.prompt import prompt_choice_for_config, read_user_variable, render_variable
from cookiecutter.utils import create_env_with_context

HOOK = Path("hooks") / "pre_gen_project.py"


class AnswerRefused(Exception):
    """An answer given on the command line (or with --no-input) that the hook refuses."""


def load_checks(template_dir: Path) -> ModuleType:
    """The template's pre-generation hook as a module: one source for every check.

    The hook is a Jinja template that embeds the answers; rendered with none it is plain
    Python whose `main()` is never called on import.
    """
    source = (
        jinja2.Environment()
        .from_string((template_dir / HOOK).read_text())
        .render(cookiecutter={}, _cookiecutter={})
    )
    module = ModuleType(f"goldenpath_checks_{template_dir.name.replace('-', '_')}")
    exec(compile(source, str(template_dir / HOOK), "exec"), module.__dict__)
    return module


def judge(checks: ModuleType, answers: dict[str, Any], field: str, options: dict[str, Any]) -> str:
    """The reason `answers[field]` is refused now, or "" when it is fine so far."""
    candidates: list[Callable[[dict[str, Any]], None]] = [
        lambda a: checks.check_choice(field, a, options)
    ]
    if field in checks.FIELD_CHECKS:
        candidates.append(checks.FIELD_CHECKS[field])
    for fields, check in checks.COMBINATION_CHECKS:
        if field in fields and all(f in answers for f in fields):
            candidates.append(check)
    for check in candidates:
        try:
            check(answers)
        except checks.Refusal as refusal:
            return str(refusal)
    return ""


def ask(
    template_dir: Path,
    extra_context: dict[str, str],
    no_input: bool,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Ask every question of the template in its order; re-ask a refused answer."""
    context = generate_context(
        context_file=str(template_dir / "cookiecutter.json"), extra_context=extra_context
    )
    options: dict[str, Any] = context["cookiecutter"]
    prompts = options.get("__prompts__", {})
    checks = load_checks(template_dir)
    env = create_env_with_context(context)
    answers: dict[str, Any] = OrderedDict(
        (k, v) for k, v in options.items() if k.startswith("_") and not k.startswith("__")
    )
    questions = [k for k in options if not k.startswith("_")]
    for number, field in enumerate(questions, 1):
        raw = options[field]
        prefix = f"  [dim][{number}/{len(questions)}][/] "
        while True:
            if isinstance(raw, list):
                value = prompt_choice_for_config(
                    answers, env, field, raw, no_input, prompts, prefix
                )
            else:
                value = render_variable(env, raw, answers)
                if not no_input:
                    value = read_user_variable(field, value, prompts, prefix)
            answers[field] = value
            reason = judge(checks, answers, field, options)
            if not reason:
                break
            if no_input:
                raise AnswerRefused(reason)
            say(f"error: {reason}")
            del answers[field]
    return {k: v for k, v in answers.items() if not k.startswith("_")}


def choose_template(kit: Path, no_input: bool) -> str:
    """The chooser's list (the kit's root cookiecutter.json), asked like cookiecutter does."""
    chooser = json.loads((kit / "cookiecutter.json").read_text())["templates"]
    names: list[str] = list(chooser)
    if no_input:
        return names[0]
    prompts = {"template": {"__prompt__": "Which golden path?"} | {
        n: f"{chooser[n]['title']}: {chooser[n]['description']}" for n in names
    }}  # fmt: skip
    env = create_env_with_context({"cookiecutter": {}})
    return str(prompt_choice_for_config({}, env, "template", names, False, prompts, ""))


def render(template_dir: Path, answers: dict[str, Any], output_dir: Path) -> Path:
    """Render with cookiecutter, answers already judged (its hook runs and agrees)."""
    logging.getLogger("cookiecutter").setLevel(logging.CRITICAL)  # its traceback, not ours
    project = cookiecutter(
        str(template_dir), no_input=True, extra_context=answers, output_dir=str(output_dir)
    )
    return Path(project)

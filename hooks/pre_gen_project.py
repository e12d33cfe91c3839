"""Validate every answer before a project is written; shared by all goldenpath templates.

A refusal is one line on stderr naming the field, the bad value and what is allowed, and a
non-zero exit: cookiecutter then deletes the half-made project directory, so nothing is left.
Only validation lives here (post_gen_project.py shapes the output).
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from collections.abc import Callable
from pathlib import Path

ANSWERS: dict = json.loads(r"""{{ cookiecutter | tojson }}""")
# The template's own cookiecutter.json: the allowed values of every choice.
OPTIONS: dict = json.loads(r"""{{ _cookiecutter | default({}) | tojson }}""")

AWS_REGIONS = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-1", "us-west-2",
        "ca-central-1", "ca-west-1", "sa-east-1", "mx-central-1",
        "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2",
        "eu-north-1", "eu-south-1", "eu-south-2",
        "ap-south-1", "ap-south-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
        "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
        "ap-southeast-5", "ap-southeast-7", "ap-east-1",
        "me-south-1", "me-central-1", "il-central-1", "af-south-1",
    }
)  # fmt: skip
SLUG = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")  # a Kubernetes DNS-1123 label
PACKAGE = re.compile(r"^[a-z_][a-z0-9_]*$")
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
REPOSITORY_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~-]+){2,}/?$")
TEAM = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Answers produced by a language model call are slow: a p95 under this is not a real SLO.
LLM_LATENCY_FLOOR_MS = 500


class Refusal(Exception):
    """An answer that cannot make a working service."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        super().__init__(f"{field}={value!r} is not allowed: {allowed}")
        self.field, self.value, self.allowed = field, value, allowed


def check_project_slug(value: str) -> None:
    if not SLUG.match(value):
        raise Refusal(
            "project_slug",
            value,
            "use 1-63 lowercase letters, digits and hyphens, starting with a letter and not"
            " ending with a hyphen (a Kubernetes DNS-1123 label)",
        )


def check_package_name(value: str) -> None:
    if not PACKAGE.match(value):
        raise Refusal(
            "package_name", value, "use lowercase letters, digits and underscores, not a digit first"
        )
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        raise Refusal("package_name", value, "it is a Python keyword; choose another name")
    if value in sys.stdlib_module_names or value in {"platform", "tests", "test"}:
        raise Refusal(
            "package_name", value, "it shadows a standard-library module; choose another name"
        )


def check_owner_team(answers: dict) -> None:
    if not TEAM.match(answers["owner_team"]):
        raise Refusal(
            "owner_team", answers["owner_team"], "use lowercase letters, digits and hyphens"
        )


def check_owner_email(answers: dict) -> None:
    if not EMAIL.match(answers["owner_email"]):
        raise Refusal("owner_email", answers["owner_email"], "give an address like team@example.com")


def check_repository_url(answers: dict) -> None:
    if not REPOSITORY_URL.match(answers["repository_url"]):
        raise Refusal(
            "repository_url",
            answers["repository_url"],
            "give the repository's https URL, such as https://github.com/acme/rag-service",
        )


def check_region(value: str) -> None:
    if value not in AWS_REGIONS:
        raise Refusal("aws_region", value, "use an AWS region code such as us-east-1 or eu-west-1")


def _number(field: str, value: str, low: float, high: float, allowed: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise Refusal(field, value, allowed) from None
    if not low <= number <= high:
        raise Refusal(field, value, allowed)
    return number


def check_availability(answers: dict) -> None:
    allowed = "a percentage from 90 to 99.999, such as 99.9"
    _number("availability_slo", answers["availability_slo"], 90.0, 99.999, allowed)


def check_latency(answers: dict) -> None:
    allowed = "a whole number of milliseconds from 10 to 60000"
    value = answers["latency_slo_p95_ms"]
    if not str(value).strip().isdigit():
        raise Refusal("latency_slo_p95_ms", value, allowed)
    _number("latency_slo_p95_ms", value, 10, 60000, allowed)


def check_approval_ttl(answers: dict) -> None:
    allowed = "a whole number of minutes from 1 to 10080 (a week)"
    value = str(answers["approval_ttl_minutes"]).strip()
    if not value.isdigit():
        raise Refusal("approval_ttl_minutes", answers["approval_ttl_minutes"], allowed)
    _number("approval_ttl_minutes", value, 1, 10080, allowed)


def check_run_budget(answers: dict) -> None:
    allowed = "US dollars from 0.01 to 10000, such as 1.00"
    _number("run_budget_usd", answers["run_budget_usd"], 0.01, 10000, allowed)


def check_choice(field: str, answers: dict, options: dict) -> None:
    """Choice answers given with --no-input or extra context bypass the prompt's menu."""
    allowed = options.get(field)
    if isinstance(allowed, list) and answers[field] not in allowed:
        raise Refusal(field, answers[field], "choose one of " + ", ".join(allowed))


def check_model_latency(answers: dict) -> None:
    model_calls = {
        "rag-service": answers.get("generation_mode") in {"openai-compatible", "bedrock"},
        "agent-orchestrator": answers.get("llm") in {"openai-compatible", "bedrock"},
    }.get(answers["_kind"], False)
    if model_calls and int(answers["latency_slo_p95_ms"]) < LLM_LATENCY_FLOOR_MS:
        raise Refusal(
            "latency_slo_p95_ms",
            answers["latency_slo_p95_ms"],
            f"at least {LLM_LATENCY_FLOOR_MS} ms when answers come from a language model",
        )


def check_approval_checkpointer(answers: dict) -> None:
    if answers["human_approval"] == "y" and answers["checkpointer"] == "sqlite":
        raise Refusal(
            "checkpointer",
            "sqlite",
            "human approval resumes a paused run from any replica; use checkpointer=postgres",
        )


# One check per answer: each judges only its own field, so every bad answer is reported.
FIELD_CHECKS: dict[str, Callable[[dict], None]] = {
    "project_slug": lambda a: check_project_slug(a["project_slug"]),
    "package_name": lambda a: check_package_name(a["package_name"]),
    "owner_team": check_owner_team,
    "owner_email": check_owner_email,
    "repository_url": check_repository_url,
    "aws_region": lambda a: check_region(a["aws_region"]),
    "availability_slo": check_availability,
    "latency_slo_p95_ms": check_latency,
    "approval_ttl_minutes": check_approval_ttl,
    "run_budget_usd": check_run_budget,
}
# Checks of answers that are each fine alone: (the fields they read, the check). A prompt
# applies one as soon as all its fields are answered; the first field that admits the
# combination is named (a template without a field skips the check).
COMBINATION_CHECKS: list[tuple[tuple[str, ...], Callable[[dict], None]]] = [
    (("latency_slo_p95_ms", "generation_mode"), check_model_latency),
    (("latency_slo_p95_ms", "llm"), check_model_latency),
    (("human_approval", "checkpointer"), check_approval_checkpointer),
]


def refusals(answers: dict, options: dict) -> list[Refusal]:
    """Every bad answer at once: one refusal per field, then the combinations of good ones."""
    found: dict[str, Refusal] = {}
    for field in answers:
        if field.startswith("_"):
            continue  # private answers are the template's, not the user's
        for check in (
            lambda a, f=field: check_choice(f, a, options),
            FIELD_CHECKS.get(field),
        ):
            if check is None or field in found:
                continue
            try:
                check(answers)
            except Refusal as refusal:
                found[field] = refusal
    for fields, check in COMBINATION_CHECKS:
        if all(f in answers for f in fields) and not found.keys() & set(fields):
            try:
                check(answers)
            except Refusal as refusal:
                found.setdefault(refusal.field, refusal)
    return list(found.values())


def replay_hint(answers: dict) -> str:
    """Cookiecutter saved the answers before this hook ran: say how to reuse them."""
    name = Path(str(answers.get("_repo_dir") or answers.get("_template") or "template")).name
    replay = f"~/.cookiecutter_replay/{name}.json"
    return (
        f"your answers are saved in {replay}: fix the fields above there and rerun"
        f" `cookiecutter --replay-file {replay} {answers.get('_template', '<template>')}`,"
        " or run `goldenpath new`, which checks each answer as you type it"
    )


def main() -> int:
    found = refusals(ANSWERS, OPTIONS)
    for refusal in found:
        sys.stderr.write(f"error: {refusal}\n")
    if found:
        sys.stderr.write(f"hint: {replay_hint(ANSWERS)}\n")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

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
TEAM = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Answers produced by a language model call are slow: a p95 under this is not a real SLO.
LLM_LATENCY_FLOOR_MS = 500


class Refusal(Exception):
    """An answer that cannot make a working service."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        super().__init__(f"{field}={value!r} is not allowed: {allowed}")


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


def check_owner(answers: dict) -> None:
    if not TEAM.match(answers["owner_team"]):
        raise Refusal(
            "owner_team", answers["owner_team"], "use lowercase letters, digits and hyphens"
        )
    if not EMAIL.match(answers["owner_email"]):
        raise Refusal("owner_email", answers["owner_email"], "give an address like team@example.com")


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


def check_slos(answers: dict) -> None:
    _number(
        "availability_slo",
        answers["availability_slo"],
        90.0,
        99.999,
        "a percentage from 90 to 99.999, such as 99.9",
    )
    _number(
        "latency_slo_p95_ms",
        answers["latency_slo_p95_ms"],
        10,
        60000,
        "a whole number of milliseconds from 10 to 60000",
    )
    if not str(answers["latency_slo_p95_ms"]).strip().isdigit():
        raise Refusal(
            "latency_slo_p95_ms",
            answers["latency_slo_p95_ms"],
            "a whole number of milliseconds from 10 to 60000",
        )


def check_agent_limits(answers: dict) -> None:
    if "approval_ttl_minutes" in answers:
        allowed = "a whole number of minutes from 1 to 10080 (a week)"
        value = str(answers["approval_ttl_minutes"]).strip()
        if not value.isdigit():
            raise Refusal("approval_ttl_minutes", answers["approval_ttl_minutes"], allowed)
        _number("approval_ttl_minutes", value, 1, 10080, allowed)
    if "run_budget_usd" in answers:
        _number(
            "run_budget_usd",
            answers["run_budget_usd"],
            0.01,
            10000,
            "US dollars from 0.01 to 10000, such as 1.00",
        )


def check_choices(answers: dict) -> None:
    """Choice answers given with --no-input or extra context bypass the prompt's menu."""
    for field, allowed in OPTIONS.items():
        if isinstance(allowed, list) and answers[field] not in allowed:
            raise Refusal(field, answers[field], "choose one of " + ", ".join(allowed))


def check_combinations(answers: dict) -> None:
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
    if answers["_kind"] == "agent-orchestrator" and (
        answers["human_approval"] == "y" and answers["checkpointer"] == "sqlite"
    ):
        raise Refusal(
            "checkpointer",
            "sqlite",
            "human approval resumes a paused run from any replica; use checkpointer=postgres",
        )


CHECKS: list[Callable[[dict], None]] = [
    check_choices,
    lambda a: check_project_slug(a["project_slug"]),
    lambda a: check_package_name(a["package_name"]),
    check_owner,
    lambda a: check_region(a["aws_region"]),
    check_slos,
    check_agent_limits,
    check_combinations,
]


def main() -> int:
    try:
        for check in CHECKS:
            check(ANSWERS)
    except Refusal as refusal:
        sys.stderr.write(f"error: {refusal}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The policy every proposed tool call passes before anything runs (OWASP LLM06, excessive
agency): validate it, count it against the budgets, and decide whether it runs, waits for a
human or is refused. Pure: it reads the call, the run's state and the context, and returns
verdicts; the tool node carries them out and answers every call, so the history stays valid.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from langchain_core.messages import AIMessage
from pydantic import ValidationError

from .context import Context
from .state import Review, Usage, Verdict
from .tools import TOOLS


def args_hash(name: str, args: dict[str, Any]) -> str:
    """What a human's decision is bound to: the exact tool and arguments they were shown."""
    canonical = json.dumps({"name": name, "args": args}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def validation_message(exc: ValidationError) -> str:
    """One line per problem: the argument, the value given and what is allowed."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "arguments"
        if error["type"] == "extra_forbidden":
            parts.append(f"{field} is not an argument of this tool")
        elif error["type"] == "missing":
            parts.append(f"{field} is required")
        else:
            parts.append(f"{field}={error.get('input')!r} is not allowed: {error['msg']}")
    return "; ".join(parts)


def validate(name: str, args: Any) -> dict[str, Any]:
    """The call's arguments as the tool's schema accepts them; ValueError naming what is not."""
    tool = TOOLS.get(name)
    if tool is None:
        raise ValueError(f"there is no tool named {name!r}; tools: {', '.join(TOOLS)}")
    if not isinstance(args, dict):
        raise ValueError(f"arguments must be a JSON object, not {type(args).__name__}")
    try:
        return tool.args.model_validate(args).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise ValueError(validation_message(exc)) from None


def _review(
    verdict: Verdict,
    reason: str,
    outcome: str,
    name: str,
    args: dict[str, Any],
    risky: bool,
    flagged: bool,
    now: float,
) -> Review:
    return Review(
        verdict=verdict,
        reason=reason,
        outcome=outcome,
        args=args,
        args_hash=args_hash(name, args),
        risky=risky,
        after_flagged=flagged,
        at=now,
    )


def review(
    message: AIMessage, usage: Usage, flagged: bool, context: Context
) -> tuple[dict[str, Review], str | None]:
    """Verdicts for every call of a model reply (malformed ones included), and the budget
    that refused any of them."""
    now = time.time()
    reviews: dict[str, Review] = {}
    limit: str | None = None
    for bad in message.invalid_tool_calls:
        error = bad.get("error") or "unparseable"
        reason = f"Not run: the call's arguments are not valid JSON ({error})."
        reviews[str(bad.get("id"))] = _review(
            "refuse", reason, "invalid", str(bad.get("name")), {}, False, flagged, now
        )
    accepted = usage["tool_calls"]
    per_tool = dict(usage["per_tool"])
    over = context.limits.over_budget(usage)
    for call in message.tool_calls:
        name, call_id = call["name"], str(call["id"])
        tool = TOOLS.get(name)
        risky = tool is not None and tool.risky
        try:
            args = validate(name, call["args"])
        except ValueError as exc:
            reviews[call_id] = _review(
                "refuse",
                f"Not run: {exc}.",
                "invalid",
                name,
                dict(call["args"] or {}),
                risky,
                flagged,
                now,
            )
            continue
        refusal: tuple[str, str, str | None] | None = None  # (outcome, reason, limit)
        if over is not None:
            refusal = (
                "limit",
                f"Not run: the run is over its {over[0]} budget ({over[1]}).",
                over[0],
            )
        elif accepted >= context.limits.tool_calls:
            refusal = (
                "limit",
                f"Not run: the run used its tool call budget ({context.limits.tool_calls} calls).",
                "tool_calls",
            )
        elif per_tool.get(name, 0) >= context.limits.calls_per_tool:
            refusal = (
                "limit",
                f"Not run: the run used its budget for {name}"
                f" ({context.limits.calls_per_tool} calls).",
                f"tool_calls.{name}",
            )
        elif risky and context.kill_switch():
            refusal = (
                "refused",
                "Not run: the kill switch is on, so risky tools are disabled.",
                None,
            )
        elif (
            risky
            and not context.human_approval
            and (name not in context.autonomous_tools or flagged)
        ):
            why = (
                "it was proposed after a tool result was withheld as an injection attempt"
                if flagged
                else f"{name} may not run without a human (HUMAN_APPROVAL is off and"
                " AUTONOMOUS_TOOLS does not name it)"
            )
            refusal = ("refused", f"Not run: {why}.", None)
        if refusal is not None:
            outcome, reason, refused_limit = refusal
            limit = limit or refused_limit
            reviews[call_id] = _review("refuse", reason, outcome, name, args, risky, flagged, now)
            continue
        accepted += 1
        per_tool[name] = per_tool.get(name, 0) + 1
        if risky and context.human_approval:
            reason = f"{name} is a {tool.kind if tool else 'risky'} tool: a human decides"
            if flagged:
                reason += (
                    "; WARNING: proposed after a tool result of this run was withheld as an"
                    " injection attempt, so the request may come from tool output, not the user"
                )
            reviews[call_id] = _review("ask", reason, "pending", name, args, risky, flagged, now)
        else:
            reviews[call_id] = _review("run", "", "ok", name, args, risky, flagged, now)
    return reviews, limit

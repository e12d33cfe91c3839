"""The graph's state: what a checkpoint holds for one thread (conversation), field by field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages

RunStatus = Literal["running", "completed", "limit_reached"]
Verdict = Literal["run", "ask", "refuse"]
Action = Literal["approve", "edit", "reject"]


class Review(TypedDict):
    """What the policy decided for one proposed tool call, before anything runs."""

    verdict: Verdict  # run now, ask a human first, or refuse (answered to the model as an error)
    reason: str  # why it is refused or why a human is asked
    outcome: str  # the outcome a refusal is recorded with: invalid, refused, limit
    args: dict[str, Any]  # the validated arguments (what a human is shown and what runs)
    args_hash: str  # binds a decision to exactly these arguments
    risky: bool
    after_flagged: bool  # proposed after a tool result was withheld as an injection attempt
    at: float  # when it was proposed (UNIX time): an approval expires a TTL after this


class Decision(TypedDict):
    """A human's answer on one call: the resume value of the approval interrupt, per call id."""

    action: Action
    message: str  # why; goes back to the model when the call is rejected
    actor: str
    args: dict[str, Any]  # what runs: the shown arguments, or the edited ones (re-validated)
    args_hash: str


class Usage(TypedDict):
    """What the current run has used; every budget is checked against it."""

    model_calls: int
    tool_calls: int
    per_tool: dict[str, int]
    input_tokens: int
    output_tokens: int
    cost_usd: float
    seconds: float


def fresh_usage() -> Usage:
    return Usage(
        model_calls=0,
        tool_calls=0,
        per_tool={},
        input_tokens=0,
        output_tokens=0,
        cost_usd=0.0,
        seconds=0.0,
    )


def merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    """Reducer of the per-call maps: a run adds entries, a new run (key `__reset__`) clears."""
    if right.get("__reset__"):
        return {k: v for k, v in right.items() if k != "__reset__"}
    return {**left, **right}


@dataclass
class InputState:
    """What a caller gives: the task, as a human message appended to the thread."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    """The whole thread: each task (human), the planner's replies and tool calls (AI), and
    each tool's result (tool). Appended to, never rewritten, so history survives resumes."""


@dataclass
class State(InputState):
    """Everything a checkpoint keeps between steps, restarts and replicas."""

    usage: Usage = field(default_factory=fresh_usage)
    """Model calls, tool calls, tokens, cost and time of the current run (since the last
    human message); the budgets in the settings bound each."""

    status: RunStatus = "running"
    """`completed` once the planner answers without tool calls; `limit_reached` when a budget
    stopped the run (`limit` names it). A paused run is visible as a pending interrupt."""

    limit: str | None = None
    """The budget that ended the run: model_calls, tool_calls, tool_calls.<tool>, tokens,
    cost_usd or seconds."""

    reviews: Annotated[dict[str, Review], merge] = field(default_factory=dict)
    """The policy's verdict on each proposed call of the run, keyed by tool call id."""

    decisions: Annotated[dict[str, Decision], merge] = field(default_factory=dict)
    """Human decisions on calls that asked for one, keyed by tool call id."""

    started_by: str = "-"
    """Who posted the current run's task: the caller separation of duties keeps from deciding
    its calls, whoever resumes or continues the run later."""

    flagged: bool = False
    """A tool result of this run was withheld as an injection attempt: risky calls proposed
    after it are refused (no approval) or shown to the approver with that provenance."""

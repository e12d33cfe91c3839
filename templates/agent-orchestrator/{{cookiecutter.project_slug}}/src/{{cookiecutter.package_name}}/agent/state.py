"""The graph's state: what a checkpoint holds for one thread (conversation), field by field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages

RunStatus = Literal["running", "completed", "max_steps"]


class Decision(TypedDict):
    """A human's answer to a paused run: the resume value of the approval interrupt."""

    approved: bool
    reason: str
    actor: str


def merge_decisions(left: dict[str, Decision], right: dict[str, Decision]) -> dict[str, Decision]:
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

    steps: int = 0
    """Planner calls in the current run (since the last human message); the release's
    `max_steps` bounds it so a looping plan ends with a clear result."""

    status: RunStatus = "running"
    """`completed` once the planner answers without tool calls; `max_steps` when the bound
    stopped the run. A paused run is visible as a pending interrupt, not here."""

    approvals: Annotated[dict[str, Decision], merge_decisions] = field(default_factory=dict)
    """Human decisions on risky tool calls, keyed by tool call id; the tool node runs a
    risky call only when its decision says approved."""

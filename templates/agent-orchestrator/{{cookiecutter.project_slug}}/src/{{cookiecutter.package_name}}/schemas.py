"""Request and response bodies of the runs API: validated at the edge, typed in the service."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

THREAD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
ThreadId = Annotated[str, StringConstraints(pattern=THREAD_ID_PATTERN)]
RunStatus = Literal["completed", "awaiting_approval", "max_steps", "interrupted", "fallback"]
ToolOutcome = Literal["ok", "error", "flagged", "rejected", "refused", "pending"]


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    thread_id: ThreadId | None = Field(
        default=None, description="Continue this thread (its history is kept); new if unset."
    )
{%- if cookiecutter.human_approval == "y" %}


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approved: bool
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)
    ] = Field(description="Why; kept in the audit log with who decided.")
{%- endif %}


class ToolCallRecord(BaseModel):
    """One tool call of the run and what came of it."""

    id: str
    name: str
    args: dict[str, Any]
    risky: bool
    outcome: ToolOutcome
    result: Any = None


class PendingApproval(BaseModel):
    question: str
    tool_calls: list[dict[str, Any]]


class RunResult(BaseModel):
    """The outcome of the latest run on a thread."""

    thread_id: str
    status: RunStatus
    answer: str | None
    tool_calls: list[ToolCallRecord]
    pending_approval: PendingApproval | None = None
    steps: int
    release: str
    planner: str
    fallback: bool = False


class MessageRecord(BaseModel):
    role: Literal["human", "ai", "tool", "system"]
    content: Any
    name: str | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    tool_call_id: str | None = None


class RunState(RunResult):
    """A thread as its latest checkpoint holds it, with its history and audit trail."""

    messages: list[MessageRecord]
    audit: list[dict[str, Any]]
    checkpoint_id: str | None
    updated_at: str | None

"""Request and response bodies of the runs API: validated at the edge, typed in the service."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

THREAD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
TENANT_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
ThreadId = Annotated[str, StringConstraints(pattern=THREAD_ID_PATTERN)]
Tenant = Annotated[str, StringConstraints(pattern=TENANT_PATTERN)]
RunStatus = Literal[
    "running", "completed", "awaiting_approval", "limit_reached", "interrupted", "fallback"
]
ToolOutcome = Literal[
    "ok", "error", "flagged", "timeout", "invalid", "limit", "rejected", "refused", "pending"
]
Text = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=1000,
        pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$",
    ),
]  # one line of text for the audit: no NUL or other control characters (tabs, newlines ok)


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    thread_id: ThreadId | None = Field(
        default=None, description="Continue this thread (its history is kept); new if unset."
    )
    tenant: Tenant | None = Field(
        default=None,
        description="The tenant the thread belongs to; may be omitted when the credential"
        " reaches one tenant (or every tenant: then DEFAULT_TENANT).",
    )


class CallDecision(BaseModel):
    """A human's decision on one pending call, bound to the arguments they were shown."""

    model_config = ConfigDict(extra="forbid")

    tool_call_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    action: Literal["approve", "edit", "reject"]
    args_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="The pending call's args_hash, as shown: a decision on other arguments is"
        " refused."
    )
    args: dict[str, Any] | None = Field(
        default=None, description="With action=edit: the arguments to run instead (validated)."
    )
    message: Text = Field(
        description="Why; kept in the audit log with who decided, and told to the model when"
        " the call is rejected."
    )


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decisions: list[CallDecision] = Field(min_length=1, max_length=50)
    tenant: Tenant | None = None


class ToolCallRecord(BaseModel):
    """One tool call of the run and what came of it."""

    id: str
    name: str
    args: dict[str, Any]
    risky: bool
    outcome: ToolOutcome
    result: Any = None
    truncated: bool = False
    edited: bool = False


class PendingCall(BaseModel):
    id: str
    name: str
    args: dict[str, Any]
    args_hash: str
    reason: str
    after_flagged_output: bool = Field(
        description="Proposed after a tool result of this run was withheld as an injection"
        " attempt: the request may come from tool output, not from the user."
    )
    requested_by: str
    requested_at: float
    expires_at: float


class PendingApproval(BaseModel):
    question: str
    tool_calls: list[PendingCall]


class RunUsage(BaseModel):
    model_calls: int = 0
    tool_calls: int = 0
    per_tool: dict[str, int] = Field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0


class RunResult(BaseModel):
    """The outcome of the latest run on a thread."""

    thread_id: str
    tenant: str
    status: RunStatus
    limit: str | None = Field(default=None, description="With limit_reached: which budget.")
    answer: str | None
    tool_calls: list[ToolCallRecord]
    pending_approval: PendingApproval | None = None
    usage: RunUsage = Field(default_factory=RunUsage)
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

    owner: str
    running: bool = Field(description="A run holds the thread now (on any replica).")
    messages: list[MessageRecord]
    audit: list[dict[str, Any]]
    checkpoint_id: str | None
    updated_at: str | None


class AuditVerification(BaseModel):
    """The tenant's tool audit checked link by link: the first broken one, if any."""

    tenant: str
    ok: bool
    entries: int
    head: str = Field(
        description="Hash of the newest entry: anchor it elsewhere to detect a"
        " rewrite of the whole chain."
    )
    broken_at: int | None = None
    thread_id: str | None = None
    problem: str = ""

"""`/v1/runs`: start a run, read a thread, decide its pending tool calls, resume it, follow it.

Every route acts in one tenant (the credential's, or `tenant` when it reaches several); a
thread of another tenant is not found. Every error is problem+json and declared as such.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from ...platform.context import RequestContextDep
from ...platform.errors import problem_responses
from ...schemas import (
    TENANT_PATTERN,
    THREAD_ID_PATTERN,
    AuditVerification,
    DecisionRequest,
    RunRequest,
    RunResult,
    RunState,
)
from ...service import AgentService

router = APIRouter(prefix="/v1", tags=["runs"])


def get_agent(request: Request) -> AgentService:
    agent: AgentService = request.app.state.agent
    return agent


AgentDep = Annotated[AgentService, Depends(get_agent)]
ThreadIdPath = Annotated[str, Path(pattern=THREAD_ID_PATTERN, description="The run's thread.")]
TenantQuery = Annotated[
    str | None,
    Query(pattern=TENANT_PATTERN, description="Needed when the credential reaches several."),
]
POLL_SECONDS = 0.2


@router.post("/runs", response_model=RunResult, responses=problem_responses(400, 409, 413, 502))
def start_run(body: RunRequest, ctx: RequestContextDep, agent: AgentDep) -> RunResult:
    """Run the agent on a task; with `thread_id`, continue that thread's conversation."""
    return agent.start(
        ctx.caller, body.tenant, body.task, body.thread_id, ctx.release, ctx.kill_switch
    )


@router.get("/runs/{thread_id}", response_model=RunState, responses=problem_responses(400, 404))
def get_run(
    thread_id: ThreadIdPath, ctx: RequestContextDep, agent: AgentDep, tenant: TenantQuery = None
) -> RunState:
    """The thread's latest state: status, usage, history, tool calls, audit trail."""
    return agent.state(ctx.caller, tenant, thread_id)


@router.post(
    "/runs/{thread_id}/decisions",
    response_model=RunResult,
    responses=problem_responses(400, 404, 409, 413, 502),
)
def decide(
    thread_id: ThreadIdPath, body: DecisionRequest, ctx: RequestContextDep, agent: AgentDep
) -> RunResult:
    """Approve, edit (re-validated) or reject each pending call; the run then continues.

    Needs the approver role; the caller who started the run may not decide its calls. Each
    call is decided once: a second decision, at once or later, is 409 naming the first."""
    return agent.decide(
        ctx.caller, body.tenant, thread_id, body.decisions, ctx.release, ctx.kill_switch
    )


@router.post(
    "/runs/{thread_id}/resume",
    response_model=RunResult,
    responses=problem_responses(400, 404, 409, 502),
)
def resume_run(
    thread_id: ThreadIdPath, ctx: RequestContextDep, agent: AgentDep, tenant: TenantQuery = None
) -> RunResult:
    """Continue a run that stopped part-way (model endpoint down, restart) from its checkpoint."""
    return agent.resume(ctx.caller, tenant, thread_id, ctx.release, ctx.kill_switch)


@router.get(
    "/runs/{thread_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"description": "Server-sent events", "content": {"text/event-stream": {}}},
        **problem_responses(400, 404),
    },
)
async def run_events(
    thread_id: ThreadIdPath, ctx: RequestContextDep, agent: AgentDep, tenant: TenantQuery = None
) -> StreamingResponse:
    """Server-sent events of the thread as they happen, from any replica: each message
    (`step`: a planner reply and its tool calls; `tool`: a tool result), each audit entry
    (`audit`: intents, outcomes, approvals), then `result` once no run holds the thread."""
    state = await asyncio.to_thread(agent.state, ctx.caller, tenant, thread_id)  # 404 first

    async def events() -> AsyncIterator[str]:
        seen_messages, seen_audit = 0, 0
        current = state
        while True:
            for message in current.messages[seen_messages:]:
                kind = {"ai": "step", "tool": "tool"}.get(message.role, message.role)
                yield _sse(kind, message.model_dump_json())
            for entry in current.audit[seen_audit:]:
                yield _sse("audit", json.dumps(entry, default=str))
            seen_messages, seen_audit = len(current.messages), len(current.audit)
            if not current.running:
                result = RunResult(**current.model_dump(include=set(RunResult.model_fields)))
                yield _sse("result", result.model_dump_json())
                return
            await asyncio.sleep(POLL_SECONDS)
            current = await asyncio.to_thread(agent.state, ctx.caller, tenant, thread_id)

    return StreamingResponse(events(), media_type="text/event-stream")


def _sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


@router.get("/audit/verify", response_model=AuditVerification, responses=problem_responses(400))
def verify_audit(
    ctx: RequestContextDep, agent: AgentDep, tenant: TenantQuery = None
) -> AuditVerification:
    """Check the tenant's tool audit link by link (tenant chain, then each thread's)."""
    return agent.verify_audit(ctx.caller, tenant)

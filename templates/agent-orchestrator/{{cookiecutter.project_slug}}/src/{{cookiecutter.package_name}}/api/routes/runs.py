"""`/v1/runs`: start a run, read a thread{% if cookiecutter.human_approval == "y" %}, approve or reject its risky step{% endif %}, resume it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from ...platform.context import RequestContextDep
from ...schemas import (
    THREAD_ID_PATTERN,
{%- if cookiecutter.human_approval == "y" %}
    ApprovalRequest,
{%- endif %}
    RunRequest,
    RunResult,
    RunState,
)
from ...service import AgentService

router = APIRouter(prefix="/v1/runs", tags=["runs"])


def get_agent(request: Request) -> AgentService:
    agent: AgentService = request.app.state.agent
    return agent


AgentDep = Annotated[AgentService, Depends(get_agent)]
ThreadIdPath = Annotated[str, Path(pattern=THREAD_ID_PATTERN, description="The run's thread.")]


@router.post("", response_model=RunResult)
def start_run(body: RunRequest, ctx: RequestContextDep, agent: AgentDep) -> RunResult:
    """Run the agent on a task; with `thread_id`, continue that thread's conversation."""
    return agent.start(body.task, body.thread_id, ctx.release, ctx.kill_switch, ctx.caller.id)


@router.get("/{thread_id}", response_model=RunState)
def get_run(thread_id: ThreadIdPath, ctx: RequestContextDep, agent: AgentDep) -> RunState:
    """The thread's latest state: status, history, tool calls, audit trail."""
    return agent.state(thread_id)
{%- if cookiecutter.human_approval == "y" %}


@router.post("/{thread_id}/approval", response_model=RunResult)
def decide(
    thread_id: ThreadIdPath, body: ApprovalRequest, ctx: RequestContextDep, agent: AgentDep
) -> RunResult:
    """Approve (the risky call runs) or reject (it never runs) a paused run, which continues."""
    return agent.decide(
        thread_id, body.approved, body.reason, ctx.release, ctx.kill_switch, ctx.caller.id
    )
{%- endif %}


@router.post("/{thread_id}/resume", response_model=RunResult)
def resume_run(thread_id: ThreadIdPath, ctx: RequestContextDep, agent: AgentDep) -> RunResult:
    """Continue a run that stopped part-way (model endpoint down, restart) from its checkpoint."""
    return agent.resume(thread_id, ctx.release, ctx.kill_switch, ctx.caller.id)

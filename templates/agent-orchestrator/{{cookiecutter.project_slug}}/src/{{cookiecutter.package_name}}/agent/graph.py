"""The agent graph: planner (its reply reviewed by the policy) -> approval, for calls a human
decides -> tools -> planner ... until the planner answers or a budget stops the run.

`build_graph(checkpointer)` is the one export; everything a run uses arrives in its `Context`.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.config import get_config
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from ..audit import AuditEntry, Event
from ..platform.metrics import estimate_cost_usd
from ..platform.tracing import genai_span, record_usage
from .context import Context
from .execution import run_call
from .limits import stop_message
from .policy import args_hash, review
from .state import Decision, InputState, Review, State, Usage, fresh_usage

__all__ = ["build_graph"]


def _thread() -> str:
    """The checkpoint key of this invocation (tenant/thread): the idempotency key's prefix."""
    return str(get_config()["configurable"]["thread_id"])


def call_planner(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """One planner step inside a GenAI span; usage counted; the reply's calls reviewed."""
    context = runtime.context
    new_run = isinstance(state.messages[-1], HumanMessage)
    usage: Usage = (
        fresh_usage() if new_run else {**state.usage, "per_tool": dict(state.usage["per_tool"])}
    )
    planner = context.planner
    started = time.perf_counter()
    attributes = {"gen_ai.system": planner.system, "agent.step": usage["model_calls"] + 1}
    with genai_span("chat", planner.model, **attributes) as span:
        reply = planner.plan(context.system_prompt, state.messages)
        tokens: dict[str, Any] = dict(reply.usage_metadata or {})
        input_tokens, output_tokens = tokens.get("input_tokens", 0), tokens.get("output_tokens", 0)
        if tokens:
            record_usage(span, input_tokens, output_tokens)
    seconds = time.perf_counter() - started
    reply = _checkpointable(reply)
    cost = estimate_cost_usd(context.prices, input_tokens, output_tokens)
    if context.metrics is not None:
        context.metrics.model_call(
            planner.model, context.release, seconds, input_tokens, output_tokens, cost
        )
    usage["model_calls"] += 1
    usage["input_tokens"] += input_tokens
    usage["output_tokens"] += output_tokens
    usage["cost_usd"] = round(usage["cost_usd"] + cost, 8)
    usage["seconds"] += seconds
    flagged = False if new_run else state.flagged
    reviews, limit = review(reply, usage, flagged, context)
    update: dict[str, Any] = {
        "messages": [reply],
        "usage": usage,
        "status": "running" if (reply.tool_calls or reply.invalid_tool_calls) else "completed",
        "reviews": {"__reset__": True, **reviews} if new_run else reviews,
        "limit": limit,
    }
    if new_run:
        update.update(decisions={"__reset__": True}, flagged=False, started_by=context.actor)
    return update


INT64 = 2**63


def _fits(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | dict | list):
        return True
    if isinstance(value, int):
        return -INT64 <= value < INT64
    items = value.values() if isinstance(value, dict) else value
    return all(_fits(item) for item in items)


def _checkpointable(reply: AIMessage) -> AIMessage:
    """A call whose arguments cannot be checkpointed (an integer beyond 64 bits, which
    msgpack refuses) becomes an invalid call, answered as such, instead of a run that can
    never be saved or resumed."""
    bad = [c for c in reply.tool_calls if not _fits(c["args"])]
    if not bad:
        return reply
    invalid = [
        {
            "name": c["name"],
            "args": json.dumps(c["args"])[:200],
            "id": c["id"],
            "error": "an integer argument is out of range",
            "type": "invalid_tool_call",
        }
        for c in bad
    ]
    # A fresh message: provider fields (Bedrock's toolUse blocks, raw metadata) repeat the
    # arguments and would fail the checkpoint the same way.
    text = reply.content if isinstance(reply.content, str) else reply.text
    return AIMessage(
        text,
        id=reply.id,
        name=reply.name,
        tool_calls=[c for c in reply.tool_calls if _fits(c["args"])],
        invalid_tool_calls=[*reply.invalid_tool_calls, *invalid],
        usage_metadata=reply.usage_metadata,
    )


def route_after_planner(state: State) -> Literal["approval", "tools", "__end__"]:
    last = state.messages[-1]
    if not isinstance(last, AIMessage) or not (last.tool_calls or last.invalid_tool_calls):
        return "__end__"
    waiting = any(_waiting(state, str(c["id"])) for c in last.tool_calls)
    return "approval" if waiting else "tools"


def _waiting(state: State, call_id: str) -> bool:
    found = state.reviews.get(call_id)
    return found is not None and found["verdict"] == "ask" and call_id not in state.decisions


def ask_for_approval(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Pause the run (a LangGraph interrupt, checkpointed) until a human decides each call.

    On resume the node runs again from the top; `interrupt` then returns the decisions, one
    per call id, which the service has already checked (role, expiry, argument hash).
    """
    last = state.messages[-1]
    assert isinstance(last, AIMessage)
    ttl = runtime.context.approval_ttl_seconds
    pending = []
    for call in last.tool_calls:
        call_id = str(call["id"])
        if _waiting(state, call_id):
            found = state.reviews[call_id]
            pending.append(
                {
                    "id": call_id,
                    "name": call["name"],
                    "args": found["args"],
                    "args_hash": found["args_hash"],
                    "reason": found["reason"],
                    "requested_by": state.started_by,
                    "after_flagged_output": found["after_flagged"],
                    "requested_at": found["at"],
                    "expires_at": found["at"] + ttl,
                }
            )
    decisions: dict[str, Decision] = interrupt(
        {"question": "Approve, edit or reject each of these tool calls.", "tool_calls": pending}
    )
    return {"decisions": decisions}


def _audit(
    context: Context,
    thread: str,
    event: Event,
    call_id: str,
    name: str,
    args: dict[str, Any],
    outcome: str,
    detail: str,
    actor: str | None = None,
) -> None:
    if context.audit is not None:
        context.audit.record(
            AuditEntry(
                tenant=context.tenant,
                thread_id=thread,
                event=event,
                tool=name,
                tool_call_id=call_id,
                outcome=outcome,
                detail=detail,
                actor=actor or context.actor,
                release=context.release,
                args=args,
            )
        )


def _answer(
    call_id: str, name: str, text: str, outcome: str, risky: bool, error: bool, **extra: Any
) -> ToolMessage:
    return ToolMessage(
        text,
        name=name,
        tool_call_id=call_id,
        status="error" if error else "success",
        artifact={"outcome": outcome, "risky": risky, **extra},
    )


def run_tools(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Answer every call of the last reply: refused ones with the reason, decided ones as the
    human said, the rest by running them. Each run is audited before (intent) and after."""
    context = runtime.context
    thread = _thread()
    last = state.messages[-1]
    assert isinstance(last, AIMessage)
    started = time.perf_counter()
    usage: Usage = {**state.usage, "per_tool": dict(state.usage["per_tool"])}
    flagged = state.flagged
    answers: list[ToolMessage] = []
    calls = [(str(c.get("id")), str(c.get("name"))) for c in last.invalid_tool_calls]
    calls += [(str(c["id"]), c["name"]) for c in last.tool_calls]
    for call_id, name in calls:
        found: Review | None = state.reviews.get(call_id)
        if found is None or found["verdict"] == "refuse":
            reason = found["reason"] if found else "Not run: the policy never reviewed it."
            outcome = found["outcome"] if found else "refused"
            risky = bool(found and found["risky"])
            args = found["args"] if found else {}
            answers.append(_not_run(context, thread, call_id, name, args, outcome, reason, risky))
            continue
        args, actor = found["args"], None
        if found["verdict"] == "ask":
            decision = state.decisions.get(call_id)
            if decision is None or decision["action"] == "reject":
                who = decision["actor"] if decision else "nobody"
                why = decision["message"] if decision else "no decision was recorded"
                text = f"Not run: rejected by {who}: {why}"
                answers.append(
                    _not_run(context, thread, call_id, name, args, "rejected", text, True, who)
                )
                continue
            args, actor = decision["args"], decision["actor"]
            if args_hash(name, args) != decision["args_hash"]:  # never run what nobody saw
                text = "Not run: the arguments differ from the ones the approver saw."
                answers.append(_not_run(context, thread, call_id, name, args, "refused", text))
                continue
        if found["risky"] and context.kill_switch():
            text = "Not run: the kill switch is on, so risky tools are disabled."
            answers.append(_not_run(context, thread, call_id, name, args, "refused", text))
            continue
        key = f"{thread}:{call_id}"
        _audit(context, thread, "tool_intent", call_id, name, args, "started", key, actor)
        attributes = {
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "function",
            "agent.tool.risky": found["risky"],
        }
        with genai_span("execute_tool", context.planner.model, **attributes) as span:
            done = run_call(
                name,
                args,
                context.system,
                key,
                context.limits.tool_timeout_seconds,
                context.limits.tool_output_chars,
                context.executor,
            )
            span.set_attribute("agent.tool.outcome", done.outcome)
        flagged = flagged or done.outcome == "flagged"
        usage["tool_calls"] += 1
        usage["per_tool"][name] = usage["per_tool"].get(name, 0) + 1
        detail = done.content + (" [replayed: already applied]" if done.replayed else "")
        _audit(context, thread, "tool_call", call_id, name, args, done.outcome, detail, actor)
        answers.append(
            _answer(
                call_id,
                name,
                done.content,
                done.outcome,
                found["risky"],
                done.outcome != "ok",
                truncated=done.truncated,
                edited=decision_edited(state, call_id),
            )
        )
        _count(context, name, done.outcome)
    usage["seconds"] += time.perf_counter() - started
    return {"messages": answers, "usage": usage, "flagged": flagged}


def _not_run(
    context: Context,
    thread: str,
    call_id: str,
    name: str,
    args: dict[str, Any],
    outcome: str,
    text: str,
    risky: bool = True,
    actor: str | None = None,
) -> ToolMessage:
    """A call that does not run: audited, counted, and answered to the model with the reason."""
    _audit(context, thread, "tool_call", call_id, name, args, outcome, text, actor)
    _count(context, name, outcome)
    return _answer(call_id, name, text, outcome, risky, True)


def decision_edited(state: State, call_id: str) -> bool:
    decision = state.decisions.get(call_id)
    return bool(decision and decision["action"] == "edit")


def _count(context: Context, name: str, outcome: str) -> None:
    if context.metrics is not None:
        context.metrics.tool_call(name, outcome)


def route_after_tools(state: State, runtime: Runtime[Context]) -> Literal["planner", "stop"]:
    if state.limit is not None or runtime.context.limits.spent(state.usage) is not None:
        return "stop"
    return "planner"


def stop_at_limit(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """End a run that reached a budget without answering: say which, keep the tool results."""
    limits = runtime.context.limits
    spent = limits.spent(state.usage)
    limit = state.limit or (spent[0] if spent else "tool_calls")
    amounts = {
        "tool_calls": f"{limits.tool_calls} tool calls",
        "model_calls": f"{state.usage['model_calls']} model calls (max {limits.model_calls})",
    }
    detail = (
        spent[1]
        if spent and spent[0] == limit
        else amounts.get(
            limit, f"{limits.calls_per_tool} calls of {limit.removeprefix('tool_calls.')}"
        )
    )
    text = stop_message(limit, detail)
    return {"messages": [AIMessage(text, name="limit")], "status": "limit_reached", "limit": limit}


def build_graph(
    checkpointer: BaseCheckpointSaver | None,
) -> CompiledStateGraph[State, Context, InputState, State]:
    builder = StateGraph(State, input_schema=InputState, context_schema=Context)
    builder.add_node("planner", call_planner)
    builder.add_node("approval", ask_for_approval)
    builder.add_node("tools", run_tools)
    builder.add_node("stop", stop_at_limit)
    builder.add_edge(START, "planner")
    builder.add_conditional_edges("planner", route_after_planner)
    builder.add_edge("approval", "tools")
    builder.add_conditional_edges("tools", route_after_tools)
    builder.add_edge("stop", END)
    return builder.compile(checkpointer=checkpointer, name="agent")

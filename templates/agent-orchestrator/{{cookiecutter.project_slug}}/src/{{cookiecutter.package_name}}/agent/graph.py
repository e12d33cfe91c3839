"""The agent graph: planner -> {% if cookiecutter.human_approval == "y" %}(approval, for risky calls) -> {% endif %}tools -> planner ... until the planner
answers or the release's `max_steps` bound stops the run.

`build_graph(checkpointer)` is the one export; everything a run uses arrives in its `Context`.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime
{%- if cookiecutter.human_approval == "y" %}
from langgraph.types import interrupt
{%- endif %}

from ..platform.tracing import genai_span, record_usage
from .context import Context
from .state import {% if cookiecutter.human_approval == "y" %}Decision, {% endif %}InputState, State
from .tools import {% if cookiecutter.human_approval == "y" %}RISKY_TOOLS, {% endif %}TOOLS, guard, tool_error_message

__all__ = ["build_graph"]


def call_planner(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """One planner step: a model (or scripted) call inside a GenAI span, usage recorded."""
    context = runtime.context
    new_run = isinstance(state.messages[-1], HumanMessage)
    steps = (0 if new_run else state.steps) + 1
    planner = context.planner
    started = time.perf_counter()
    attributes = {"gen_ai.system": planner.system, "agent.step": steps}
    with genai_span("chat", planner.model, **attributes) as span:
        reply = planner.plan(context.system_prompt, state.messages)
        usage = reply.usage_metadata or {}
        input_tokens, output_tokens = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
        if usage:
            record_usage(span, input_tokens, output_tokens)
    if context.metrics is not None:
        seconds = time.perf_counter() - started
        context.metrics.model_call(
            planner.model, context.release, seconds, input_tokens, output_tokens
        )
    return {
        "messages": [reply],
        "steps": steps,
        "status": "running" if reply.tool_calls else "completed",
    }


def route_after_planner(state: State) -> Literal[{% if cookiecutter.human_approval == "y" %}"approval", {% endif %}"tools", "__end__"]:
    last = state.messages[-1]
    if not isinstance(last, AIMessage) or not last.tool_calls:
        return END
{%- if cookiecutter.human_approval == "y" %}
    if any(c["name"] in RISKY_TOOLS and c["id"] not in state.approvals for c in last.tool_calls):
        return "approval"
{%- endif %}
    return "tools"
{%- if cookiecutter.human_approval == "y" %}


def ask_for_approval(state: State) -> dict[str, Any]:
    """Pause the run (a LangGraph interrupt, checkpointed) until a human decides.

    On resume the node runs again from the top; `interrupt` then returns the decision, which
    is recorded for every risky call of this step.
    """
    last = state.messages[-1]
    assert isinstance(last, AIMessage)
    pending = [
        call
        for call in last.tool_calls
        if call["name"] in RISKY_TOOLS and call["id"] not in state.approvals
    ]
    decision: Decision = interrupt(
        {
            "question": "Approve these risky tool calls?",
            "tool_calls": [
                {"id": call["id"], "name": call["name"], "args": call["args"]} for call in pending
            ],
        }
    )
    return {"approvals": {str(call["id"]): decision for call in pending}}
{%- endif %}


def route_after_tools(state: State, runtime: Runtime[Context]) -> Literal["planner", "step_limit"]:
    return "step_limit" if state.steps >= runtime.context.max_steps else "planner"


def stop_at_step_limit(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """End a run that used its steps without answering: say so, keep the tool results."""
    text = (
        f"Stopped after {state.steps} planner steps (max_steps={runtime.context.max_steps})"
        " without a final answer. The tool results so far are in this run's tool calls;"
        " narrow the task or raise max_steps in the release config."
    )
    return {"messages": [AIMessage(text, name="step-limit")], "status": "max_steps"}


def build_graph(checkpointer: BaseCheckpointSaver | None) -> CompiledStateGraph:
    builder = StateGraph(State, input_schema=InputState, context_schema=Context)
    builder.add_node("planner", call_planner)
{%- if cookiecutter.human_approval == "y" %}
    builder.add_node("approval", ask_for_approval)
{%- endif %}
    builder.add_node(
        "tools", ToolNode(TOOLS, handle_tool_errors=tool_error_message, wrap_tool_call=guard)
    )
    builder.add_node("step_limit", stop_at_step_limit)
    builder.add_edge(START, "planner")
    builder.add_conditional_edges("planner", route_after_planner)
{%- if cookiecutter.human_approval == "y" %}
    builder.add_edge("approval", "tools")
{%- endif %}
    builder.add_conditional_edges("tools", route_after_tools)
    builder.add_edge("step_limit", END)
    return builder.compile(checkpointer=checkpointer, name="agent")

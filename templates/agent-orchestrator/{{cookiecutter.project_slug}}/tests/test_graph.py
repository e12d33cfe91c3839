"""Graph unit tests: the compiled graph with an in-memory SQLite checkpointer, no HTTP."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph.state import CompiledStateGraph
{%- if cookiecutter.human_approval == "y" %}
from langgraph.types import Command
{%- endif %}

from {{ cookiecutter.package_name }}.agent.context import Context, PlannerUnavailable
from {{ cookiecutter.package_name }}.agent.graph import build_graph
from {{ cookiecutter.package_name }}.agent.planner import build_planner
from {{ cookiecutter.package_name }}.agent.prompts import system_prompt
from {{ cookiecutter.package_name }}.platform.releases import Manifest


@pytest.fixture
def graph() -> Iterator[CompiledStateGraph]:
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    yield build_graph(SqliteSaver(conn))
    conn.close()


@pytest.fixture
def context(settings, system) -> Context:
    manifest = Manifest.load(settings.releases_path)  # the graph alone: no shared state needed
    release = manifest.releases[manifest.baseline.active]
    return Context(
        planner=build_planner(release, settings),
        system=system,
        system_prompt=system_prompt(release.prompt),
        max_steps=int(release.config["max_steps"]),
        release=release.id,
    )


def run(graph: CompiledStateGraph, context: Context, payload: Any, thread: str) -> dict[str, Any]:
    config = {"configurable": {"thread_id": thread}}
    return graph.invoke(payload, config, context=context)


def task(text: str) -> dict[str, Any]:
    return {"messages": [("user", text)]}


def tool_messages(state: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]


def test_a_run_calls_the_tool_and_answers_with_its_real_result(graph, context, examples, system):
    {%- if cookiecutter.tool_set == "ops" %}
    system.scale("checkout", 7)  # the answer must reflect the system as it is now
    expected = '"replicas": 7'
    {%- else %}
    system.refund("A-1002", 5.0, "late delivery")  # the answer must reflect the system now
    expected = '"refunded": 5.0'
    {%- endif %}
    state = run(graph, context, task(examples.lookup.task), "t-lookup")
    (result,) = tool_messages(state)
    assert result.name == examples.lookup_tool and result.status == "success"
    assert expected in result.text
    assert state["status"] == "completed" and state["steps"] == 2
    answer = state["messages"][-1]
    assert isinstance(answer, AIMessage) and not answer.tool_calls
    {%- if cookiecutter.llm == "scripted" %}
    assert answer.text.startswith("[scripted planner]") and expected in answer.text
    {%- else %}
    assert expected in answer.text  # the stand-in model quotes the tool's result
    {%- endif %}


def test_tool_errors_go_back_to_the_planner_as_tool_messages(graph, context, examples):
    state = run(graph, context, task(examples.unknown.task), "t-error")
    (result,) = tool_messages(state)
    assert result.status == "error"
    assert "does not exist" in result.text and "known" in result.text
    assert state["status"] == "completed"


def test_max_steps_ends_a_run_with_a_clear_result(graph, context, examples):
    state = run(graph, replace(context, max_steps=2), task(examples.several.task), "t-steps")
    assert state["status"] == "max_steps" and state["steps"] == 2
    assert len(tool_messages(state)) == 2  # the third planned call never happened
    assert "Stopped after 2 planner steps (max_steps=2)" in state["messages"][-1].text


def test_a_thread_keeps_its_history_and_each_task_gets_fresh_steps(graph, context, examples):
    first = run(graph, context, task(examples.lookup.task), "t-thread")
    second = run(graph, context, task(examples.unknown.task), "t-thread")
    assert len(second["messages"]) == 2 * len(first["messages"])
    assert second["steps"] == 2 and second["messages"][0].text == examples.lookup.task


class FailsOnce:
    """A planner whose endpoint fails on one call, as a real one does."""

    def __init__(self, inner: Any, fail_on_call: int) -> None:
        self.inner, self.calls, self.fail_on_call = inner, 0, fail_on_call
        self.model, self.system, self.label = inner.model, inner.system, inner.label

    def plan(self, prompt: str, messages: Sequence[AnyMessage]) -> AIMessage:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise PlannerUnavailable("connection reset")
        return self.inner.plan(prompt, messages)


def test_an_interrupted_run_resumes_from_its_checkpoint(graph, context, examples, system):
    flaky = replace(context, planner=FailsOnce(context.planner, fail_on_call=2))
    with pytest.raises(PlannerUnavailable):
        run(graph, flaky, task(examples.lookup.task), "t-resume")
    config = {"configurable": {"thread_id": "t-resume"}}
    assert graph.get_state(config).next == ("planner",)  # the tool step is saved
    state = run(graph, flaky, None, "t-resume")
    assert state["status"] == "completed"
    assert len(tool_messages(state)) == 1  # the tool did not run twice


def test_the_kill_switch_refuses_risky_tools_at_call_time(
    graph, context, examples, system, risky_done
):
    thread = f"t-kill-{uuid.uuid4().hex}"
    killed = replace(context, kill_switch=lambda: True)
    {%- if cookiecutter.human_approval == "y" %}
    paused = run(graph, killed, task(examples.risky.task), thread)
    assert "__interrupt__" in paused
    decision = {"approved": True, "reason": "looks fine", "actor": "test"}
    state = run(graph, killed, Command(resume=decision), thread)
    {%- else %}
    state = run(graph, killed, task(examples.risky.task), thread)
    {%- endif %}
    (result,) = tool_messages(state)
    assert result.status == "error" and "kill switch" in result.text
    assert result.artifact["outcome"] == "refused"
    assert not risky_done(system)
{%- if cookiecutter.llm == "scripted" %}


def test_the_scripted_planner_is_deterministic_and_labelled(examples):
    from {{ cookiecutter.package_name }}.agent.planner import LABEL, plan_calls

    assert "scripted planner" in LABEL
    for example in (examples.lookup, examples.several, examples.risky, examples.unknown):
        assert plan_calls(example.task) == example.calls
    assert plan_calls("tell me a joke") == []
{%- endif %}

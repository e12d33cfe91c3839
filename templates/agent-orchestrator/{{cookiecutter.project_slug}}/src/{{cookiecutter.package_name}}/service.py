"""The agent service: starts runs, shows threads{% if cookiecutter.human_approval == "y" %}, applies human decisions{% endif %} and resumes
interrupted runs. Routes and the CLI call it; it calls the graph, which persists every step.

The kill switch is checked here first: while it is on, no run starts{% if cookiecutter.human_approval == "y" %} or resumes{% endif %} and the caller
gets the release manifest's safe fallback; risky tools also check it at call time.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import {% if cookiecutter.human_approval == "y" %}Command, {% endif %}StateSnapshot

from .agent.context import DEFAULT_MAX_STEPS, Context, Planner, PlannerUnavailable
from .agent.graph import build_graph
from .agent.planner import build_planner
from .agent.prompts import system_prompt
from .agent.systems import {{ "Deployments" if cookiecutter.tool_set == "ops" else "Orders" }}, open_system
from .agent.tools import RISKY_TOOLS
{%- if cookiecutter.human_approval == "y" %}
from .audit import AuditEntry, Event
{%- endif %}
from .checkpoints import Checkpoints, open_checkpoints
from .platform.errors import Conflict, NotFound, UpstreamError
from .platform.metrics import ServiceMetrics
from .platform.releases import Release, ReleaseManager
from .schemas import MessageRecord, PendingApproval, RunResult, RunState, ToolCallRecord
from .settings import Settings
from .telemetry import AgentMetrics

log = logging.getLogger(__name__)
MAX_STEPS_LIMIT = 50


class AgentService:
    def __init__(
        self,
        settings: Settings,
        releases: ReleaseManager,
        checkpoints: Checkpoints,
        system: {{ "Deployments" if cookiecutter.tool_set == "ops" else "Orders" }},
        metrics: AgentMetrics,
    ) -> None:
        for release in releases.releases.values():
            self._check_release(release)  # a bad manifest stops start-up, not a run
        self._settings = settings
        self._releases = releases
        self._checkpoints = checkpoints
        self._system = system
        self._metrics = metrics
        self._planners: dict[str, Planner] = {}
        self._lock = threading.Lock()
        self.graph = build_graph(checkpoints.saver)
{%- if cookiecutter.human_approval == "y" %}
        metrics.track_pending_approvals(checkpoints.audit.pending_approvals)
{%- endif %}

    # -- runs ---------------------------------------------------------------------------------
    def start(
        self, task: str, thread_id: str | None, release: Release, kill_switch: bool, actor: str
    ) -> RunResult:
        """Run the agent on a task, in a new thread or appended to an existing one."""
        thread_id = thread_id or uuid.uuid4().hex
        if kill_switch:
            return self._fallback(thread_id, release)
        snapshot = self._snapshot(thread_id)
        if snapshot.interrupts:
            raise Conflict(
                f"thread_id={thread_id!r} is waiting for a human decision: answer it with"
                f" POST /v1/runs/{thread_id}/approval before starting another task",
                thread_id=thread_id,
            )
        return self._invoke({"messages": [HumanMessage(task)]}, thread_id, release, actor)

    def resume(self, thread_id: str, release: Release, kill_switch: bool, actor: str) -> RunResult:
        """Continue a run that stopped part-way (model endpoint down, process restarted)."""
        snapshot = self._existing(thread_id)
        if kill_switch:
            return self._fallback(thread_id, release)
        if snapshot.interrupts:
            raise Conflict(
                f"thread_id={thread_id!r} is waiting for a human decision, not interrupted:"
                f" use POST /v1/runs/{thread_id}/approval",
                thread_id=thread_id,
            )
        if not snapshot.next:
            raise Conflict(
                f"thread_id={thread_id!r} has nothing to resume: its last run finished;"
                " start a new task on it with POST /v1/runs",
                thread_id=thread_id,
            )
        return self._invoke(None, thread_id, release, actor)
{%- if cookiecutter.human_approval == "y" %}

    def decide(
        self,
        thread_id: str,
        approved: bool,
        reason: str,
        release: Release,
        kill_switch: bool,
        actor: str,
    ) -> RunResult:
        """Approve or reject the risky calls a paused run waits on, then let it continue."""
        snapshot = self._existing(thread_id)
        if kill_switch:
            return self._fallback(thread_id, release)  # stays paused; nothing risky runs
        if not snapshot.interrupts:
            raise Conflict(
                f"thread_id={thread_id!r} has no pending approval: nothing to approve or reject",
                thread_id=thread_id,
            )
        calls = snapshot.interrupts[0].value["tool_calls"]
        outcome = "approved" if approved else "rejected"
        self._audit_approvals(thread_id, calls, "approval_decided", outcome, reason, actor, release)
        decision = {"approved": approved, "reason": reason, "actor": actor}
        return self._invoke(Command(resume=decision), thread_id, release, actor)
{%- endif %}

    def state(self, thread_id: str) -> RunState:
        """The thread as its latest checkpoint holds it: history, last run, audit trail."""
        snapshot = self._existing(thread_id)
        result = self._result(snapshot, thread_id)
        return RunState(
            **result.model_dump(),
            messages=[_message_record(m) for m in snapshot.values.get("messages", [])],
            audit=self._checkpoints.audit.for_thread(thread_id),
            checkpoint_id=(snapshot.config.get("configurable") or {}).get("checkpoint_id"),
            updated_at=snapshot.created_at,
        )

    def ready(self) -> bool:
        return self._checkpoints.ping()

    # -- internals ----------------------------------------------------------------------------
    @staticmethod
    def _check_release(release: Release) -> None:
        system_prompt(release.prompt)
        max_steps = release.config.get("max_steps", DEFAULT_MAX_STEPS)
        if (
            isinstance(max_steps, bool)
            or not isinstance(max_steps, int)
            or not (1 <= max_steps <= MAX_STEPS_LIMIT)
        ):
            raise ValueError(
                f"release {release.id!r}: config.max_steps={max_steps!r} is not allowed:"
                f" use a whole number from 1 to {MAX_STEPS_LIMIT}"
            )

    def _planner(self, release: Release) -> Planner:
        with self._lock:
            if release.id not in self._planners:
                self._planners[release.id] = build_planner(release, self._settings)
            return self._planners[release.id]

    def _config(self, thread_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": thread_id}}

    def _snapshot(self, thread_id: str) -> StateSnapshot:
        return self.graph.get_state(self._config(thread_id))

    def _existing(self, thread_id: str) -> StateSnapshot:
        snapshot = self._snapshot(thread_id)
        if snapshot.created_at is None:
            raise NotFound(
                f"thread_id={thread_id!r} has no runs: start one with POST /v1/runs",
                thread_id=thread_id,
            )
        return snapshot

    def _invoke(self, payload: Any, thread_id: str, release: Release, actor: str) -> RunResult:
        planner = self._planner(release)
        max_steps = int(release.config.get("max_steps", DEFAULT_MAX_STEPS))
        context = Context(
            planner=planner,
            system=self._system,
            system_prompt=system_prompt(release.prompt),
            max_steps=max_steps,
            release=release.id,
            actor=actor,
            audit=self._checkpoints.audit,
            metrics=self._metrics,
            kill_switch=lambda: self._releases.state.kill_switch,
        )
        config: RunnableConfig = {
            **self._config(thread_id),
            "metadata": {"release": release.id, "planner": planner.label, "actor": actor},
            "recursion_limit": 3 * max_steps + 5,  # the step bound ends runs before this
        }
        try:
            self.graph.invoke(payload, config, context=context)
        except PlannerUnavailable as exc:
            self._metrics.run_finished("failed", 0)
            self._metrics.model_failed(planner.model, type(exc.__cause__ or exc).__name__)
            log.warning("planner failed", extra={"thread_id": thread_id, "error": str(exc)})
            raise UpstreamError(
                f"{exc}. The run is saved: retry it with POST /v1/runs/{thread_id}/resume",
                thread_id=thread_id,
            ) from exc
        result = self._result(self._snapshot(thread_id), thread_id)
        self._metrics.run_finished(result.status, result.steps)
{%- if cookiecutter.human_approval == "y" %}
        if result.pending_approval is not None:
            calls = result.pending_approval.tool_calls
            self._audit_approvals(
                thread_id, calls, "approval_requested", "pending", "", actor, release
            )
{%- endif %}
        return result

{%- if cookiecutter.human_approval == "y" %}

    def _audit_approvals(
        self,
        thread_id: str,
        calls: list[dict[str, Any]],
        event: Event,
        outcome: str,
        detail: str,
        actor: str,
        release: Release,
    ) -> None:
        for call in calls:
            entry = AuditEntry(thread_id, event, call["name"], call["id"], outcome, detail, actor,
                               release.id, call["args"])  # fmt: skip
            self._checkpoints.audit.record(entry)
{%- endif %}

    def _fallback(self, thread_id: str, release: Release) -> RunResult:
        self._metrics.fallback()
        return RunResult(
            thread_id=thread_id,
            status="fallback",
            answer=self._releases.safe_fallback,
            tool_calls=[],
            steps=0,
            release=release.id,
            planner="none: kill switch on",
            fallback=True,
        )

    @staticmethod
    def _result(snapshot: StateSnapshot, thread_id: str) -> RunResult:
        values = snapshot.values
        messages: list[AnyMessage] = values.get("messages", [])
        starts = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
        run = messages[starts[-1] + 1 :] if starts else messages
        answered = {m.tool_call_id: m for m in run if isinstance(m, ToolMessage)}
        calls = [
            _call_record(call, answered.get(str(call["id"])))
            for m in run
            if isinstance(m, AIMessage)
            for call in m.tool_calls
        ]
        pending = None
        if snapshot.interrupts:
            status = "awaiting_approval"
            pending = PendingApproval(**snapshot.interrupts[0].value)
        elif values.get("status") == "max_steps":
            status = "max_steps"
        elif snapshot.next:
            status = "interrupted"
        else:
            status = "completed"
        last = run[-1] if run else None
        answer = None
        if status in ("completed", "max_steps") and isinstance(last, AIMessage):
            answer = last.text
        metadata = snapshot.metadata or {}
        return RunResult(
            thread_id=thread_id,
            status=status,
            answer=answer,
            tool_calls=calls,
            pending_approval=pending,
            steps=int(values.get("steps", 0)),
            release=str(metadata.get("release", "-")),
            planner=str(metadata.get("planner", "-")),
        )


def _parse(content: Any) -> Any:
    if isinstance(content, str):
        try:
            return json.loads(content)
        except ValueError:
            return content
    return content


def _call_record(call: Any, message: ToolMessage | None) -> ToolCallRecord:
    if message is None:
        outcome = "pending"
    else:
        artifact = message.artifact if isinstance(message.artifact, dict) else {}
        outcome = artifact.get("outcome", "error" if message.status == "error" else "ok")
    return ToolCallRecord(
        id=str(call["id"]),
        name=call["name"],
        args=call["args"],
        risky=call["name"] in RISKY_TOOLS,
        outcome=outcome,
        result=_parse(message.content) if message is not None else None,
    )


def _message_record(message: AnyMessage) -> MessageRecord:
    return MessageRecord(
        role=message.type if message.type in ("human", "ai", "tool", "system") else "system",
        content=_parse(message.content) if isinstance(message, ToolMessage) else message.content,
        name=message.name,
        tool_calls=[dict(c) for c in getattr(message, "tool_calls", [])],
        tool_call_id=getattr(message, "tool_call_id", None),
    )


@contextmanager
def open_service(
    settings: Settings, releases: ReleaseManager, metrics: ServiceMetrics
) -> Iterator[AgentService]:
    """Open the checkpoint store and the example system, and close them on exit."""
    with ExitStack() as stack:
        checkpoints = stack.enter_context(open_checkpoints(settings, releases.shared.url))
        system = open_system(settings.system_path)
        stack.callback(system.close)
        yield AgentService(settings, releases, checkpoints, system, AgentMetrics(metrics))

"""The agent service: starts runs, shows threads, applies human decisions and resumes
interrupted runs. Routes and the CLI (through the API) call it; it calls the graph, which
persists every step.

Every call is checked here before the graph sees it: the caller's tenant (a thread lives in
one), the approver role and separation of duties, one decision per call (compare-and-set in
PostgreSQL), one run per thread at a time (an advisory lock), and approval expiry. The kill
switch is checked first: while it is on, no run starts or resumes and the caller gets the
release manifest's safe fallback; risky tools also check it at call time.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, StateSnapshot

from .agent.context import Context, Planner, PlannerUnavailable
from .agent.graph import build_graph
from .agent.limits import Limits
from .agent.planner import build_planner
from .agent.policy import args_hash, validate
from .agent.prompts import system_prompt
from .agent.state import Decision
from .agent.systems import {{ "Deployments" if cookiecutter.tool_set == "ops" else "Orders" }}, open_system
from .agent.tools import RISKY_TOOLS
from .audit import AuditEntry, AuditLog
from .checkpoints import Checkpoints, open_checkpoints
from .platform.database import open_pool
from .platform.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable, UpstreamError
from .platform.metrics import ServiceMetrics
from .platform.releases import Release, ReleaseManager
from .platform.security import ALL_TENANTS, Caller
from .schemas import (
    AuditVerification,
    CallDecision,
    MessageRecord,
    PendingApproval,
    RunResult,
    RunState,
    RunStatus,
    RunUsage,
    ToolCallRecord,
    ToolOutcome,
)
from .settings import Settings
from .telemetry import AgentMetrics
from .threads import Thread, ThreadStore, thread_key

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
        threads: ThreadStore,
    ) -> None:
        for release in releases.releases.values():
            self._check_release(release)  # a bad manifest stops start-up, not a run
        self._settings = settings
        self._releases = releases
        self._checkpoints = checkpoints
        self._audit: AuditLog = checkpoints.audit
        self._system = system
        self._metrics = metrics
        self._threads = threads
        self._planners: dict[str, Planner] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tool")
        self.graph = build_graph(checkpoints.saver)
        metrics.track_pending_approvals(checkpoints.audit.pending_approvals)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- runs ---------------------------------------------------------------------------------
    def start(
        self,
        caller: Caller,
        tenant: str | None,
        task: str,
        thread_id: str | None,
        release: Release,
        kill_switch: bool,
    ) -> RunResult:
        """Run the agent on a task, in a new thread or appended to one of the tenant's."""
        tenant = self.tenant_of(caller, tenant)
        thread_id = thread_id or uuid.uuid4().hex
        if kill_switch:  # nothing is stored: no thread piles up while the switch is on
            return self._fallback(Thread(thread_key(tenant, thread_id), tenant, thread_id,
                                         caller.id), release)  # fmt: skip
        thread = self._threads.claim(tenant, thread_id, caller.id)
        with self._threads.run_lock(thread.key):
            snapshot = self._snapshot(thread.key)
            if snapshot.interrupts:
                raise Conflict(
                    f"thread_id={thread.thread_id!r} is waiting for a human decision: answer"
                    f" it with POST /v1/runs/{thread.thread_id}/decisions before starting"
                    " another task",
                    thread_id=thread.thread_id,
                )
            if snapshot.next:  # a new task would drop the unfinished step (an approved write)
                raise Conflict(
                    f"thread_id={thread.thread_id!r} has an unfinished run: finish it with"
                    f" POST /v1/runs/{thread.thread_id}/resume before starting another task",
                    thread_id=thread.thread_id,
                )
            return self._invoke({"messages": [HumanMessage(task)]}, thread, release, caller.id)

    def resume(
        self,
        caller: Caller,
        tenant: str | None,
        thread_id: str,
        release: Release,
        kill_switch: bool,
    ) -> RunResult:
        """Continue a run that stopped part-way (model endpoint down, process restarted)."""
        thread = self._thread(caller, tenant, thread_id)
        if kill_switch:
            return self._fallback(thread, release)
        with self._threads.run_lock(thread.key):
            snapshot = self._snapshot(thread.key)
            if snapshot.interrupts:
                pending = [c["id"] for c in snapshot.interrupts[0].value["tool_calls"]]
                stored = self._threads.stored_decisions(thread.key, pending)
                if len(stored) == len(pending):  # decided, but the replica died before resuming
                    return self._invoke(Command(resume=stored), thread, release, caller.id)
                raise Conflict(
                    f"thread_id={thread_id!r} is waiting for a human decision, not interrupted:"
                    f" use POST /v1/runs/{thread_id}/decisions",
                    thread_id=thread_id,
                )
            if not snapshot.next:
                raise Conflict(
                    f"thread_id={thread_id!r} has nothing to resume: its last run finished;"
                    " start a new task on it with POST /v1/runs",
                    thread_id=thread_id,
                )
            return self._invoke(None, thread, release, caller.id)

    def decide(
        self,
        caller: Caller,
        tenant: str | None,
        thread_id: str,
        decisions: list[CallDecision],
        release: Release,
        kill_switch: bool,
    ) -> RunResult:
        """Apply a human's decision on each pending call, exactly once, then continue the run."""
        thread = self._thread(caller, tenant, thread_id)
        caller.require_role(self._settings.approver_role, "deciding on a tool call")
        ids = [d.tool_call_id for d in decisions]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise Unprocessable(
                f"decisions.tool_call_id={duplicate!r} appears twice: one decision per call"
            )
        try:
            with self._threads.run_lock(thread.key):
                return self._decide_locked(caller, thread, decisions, release, kill_switch)
        except Conflict:
            self._already_decided(thread, ids)  # name the decision that won, if one did
            self._metrics.decision("conflict")
            raise

    def _decide_locked(
        self,
        caller: Caller,
        thread: Thread,
        decisions: list[CallDecision],
        release: Release,
        kill_switch: bool,
    ) -> RunResult:
        snapshot = self._snapshot(thread.key)
        if not snapshot.interrupts:
            self._already_decided(thread, [d.tool_call_id for d in decisions])
            raise Conflict(
                f"thread_id={thread.thread_id!r} has no pending tool call: nothing to decide",
                thread_id=thread.thread_id,
            )
        pending = {c["id"]: c for c in snapshot.interrupts[0].value["tool_calls"]}
        given = {d.tool_call_id: d for d in decisions}
        unknown = sorted(set(given) - set(pending))
        if unknown:
            raise Unprocessable(
                f"decisions.tool_call_id={unknown[0]!r} is not pending on this thread;"
                f" pending: {', '.join(pending)}"
            )
        missing = sorted(set(pending) - set(given))
        if missing:
            raise Unprocessable(
                f"decisions is missing tool_call_id={missing[0]!r}: decide every pending call"
                " of the step at once"
            )
        if self._settings.separation_of_duties:
            for call in pending.values():
                if call["requested_by"] == caller.id:
                    raise Forbidden(
                        f"tool_call_id={call['id']!r} comes from a run this caller started:"
                        " another approver must decide it (separation of duties)"
                    )
        now = time.time()
        resume: dict[str, Decision] = {}
        for call_id, asked in given.items():
            call = pending[call_id]
            if asked.args_hash != call["args_hash"]:
                raise Conflict(
                    f"decisions.args_hash for tool_call_id={call_id!r} does not match the"
                    " pending call's arguments: read the thread again and decide what it shows"
                )
            if asked.action != "reject" and now > call["expires_at"]:
                self._metrics.decision("expired")
                raise Conflict(
                    f"the approval of tool_call_id={call_id!r} expired at"
                    f" {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(call['expires_at']))}:"
                    " it can only be rejected now (the model is then told why)"
                )
            args = call["args"]
            if asked.action != "edit" and asked.args is not None:
                raise Unprocessable(
                    f"decisions.args is only for action='edit' (tool_call_id={call_id!r} is"
                    f" {asked.action!r}): to run other arguments, edit the call"
                )
            if asked.action == "edit":
                if asked.args is None:
                    raise Unprocessable("decisions.args is required when action='edit'")
                try:
                    args = validate(call["name"], asked.args)
                except ValueError as exc:
                    raise Unprocessable(f"decisions.args: {exc}") from None
            resume[call_id] = Decision(action=asked.action, message=asked.message,
                                       actor=caller.id, args=args,
                                       args_hash=args_hash(call["name"], args))  # fmt: skip
        if kill_switch:  # checked, not recorded: the call stays pending, nothing runs
            result = self._result(snapshot, thread)
            return result.model_copy(update={"status": "fallback", "fallback": True,
                                             "answer": self._releases.safe_fallback})  # fmt: skip
        entries = [
            AuditEntry(thread.tenant, thread.key, "approval_decided", pending[i]["name"], i,
                       d["action"], d["message"], caller.id, release.id, d["args"])
            for i, d in resume.items()
        ]  # fmt: skip

        def audited(conn: Any) -> None:
            for entry in entries:
                self._audit.record(entry, conn)

        # the decisions and their audit entries commit together, or neither does
        taken = self._threads.decide(thread.key, resume, audited)
        if taken:
            self._already_decided(thread, list(taken))
        for decision in resume.values():
            self._metrics.decision(decision["action"])
        return self._invoke(Command(resume=resume), thread, release, caller.id)

    def _already_decided(self, thread: Thread, call_ids: list[str]) -> None:
        taken = self._threads.taken(thread.key, call_ids)
        if taken:
            call_id, decision = next(iter(taken.items()))
            raise Conflict(
                f"tool_call_id={call_id!r} was already decided: {decision.describe()}",
                thread_id=thread.thread_id,
                decision=decision.action,
            )

    def state(self, caller: Caller, tenant: str | None, thread_id: str) -> RunState:
        """The thread as its latest checkpoint holds it: history, last run, audit trail."""
        thread = self._thread(caller, tenant, thread_id)
        snapshot = self._existing(thread)
        result = self._result(snapshot, thread)
        running = self._threads.running(thread.key)
        if running and result.status == "interrupted":
            result = result.model_copy(update={"status": "running"})  # not stopped: under way
        return RunState(
            **result.model_dump(),
            owner=thread.owner,
            running=running,
            messages=[_message_record(m) for m in snapshot.values.get("messages", [])],
            audit=self._audit.for_thread(thread.tenant, thread.key),
            checkpoint_id=(snapshot.config.get("configurable") or {}).get("checkpoint_id"),
            updated_at=snapshot.created_at,
        )

    def verify_audit(self, caller: Caller, tenant: str | None) -> AuditVerification:
        report = self._audit.verify(self.tenant_of(caller, tenant))
        return AuditVerification(**report.__dict__)

    def ready(self) -> bool:
        return self._checkpoints.ping()

    # -- tenants and threads ------------------------------------------------------------------
    def tenant_of(self, caller: Caller, tenant: str | None) -> str:
        """The tenant a call acts in: named, or the only one the credential reaches."""
        if tenant is None:
            if ALL_TENANTS in caller.tenants:
                tenant = self._settings.default_tenant
            elif len(caller.tenants) == 1:
                (tenant,) = caller.tenants
            elif not caller.tenants:
                raise Forbidden("this credential is bound to no tenant")
            else:
                raise BadRequest(
                    "tenant is required: this credential reaches several tenants"
                    f" ({', '.join(sorted(caller.tenants))})"
                )
        caller.require_tenant(tenant)
        return tenant

    def _thread(self, caller: Caller, tenant: str | None, thread_id: str) -> Thread:
        thread = self._threads.get(self.tenant_of(caller, tenant), thread_id)
        if thread is None:  # another tenant's thread of this name is not this tenant's
            raise NotFound(
                f"thread_id={thread_id!r} has no runs: start one with POST /v1/runs",
                thread_id=thread_id,
            )
        return thread

    # -- internals ----------------------------------------------------------------------------
    @staticmethod
    def _check_release(release: Release) -> None:
        system_prompt(release.prompt)
        max_steps = release.config.get("max_steps", 1)
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

    def _snapshot(self, key: str) -> StateSnapshot:
        return self.graph.get_state({"configurable": {"thread_id": key}})

    def _existing(self, thread: Thread) -> StateSnapshot:
        snapshot = self._snapshot(thread.key)
        if snapshot.created_at is None:
            raise NotFound(
                f"thread_id={thread.thread_id!r} has no runs: start one with POST /v1/runs",
                thread_id=thread.thread_id,
            )
        return snapshot

    def context(self, release: Release, actor: str, tenant: str) -> Context:
        settings = self._settings
        return Context(
            planner=self._planner(release),
            system=self._system,
            system_prompt=system_prompt(release.prompt),
            limits=Limits.from_settings(settings, release.config),
            prices=dict(release.config),
            release=release.id,
            actor=actor,
            tenant=tenant,
            audit=self._audit,
            metrics=self._metrics,
            kill_switch=lambda: self._releases.state.kill_switch,
            human_approval=settings.human_approval,
            autonomous_tools=frozenset(settings.autonomous_tools),
            approval_ttl_seconds=float(settings.approval_ttl_seconds),
            executor=self._executor,
        )

    def _invoke(self, payload: Any, thread: Thread, release: Release, actor: str) -> RunResult:
        context = self.context(release, actor, thread.tenant)
        planner = context.planner
        config: RunnableConfig = {
            "configurable": {"thread_id": thread.key},
            "metadata": {"release": release.id, "planner": planner.label, "actor": actor},
            "recursion_limit": 4 * context.limits.model_calls + 8,  # budgets end runs first
        }
        try:
            # "sync": each step's checkpoint is written before the next step starts, so a crash
            # inside a tool finds the step before it saved (LangGraph's default, "async",
            # writes it while the next step already runs).
            self.graph.invoke(payload, config, context=context, durability="sync")
        except PlannerUnavailable as exc:
            self._metrics.run_finished("failed", 0)
            self._metrics.model_failed(planner.model, type(exc.__cause__ or exc).__name__)
            log.warning("planner failed", extra={"thread_id": thread.key, "error": str(exc)})
            raise UpstreamError(
                f"{exc}. The run is saved: retry it with POST /v1/runs/{thread.thread_id}/resume",
                thread_id=thread.thread_id,
            ) from exc
        result = self._result(self._snapshot(thread.key), thread)
        self._metrics.run_finished(result.status, result.usage.model_calls)
        if result.limit:
            self._metrics.limit_reached(result.limit)
        if result.pending_approval is not None:
            for call in result.pending_approval.tool_calls:
                self._audit.record(AuditEntry(
                    thread.tenant, thread.key, "approval_requested", call.name, call.id,
                    "pending", call.reason, actor, release.id, call.args,
                ))  # fmt: skip
        return result

    def _fallback(self, thread: Thread, release: Release) -> RunResult:
        self._metrics.fallback()
        return RunResult(
            thread_id=thread.thread_id,
            tenant=thread.tenant,
            status="fallback",
            answer=self._releases.safe_fallback,
            tool_calls=[],
            release=release.id,
            planner="none: kill switch on",
            fallback=True,
        )

    @staticmethod
    def _result(snapshot: StateSnapshot, thread: Thread) -> RunResult:
        values = snapshot.values
        messages: list[AnyMessage] = values.get("messages", [])
        starts = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
        run = messages[starts[-1] + 1 :] if starts else messages
        answered = {m.tool_call_id: m for m in run if isinstance(m, ToolMessage)}
        reviews = values.get("reviews", {})
        calls = [
            _call_record(
                str(call.get("id")),
                str(call.get("name")),
                reviews,
                answered.get(str(call.get("id"))),
            )  # fmt: skip
            for m in run
            if isinstance(m, AIMessage)
            for call in [*m.invalid_tool_calls, *m.tool_calls]
        ]
        pending = None
        status: RunStatus
        if snapshot.interrupts:
            status = "awaiting_approval"
            pending = PendingApproval(**snapshot.interrupts[0].value)
        elif values.get("status") == "limit_reached":
            status = "limit_reached"
        elif snapshot.next:
            status = "interrupted"
        else:
            status = "completed"
        last = run[-1] if run else None
        answer = None
        if status in ("completed", "limit_reached") and isinstance(last, AIMessage):
            answer = last.text
        metadata = snapshot.metadata or {}
        return RunResult(
            thread_id=thread.thread_id,
            tenant=thread.tenant,
            status=status,
            limit=values.get("limit") if status == "limit_reached" else None,
            answer=answer,
            tool_calls=calls,
            pending_approval=pending,
            usage=RunUsage(**values.get("usage", {})),
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


def _call_record(
    call_id: str, name: str, reviews: dict[str, Any], message: ToolMessage | None
) -> ToolCallRecord:
    found = reviews.get(call_id) or {}
    artifact = (
        message.artifact if message is not None and isinstance(message.artifact, dict) else {}
    )
    outcome: ToolOutcome
    if message is None:
        outcome = "pending"
    else:
        outcome = artifact.get("outcome", "error" if message.status == "error" else "ok")
    return ToolCallRecord(
        id=call_id,
        name=name,
        args=found.get("args", {}),
        risky=name in RISKY_TOOLS,
        outcome=outcome,
        result=_parse(message.content) if message is not None else None,
        truncated=bool(artifact.get("truncated")),
        edited=bool(artifact.get("edited")),
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
    """Open the checkpoint store, the thread store and the example system; close them on exit."""
    with ExitStack() as stack:
        url = releases.shared.url
        checkpoints = stack.enter_context(open_checkpoints(settings, url))
        locks = open_pool(url, "run-locks", settings.database_pool_size)
        stack.callback(locks.close)
        threads = ThreadStore(checkpoints.state_pool, locks)
        system = open_system(settings.system_path)
        stack.callback(system.close)
        agent = AgentService(
            settings, releases, checkpoints, system, AgentMetrics(metrics), threads
        )
        stack.callback(agent.close)
        yield agent

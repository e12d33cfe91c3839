"""What one run may use. Given per invocation (`graph.invoke(..., context=Context(...))`) and
never checkpointed, so it may hold live clients: the planner, the system, the audit log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_core.messages import AIMessage, AnyMessage

from ..audit import AuditLog
from ..telemetry import AgentMetrics
from .limits import Limits
from .systems import {{ "Deployments" if cookiecutter.tool_set == "ops" else "Orders" }}


class PlannerUnavailable(RuntimeError):
    """The model endpoint failed or timed out; the run is saved and can be resumed."""


class Planner(Protocol):
    """Decides the next step: tool calls to make, or the final answer (no tool calls)."""

    model: str
    system: str  # gen_ai.system on spans: openai, aws.bedrock, scripted
    label: str  # how results name who planned them

    def plan(self, system_prompt: str, messages: Sequence[AnyMessage]) -> AIMessage: ...


def _off() -> bool:
    return False


@dataclass(frozen=True)
class Context:
    planner: Planner
    system: {{ "Deployments" if cookiecutter.tool_set == "ops" else "Orders" }}
    system_prompt: str = ""
    limits: Limits = field(default_factory=Limits)
    prices: dict[str, Any] = field(default_factory=dict)  # the release's usd_per_1k_* config
    release: str = "-"
    actor: str = "-"
    tenant: str = "default"
    audit: AuditLog | None = None
    metrics: AgentMetrics | None = None
    kill_switch: Callable[[], bool] = _off  # read at each risky call, not once per run
    human_approval: bool = True
    autonomous_tools: frozenset[str] = frozenset()
    approval_ttl_seconds: float = 3600.0
    executor: ThreadPoolExecutor | None = None  # runs tools under their timeout

"""The agent's metrics: its own families, registered on the chassis's registry, and the
chassis's GenAI families, fed with this service's words.

Tool calls are counted by outcome (ok, error, flagged, timeout, invalid, limit, rejected,
refused) and runs by final status (completed, awaiting_approval, limit_reached, interrupted,
fallback, failed), so a dashboard shows refusals and budget stops apart from errors.
"""

from __future__ import annotations

from collections.abc import Callable

from .platform.metrics import ServiceMetrics


class AgentMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self.platform = metrics
        self.tool_calls = metrics.counter(
            "agent_tool_calls_total",
            "Tool calls by tool and outcome (ok, error, flagged, timeout, invalid, limit,"
            " rejected, refused).",
            ["tool", "outcome"],
        )
        self.agent_runs = metrics.counter(
            "agent_runs_total", "Agent runs finished, by final status.", ["status"]
        )
        self.pending_approvals = metrics.gauge(
            "agent_pending_approvals", "Runs waiting for a human to approve a risky tool call."
        )
        self.limits = metrics.counter(
            "agent_limits_reached_total",
            "Runs stopped by a budget (model_calls, tool_calls, tokens, cost_usd, seconds).",
            ["limit"],
        )
        self.decisions = metrics.counter(
            "agent_decisions_total",
            "Human decisions on tool calls (approve, edit, reject), and refused duplicates"
            " (conflict) and late ones (expired).",
            ["action"],
        )
        self.agent_steps = metrics.histogram(
            "agent_run_steps",
            "Planner steps taken by one agent run.",
            buckets=(1, 2, 3, 5, 8, 13, 21, 34),
        )

    def limit_reached(self, limit: str) -> None:
        self.limits.labels(limit.split(".")[0]).inc()

    def decision(self, action: str) -> None:
        self.decisions.labels(action).inc()

    def tool_call(self, tool: str, outcome: str) -> None:
        self.tool_calls.labels(tool, outcome).inc()

    def run_finished(self, status: str, steps: int) -> None:
        self.agent_runs.labels(status).inc()
        if status != "fallback":
            self.agent_steps.observe(steps)

    def fallback(self) -> None:
        self.run_finished("fallback", 0)
        self.platform.record_fallback("kill_switch")

    def model_call(
        self,
        model: str,
        release: str,
        seconds: float,
        input_tokens: int,
        output_tokens: int,
        cost_usd: float = 0.0,
    ) -> None:
        self.platform.record_model_call(
            "chat", model, release, seconds, input_tokens, output_tokens, cost_usd
        )

    def model_failed(self, model: str, error: str) -> None:
        self.platform.record_model_error("chat", model, error)

    def track_pending_approvals(self, count: Callable[[], int]) -> None:
        """Read the count from the audit log at each scrape: right across restarts and replicas."""
        gauge = self.pending_approvals
        gauge.set(count())
        self.platform.on_scrape(lambda: gauge.set(count()))

"""The agent's metrics: the chassis's agent and GenAI families, fed with this service's words.

Tool calls are counted by outcome (ok, error, rejected, refused) and runs by final status
(completed, awaiting_approval, max_steps, interrupted, fallback, failed), so a dashboard shows
refusals and step-limit stops apart from errors.
"""

from __future__ import annotations

from collections.abc import Callable

from .platform.metrics import ServiceMetrics


class AgentMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self.platform = metrics

    def tool_call(self, tool: str, outcome: str) -> None:
        self.platform.tool_calls.labels(tool, outcome).inc()

    def run_finished(self, status: str, steps: int) -> None:
        self.platform.agent_runs.labels(status).inc()
        if status != "fallback":
            self.platform.agent_steps.observe(steps)

    def fallback(self) -> None:
        self.run_finished("fallback", 0)
        self.platform.fallbacks.labels("kill_switch").inc()

    def model_call(
        self, model: str, release: str, seconds: float, input_tokens: int, output_tokens: int
    ) -> None:
        self.platform.record_model_call(
            "chat", model, release, seconds, input_tokens, output_tokens
        )

    def model_failed(self, model: str, error: str) -> None:
        self.platform.model_errors.labels("chat", model, error).inc()

    def track_pending_approvals(self, count: Callable[[], int]) -> None:
        """Read the count from the audit log at each scrape: right across restarts and replicas."""
        gauge = self.platform.queue_depth
        gauge.set(count())
        self.platform.on_scrape(lambda: gauge.set(count()))

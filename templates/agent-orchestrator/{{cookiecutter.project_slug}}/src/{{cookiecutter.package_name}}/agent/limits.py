"""Budgets of one run and limits of one tool call (OWASP LLM10, unbounded consumption).

Every budget ends a run with status `limit_reached` and names the limit; the tool-call
budgets refuse the calls over them (each answered to the model, so the history stays valid).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .state import Usage


@dataclass(frozen=True)
class Limits:
    model_calls: int = 8
    tool_calls: int = 20
    calls_per_tool: int = 10
    tokens: int = 50_000
    cost_usd: float = 1.0
    seconds: float = 120.0
    tool_timeout_seconds: float = 10.0
    tool_output_chars: int = 8_000

    @classmethod
    def from_settings(cls, settings: Any, release_config: dict[str, Any]) -> Limits:
        """The settings' budgets; a release's `max_steps` overrides the model-call budget."""
        return cls(
            model_calls=int(release_config.get("max_steps", settings.max_model_calls)),
            tool_calls=settings.max_tool_calls,
            calls_per_tool=settings.max_calls_per_tool,
            tokens=settings.max_tokens_per_run,
            cost_usd=settings.max_cost_usd_per_run,
            seconds=settings.max_run_seconds,
            tool_timeout_seconds=settings.tool_timeout_seconds,
            tool_output_chars=settings.max_tool_output_chars,
        )

    def spent(self, usage: Usage) -> tuple[str, str] | None:
        """(limit, message) when the run may not call the model again, else None."""
        tokens = usage["input_tokens"] + usage["output_tokens"]
        if usage["model_calls"] >= self.model_calls:
            return "model_calls", f"{usage['model_calls']} model calls (max {self.model_calls})"
        if tokens >= self.tokens:
            return "tokens", f"{tokens} tokens (max {self.tokens})"
        if usage["cost_usd"] > 0 and usage["cost_usd"] >= self.cost_usd:
            return "cost_usd", f"${usage['cost_usd']:.4f} (max ${self.cost_usd:.2f})"
        if usage["seconds"] >= self.seconds:
            return "seconds", f"{usage['seconds']:.1f} s (max {self.seconds:g} s)"
        return None

    def over_budget(self, usage: Usage) -> tuple[str, str] | None:
        """Like `spent`, except that using the last model call is fine: tools may still run."""
        tokens = usage["input_tokens"] + usage["output_tokens"]
        if tokens > self.tokens:
            return "tokens", f"{tokens} tokens (max {self.tokens})"
        if usage["cost_usd"] > self.cost_usd:
            return "cost_usd", f"${usage['cost_usd']:.4f} (max ${self.cost_usd:.2f})"
        if usage["seconds"] > self.seconds:
            return "seconds", f"{usage['seconds']:.1f} s (max {self.seconds:g} s)"
        return None


def stop_message(limit: str, spent: str) -> str:
    return (
        f"Stopped: this run reached its {limit} limit ({spent}) before a final answer. The"
        " tool results so far are in this run's tool calls; narrow the task, or raise the"
        " limit in the settings (or max_steps in the release config)."
    )

"""The tool registry: each tool's typed arguments (unknown ones refused), its kind (read,
write, external) and what it does to the example system.

The graph never runs a tool from here directly: `policy.review` validates a proposed call and
decides whether it runs, asks a human or is refused; `execution.run_call` runs it under a
timeout and an output cap. Write tools receive an idempotency key (thread + tool call id) and
pass it to the system they change, so a call re-run after a crash changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .systems import {{ "Deployments" if cookiecutter.tool_set == "ops" else "Orders" }}

Kind = Literal["read", "write", "external"]
RISKY_KINDS = frozenset({"write", "external"})


class Args(BaseModel):
    """Tool arguments: strict, so an argument the tool does not define is refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    kind: Kind
    args: type[Args]
    run: Callable[[{{ "Deployments" if cookiecutter.tool_set == "ops" else "Orders" }}, Any, str], dict[str, Any]]  # (system, args, idempotency key)

    @property
    def risky(self) -> bool:
        return self.kind in RISKY_KINDS

    def definition(self) -> dict[str, Any]:
        """The OpenAI-style function definition a chat model is bound with."""
        schema = self.args.model_json_schema()
        schema.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description,
                         "parameters": schema},
        }  # fmt: skip
{%- if cookiecutter.tool_set == "ops" %}


class ServiceArgs(Args):
    service: str = Field(
        min_length=1, max_length=63, pattern=r"^[A-Za-z][A-Za-z0-9-]*$",
        description='The service name, for example "checkout".',
    )  # fmt: skip


class ScaleArgs(ServiceArgs):
    replicas: int = Field(ge=0, le=20, description="The new replica count, from 0 to 20.")


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            "service_status",
            "Look up a service's health status, replica count, version and error rate.",
            "read",
            ServiceArgs,
            lambda system, args, key: system.get(args.service.lower()),
        ),
        Tool(
            "scale_deployment",
            "RISKY: set the number of replicas of a service's deployment (0 stops it).",
            "write",
            ScaleArgs,
            lambda system, args, key: system.scale(args.service.lower(), args.replicas, key),
        ),
    )
}
{%- else %}


class OrderArgs(Args):
    order_id: str = Field(
        min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$",
        description='The order id, for example "A-1001".',
    )  # fmt: skip


class RefundArgs(OrderArgs):
    reason: str = Field(min_length=1, max_length=200, description="Why, in a few words.")
    amount: float | None = Field(
        default=None, gt=0, le=100_000,
        description="Amount to refund; omit it to refund everything still refundable.",
    )  # fmt: skip


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            "lookup_order",
            "Look up an order: status, total, amount refunded and amount still refundable.",
            "read",
            OrderArgs,
            lambda system, args, key: system.get(args.order_id.upper()),
        ),
        Tool(
            "issue_refund",
            "RISKY: refund money on an order (moves money to the customer).",
            "write",
            RefundArgs,
            lambda system, args, key: system.refund(
                args.order_id.upper(), args.amount, args.reason, key
            ),
        ),
    )
}
{%- endif %}
RISKY_TOOLS = frozenset(name for name, tool in TOOLS.items() if tool.risky)


def definitions() -> list[dict[str, Any]]:
    return [tool.definition() for tool in TOOLS.values()]

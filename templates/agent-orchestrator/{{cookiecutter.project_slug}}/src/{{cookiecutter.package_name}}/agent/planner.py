{%- if cookiecutter.llm == "scripted" -%}
"""The planner: a SCRIPTED planner, deterministic and offline, for local runs and tests.

It is not a language model. It reads the task with fixed patterns, plans the matching tool
calls, makes them one per step, and answers with the tools' real results, labelled
"[scripted planner]". Swap in a model by regenerating with llm=openai-compatible or bedrock:
the graph, tools and API stay the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage

from ..platform.releases import Release
from ..settings import Settings
from .context import Planner

LABEL = "scripted planner (deterministic, no language model)"
NAME = r"[a-z][a-z0-9-]*"


@dataclass(frozen=True)
class Rule:
    """A pattern in the task and the tool calls one match of it plans."""

    tool: str
    pattern: re.Pattern[str]
    calls: Callable[[re.Match[str]], list[dict[str, Any]]]

{% if cookiecutter.tool_set == "ops" %}
RULES = [
    Rule(
        "scale_deployment",
        re.compile(rf"\bscale\s+(?:the\s+)?(?P<service>{NAME})(?:\s+deployment)?\s+to\s+"
                   r"(?P<replicas>-?\d+)", re.IGNORECASE),
        lambda m: [{"service": m["service"].lower(), "replicas": int(m["replicas"])}],
    ),
    Rule(
        "service_status",
        re.compile(rf"\bstatus\s+of\s+(?:the\s+)?(?P<names>{NAME}(?:(?:\s*,\s*|\s+and\s+)"
                   rf"{NAME})*)", re.IGNORECASE),
        lambda m: [{"service": name.lower()}
                   for name in re.split(r"\s*,\s*|\s+and\s+", m["names"])],
    ),
]  # fmt: skip
EXAMPLES = "'status of checkout and payments' or 'scale checkout to 5'"
{%- else %}
RULES = [
    Rule(
        "issue_refund",
        re.compile(r"\brefund\s+(?:(?P<amount>\d+(?:\.\d{1,2})?)\s+(?:on|for|of)\s+)?order\s+"
                   r"(?P<order_id>[a-z]-?\d+)", re.IGNORECASE),
        lambda m: [{"order_id": m["order_id"].upper(), "reason": "requested by customer",
                    **({"amount": float(m["amount"])} if m["amount"] else {})}],
    ),
    Rule(
        "lookup_order",
        re.compile(r"\border\s+(?P<order_id>[a-z]-?\d+)", re.IGNORECASE),
        lambda m: [{"order_id": m["order_id"].upper()}],
    ),
]  # fmt: skip
EXAMPLES = "'where is order A-1002' or 'refund 20 on order A-1001'"
{%- endif %}


def plan_calls(task: str) -> list[tuple[str, dict[str, Any]]]:
    """Every tool call the task asks for, in the order it asks; earlier rules win overlaps."""
    claimed: list[tuple[int, int, str, dict[str, Any]]] = []
    for rule in RULES:
        for match in rule.pattern.finditer(task):
            start, end = match.span()
            if any(start < c_end and c_start < end for c_start, c_end, _, _ in claimed):
                continue
            claimed.extend((start, end, rule.tool, args) for args in rule.calls(match))
    return [(tool, args) for _, _, tool, args in sorted(claimed, key=lambda c: c[:2])]


def _text(message: AnyMessage) -> str:
    return message.content if isinstance(message.content, str) else json.dumps(message.content)


class ScriptedPlanner:
    """Plans from the task text alone; makes one planned call per step, then answers."""

    system = "scripted"
    label = LABEL

    def __init__(self, model: str) -> None:
        self.model = model

    def plan(self, system_prompt: str, messages: Sequence[AnyMessage]) -> AIMessage:
        start = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
        planned = plan_calls(_text(messages[start]))
        run = messages[start + 1 :]
        made = sum(
            len(m.tool_calls) + len(m.invalid_tool_calls) for m in run if isinstance(m, AIMessage)
        )
        if made < len(planned):
            tool, args = planned[made]
            call_id = f"call_{len(messages)}_{made}"
            call = {"name": tool, "args": args, "id": call_id}
            return AIMessage("", name="scripted-planner", tool_calls=[call])
        return AIMessage(self._answer(run), name="scripted-planner")

    @staticmethod
    def _answer(run: Sequence[AnyMessage]) -> str:
        results = [m for m in run if isinstance(m, ToolMessage)]
        if not results:
            return f"[scripted planner] No tool matches this task. Try {EXAMPLES}."
        lines = [
            f"{m.name}: {'failed: ' if m.status == 'error' else ''}{_text(m)}" for m in results
        ]
        return "[scripted planner] " + "\n".join(lines)


def build_planner(release: Release, settings: Settings) -> Planner:
    """The release's planner; `settings` is unused here and kept for the model planners' shape."""
    return ScriptedPlanner(release.model)
{%- else -%}
"""The planner: a chat model with the tool registry bound, chosen by the release.

{% if cookiecutter.llm == "openai-compatible" -%}
Any OpenAI-compatible endpoint (vLLM on the GPU nodes, or a hosted API) through
langchain-openai's ChatOpenAI: the release names the model, OPENAI_BASE_URL the endpoint.
{%- else -%}
Amazon Bedrock through langchain-aws's ChatBedrockConverse (the Converse API, native tool use):
the release names the model id, AWS_REGION (and BEDROCK_ENDPOINT_URL, if set) the endpoint.
{%- endif %}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

{% if cookiecutter.llm == "openai-compatible" -%}
import openai
{%- else -%}
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
{%- endif %}
{%- if cookiecutter.llm == "bedrock" %}
from langchain_aws import ChatBedrockConverse
{%- endif %}
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, SystemMessage
from langchain_core.runnables import Runnable
{%- if cookiecutter.llm == "openai-compatible" %}
from langchain_openai import ChatOpenAI
{%- endif %}

from ..platform.releases import Release
from ..settings import Settings
from .context import Planner, PlannerUnavailable
from .tools import definitions

{% if cookiecutter.llm == "openai-compatible" -%}
UPSTREAM_ERRORS: tuple[type[Exception], ...] = (openai.APIError,)
{%- else -%}
UPSTREAM_ERRORS: tuple[type[Exception], ...] = (BotoCoreError, ClientError)
{%- endif %}


class ChatPlanner:
    """The model decides: it answers, or asks for tool calls the graph then runs."""

    system = "{{ 'openai' if cookiecutter.llm == 'openai-compatible' else 'aws.bedrock' }}"

    def __init__(self, model: str, chat: BaseChatModel) -> None:
        self.model = model
        self.label = f"{self.system}:{model}"
        self._chat: Runnable[Any, Any] = chat.bind_tools(definitions())

    def plan(self, system_prompt: str, messages: Sequence[AnyMessage]) -> AIMessage:
        try:
            reply = self._chat.invoke([SystemMessage(system_prompt), *messages])
        except UPSTREAM_ERRORS as exc:
            raise PlannerUnavailable(f"model {self.model!r} failed: {exc}") from exc
        if not isinstance(reply, AIMessage):
            raise PlannerUnavailable(f"model {self.model!r} returned {type(reply).__name__}")
        return reply


def build_planner(release: Release, settings: Settings) -> Planner:
    temperature = float(release.config.get("temperature", 0.0))
    max_tokens = int(release.config.get("max_tokens", 1024))
{%- if cookiecutter.llm == "openai-compatible" %}
    chat = ChatOpenAI(
        model=release.model,
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key,
        temperature=temperature,
        max_completion_tokens=max_tokens,
        timeout=settings.outbound_timeout_seconds,
        max_retries=settings.model_max_retries,
    )
{%- else %}
    chat = ChatBedrockConverse(
        model=release.model,
        region_name=settings.aws_region,
        endpoint_url=settings.bedrock_endpoint_url,
        temperature=temperature,
        max_tokens=max_tokens,
        config=Config(
            connect_timeout=settings.outbound_timeout_seconds,
            read_timeout=settings.outbound_timeout_seconds,
            retries={"total_max_attempts": settings.model_max_retries + 1, "mode": "standard"},
        ),
    )
{%- endif %}
    return ChatPlanner(release.model, chat)
{%- endif %}

"""The service's settings: the chassis's, plus where the agent keeps state and which model plans.

Only this class reads the environment (and `.env`); everything else receives a `Settings`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field{% if cookiecutter.llm == "openai-compatible" %}, SecretStr{% endif %}

from .platform.config import PlatformSettings


class Settings(PlatformSettings):
    service_name: str = "{{ cookiecutter.project_slug }}"
    aws_region: str = "{{ cookiecutter.aws_region }}"
    availability_slo: float = {{ cookiecutter.availability_slo }}
    latency_slo_ms: float = {{ cookiecutter.latency_slo_p95_ms }}
    # Checkpoints{% if cookiecutter.checkpointer == "postgres" %} and the audit log{% endif %} live in the chassis's DATABASE_URL (see platform/config.py).
{%- if cookiecutter.llm == "openai-compatible" %}

    # The planner model: any OpenAI-compatible chat completions endpoint (vLLM on the cluster).
    openai_base_url: str = Field(
        default="http://127.0.0.1:8001/v1", description="Base URL ending in /v1."
    )
    openai_api_key: SecretStr = Field(
        default=SecretStr("unused-by-vllm"), description="Bearer token the endpoint expects."
    )
{%- elif cookiecutter.llm == "bedrock" %}

    # The planner model: Amazon Bedrock (Converse API) in aws_region.
    bedrock_endpoint_url: str | None = Field(
        default=None, description="Override the bedrock-runtime endpoint (VPC endpoint, tests)."
    )
{%- endif %}
    model_max_retries: int = Field(default=2, ge=0, le=10)

    # Who may decide, and for how long a pending call may be decided.
    human_approval: bool = Field(
        default={{ "True" if cookiecutter.human_approval == "y" else "False" }},
        description="Risky (write, external) tool calls wait for a human with the approver role."
        " Off: they are refused unless named in AUTONOMOUS_TOOLS.",
    )
    autonomous_tools: list[str] = Field(
        default_factory=list,
        description="Risky tools allowed to run without a human when HUMAN_APPROVAL is off.",
    )
    approval_ttl_seconds: int = Field(default={{ cookiecutter.approval_ttl_minutes | int * 60 }}, ge=30, le=604_800)
    approver_role: str = "approver"
    separation_of_duties: bool = Field(
        default=True, description="The caller who started a run may not approve its calls."
    )
    default_tenant: str = Field(
        default="default",
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="The tenant of a caller bound to every tenant ('*') that names none.",
    )

    # Budgets per run (a task on a thread) and limits per tool call; each ends with a clear status.
    max_model_calls: int = Field(default=8, ge=1, le=100)
    max_tool_calls: int = Field(default=20, ge=1, le=500)
    max_calls_per_tool: int = Field(default=10, ge=1, le=500)
    max_tokens_per_run: int = Field(default=50_000, ge=100)
    max_cost_usd_per_run: float = Field(default={{ cookiecutter.run_budget_usd | float }}, ge=0)
    max_run_seconds: float = Field(default=120.0, gt=0, le=3600)
    tool_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    max_tool_output_chars: int = Field(default=8_000, ge=200, le=1_000_000)

{%- if cookiecutter.checkpointer == "sqlite" %}

    @property
    def checkpoint_path(self) -> Path:
        """One SQLite file for checkpoints and the audit log: single replica only."""
        return self.data_dir / "checkpoints.sqlite"
{%- endif %}

    @property
    def system_path(self) -> Path:
        """The example system the tools act on (replace it with your real API client)."""
        return self.data_dir / "{{ 'deployments' if cookiecutter.tool_set == 'ops' else 'orders' }}.sqlite"

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

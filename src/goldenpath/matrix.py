"""The render matrix: which answer combinations template CI renders, and which it must refuse.

Every value of every choice appears in at least one supported combination (a test checks it),
so no option can rot unrendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TEMPLATES = ("rag-service", "batch-inference", "agent-orchestrator")


@dataclass(frozen=True)
class Combination:
    template: str
    name: str
    answers: dict[str, str] = field(default_factory=dict)


SUPPORTED: tuple[Combination, ...] = (
    Combination("rag-service", "defaults"),
    Combination(
        "rag-service",
        "llm-endpoints",
        {
            "generation_mode": "openai-compatible",
            "embeddings": "openai-compatible",
            "hybrid_search": "n",
            "auth": "jwt",
            "streaming": "n",
            "python_version": "3.12",
            "ci_provider": "gitlab",
            "license": "MIT",
            "lifecycle": "production",
        },
    ),
    Combination(
        "rag-service",
        "bedrock",
        {"generation_mode": "bedrock", "embeddings": "bedrock", "license": "Proprietary"},
    ),
    Combination("batch-inference", "defaults"),
    Combination(
        "batch-inference",
        "s3-gpu-custom",
        {
            "storage": "s3",
            "output_format": "jsonl",
            "task": "custom",
            "accelerator": "gpu",
            "python_version": "3.12",
            "ci_provider": "gitlab",
            "license": "MIT",
            "lifecycle": "production",
        },
    ),
    Combination(
        "batch-inference",
        "custom-parquet",
        {"task": "custom", "license": "Proprietary", "availability_slo": "99.5"},
    ),
    Combination("agent-orchestrator", "defaults"),
    Combination(
        "agent-orchestrator",
        "openai-sqlite-support",
        {
            "llm": "openai-compatible",
            "checkpointer": "sqlite",
            "human_approval": "n",
            "tool_set": "support",
            "python_version": "3.12",
            "ci_provider": "gitlab",
            "license": "MIT",
            "lifecycle": "production",
        },
    ),
    Combination(
        "agent-orchestrator",
        "bedrock-approval",
        {"llm": "bedrock", "human_approval": "y", "license": "Proprietary"},
    ),
)


@dataclass(frozen=True)
class Refused:
    template: str
    answers: dict[str, str]
    message: str  # the part of the one-line refusal a user must see
    # "hook": our pre-generation hook's one-line refusal. "cookiecutter": cookiecutter itself
    # refuses a value outside a choice list before any hook runs (its own error text).
    by: str = "hook"


REFUSED: tuple[Refused, ...] = (
    Refused("rag-service", {"project_slug": "Bad Slug"}, "project_slug='Bad Slug'"),
    Refused("rag-service", {"project_slug": "9lives"}, "DNS-1123"),
    Refused("rag-service", {"project_slug": "a" * 64}, "1-63 lowercase"),
    Refused("rag-service", {"project_slug": "edge-", "package_name": "edge"}, "not ending"),
    Refused("rag-service", {"package_name": "class"}, "Python keyword"),
    Refused("rag-service", {"package_name": "json"}, "standard-library module"),
    Refused("rag-service", {"package_name": "1st_service"}, "not a digit first"),
    Refused("batch-inference", {"aws_region": "us-central-1"}, "aws_region='us-central-1'"),
    Refused("batch-inference", {"owner_email": "team-at-example"}, "owner_email="),
    Refused("batch-inference", {"owner_team": "ML Platform"}, "owner_team="),
    Refused(
        "batch-inference",
        {"python_version": "3.9"},
        "3.9 provided for choice variable python_version, but the choices are ['3.11', '3.12']",
        by="cookiecutter",
    ),
    Refused("agent-orchestrator", {"availability_slo": "100"}, "90 to 99.999"),
    Refused("agent-orchestrator", {"availability_slo": "high"}, "availability_slo='high'"),
    Refused("agent-orchestrator", {"latency_slo_p95_ms": "0"}, "10 to 60000"),
    Refused("agent-orchestrator", {"latency_slo_p95_ms": "250.5"}, "whole number"),
    Refused("agent-orchestrator", {"approval_ttl_minutes": "0"}, "approval_ttl_minutes='0'"),
    Refused("agent-orchestrator", {"approval_ttl_minutes": "1.5"}, "whole number of minutes"),
    Refused("agent-orchestrator", {"run_budget_usd": "free"}, "run_budget_usd='free'"),
    Refused(
        "rag-service",
        {"generation_mode": "gpt"},
        "gpt provided for choice variable",
        "cookiecutter",
    ),
    Refused(
        "rag-service",
        {"generation_mode": "openai-compatible", "latency_slo_p95_ms": "200"},
        "at least 500 ms",
    ),
    Refused(
        "agent-orchestrator",
        {"human_approval": "y", "checkpointer": "sqlite"},
        "use checkpointer=postgres",
    ),
)

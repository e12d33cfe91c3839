"""Settings of {{ cookiecutter.project_name }}: the chassis settings plus retrieval and model
choices. The only module that reads the environment (and `.env`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from .platform.config import PlatformSettings

GenerationMode = Literal["extractive", "openai-compatible", "bedrock"]
EmbeddingsMode = Literal["local-minilm", "openai-compatible", "bedrock"]

# Model and vector size each embeddings mode uses unless EMBEDDING_MODEL/DIMENSION say otherwise.
EMBEDDING_DEFAULTS: dict[str, tuple[str, int]] = {
    "local-minilm": ("all-MiniLM-L6-v2", 384),
    "openai-compatible": ("text-embedding-3-small", 1536),
    "bedrock": ("amazon.titan-embed-text-v2:0", 1024),
}


class Settings(PlatformSettings):
    """Everything this service can be told; defaults come from the template answers."""

    service_name: str = "{{ cookiecutter.project_slug }}"
    auth_mode: Literal["api-key", "jwt"] = "{{ cookiecutter.auth }}"
    # Roles nest (reader < writer < admin; access.py). The `api_key` secret is the operator's.
    api_key_secret_roles: list[str] = Field(
        default_factory=lambda: ["admin"],
        description="Roles the `api_key` secret carries: reader, writer or admin.",
    )
    availability_slo: float = {{ cookiecutter.availability_slo }}
    latency_slo_ms: float = {{ cookiecutter.latency_slo_p95_ms }}
    # The store is the chassis's DATABASE_URL (PostgreSQL + pgvector; see platform/config.py).

    # Embeddings.
    embeddings: EmbeddingsMode = "{{ cookiecutter.embeddings }}"
    embedding_model: str | None = Field(default=None, description="Default: per mode.")
    embedding_dimension: int | None = Field(
        default=None, ge=1, le=2000, description="Vector size (HNSW allows up to 2000)."
    )
    embedding_batch_size: int = Field(default=32, ge=1, le=1024)
    model_threads: int | None = Field(
        default=None, ge=1, le=256,
        description="CPU threads of the local model and tokenizer. Default: the container's"
        " CPU quota (cgroup), or the CPUs this process may run on.",
    )  # fmt: skip

    # Generation: the model and prompt come from the active release in releases.yaml.
    generation_mode: GenerationMode = "{{ cookiecutter.generation_mode }}"
    openai_base_url: str = Field(
        default="http://vllm.inference.svc.cluster.local:8000/v1",
        description="OpenAI-compatible endpoint (vLLM on the GPU nodes).",
    )
    openai_api_key: SecretStr = SecretStr("unused-by-vllm")
    bedrock_endpoint_url: str | None = Field(default=None, description="Override for tests.")
    llm_max_tokens: int = Field(default=512, ge=16, le=8192)
    llm_temperature: float = Field(default=0.0, ge=0.0, le=2.0)

    # Retrieval and answers.
    hybrid_search: bool = {{ "True" if cookiecutter.hybrid_search == "y" else "False" }}
    chunk_size: int = Field(default=800, ge=100, le=8000, description="Characters per chunk.")
    chunk_overlap: int = Field(default=120, ge=0, le=2000)
    max_question_chars: int = Field(default=2000, ge=10, le=20000)
    max_document_bytes: int = Field(
        default=20_000_000, ge=1024, description="Largest document, before base64 encoding."
    )
    progress_log_seconds: float = Field(
        default=5.0, gt=0, description="How often a long ingestion logs done/total, rate and ETA."
    )
    s3_allowed_prefixes: dict[str, list[str]] = Field(
        default_factory=dict,
        description="S3 prefixes each tenant may ingest from: tenant -> ['s3://bucket/prefix/']."
        " A tenant without an entry ingests no S3 URI.",
    )
    redact_pii: bool = Field(default=False, description="Redact personal data from answers.")
    injection_semantic: bool = Field(
        default=True,
        description="Screen questions by similarity to known attacks too (screening.py).",
    )
    injection_semantic_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="Similarity that flags. Default: calibrated for the embedding model.",
    )  # fmt: skip
    guard_model: str | None = Field(
        default=None,
        description="Chat model that screens every question the other checks passed (LLM"
        " modes only; asked through the generation endpoint). Off by default: a call each.",
    )
    cache_entries: int = Field(default=2048, ge=0, description="0 turns the answer cache off.")
    cache_ttl_seconds: float = Field(
        default=300.0, gt=0, description="Backstop: no cached answer outlives this."
    )

    @model_validator(mode="after")
    def _body_limit_fits_the_largest_document(self) -> Settings:
        """The request-body limit follows from the document limit (one document, base64 in
        JSON, plus room for the envelope), so what the API advertises is what it accepts."""
        needed = -(-self.max_document_bytes * 4 // 3) + 65_536
        if "max_body_bytes" not in self.model_fields_set:
            self.max_body_bytes = needed
        elif self.max_body_bytes < needed:
            raise ValueError(
                f"max_body_bytes={self.max_body_bytes} is below what max_document_bytes="
                f"{self.max_document_bytes} needs in base64 JSON: use at least {needed}"
            )
        return self

    @model_validator(mode="after")
    def _guard_model_needs_an_llm_mode(self) -> Settings:
        if self.guard_model and self.generation_mode == "extractive":
            raise ValueError(
                f"guard_model={self.guard_model!r} needs generation_mode openai-compatible or"
                " bedrock (it is asked through that endpoint); generation_mode is extractive"
            )
        return self

    @model_validator(mode="after")
    def _check_chunking(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap={self.chunk_overlap} must be smaller than chunk_size="
                f"{self.chunk_size}"
            )
        return self

    @property
    def resolved_embedding_model(self) -> str:
        return self.embedding_model or EMBEDDING_DEFAULTS[self.embeddings][0]

    @property
    def resolved_embedding_dimension(self) -> int:
        return self.embedding_dimension or EMBEDDING_DEFAULTS[self.embeddings][1]


def get_settings() -> Settings:
    return Settings()

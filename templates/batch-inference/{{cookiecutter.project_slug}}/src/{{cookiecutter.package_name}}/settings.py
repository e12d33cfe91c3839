"""Settings of {{ cookiecutter.project_name }}: the chassis settings plus the batch engine's.

The only module that reads the environment (and `.env`); everything else receives values.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from .platform.config import PlatformSettings

OutputFormat = Literal["parquet", "jsonl"]


class Settings(PlatformSettings):
    """Defaults run everything on this machine: a loopback Ray, files under `storage_root`."""

    service_name: str = "{{ cookiecutter.project_slug }}"
    availability_slo: float = {{ cookiecutter.availability_slo }}
    latency_slo_ms: float = {{ cookiecutter.latency_slo_p95_ms }}
    # Release routing, the kill switch and the audit live in DATABASE_URL (platform/config.py).

    # Where jobs read and write. Local paths in requests are relative to this folder and may
    # not leave it: a caller must never be able to read or overwrite arbitrary server files.
    storage_root: Path = Path("data")
{%- if cookiecutter.storage == "s3" %}
    s3_allowed_buckets: list[str] = Field(
        default_factory=list, description="Buckets jobs may read and write (s3://<bucket>/...)."
    )
    # Static keys only for local S3-compatible servers; in AWS leave them unset (IRSA).
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
{%- endif %}
    # Lineage in every output's manifest: set by the image build and the deploy program.
    image: str = Field(default="local", description="The container image a job runs in.")
    git_sha: str = Field(default="unversioned", description="The code's commit.")
    default_output_format: OutputFormat = "{{ cookiecutter.output_format }}"
    text_field: str = Field(default="text", description="Input field holding the text.")
    id_field: str = Field(default="id", description="Input field holding the row id.")
    max_text_chars: int = Field(
        default=20_000, ge=1, description="Longer texts go to the dead letters."
    )
    max_bad_ratio: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="A job fails (publishing nothing) once more than this share of rows is bad.",
    )
    max_error_samples: int = Field(default=5, ge=0, le=100)
    block_rows: int = Field(
        default=256, ge=1, le=1_000_000, description="Input lines per Ray block (checkpoint unit)."
    )

    # Batch engine. Releases may override batch_size and concurrency per model version.
    ray_address: str | None = Field(
        default=None, description="Join this Ray cluster (KubeRay: 'auto'); unset: local Ray."
    )
    ray_num_cpus: int = Field(default=2, ge=1, description="CPUs of the local Ray instance.")
    ray_auth_token: SecretStr | None = Field(
        default=None,
        description="Ray's token (a Secret in Kubernetes); unset: a random one per process.",
    )
    # Rows per predictor call. The predictor sorts each batch by length and encodes it in
    # mini-batches (a release's encode_batch_size), so a large batch pads little: measured
    # in bench/batch (3,000 paragraphs, 2 cores): 256-row windows 47.8 rows/s, 32-row
    # calls 24.4, one global sort 52.1.
    batch_size: int = Field(default=256, ge=1, le=65_536)
    concurrency: int = Field(default=1, ge=1, le=256, description="Predictor actors at start.")
    max_concurrency: int = Field(
        default=2, ge=0, le=256, description="The actor pool grows to this many while rows queue."
    )
    cpus_per_actor: float = Field(
        default=1.0,
        gt=0,
        le=64,
        description="Ray CPUs per predictor actor; Ray gives torch this many threads.",
    )
    accelerator: Literal["cpu", "gpu"] = "{{ cookiecutter.accelerator }}"
    gpus_per_actor: float = Field(default=1.0, gt=0, le=8)
    progress_interval_seconds: float = Field(default=0.5, gt=0)
    job_poll_seconds: float = Field(default=1.0, gt=0, description="Idle runners look this often.")
    job_stale_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A running job without a heartbeat this long is resumed by another runner.",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()

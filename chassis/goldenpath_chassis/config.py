"""Platform settings every service inherits; the service's own settings.py extends them.

Only settings classes read the environment (and `.env`); everything else receives values.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .database import check_iam_url

Environment = Literal["development", "test", "staging", "production"]

# Local development values: a service in production refuses to start while any is in use.
DEVELOPMENT_SECRETS = {"admin_token": "dev-admin-token", "api_key": "dev-api-key"}


class PlatformSettings(BaseSettings):
    """Settings of the chassis. Secrets are `SecretStr`: they never print in reprs or logs."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", validate_default=True)

    # Secrets a production service cannot start without; a service adds its own names
    # (`production_secrets = (*PlatformSettings.production_secrets, "llm_api_key")`).
    production_secrets: ClassVar[tuple[str, ...]] = ("admin_token", "api_key")

    service_name: str = "service"
    version: str = "0.1.0"
    environment: Environment = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] | None = Field(
        default=None,
        description="console: one readable line per record (the default in development, as"
        " under `make run`); json: JSON lines for a log pipeline (the default elsewhere).",
    )
    log_prompts: bool = Field(
        default=False, description="Log prompts and responses (redacted). Off: never logged."
    )
    data_dir: Path = Path(".data")

    # Secrets: from the environment locally, from AWS Secrets Manager when SECRETS_ID is set.
    admin_token: SecretStr = SecretStr(DEVELOPMENT_SECRETS["admin_token"])
    api_key: SecretStr = SecretStr(DEVELOPMENT_SECRETS["api_key"])
    api_key_hashes: list[str] = Field(
        default_factory=list, description="SHA-256 hex digests of accepted API keys."
    )
    api_key_tenants: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Which tenants each API key may reach: SHA-256 digest -> tenants ('*': all)."
        " A key in API_KEY_HASHES without an entry reaches no tenant.",
    )
    api_key_secret_tenants: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Tenants the `api_key` secret reaches (an operator key: all by default).",
    )
    api_key_roles: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Roles each API key carries (e.g. approver): SHA-256 digest -> roles."
        " JWTs carry theirs in a `roles` claim.",
    )
    api_key_secret_roles: list[str] = Field(
        default_factory=list, description="Roles the `api_key` secret carries (none by default)."
    )
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = Field(
        default=None, description="Override the AWS endpoint (a local moto server in tests)."
    )
    secrets_id: str | None = Field(
        default=None,
        description="Name or ARN of the service's Secrets Manager secret, a JSON object of"
        " lowercase setting names to values (api_key, admin_token, ...).",
    )
    secrets_ttl_seconds: float = Field(default=300.0, gt=0)

    # Security baseline.
    auth_mode: Literal["api-key", "jwt"] = "api-key"
    jwt_jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    rate_limit: str = Field(default="600/minute", description="Per caller, `limits` notation.")
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    outbound_timeout_seconds: float = Field(default=30.0, gt=0)
    shutdown_grace_seconds: int = Field(default=20, ge=0)
    cors_origins: list[str] = Field(default_factory=list, description="Empty: CORS off.")

    # Observability and SLOs (the service's answers set the defaults).
    otel_exporter_otlp_endpoint: str | None = None
    availability_slo: float = Field(default=99.9, gt=0, lt=100, description="Percent.")
    latency_slo_ms: float = Field(default=800.0, gt=0, description="p95 target, milliseconds.")

    # Shared state (release routing, kill switch, audit, cache epochs) and the service's data.
    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL (Aurora in production). Unset: an embedded server under"
        " DATA_DIR, shared by every local process that uses the same DATA_DIR.",
    )
    database_iam_auth: bool = Field(
        default=False,
        description="Log in to DATABASE_URL (a user, no password, sslmode=verify-full) with RDS IAM"
        " tokens signed per connection with the pod's AWS credentials (Aurora in AWS).",
    )
    database_pool_size: int = Field(default=8, ge=1, le=64)
    state_poll_seconds: float = Field(
        default=1.0, gt=0, le=30, description="Backstop poll of shared state (NOTIFY is first)."
    )

    # Rollback.
    releases_path: Path = Path("releases.yaml")
    kill_switch: bool = Field(default=False, description="Serve the safe fallback only.")

    @model_validator(mode="after")
    def _check_database_iam_auth(self) -> PlatformSettings:
        if self.database_iam_auth:
            if self.database_url is None:
                raise ValueError("DATABASE_IAM_AUTH=true needs DATABASE_URL (the RDS endpoint)")
            check_iam_url(self.database_url.get_secret_value())
        return self

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> PlatformSettings:
        if self.environment != "production" or self.secrets_id:
            return self  # from Secrets Manager, secrets are checked when fetched at start-up
        for name in self.production_secrets:
            value = getattr(self, name).get_secret_value()
            if not value or value == DEVELOPMENT_SECRETS.get(name):
                raise ValueError(
                    f"{name.upper()} must be set to a real secret when ENVIRONMENT=production"
                    " (it is empty or a development default)"
                )
        return self

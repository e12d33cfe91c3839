"""Secrets: from settings locally, from AWS Secrets Manager when `SECRETS_PREFIX` is set.

Values are cached in memory for a TTL. A value the far side rejects (rotated) is refreshed once
through `call_with_rotation`. Every value is registered with the log redactor as it is loaded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from .errors import Unavailable
from .redaction import REDACT

T = TypeVar("T")


def secret_fields(settings: BaseSettings) -> dict[str, SecretStr]:
    """Every `SecretStr` setting, by field name: the names the store may fetch from AWS."""
    return {
        name: value
        for name in type(settings).model_fields
        if isinstance(value := getattr(settings, name), SecretStr)
    }


class SecretRejected(Exception):
    """Raised by a caller when a secret it used was refused (e.g. 401 from a model endpoint)."""


class SecretStore:
    """Named secrets with a TTL cache; never returns or logs plain values by accident."""

    def __init__(
        self,
        local: dict[str, SecretStr],
        prefix: str | None = None,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        ttl_seconds: float = 300.0,
        timeout_seconds: float = 10.0,
        client: Any = None,
    ) -> None:
        self._local = local
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, SecretStr]] = {}
        self._lock = threading.Lock()
        self._client = client
        if prefix and client is None:
            config = Config(connect_timeout=timeout_seconds, read_timeout=timeout_seconds,
                            retries={"max_attempts": 3})  # fmt: skip
            self._client = boto3.client(
                "secretsmanager", region_name=region, endpoint_url=endpoint_url, config=config
            )
        for value in local.values():
            REDACT.add_secret(value.get_secret_value())

    def __repr__(self) -> str:
        return f"SecretStore(prefix={self._prefix!r}, names={sorted(self._local)})"

    def get(self, name: str) -> SecretStr:
        """The current value of a named secret (cached for the TTL when read from AWS)."""
        if not self._prefix:
            return self._local[name]
        with self._lock:
            cached = self._cache.get(name)
            if cached and time.monotonic() - cached[0] < self._ttl:
                return cached[1]
        value = self._fetch(name)
        with self._lock:
            self._cache[name] = (time.monotonic(), value)
        return value

    def invalidate(self, name: str) -> None:
        with self._lock:
            self._cache.pop(name, None)

    def call_with_rotation(self, name: str, call: Callable[[SecretStr], T]) -> T:
        """Run `call` with the secret; if it is rejected, refresh the secret once and retry."""
        try:
            return call(self.get(name))
        except SecretRejected:
            self.invalidate(name)
            return call(self.get(name))

    def require(self, names: list[str], defaults: dict[str, str]) -> None:
        """Refuse to start when a required secret is empty or still a development value."""
        for name in names:
            value = self.get(name).get_secret_value()
            if not value or value == defaults.get(name):
                where = f"{self._prefix}/{name}" if self._prefix else name.upper()
                raise RuntimeError(
                    f"{where} must be set to a real secret in production"
                    " (it is empty or a development default)"
                )

    def refresh_if_stale(self, name: str, min_interval: float = 5.0) -> bool:
        """Drop a cached value so the next `get` re-reads it, at most once per interval.

        Used when a credential presented by a caller does not match: the secret may have been
        rotated. The interval stops bad callers from turning into Secrets Manager traffic.
        """
        if not self._prefix:
            return False
        with self._lock:
            cached = self._cache.get(name)
            if cached is None or time.monotonic() - cached[0] < min_interval:
                return False
            self._cache.pop(name, None)
        return True

    def _fetch(self, name: str) -> SecretStr:
        secret_id = f"{self._prefix}/{name}"
        try:
            response = self._client.get_secret_value(SecretId=secret_id)
        except Exception as exc:  # boto raises many types; the message must not carry values
            raise Unavailable(
                f"secret {secret_id!r} could not be read: {type(exc).__name__}"
            ) from None
        value = response.get("SecretString") or ""
        REDACT.add_secret(value)
        return SecretStr(value)

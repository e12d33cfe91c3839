"""Secrets: from settings locally, from AWS Secrets Manager when `SECRETS_ID` is set.

In AWS each service has ONE secret (the platform stack makes `goldenpath/<env>/<team>/<service>`
and lets only that service's role read it) whose SecretString is a JSON object of setting names
to values: `{"admin_token": "...", "api_key": "...", ...}`. The whole document is read in one
call and cached in memory for a TTL. A value the far side rejects (rotated) is refreshed once
through `call_with_rotation`. Every value is registered with the log redactor as it is loaded.
"""

from __future__ import annotations

import json
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
    """Every `SecretStr` setting, by field name: the keys the store may read from AWS."""
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
        secret_id: str | None = None,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        ttl_seconds: float = 300.0,
        timeout_seconds: float = 10.0,
        client: Any = None,
    ) -> None:
        self._local = local
        self._secret_id = secret_id
        self._ttl = ttl_seconds
        self._document: tuple[float, dict[str, SecretStr]] | None = None
        # Held across the fetch so concurrent readers share one API call per TTL.
        self._lock = threading.Lock()
        self._client = client
        if secret_id and client is None:
            config = Config(connect_timeout=timeout_seconds, read_timeout=timeout_seconds,
                            retries={"max_attempts": 3})  # fmt: skip
            self._client = boto3.client(
                "secretsmanager", region_name=region, endpoint_url=endpoint_url, config=config
            )
        for value in local.values():
            REDACT.add_secret(value.get_secret_value())

    def __repr__(self) -> str:
        return f"SecretStore(secret_id={self._secret_id!r}, names={sorted(self._local)})"

    def get(self, name: str) -> SecretStr:
        """The current value of a named secret (its key in the cached AWS document, if set)."""
        if not self._secret_id:
            return self._local[name]
        with self._lock:
            if self._document is None or time.monotonic() - self._document[0] >= self._ttl:
                self._document = (time.monotonic(), self._fetch())
            values = self._document[1]
        if name not in values:
            raise Unavailable(
                f"secret {self._secret_id!r} has no key {name!r}"
                f" (keys: {', '.join(sorted(values)) or 'none'})"
            )
        return values[name]

    def invalidate(self) -> None:
        """Drop the cached document: the next `get` reads the secret again."""
        with self._lock:
            self._document = None

    def call_with_rotation(self, name: str, call: Callable[[SecretStr], T]) -> T:
        """Run `call` with the secret; if it is rejected, refresh the secret once and retry."""
        try:
            return call(self.get(name))
        except SecretRejected:
            self.invalidate()
            return call(self.get(name))

    def require(self, names: list[str], defaults: dict[str, str]) -> None:
        """Refuse to start when a required secret is empty or still a development value."""
        for name in names:
            value = self.get(name).get_secret_value()
            if not value or value == defaults.get(name):
                where = (
                    f"key {name!r} of secret {self._secret_id!r}"
                    if self._secret_id
                    else name.upper()
                )
                raise RuntimeError(
                    f"{where} must be set to a real secret in production"
                    " (it is empty or a development default)"
                )

    def refresh_if_stale(self, min_interval: float = 5.0) -> bool:
        """Drop the cached document so the next `get` re-reads it, at most once per interval.

        Used when a credential presented by a caller does not match: the secret may have been
        rotated. The interval stops bad callers from turning into Secrets Manager traffic.
        """
        if not self._secret_id:
            return False
        with self._lock:
            if self._document is None or time.monotonic() - self._document[0] < min_interval:
                return False
            self._document = None
        return True

    def _fetch(self) -> dict[str, SecretStr]:
        secret_id = self._secret_id
        try:
            response = self._client.get_secret_value(SecretId=secret_id)
        except Exception as exc:  # boto raises many types; the message must not carry values
            raise Unavailable(
                f"secret {secret_id!r} could not be read: {type(exc).__name__}"
            ) from None
        try:
            document = json.loads(response.get("SecretString") or "")
        except ValueError:
            document = None  # the parser's message may quote the value: never show it
        if not isinstance(document, dict):
            raise Unavailable(
                f"secret {secret_id!r} must be a JSON object of setting names to values,"
                ' e.g. {"api_key": "...", "admin_token": "..."}'
            )
        if not_text := sorted(key for key, value in document.items() if not isinstance(value, str)):
            raise Unavailable(
                f"secret {secret_id!r}: the values of {', '.join(not_text)} must be strings"
            )
        for value in document.values():
            REDACT.add_secret(value)
        return {key: SecretStr(value) for key, value in document.items()}

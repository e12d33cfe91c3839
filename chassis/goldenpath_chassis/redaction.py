"""Redact secrets and personal data from any text before it is written anywhere."""

from __future__ import annotations

import re
from collections.abc import Iterable

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"), "Bearer [REDACTED]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[REDACTED_JWT]"),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), "[REDACTED_AWS_KEY]"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}\b"), "[REDACTED_API_KEY]"),
    (
        # `(?!<)`: a placeholder such as `X-API-Key: <key>` in a help text is not a secret.
        re.compile(
            r"(?i)\b(api[_-]?key|secret|password|token)(\"?\s*[:=]\s*\"?)(?!<)[^\s\",}]{4,}"
        ),
        r"\1\2[REDACTED]",
    ),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[REDACTED_EMAIL]"),
    (re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), "[REDACTED_CARD]"),
]


class Redactor:
    """Replaces known secret values and secret-shaped text (keys, tokens, emails, cards)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for value in secrets:
            self.add_secret(value)

    def add_secret(self, value: str) -> None:
        if value and len(value) >= 4:
            self._secrets.add(value)

    def __call__(self, text: str) -> str:
        for value in self._secrets:
            if value in text:
                text = text.replace(value, "[REDACTED]")
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


REDACT = Redactor()  # process-wide: secrets are registered as they are loaded

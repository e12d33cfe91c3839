"""Redact secrets and personal data from any text before it is written anywhere."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

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
        text = self.secret_values(text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def secret_values(self, text: str) -> str:
        """Only the loaded secret values (what answers and responses pass through: a document
        that quotes the service's own key must not hand it out)."""
        for value in self._secrets:
            if value in text:
                text = text.replace(value, "[REDACTED]")
        return text

    def stream(self, pieces: Iterable[str]) -> Iterator[str]:
        """`secret_values` over a stream of text pieces, even when a secret is split across
        pieces: only a tail that could still begin a secret is held for the next piece, so
        ordinary text streams through at once."""
        buffer = ""
        for piece in pieces:
            buffer = self.secret_values(buffer + piece)
            cut = len(buffer) - self._open_prefix(buffer)
            if cut > 0:
                yield buffer[:cut]
                buffer = buffer[cut:]
        if buffer:
            yield self.secret_values(buffer)

    def _open_prefix(self, text: str) -> int:
        """Length of the longest tail of `text` that is the start of a secret value."""
        longest = 0
        for value in self._secrets:
            for size in range(min(len(value) - 1, len(text)), longest, -1):
                if value.startswith(text[-size:]):
                    longest = size
                    break
        return longest


REDACT = Redactor()  # process-wide: secrets are registered as they are loaded

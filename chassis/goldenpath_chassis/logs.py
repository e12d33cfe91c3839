"""JSON-lines logs with the trace id and release in every line, redacted before writing."""

from __future__ import annotations

import contextvars
import logging
import sys
from typing import Any

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from .redaction import REDACT

RELEASE_ID: contextvars.ContextVar[str] = contextvars.ContextVar("release_id", default="-")


class _ContextFilter(logging.Filter):
    """Adds trace id, span id and release id to each record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI copy of the message
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else "-"
        record.span_id = format(context.span_id, "016x") if context.is_valid else "-"
        record.release = RELEASE_ID.get()
        record.service = self.service
        return True


class RedactingJsonFormatter(JsonFormatter):
    """Formats the record as JSON, then redacts the whole line (fields and messages alike)."""

    def format(self, record: logging.LogRecord) -> str:
        return REDACT(super().format(record))


class RedactingConsoleFormatter(logging.Formatter):
    """One readable line per record for a developer's terminal, redacted like the JSON."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)-7s %(name)s: %(message)s (trace %(trace_id)s)",
            datefmt="%H:%M:%S",
        )

    def format(self, record: logging.LogRecord) -> str:
        return REDACT(super().format(record))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time (test capture replaces it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        return


def configure_logging(service: str, level: str = "INFO", log_format: str = "json") -> None:
    """Route every logger (uvicorn's too) through one redacting handler on stderr: JSON lines
    for a log pipeline, or one readable line per record in a developer's terminal."""
    handler = _StderrHandler()
    formatter: logging.Formatter = (
        RedactingConsoleFormatter()
        if log_format == "console"
        else RedactingJsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(trace_id)s %(span_id)s"
            " %(release)s %(service)s",
            rename_fields={"levelname": "level", "asctime": "time", "name": "logger"},
        )
    )
    handler.setFormatter(formatter)
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # every start and stop at INFO


def log_model_io(logger: logging.Logger, enabled: bool, **fields: Any) -> None:
    """Log a prompt/response pair only when the `log_prompts` setting allows it."""
    if enabled:
        logger.info("model io", extra={key: str(value) for key, value in fields.items()})

"""Predictors: what a job computes for each batch of texts.

A release in `releases.yaml` names its predictor (`config.predictor`); the pipeline builds it
once per Ray actor and calls `predict` for every batch. To add one, write a class with this
interface and register its import path in `PREDICTORS`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

TEXT_SLOT = "{text}"


class TransientPredictError(RuntimeError):
    """Raise it from `predict` for a failure worth retrying (an endpoint's 503, a timeout):
    Ray Data retries the batch instead of failing the job."""


# Errors Ray Data retries (tasks: `retry_exceptions`; actors: `actor_task_retry_on_errors`).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientPredictError,
    ConnectionError,
    TimeoutError,
)


@dataclass(frozen=True)
class Registered:
    """An import path, so a process imports only the predictor it runs (torch is heavy), and
    the GenAI operation name its spans carry."""

    path: str
    operation: str


PREDICTORS: dict[str, Registered] = {
    "embeddings": Registered(
        "{{ cookiecutter.package_name }}.predictors.embeddings:EmbeddingsPredictor", "embeddings"
    ),
{%- if cookiecutter.task == "custom" %}
    "custom": Registered("{{ cookiecutter.package_name }}.predictors.custom:KeywordScorer", "predict"),
{%- endif %}
}


class Predictor(Protocol):
    """The interface a team implements.

    `__init__(config, device)` receives the release's `config` and "cpu" or "cuda"; load
    models there, once per actor. `predict` gets a batch of texts and returns named output
    columns, each as long as `texts`. `operation` names the GenAI span ("embeddings", ...).
    """

    operation: str

    def __init__(self, config: Mapping[str, Any], device: str) -> None: ...

    def predict(self, texts: Sequence[str]) -> dict[str, pa.Array]: ...


class UnknownPredictor(ValueError):
    pass


def registered(name: str) -> Registered:
    if name not in PREDICTORS:
        known = ", ".join(sorted(PREDICTORS))
        raise UnknownPredictor(f"predictor {name!r} is not registered: use one of {known}")
    return PREDICTORS[name]


def predictor_class(name: str) -> type[Predictor]:
    module, _, attribute = registered(name).path.partition(":")
    cls: type[Predictor] = getattr(importlib.import_module(module), attribute)
    return cls


def render_inputs(prompt: str, texts: Sequence[str]) -> list[str]:
    """Apply the release's input template (`prompt`), e.g. "passage: {text}" for E5 models."""
    if TEXT_SLOT not in prompt:
        raise ValueError(f"release prompt {prompt!r} must contain {TEXT_SLOT}")
    return [prompt.replace(TEXT_SLOT, text) for text in texts]


def load_predictor(name: str, config: Mapping[str, Any], device: str = "cpu") -> Predictor:
    return predictor_class(name)(config, device)


def load_predictor_at(path: str, config: Mapping[str, Any], device: str = "cpu") -> Predictor:
    """Build the predictor at `module:Class`: the driver resolves the name, so workers import
    exactly the class the driver checked."""
    module, _, attribute = path.partition(":")
    cls: type[Predictor] = getattr(importlib.import_module(module), attribute)
    return cls(config, device)


@lru_cache(maxsize=8)
def _files_digest(folder: str) -> str:
    digest = hashlib.sha256()
    root = Path(folder)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def model_digest(name: str, config: Mapping[str, Any]) -> str:
    """SHA-256 of what computes the outputs: the model's files where the predictor names them
    (`model_path(config)`), else the predictor's source file, plus the release's config."""
    cls = predictor_class(name)
    finder = getattr(cls, "model_path", None)
    folder = finder(config) if finder is not None else None
    if folder is not None:
        files = _files_digest(str(folder))
    else:
        module = importlib.import_module(cls.__module__)
        files = hashlib.sha256(Path(str(module.__file__)).read_bytes()).hexdigest()
    settings = json.dumps(dict(config), sort_keys=True, default=str)
    return hashlib.sha256(f"{files}\0{settings}".encode()).hexdigest()


@lru_cache(maxsize=4)
def _cached(name: str, config_json: str, device: str) -> Predictor:
    return load_predictor(name, json.loads(config_json), device)


def shared_predictor(name: str, config: Mapping[str, Any], device: str = "cpu") -> Predictor:
    """One instance per process and release config: readiness probes load the model once."""
    return _cached(name, json.dumps(dict(config), sort_keys=True), device)

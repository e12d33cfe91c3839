"""The render matrix: which answer combinations template CI renders, and which it must refuse.

The matrix is data in the kit (`templates/matrix.yaml`), and the template list is the chooser's
(the kit's root `cookiecutter.json`), so a fork that adds a template or a combination bakes it
with `goldenpath bake --kit <fork>` without touching this package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import KIT_ROOT

MATRIX_FILE = Path("templates") / "matrix.yaml"


@dataclass(frozen=True)
class Combination:
    template: str
    name: str
    answers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Refused:
    template: str
    answers: dict[str, str]
    message: str  # the part of the one-line refusal a user must see
    # "hook": our pre-generation hook's one-line refusal. "cookiecutter": cookiecutter itself
    # refuses a value outside a choice list before any hook runs (its own error text).
    by: str = "hook"


@dataclass(frozen=True)
class Matrix:
    templates: tuple[str, ...]
    supported: tuple[Combination, ...]
    refused: tuple[Refused, ...]


class MatrixError(ValueError):
    """The kit's matrix or chooser is malformed: one line naming what and where."""


def load(kit_root: Path = KIT_ROOT) -> Matrix:
    """The chooser's templates and the matrix of `kit_root`, checked against each other."""
    chooser = json.loads((kit_root / "cookiecutter.json").read_text())["templates"]
    data = yaml.safe_load((kit_root / MATRIX_FILE).read_text())
    templates = tuple(chooser)
    supported = tuple(
        Combination(template, name, {k: str(v) for k, v in (answers or {}).items()})
        for template, combinations in data["supported"].items()
        for name, answers in combinations.items()
    )
    refused = tuple(
        Refused(
            r["template"],
            {k: str(v) for k, v in r["answers"].items()},
            r["message"],
            r.get("by", "hook"),
        )
        for r in data.get("refused", [])
    )
    unknown = {c.template for c in supported} | {r.template for r in refused}
    if unknown - set(templates):
        raise MatrixError(
            f"{kit_root / MATRIX_FILE} names templates the chooser does not list:"
            f" {sorted(unknown - set(templates))} (chooser: {list(templates)})"
        )
    return Matrix(templates, supported, refused)


_KIT = load()
TEMPLATES = _KIT.templates
SUPPORTED = _KIT.supported
REFUSED = _KIT.refused

"""`.env.example` names only real settings: a typo there is a setting the service silently
ignores (settings read unknown names as nothing)."""

from __future__ import annotations

import re
from pathlib import Path

from {{ cookiecutter.package_name }}.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.M)


def test_every_name_in_env_example_is_a_setting() -> None:
    names = NAME.findall((ROOT / ".env.example").read_text())
    assert len(names) >= 10
    unknown = [name for name in names if name.lower() not in Settings.model_fields]
    assert not unknown, f"not settings of {Settings.__name__}: {unknown}"

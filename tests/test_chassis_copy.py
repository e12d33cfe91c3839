"""The chassis is one plain Python package, copied byte-identical into every generated
service, and the kit's shared partials never branch on which template renders them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from goldenpath import KIT_ROOT
from goldenpath.bake import BakeResult

from .test_generated import IDS

CHASSIS = KIT_ROOT / "chassis" / "goldenpath_chassis"
SHARED = KIT_ROOT / "templates" / "_shared"
JINJA = re.compile(r"\{\{|\{%|\{#")
KIND_BRANCH = re.compile(r"_kind\s*(==|!=|\bin\b|\bnot\b)|(==|!=)\s*cookiecutter\._kind")
INCLUDE_OWN = re.compile(r'\{%-?\s*include\s+"own/([^"]+)"(\s+ignore missing)?')
TEMPLATES = [p.parent for p in (KIT_ROOT / "templates").glob("*/cookiecutter.json")]


def test_the_chassis_holds_no_jinja() -> None:
    offenders = [p.name for p in CHASSIS.glob("*.py") if JINJA.search(p.read_text())]
    assert not offenders, f"chassis files must be plain Python: {offenders}"


def test_no_shared_partial_branches_on_the_template_kind() -> None:
    found = []
    for path in SHARED.rglob("*"):
        if path.is_file() and not path.is_symlink() and "chassis" not in path.parts:
            for number, line in enumerate(path.read_text(errors="ignore").splitlines(), 1):
                if KIND_BRANCH.search(line):
                    found.append(f"{path.relative_to(KIT_ROOT)}:{number}")
    assert not found, (
        "shared code branches on the template kind; give the template its own partial in "
        f"templates/<template>/templates/own/ or a private answer instead: {found}"
    )


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_every_template_has_the_own_partials_shared_files_require(template: Path) -> None:
    required = {
        match.group(1)
        for path in SHARED.rglob("*")
        if path.is_file() and "chassis" not in path.parts
        for match in INCLUDE_OWN.finditer(path.read_text(errors="ignore"))
        if not match.group(2)
    }
    missing = sorted(name for name in required if not (template / "templates/own" / name).is_file())
    assert not missing, f"{template.name} lacks templates/own/{missing}"


@pytest.mark.parametrize("key", IDS)
def test_every_service_gets_the_chassis_byte_identical(
    baked: dict[str, BakeResult], key: str
) -> None:
    project = baked[key].project
    assert project is not None
    package = next(p for p in (project / "src").iterdir() if (p / "platform").is_dir())
    copied = {p.name: p.read_bytes() for p in (package / "platform").glob("*.py")}
    original = {p.name: p.read_bytes() for p in CHASSIS.glob("*.py")}
    assert copied.keys() == original.keys()
    assert [name for name in original if copied[name] != original[name]] == []

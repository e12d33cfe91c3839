"""One list of templates: the chooser, the template folders, the matrix and the kit's CI matrix
name the same templates, so adding one in a single place cannot go unnoticed; and bake's
progress counts the tests a generated suite really runs."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from goldenpath import KIT_ROOT, TEMPLATES_DIR
from goldenpath.bake import run_suite
from goldenpath.matrix import load


def test_chooser_folders_matrix_and_ci_name_the_same_templates() -> None:
    matrix = load(KIT_ROOT)
    chooser = json.loads((KIT_ROOT / "cookiecutter.json").read_text())["templates"]
    folders = sorted(p.parent.name for p in TEMPLATES_DIR.glob("*/cookiecutter.json"))
    workflow = yaml.safe_load((KIT_ROOT / ".github/workflows/ci.yml").read_text())
    ci = workflow["jobs"]["template"]["strategy"]["matrix"]["template"]
    assert sorted(matrix.templates) == folders, "chooser (cookiecutter.json) vs templates/*/"
    assert sorted({c.template for c in matrix.supported}) == folders, "templates/matrix.yaml"
    assert sorted(ci) == folders, ".github/workflows/ci.yml jobs.template matrix"
    for name, entry in chooser.items():
        assert (KIT_ROOT / entry["path"]).resolve() == (TEMPLATES_DIR / name).resolve()
        assert entry["title"] and entry["description"]


def test_every_template_has_a_defaults_combination_and_a_refusal() -> None:
    matrix = load(KIT_ROOT)
    for template in matrix.templates:
        names = [c.name for c in matrix.supported if c.template == template]
        assert "defaults" in names and len(names) == len(set(names)), template
        assert any(r.template == template for r in matrix.refused), template


def test_bake_reports_tests_run_out_of_collected(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text(
        "import pytest\n\n"
        "def test_one():\n    pass\n\n"
        "@pytest.mark.parametrize('n', range(4))\ndef test_many(n):\n    pass\n\n"
        "@pytest.mark.skip(reason='shown as s')\ndef test_skipped():\n    pass\n"
    )
    seen: list[tuple[int, int]] = []
    assert run_suite(tmp_path, timeout=120, progress=lambda d, t: seen.append((d, t))) == []
    assert seen[0] == (0, 6) and seen[-1] == (6, 6)

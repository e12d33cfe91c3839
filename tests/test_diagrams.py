"""Every Mermaid diagram in the kit's README and in each rendered README parses with Mermaid's
own parser (mermaid.parse under node, tools/mermaid-check), so a diagram that would not render
on GitHub or in TechDocs fails here."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from goldenpath import KIT_ROOT
from goldenpath.bake import BakeResult
from goldenpath.matrix import TEMPLATES

CHECKER = KIT_ROOT / "tools" / "mermaid-check"
BLOCK = re.compile(r"^```mermaid\n(.*?)^```", re.S | re.M)


def diagrams(readme: Path) -> list[str]:
    return BLOCK.findall(readme.read_text())


def test_each_template_and_the_kit_have_an_architecture_diagram(
    baked: dict[str, BakeResult],
) -> None:
    assert diagrams(KIT_ROOT / "README.md")
    for template in TEMPLATES:
        project = baked[f"{template}:defaults"].project
        assert project is not None and diagrams(project / "README.md"), template


def test_every_diagram_parses(baked: dict[str, BakeResult], tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (CHECKER / "node_modules" / "mermaid").is_dir():
        pytest.skip("node or tools/mermaid-check/node_modules missing (make install runs npm ci)")
    readmes = [KIT_ROOT / "README.md"] + [
        r.project / "README.md" for r in baked.values() if r.project is not None
    ]
    files = []
    for number, text in enumerate(d for readme in readmes for d in diagrams(readme)):
        path = tmp_path / f"{number}.mmd"
        path.write_text(text)
        files.append(str(path))
    (tmp_path / "broken.mmd").write_text("flowchart LR\n    a --> \n    b[unclosed\n")
    done = subprocess.run([node, str(CHECKER / "check.mjs"), *files], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": OK") == len(files) >= 4
    broken = subprocess.run([node, str(CHECKER / "check.mjs"), str(tmp_path / "broken.mmd")],
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert broken.returncode == 1 and "INVALID" in broken.stderr

"""`python -m <package>.platform.template_check`: fail when a `cruft update` left work undone.

`cruft update` applies the template's changes with a three-way merge; where the team changed
the same lines it leaves conflict markers or `*.rej` files and still exits 0. CI runs this
(with `cruft check`) so such an update cannot be merged half-applied.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

SKIP = {".git", ".venv", ".data", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache"}
MARKER = re.compile(r"^(<<<<<<<|>>>>>>>)( |$)")
HOW_TO = (
    "cruft update left the template's change half-applied. For each file above: keep your"
    " change and the template's, delete the markers (or apply the *.rej hunk by hand and"
    " delete the .rej file), run `make test`, then commit."
)


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not SKIP.intersection(path.relative_to(root).parts):
            yield path


def problems(root: Path) -> list[str]:
    """`path:line: conflict marker` and `path: rejected hunks` for everything left over."""
    found: list[str] = []
    for path in _files(root):
        where = path.relative_to(root)
        if path.suffix == ".rej":
            found.append(f"{where}: rejected hunks of a template update")
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, OSError):
            continue
        found += [
            f"{where}:{number}: conflict marker"
            for number, line in enumerate(lines, 1)
            if MARKER.match(line)
        ]
    return found


def main(argv: list[str] | None = None) -> int:
    root = Path((argv or sys.argv[1:] or ["."])[0]).resolve()
    left = problems(root)
    for line in left:
        sys.stderr.write(line + "\n")
    if left:
        sys.stderr.write(HOW_TO + "\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

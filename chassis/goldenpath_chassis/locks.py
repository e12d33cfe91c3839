"""The inputs of the project's lock files, and the check that the locks still satisfy them.

The locks themselves are written by pip's own `pip lock` (PEP 751 `pylock.*.toml`, every file
hashed); `make lock` feeds it what this module lists. It runs as a plain script
(`python src/<package>/platform/locks.py`) before anything is installed, so the listing uses
the standard library alone; `check` needs `packaging`, which the dev environment has.

    locks.py inputs [--extra NAME ...]          requirement lines of pyproject.toml
    locks.py check LOCK [--extra NAME ...]      one line per requirement LOCK does not meet
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

HOW_TO = "the lock no longer matches pyproject.toml: run `make lock` and commit the pylock files"


def requirements(pyproject: Path, extras: Sequence[str] = ()) -> list[str]:
    """The project's dependencies plus those of `extras`, as written in pyproject.toml."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    unknown = [name for name in extras if name not in optional]
    if unknown:
        allowed = ", ".join(sorted(optional))
        raise ValueError(f"extra={unknown[0]!r} is not in pyproject.toml (it has: {allowed})")
    listed: list[str] = list(project.get("dependencies", []))
    for name in extras:
        listed += optional[name]
    return listed


def unmet(pyproject: Path, lock: Path, extras: Sequence[str] = ()) -> list[str]:
    """Each requirement (markers evaluated here) that no package pinned in `lock` satisfies."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    if not lock.is_file():
        return [f"{lock.name}: missing"]
    pinned = {
        canonicalize_name(package["name"]): Version(package["version"])
        for package in tomllib.loads(lock.read_text(encoding="utf-8")).get("packages", [])
        if "version" in package
    }
    found: list[str] = []
    for line in requirements(pyproject, extras):
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None:
            found.append(f"{lock.name}: {line!r} is not locked")
        elif not requirement.specifier.contains(version, prereleases=True):
            found.append(f"{lock.name}: {line!r} is not met by the locked {version}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="locks.py", description=__doc__.splitlines()[0])
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    commands = parser.add_subparsers(dest="command", required=True)
    inputs = commands.add_parser("inputs", help="print the requirement lines to lock")
    check = commands.add_parser("check", help="fail when a lock does not meet pyproject.toml")
    check.add_argument("lock", type=Path)
    for command in (inputs, check):
        command.add_argument("--extra", action="append", default=[], metavar="NAME")
    args = parser.parse_args(argv)
    try:
        if args.command == "inputs":
            listed = requirements(args.pyproject, args.extra)
            sys.stdout.write("".join(f"{line}\n" for line in listed))
            return 0
        problems = unmet(args.pyproject, args.lock, args.extra)
    except (OSError, ValueError, KeyError, tomllib.TOMLDecodeError) as error:
        sys.stderr.write(f"locks: {error}\n")
        return 2
    for problem in problems:
        sys.stderr.write(problem + "\n")
    if problems:
        sys.stderr.write(HOW_TO + "\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

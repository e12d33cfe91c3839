"""`python -m bench`: run every benchmark and print its report."""

from __future__ import annotations

import sys

from bench import chassis


def main() -> int:
    return chassis.main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())

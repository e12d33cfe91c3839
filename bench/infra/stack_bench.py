"""infra build-time benchmark (issue 13, Speed): the prod stack under Pulumi mocks against raw
Pulumi registering the same resources.

The stack is built once to record what it registers (type, name, inputs after transforms).
Then, in alternating rounds so load from anything else on the machine falls on both alike:

- stack: `build_stack(prod config)` under the shared test mocks (components, guardrails,
  policies' inputs, transforms: what `pulumi preview` evaluates);
- raw: a program that registers the same resources with the same inputs as plain
  `pulumi.CustomResource` / `pulumi.ComponentResource`, with no goldenpath code at all.

The ratio raw / stack says what share of the build time is Pulumi's own registration cost;
the target in the issue is the absolute one: the prod stack in at most 10 s.

Run: nice -n 10 .venv/bin/python bench/infra/stack_bench.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pulumi

KIT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(KIT / "tests" / "infra"))

from infra_mocks import Registered, build, load_stack_config, run_program  # noqa: E402

log = logging.getLogger("bench.infra")


def replay(resources: list[Registered]) -> dict[str, Any]:
    """Register `resources` as raw Pulumi resources: the library's floor for this stack."""
    for resource in resources:
        if resource.custom:
            pulumi.CustomResource(resource.type, resource.name, dict(resource.inputs))
        else:
            pulumi.ComponentResource(resource.type, resource.name)
    return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    config = load_stack_config("prod")
    first = build(config)
    recorded = first.resources
    log.info(
        "prod stack: %d resources (%d custom); first build %.2f s (imports warm after it)",
        len(recorded),
        sum(r.custom for r in recorded),
        first.seconds,
    )
    stack_times: list[float] = []
    raw_times: list[float] = []
    for round_ in range(1, args.rounds + 1):
        started = time.perf_counter()
        build(config)
        stack_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        run_program(lambda: replay(recorded), "prod", config.region)
        raw_times.append(time.perf_counter() - started)
        log.info(
            "round %d: stack %.2f s, raw %.2f s, raw/stack %.2f",
            round_,
            stack_times[-1],
            raw_times[-1],
            raw_times[-1] / stack_times[-1],
        )
    median_stack = statistics.median(stack_times)
    median_raw = statistics.median(raw_times)
    log.info(
        "median: stack %.2f s (target <= 10 s: %s), raw %.2f s, raw/stack %.2f",
        median_stack,
        "met" if median_stack <= 10 else "MISSED",
        median_raw,
        median_raw / median_stack,
    )
    return 0 if median_stack <= 10 else 1


if __name__ == "__main__":
    raise SystemExit(main())

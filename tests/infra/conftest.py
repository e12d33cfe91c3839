"""Fixtures over the shared Pulumi mocks (infra_mocks.py): each stack built once per session."""

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# --import-mode=importlib puts no test folder on sys.path: the shared mocks module is found here.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from infra_mocks import (
    ENVIRONMENTS,
    BuiltStack,
    Registered,
    StackConfig,
    build,
    built_stack,
    load_stack_config,
    run_program,
)


@pytest.fixture(params=ENVIRONMENTS)
def stack(request: pytest.FixtureRequest) -> BuiltStack:
    """Each stack config, built once per test session under mocks."""
    return built_stack(request.param)


@pytest.fixture
def prod_stack() -> BuiltStack:
    return built_stack("prod")


@pytest.fixture
def dev_stack() -> BuiltStack:
    return built_stack("dev")


@pytest.fixture
def run_under_mocks() -> Callable[..., tuple[list[Registered], dict[str, Any]]]:
    """Run a small program (one component) under fresh mocks: `(resources, outputs)`."""
    return run_program


@pytest.fixture
def stack_config() -> Callable[[str], StackConfig]:
    """Parse `infra/Pulumi.<env>.yaml` into a `StackConfig`."""
    return load_stack_config


@pytest.fixture
def build_from_config() -> Callable[[StackConfig], BuiltStack]:
    """Build a stack from a (possibly modified) `StackConfig`, fresh each call."""
    return build

"""Real service processes for the chassis's fleet and crash tests: the testing plugin's
`ServiceProcess` serving the minimal service on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from goldenpath_chassis.testing import ServiceProcess as _ServiceProcess

HERE = Path(__file__).resolve().parent


class ServiceProcess(_ServiceProcess):
    """One replica of `minimal_service:create_app`."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        super().__init__("minimal_service:create_app", env, log, cwd=HERE, pythonpath=str(HERE))

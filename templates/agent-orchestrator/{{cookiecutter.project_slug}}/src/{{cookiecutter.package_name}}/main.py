"""The FastAPI app: the chassis, the runs routes, and the agent service opened for its lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .api.routes import runs
from .platform.app import create_platform_app
from .platform.context import Platform
from .service import open_service
from .settings import Settings


@asynccontextmanager
async def agent_lifespan(app: FastAPI, platform: Platform) -> AsyncIterator[None]:
    settings = platform.settings
    assert isinstance(settings, Settings)
    with open_service(settings, platform.releases, platform.metrics) as agent:
        app.state.agent = agent
        platform.readiness["checkpoints"] = agent.ready
        yield


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_platform_app(
        settings or Settings(),
        routers=[runs.router],
        lifespan=agent_lifespan,
        description="{{ cookiecutter.description }}",
    )

"""App factory: the chassis around the job routes, and the job service's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .api.routes import jobs, preview
from .jobs import build_job_service
from .platform.app import create_platform_app
from .platform.context import Platform
from .preview import Previewer
from .settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI, platform: Platform) -> AsyncIterator[None]:
        assert platform.database_url is not None  # attached before the service's lifespan
        service = build_job_service(
            settings, platform.database_url, platform.releases, platform.metrics
        )
        app.state.jobs = service
        app.state.preview = Previewer(platform.metrics, platform.releases)
        platform.readiness.update(service.readiness_checks())
        service.start()
        try:
            yield
        finally:
            service.close()

    description = f"{settings.service_name}: batch jobs at /v1/jobs, previews at /v1/predict."
    return create_platform_app(settings, [jobs.router, preview.router], lifespan, description)

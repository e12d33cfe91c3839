"""The app factory every service calls: wires monitoring, rollback, secrets and security
around the service's own routers, in one place."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from . import admin, health
from .config import DEVELOPMENT_SECRETS, PlatformSettings
from .context import Platform
from .errors import install_error_handlers
from .logs import configure_logging
from .metrics import HttpObservability, ServiceMetrics, expose
from .releases import ReleaseManager
from .secrets import SecretStore, secret_fields
from .security import Authenticator, BodySizeLimit, RateLimiter
from .tracing import configure_tracing, instrument_app

log = logging.getLogger("service.lifecycle")

DomainLifespan = Callable[[FastAPI, Platform], AbstractAsyncContextManager[None]]


def build_platform(settings: PlatformSettings) -> Platform:
    """Everything the chassis needs, built from settings (secrets fetched and checked here)."""
    secrets = SecretStore(
        local=secret_fields(settings),
        secret_id=settings.secrets_id,
        region=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        ttl_seconds=settings.secrets_ttl_seconds,
        timeout_seconds=settings.outbound_timeout_seconds,
    )
    if settings.environment == "production":
        secrets.require(list(settings.production_secrets), DEVELOPMENT_SECRETS)
    releases = ReleaseManager(settings.releases_path, settings.data_dir, settings.kill_switch)
    metrics = ServiceMetrics(settings.service_name, settings.version)

    def refresh_release_metrics() -> None:  # the CLI may have changed the state file
        state = releases.state
        metrics.set_active_release(state.active)
        metrics.kill_switch.set(1 if state.kill_switch else 0)
        metrics.canary_weight.set(state.canary_weight if state.canary else 0)

    refresh_release_metrics()
    metrics.on_scrape(refresh_release_metrics)
    return Platform(
        settings=settings,
        metrics=metrics,
        releases=releases,
        authenticator=Authenticator(
            settings.auth_mode,
            settings.api_key_hashes,
            secrets,
            settings.jwt_jwks_url,
            settings.jwt_audience,
            settings.jwt_issuer,
            settings.outbound_timeout_seconds,
        ),
        limiter=RateLimiter(settings.rate_limit),
        secrets=secrets,
    )


def create_platform_app(
    settings: PlatformSettings,
    routers: Sequence[APIRouter],
    lifespan: DomainLifespan | None = None,
    description: str = "",
) -> FastAPI:
    """Build the FastAPI app: chassis first, then the service's routers and lifespan."""
    configure_logging(settings.service_name, settings.log_level)
    provider = configure_tracing(
        settings.service_name,
        settings.version,
        settings.otel_exporter_otlp_endpoint,
        settings.outbound_timeout_seconds,
    )
    platform = build_platform(settings)

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("starting", extra={"release": platform.releases.state.active})
        if lifespan is None:
            yield
        else:
            async with lifespan(app, platform):
                yield
        log.info("stopped")

    app = FastAPI(
        title=settings.service_name,
        version=settings.version,
        description=description,
        lifespan=app_lifespan,
    )
    app.state.platform = platform
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(admin.router)
    expose(app, platform.metrics)
    for router in routers:
        app.include_router(router)
    # Middleware added last runs first: OpenTelemetry (outermost, added by instrument_app),
    # then metrics and the request log, then the body limit, then CORS (off by default).
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"]
        )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(HttpObservability, metrics=platform.metrics)
    instrument_app(app, provider)
    return app

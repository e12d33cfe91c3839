"""The app factory every service calls: wires monitoring, rollback, secrets and security
around the service's own routers, in one place."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager

import psycopg
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from psycopg_pool import PoolTimeout

from . import admin, health
from .config import DEVELOPMENT_SECRETS, PlatformSettings
from .context import Platform
from .database import database_url
from .errors import Unavailable, install_error_handlers
from .logs import configure_logging
from .metrics import HttpObservability, ServiceMetrics, expose
from .releases import Manifest, ReleaseManager
from .secrets import SecretStore, secret_fields
from .security import Authenticator, BodySizeLimit, RateLimiter
from .state import SharedState
from .tracing import configure_tracing, instrument_app

log = logging.getLogger("service.lifecycle")

DomainLifespan = Callable[[FastAPI, Platform], AbstractAsyncContextManager[None]]


def build_platform(settings: PlatformSettings) -> Platform:
    """Everything the chassis needs that does not need the database (secrets fetched and
    checked here, so a bad secret fails at start-up); `open_platform` adds the rest."""
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
    return Platform(
        settings=settings,
        metrics=ServiceMetrics(
            settings.service_name, settings.version, settings.latency_slo_ms / 1000
        ),
        manifest=Manifest.load(settings.releases_path),
        authenticator=Authenticator(
            settings.auth_mode,
            settings.api_key_hashes,
            secrets,
            settings.jwt_jwks_url,
            settings.jwt_audience,
            settings.jwt_issuer,
            settings.outbound_timeout_seconds,
            settings.api_key_tenants,
            settings.api_key_secret_tenants,
            settings.api_key_roles,
            settings.api_key_secret_roles,
        ),
        limiter=RateLimiter(settings.rate_limit),
        secrets=secrets,
    )


@contextmanager
def open_shared_state(settings: PlatformSettings) -> Iterator[tuple[str, SharedState]]:
    """The service's database (embedded when DATABASE_URL is unset) and its shared state."""
    iam_region = settings.aws_region if settings.database_iam_auth else None
    with database_url(
        settings.database_url, settings.data_dir, iam_region, settings.aws_endpoint_url
    ) as url:
        shared = SharedState(
            url, settings.service_name, settings.state_poll_seconds, settings.database_pool_size
        )
        try:
            shared.open()
        except (psycopg.OperationalError, TimeoutError, PoolTimeout) as exc:
            raise Unavailable(f"the database is not reachable: {type(exc).__name__}") from None
        try:
            yield url, shared
        finally:
            shared.close()


@contextmanager
def open_releases(settings: PlatformSettings) -> Iterator[ReleaseManager]:
    """The release manager on the shared state, for the CLI and jobs outside the app."""
    with open_shared_state(settings) as (_url, shared):
        yield ReleaseManager(Manifest.load(settings.releases_path), shared, settings.kill_switch)


@contextmanager
def open_platform(platform: Platform) -> Iterator[Platform]:
    """Connect the platform to the shared state: release routing, epochs, release metrics."""
    settings = platform.settings
    with open_shared_state(settings) as (url, shared):
        releases = ReleaseManager(platform.manifest, shared, settings.kill_switch)
        metrics = platform.metrics

        def refresh_release_metrics(_key: str = "") -> None:
            state = releases.state
            metrics.set_active_release(state.active)
            metrics.kill_switch.set(1 if state.kill_switch else 0)
            metrics.canary_weight.set(state.canary_weight if state.canary else 0)

        platform.attach(url, shared, releases)
        refresh_release_metrics()
        shared.on_change(refresh_release_metrics)
        platform.readiness.setdefault("database", shared.ping)
        try:
            yield platform
        finally:
            platform.detach()


def create_platform_app(
    settings: PlatformSettings,
    routers: Sequence[APIRouter],
    lifespan: DomainLifespan | None = None,
    description: str = "",
) -> FastAPI:
    """Build the FastAPI app: chassis first, then the service's routers and lifespan."""
    log_format = settings.log_format or (
        "console" if settings.environment == "development" else "json"
    )
    configure_logging(settings.service_name, settings.log_level, log_format)
    provider = configure_tracing(
        settings.service_name,
        settings.version,
        settings.otel_exporter_otlp_endpoint,
        settings.outbound_timeout_seconds,
    )
    platform = build_platform(settings)

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        with open_platform(platform):
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

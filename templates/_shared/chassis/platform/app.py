"""The app factory every service calls: wires monitoring, rollback, secrets and security
around the service's own routers, in one place."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import admin, health
from .config import DEVELOPMENT_SECRETS, PlatformSettings
from .context import Platform
from .errors import install_error_handlers
from .logs import configure_logging
from .metrics import ServiceMetrics, instrument
from .releases import ReleaseManager
from .secrets import SecretStore
from .security import Authenticator, BodySizeLimit, RateLimiter, hash_key
from .tracing import configure_tracing, instrument_app

log = logging.getLogger("service.requests")

DomainLifespan = Callable[[FastAPI, Platform], AbstractAsyncContextManager[None]]


class RequestLog:
    """One JSON line per request (method, route, status, duration), outside health probes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ("/healthz", "/readyz", "/metrics"):
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )


def build_platform(settings: PlatformSettings) -> Platform:
    secrets = SecretStore(
        local={"admin_token": settings.admin_token, "api_key": settings.api_key},
        prefix=settings.secrets_prefix,
        region=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        ttl_seconds=settings.secrets_ttl_seconds,
        timeout_seconds=settings.outbound_timeout_seconds,
    )
    if settings.environment == "production":
        secrets.require(["admin_token", "api_key"], DEVELOPMENT_SECRETS)
    key_hashes = [*settings.api_key_hashes, hash_key(secrets.get("api_key").get_secret_value())]
    releases = ReleaseManager(settings.releases_path, settings.data_dir, settings.kill_switch)
    metrics = ServiceMetrics(settings.service_name, settings.version)
    metrics.set_active_release(releases.state.active)
    metrics.kill_switch.set(1 if releases.state.kill_switch else 0)
    return Platform(
        settings=settings,
        metrics=metrics,
        releases=releases,
        authenticator=Authenticator(
            settings.auth_mode,
            key_hashes,
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
        settings.service_name, settings.version, settings.otel_exporter_otlp_endpoint
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
    for router in routers:
        app.include_router(router)
    instrument(app, platform.metrics)
    instrument_app(app, provider)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"]
        )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLog)
    return app

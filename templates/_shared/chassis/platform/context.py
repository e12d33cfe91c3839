"""Per-request context: who calls, which release serves them, whether the kill switch is on.

Routes declare `RequestContextDep`; the dependency authenticates, rate-limits and routes the
caller to a release before the route body runs, and labels logs and traces with the release.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from opentelemetry import trace

from .logs import RELEASE_ID
from .metrics import ServiceMetrics
from .releases import Release, ReleaseManager
from .secrets import SecretStore
from .security import Authenticator, Caller, RateLimiter, bearer_matches, deny_admin


@dataclass
class Platform:
    """Everything the chassis provides, built once per app and shared by all requests."""

    settings: object
    metrics: ServiceMetrics
    releases: ReleaseManager
    authenticator: Authenticator
    limiter: RateLimiter
    secrets: SecretStore
    readiness: dict[str, Callable[[], Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestContext:
    """What a domain route needs to know about the request before it does any work."""

    caller: Caller
    release: Release
    track: str
    kill_switch: bool


async def get_platform(request: Request) -> Platform:  # async: no threadpool hop
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


async def request_context(
    platform: PlatformDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> RequestContext:
    authenticator = platform.authenticator
    if authenticator.mode == "jwt":  # may fetch the JWKS over HTTP: keep the event loop free
        caller = await asyncio.to_thread(authenticator.authenticate, authorization, x_api_key)
    else:
        caller = authenticator.authenticate(authorization, x_api_key)
    platform.limiter.check(caller.id)
    routed = platform.releases.route(caller.id)
    RELEASE_ID.set(routed.release.id)
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("service.release", routed.release.id)
        span.set_attribute("service.release.track", routed.track)
    platform.metrics.requests_by_release.labels(routed.release.id, routed.track).inc()
    return RequestContext(caller, routed.release, routed.track, routed.kill_switch)


RequestContextDep = Annotated[RequestContext, Depends(request_context)]


async def require_admin(
    request: Request,
    platform: PlatformDep,
    authorization: Annotated[str | None, Header()] = None,
    x_actor: Annotated[str | None, Header(max_length=64)] = None,
) -> str:
    """The admin credential, re-read once from the secret store if it may have rotated.

    Returns the actor recorded in the audit log: `admin` or `admin:<X-Actor>`.
    """
    secrets = platform.secrets
    if not bearer_matches(authorization, secrets.get("admin_token").get_secret_value()) and not (
        secrets.refresh_if_stale()
        and bearer_matches(authorization, secrets.get("admin_token").get_secret_value())
    ):
        client = request.client.host if request.client else "-"
        raise deny_admin(request.url.path, client)
    return f"admin:{x_actor}" if x_actor else "admin"


AdminDep = Annotated[str, Depends(require_admin)]

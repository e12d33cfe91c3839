"""Per-request context: who calls, which release serves them, whether the kill switch is on.

Routes declare `RequestContextDep`; the dependency authenticates, rate-limits and routes the
caller to a release before the route body runs, and labels logs and traces with the release.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Request
from opentelemetry import trace

from .logs import RELEASE_ID
from .metrics import ServiceMetrics
from .releases import Release, ReleaseManager
from .secrets import SecretStore
from .security import Authenticator, Caller, RateLimiter, check_admin


@dataclass
class Platform:
    """Everything the chassis provides, built once per app and shared by all requests."""

    settings: object
    metrics: ServiceMetrics
    releases: ReleaseManager
    authenticator: Authenticator
    limiter: RateLimiter
    secrets: SecretStore
    readiness: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestContext:
    caller: Caller
    release: Release
    track: str
    kill_switch: bool


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


async def request_context(
    platform: PlatformDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> RequestContext:
    caller = platform.authenticator.authenticate(authorization, x_api_key)
    platform.limiter.check(caller.id)
    routed = platform.releases.route(caller.id)
    RELEASE_ID.set(routed.release.id)
    trace.get_current_span().set_attribute("service.release", routed.release.id)
    platform.metrics.requests_by_release.labels(routed.release.id, routed.track).inc()
    return RequestContext(caller, routed.release, routed.track, platform.releases.state.kill_switch)


RequestContextDep = Annotated[RequestContext, Depends(request_context)]


async def require_admin(
    request: Request,
    platform: PlatformDep,
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    token = platform.secrets.get("admin_token").get_secret_value()
    return check_admin(authorization, token, request.url.path)


AdminDep = Annotated[str, Depends(require_admin)]

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

from .cache import SharedEpochs
from .errors import Unavailable
from .logs import RELEASE_ID
from .metrics import ServiceMetrics
from .releases import Manifest, Release, ReleaseManager
from .secrets import SecretStore
from .security import Authenticator, Caller, RateLimiter, bearer_matches, deny_admin
from .state import SharedState


@dataclass
class Platform:
    """Everything the chassis provides, built once per app and shared by all requests.

    Extension points for the service: `readiness` (name -> check), `metrics.counter/gauge/
    histogram` (domain metrics), routers that depend on `AdminDep` (admin actions), and
    `RequestContext.fallback` (what to serve under the kill switch).
    """

    settings: Any  # the service's settings (a PlatformSettings subclass)
    metrics: ServiceMetrics
    manifest: Manifest
    authenticator: Authenticator
    limiter: RateLimiter
    secrets: SecretStore
    readiness: dict[str, Callable[[], Any]] = field(default_factory=dict)
    database_url: str | None = None  # set while the app runs (lifespan)
    shared: SharedState | None = None
    _releases: ReleaseManager | None = None

    @property
    def releases(self) -> ReleaseManager:
        if self._releases is None:
            raise Unavailable("the service is not started: its shared state is not open")
        return self._releases

    @property
    def epochs(self) -> SharedEpochs:
        if self.shared is None:
            raise Unavailable("the service is not started: its shared state is not open")
        return SharedEpochs(self.shared)

    def attach(self, url: str, shared: SharedState, releases: ReleaseManager) -> None:
        self.database_url, self.shared, self._releases = url, shared, releases

    def detach(self) -> None:
        self.database_url, self.shared, self._releases = None, None, None


@dataclass(frozen=True)
class RequestContext:
    """What a domain route needs to know about the request before it does any work."""

    caller: Caller
    release: Release
    track: str
    kill_switch: bool
    safe_fallback: str = ""

    @property
    def fallback(self) -> str | None:
        """The safe answer to serve instead of the model path while the kill switch is on."""
        return self.safe_fallback if self.kill_switch else None


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
    return RequestContext(
        caller, routed.release, routed.track, routed.kill_switch, platform.manifest.safe_fallback
    )


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

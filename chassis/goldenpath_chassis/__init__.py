"""The service chassis: monitoring, rollback, secrets, security and shared state for every
goldenpath service. Plain Python, written once in the kit (`chassis/`) and copied
byte-identical into each generated service as its `platform` package; fix it in the kit so
every service gets the fix (`cruft update`).

Everything service-specific arrives as settings or arguments; a service extends it through
`Platform.readiness`, `ServiceMetrics.counter/gauge/histogram`, routers that depend on
`AdminDep`, and `RequestContext.fallback`.
"""

from .app import build_platform, create_platform_app, open_platform, open_releases
from .audit import AuditLog, Verification
from .cache import EpochCache, SharedEpochs
from .config import PlatformSettings
from .context import AdminDep, Platform, PlatformDep, RequestContext, RequestContextDep
from .database import EmbeddedPostgres, database_url, open_pool
from .errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceError,
    Unauthorized,
    Unavailable,
    Unprocessable,
    UpstreamError,
)
from .guardrails import Screener, SemanticScreen, Verdict, redact_pii, screen
from .metrics import ServiceMetrics
from .redaction import REDACT, Redactor
from .releases import Manifest, Release, ReleaseManager, RoutingState
from .secrets import SecretRejected, SecretStore
from .state import SharedState

__all__ = [
    "REDACT",
    "AdminDep",
    "AuditLog",
    "BadRequest",
    "Conflict",
    "EmbeddedPostgres",
    "EpochCache",
    "Forbidden",
    "Manifest",
    "NotFound",
    "PayloadTooLarge",
    "Platform",
    "PlatformDep",
    "PlatformSettings",
    "RateLimited",
    "Redactor",
    "Release",
    "ReleaseManager",
    "RequestContext",
    "RequestContextDep",
    "RoutingState",
    "Screener",
    "SecretRejected",
    "SecretStore",
    "SemanticScreen",
    "ServiceError",
    "ServiceMetrics",
    "SharedEpochs",
    "SharedState",
    "Unauthorized",
    "Unavailable",
    "Unprocessable",
    "UpstreamError",
    "Verdict",
    "Verification",
    "build_platform",
    "create_platform_app",
    "database_url",
    "open_platform",
    "open_pool",
    "open_releases",
    "redact_pii",
    "screen",
]

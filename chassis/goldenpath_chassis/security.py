"""Caller authentication (hashed API keys or JWT against a JWKS), per-caller rate limits,
request-body size limit and the admin credential."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
from limits import parse as parse_limit
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import Forbidden, RateLimited, Unauthorized
from .secrets import SecretStore

log = logging.getLogger(__name__)


def hash_key(key: str) -> str:
    """API keys are compared by SHA-256 digest, so only digests need to be stored."""
    return hashlib.sha256(key.encode()).hexdigest()


ALL_TENANTS = "*"


@dataclass(frozen=True)
class Caller:
    """Who is calling: a stable id for rate limits and sticky canary routing, and the tenants
    their credential is bound to (identity decides access, never a name the caller types)."""

    id: str
    scheme: str
    claims: dict[str, Any]
    tenants: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()

    def may_access(self, tenant: str) -> bool:
        return ALL_TENANTS in self.tenants or tenant in self.tenants

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def require_role(self, role: str, action: str) -> None:
        """Refuse (403) an action that needs a role this credential does not carry."""
        if not self.has_role(role):
            raise Forbidden(f"{action} needs the {role!r} role, which this credential lacks")

    def require_tenant(self, tenant: str) -> None:
        """Refuse (403) a tenant this caller's credential is not bound to."""
        if not self.may_access(tenant):
            raise Forbidden(f"tenant={tenant!r} is not a tenant this credential may reach")


def jwt_tenants(claims: dict[str, Any]) -> frozenset[str]:
    """Tenants named by a token's `tenant` (one) or `tenants` (a list) claim."""
    named = claims.get("tenants", claims.get("tenant", []))
    if isinstance(named, str):
        named = [named]
    return frozenset(str(item) for item in named if isinstance(item, str | int))


def jwt_roles(claims: dict[str, Any]) -> frozenset[str]:
    """Roles named by a token's `roles` claim (a list, or one space-separated string)."""
    named = claims.get("roles", [])
    if isinstance(named, str):
        named = named.split()
    return frozenset(str(item) for item in named if isinstance(item, str))


class Authenticator:
    """Checks `Authorization: Bearer <token>` or `X-API-Key` according to the auth mode.

    API keys: the digests in `API_KEY_HASHES` plus the digest of the `api_key` secret, read
    through the secret store, so a key rotated in Secrets Manager is picked up: a key that does
    not match triggers one re-read of the secret (at most every few seconds).
    """

    def __init__(
        self,
        mode: str,
        key_hashes: list[str],
        secrets: SecretStore | None = None,
        jwks_url: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        timeout: float = 10.0,
        key_tenants: dict[str, list[str]] | None = None,
        secret_key_tenants: list[str] | None = None,
        key_roles: dict[str, list[str]] | None = None,
        secret_key_roles: list[str] | None = None,
    ) -> None:
        self.mode = mode
        self.key_hashes = frozenset(key_hashes)
        self.key_tenants = {k: frozenset(v) for k, v in (key_tenants or {}).items()}
        self.secret_key_tenants = frozenset(secret_key_tenants or [ALL_TENANTS])
        self.key_roles = {k: frozenset(v) for k, v in (key_roles or {}).items()}
        self.secret_key_roles = frozenset(secret_key_roles or [])
        self.secrets = secrets
        self.audience, self.issuer = audience, issuer
        self._jwks = jwt.PyJWKClient(jwks_url, timeout=max(1, int(timeout))) if jwks_url else None
        self._secret_digest: tuple[str, str] = ("", "")  # (value, digest) of the api_key secret

    def authenticate(self, authorization: str | None, api_key: str | None) -> Caller:
        token = api_key
        if authorization and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        if not token:
            raise Unauthorized(
                "missing credentials: send X-API-Key: <key> or Authorization: Bearer <token>"
            )
        if self.mode == "jwt":
            return self._verify_jwt(token)
        digest = hash_key(token)
        grant = self._key_grant(digest)
        if grant is None and self.secrets is not None and self.secrets.refresh_if_stale():
            grant = self._key_grant(digest)
        if grant is None:
            raise Unauthorized("the API key is not valid")
        tenants, roles = grant
        return Caller(
            id=f"key:{digest[:16]}", scheme="api-key", claims={}, tenants=tenants, roles=roles
        )

    def _key_grant(self, digest: str) -> tuple[frozenset[str], frozenset[str]] | None:
        """(tenants, roles) of a known key (empty when unbound); None for an unknown key."""
        if self.secrets is not None:
            value = self.secrets.get("api_key").get_secret_value()
            if value != self._secret_digest[0]:
                self._secret_digest = (value, hash_key(value))
            if hmac.compare_digest(digest, self._secret_digest[1]):
                return self.secret_key_tenants, self.secret_key_roles
        if any(hmac.compare_digest(digest, item) for item in self.key_hashes):
            tenants = self.key_tenants.get(digest, frozenset())
            return tenants, self.key_roles.get(digest, frozenset())
        return None

    def _verify_jwt(self, token: str) -> Caller:
        if self._jwks is None:
            raise Unauthorized("JWT authentication is not configured (JWT_JWKS_URL)")
        try:
            signing_key = self._jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=["RS256", "ES256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "sub"]},
            )
        except jwt.PyJWKClientConnectionError:
            log.warning("JWKS could not be fetched", extra={"reason": "jwks unreachable"})
            raise Unauthorized("the bearer token could not be checked: JWKS unreachable") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the bearer token is not valid: {exc}") from None
        return Caller(
            id=f"sub:{claims['sub']}",
            scheme="jwt",
            claims=claims,
            tenants=jwt_tenants(claims),
            roles=jwt_roles(claims),
        )


def bearer_matches(authorization: str | None, expected: str) -> bool:
    """Constant-time check of `Authorization: Bearer <expected>`."""
    if not authorization or not authorization.lower().startswith("bearer ") or not expected:
        return False
    return hmac.compare_digest(authorization[7:].strip().encode(), expected.encode())


def deny_admin(path: str, client: str, reason: str = "bad admin credential") -> Unauthorized:
    """Log a refused admin call (never the credential) and build the error to raise."""
    log.warning("admin call denied", extra={"path": path, "client": client, "reason": reason})
    return Unauthorized("an admin credential is required: Authorization: Bearer <admin token>")


def check_admin(authorization: str | None, admin_token: str, path: str) -> str:
    """Admin calls carry the admin token as a bearer token; every refusal is logged."""
    if not bearer_matches(authorization, admin_token):
        raise deny_admin(path, "-")
    return "admin"


class RateLimiter:
    """Per-caller limit by GCRA (a token bucket in one timestamp per caller): up to `amount`
    requests at once, then one each window/amount. In process, so one budget per replica.

    Why not limits' own strategies: its in-memory storage starts an expiry thread on
    nearly every hit, which cost the model's forward pass about a millisecond a request.
    """

    def __init__(self, rule: str, max_callers: int = 100_000) -> None:
        self.rule = parse_limit(rule)
        self._interval = self.rule.get_expiry() / self.rule.amount  # seconds per request
        self._tolerance = self.rule.get_expiry() - self._interval  # the burst allowance
        self._due: dict[str, float] = {}  # caller -> theoretical arrival time
        self._lock = threading.Lock()
        self._max_callers = max_callers

    def check(self, caller_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            due = max(self._due.get(caller_id, now), now)
            wait = due - now - self._tolerance
            if wait > 0:
                raise RateLimited(
                    f"rate limit {self.rule} exceeded for this caller", max(1, math.ceil(wait))
                )
            self._due[caller_id] = due + self._interval
            if len(self._due) > self._max_callers:  # forget callers whose budget is full
                self._due = {k: v for k, v in self._due.items() if v > now}


class BodySizeLimit:
    """ASGI middleware: refuses bodies over the limit with 413, counting streamed chunks too."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:  # FastAPI re-raises HTTPException from body reading
                raise HTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Payload too large",
                "status": 413,
                "detail": f"request body over {self.max_bytes} bytes",
                "instance": scope.get("path", ""),
            }
        ).encode()
        headers = [(b"content-type", b"application/problem+json")]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

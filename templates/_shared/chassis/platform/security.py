"""Caller authentication (hashed API keys or JWT against a JWKS), per-caller rate limits,
request-body size limit and the admin credential."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

import jwt
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PayloadTooLarge, RateLimited, Unauthorized

log = logging.getLogger(__name__)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who is calling: a stable id for rate limits and sticky canary routing."""

    id: str
    scheme: str
    claims: dict[str, Any]


class Authenticator:
    """Checks `Authorization: Bearer <token>` or `X-API-Key` according to the auth mode."""

    def __init__(
        self,
        mode: str,
        key_hashes: list[str],
        jwks_url: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.mode = mode
        self.key_hashes = frozenset(key_hashes)
        self.audience, self.issuer = audience, issuer
        self._jwks = jwt.PyJWKClient(jwks_url, timeout=int(timeout)) if jwks_url else None

    def authenticate(self, authorization: str | None, api_key: str | None) -> Caller:
        token = api_key
        if authorization and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        if not token:
            raise Unauthorized("missing credentials: send Authorization: Bearer <token>")
        if self.mode == "jwt":
            return self._verify_jwt(token)
        digest = hash_key(token)
        if not any(hmac.compare_digest(digest, known) for known in self.key_hashes):
            raise Unauthorized("the API key is not valid")
        return Caller(id=f"key:{digest[:16]}", scheme="api-key", claims={})

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
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the bearer token is not valid: {exc}") from None
        return Caller(id=f"sub:{claims['sub']}", scheme="jwt", claims=claims)


def check_admin(authorization: str | None, admin_token: str, path: str) -> str:
    """Admin calls carry the admin token as a bearer token; every refusal is logged."""
    token = (authorization or "")[7:].strip() if authorization else ""
    if not token or not hmac.compare_digest(token.encode(), admin_token.encode()):
        log.warning("admin call denied", extra={"path": path, "reason": "bad admin credential"})
        raise Unauthorized("an admin credential is required: Authorization: Bearer <admin token>")
    return "admin"


class RateLimiter:
    """Moving-window limit per caller (in process; one budget per replica)."""

    def __init__(self, rule: str) -> None:
        self.rule = parse_limit(rule)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, caller_id: str) -> None:
        if not self._limiter.hit(self.rule, caller_id):
            reset_at, _ = self._limiter.get_window_stats(self.rule, caller_id)
            import time

            retry_after = max(1, int(reset_at - time.time()) + 1)
            raise RateLimited(f"rate limit {self.rule} exceeded for this caller", retry_after)


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
            if seen > self.max_bytes:
                raise PayloadTooLarge(f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        import json

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

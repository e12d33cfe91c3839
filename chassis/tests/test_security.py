"""Security and robustness: API keys, JWT against a JWKS, rate limits, body limit, problem+json
for bad input, CORS off, graceful shutdown.

Shared by every goldenpath template (written once in the kit's chassis).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter
from fastapi.testclient import TestClient
from minimal_service import create_app

from goldenpath_chassis import security
from goldenpath_chassis.app import create_platform_app
from goldenpath_chassis.context import RequestContextDep
from goldenpath_chassis.errors import RateLimited
from goldenpath_chassis.security import RateLimiter, hash_key

probe = APIRouter()


@probe.get("/probe")
async def probe_route(ctx: RequestContextDep) -> dict[str, str]:
    return {"caller": ctx.caller.id, "release": ctx.release.id}


@probe.get("/slow")
async def slow_route(ctx: RequestContextDep) -> dict[str, str]:
    await asyncio.sleep(1.0)
    return {"finished": "yes"}


def chassis_client(settings, **changes) -> TestClient:
    return TestClient(create_platform_app(settings.model_copy(update=changes), [probe]))


def test_problem_json_for_bad_input(client, auth_headers, domain_call) -> None:
    url, method = domain_call["url"], domain_call["method"]
    malformed = client.request(method, url, content=b'{"oops": ', headers={
        **auth_headers, "Content-Type": "application/json"})  # fmt: skip
    assert malformed.status_code == 400
    assert malformed.headers["content-type"] == "application/problem+json"
    assert malformed.json()["detail"].startswith("the request body is not valid JSON")
    wrong = client.request(method, url, json=[1, 2, 3], headers=auth_headers)
    assert 400 <= wrong.status_code < 500 and wrong.json()["status"] == wrong.status_code
    unknown = client.request(method, url, json={**domain_call["json"], "no_such_field": 1},
                             headers=auth_headers)  # fmt: skip
    assert unknown.status_code == 422
    assert "no_such_field" in unknown.json()["detail"]
    for response in (malformed, wrong, unknown):
        body = response.json()
        assert {"type", "title", "status", "detail", "instance"} <= body.keys()
        assert "Traceback" not in response.text


def test_unknown_route_and_method_are_problem_json(client) -> None:
    missing = client.get("/no/such/route")
    assert missing.status_code == 404 and missing.json()["detail"].startswith("no route")
    assert client.delete("/healthz").status_code == 405


def key_headers(settings) -> dict[str, str]:
    return {"X-API-Key": settings.api_key.get_secret_value()}


def test_api_keys_are_checked_against_hashes(settings) -> None:
    extra = "team-b-key-with-enough-length"
    with chassis_client(settings, auth_mode="api-key", api_key_hashes=[hash_key(extra)]) as c:
        assert c.get("/probe", headers=key_headers(settings)).status_code == 200
        assert c.get("/probe", headers={"X-API-Key": extra}).status_code == 200
        assert c.get("/probe", headers={"Authorization": f"Bearer {extra}"}).status_code == 200
        refused = c.get("/probe", headers={"X-API-Key": "not-a-key"})
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        missing = c.get("/probe")
        assert missing.status_code == 401 and "missing credentials" in missing.json()["detail"]


@pytest.fixture
def jwks_server():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    document = json.dumps({"keys": [{**public, "kid": "test-key", "alg": "RS256", "use": "sig"}]})

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document.encode())

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield key, f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


def test_jwt_bearer_tokens_are_verified_against_the_jwks(settings, jwks_server) -> None:
    key, url = jwks_server
    claims = {"sub": "user-42", "aud": "svc", "iss": "https://issuer.test",
              "exp": int(time.time()) + 300}  # fmt: skip

    def token(**changes: object) -> dict[str, str]:
        signed = jwt.encode({**claims, **changes}, key, algorithm="RS256",
                            headers={"kid": "test-key"})  # fmt: skip
        return {"Authorization": f"Bearer {signed}"}

    with chassis_client(settings, auth_mode="jwt", jwt_jwks_url=url, jwt_audience="svc",
                        jwt_issuer="https://issuer.test") as c:  # fmt: skip
        ok = c.get("/probe", headers=token())
        assert ok.status_code == 200 and ok.json()["caller"] == "sub:user-42"
        expired = c.get("/probe", headers=token(exp=int(time.time()) - 10))
        assert expired.status_code == 401 and "expired" in expired.json()["detail"].lower()
        assert c.get("/probe", headers=token(aud="other")).status_code == 401
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "test-key"})
        assert c.get("/probe", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
        assert c.get("/probe", headers={"X-API-Key": "dev-api-key"}).status_code == 401


def test_rate_limit_answers_429_with_retry_after(settings) -> None:
    auth_headers = key_headers(settings)
    with chassis_client(settings, rate_limit="3/minute", auth_mode="api-key") as c:
        statuses = [c.get("/probe", headers=auth_headers).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = c.get("/probe", headers=auth_headers)
        assert limited.headers["content-type"] == "application/problem+json"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        other = {"X-API-Key": "another-caller-key"}
        c.app.state.platform.authenticator.key_hashes |= {hash_key("another-caller-key")}
        assert c.get("/probe", headers=other).status_code == 200  # per caller


def test_rate_limit_budget_refills_with_time(monkeypatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(security.time, "monotonic", lambda: clock[0])
    limiter = RateLimiter("2/second")
    limiter.check("a")
    limiter.check("a")  # a burst up to the limit passes
    with pytest.raises(RateLimited):
        limiter.check("a")
    limiter.check("b")  # another caller has its own budget
    clock[0] += 0.5  # one request's worth of budget comes back
    limiter.check("a")
    with pytest.raises(RateLimited):
        limiter.check("a")


def test_bodies_over_the_limit_get_413(client, auth_headers, domain_call, settings) -> None:
    big = b'{"x": "' + b"a" * settings.max_body_bytes + b'"}'
    declared = client.request(
        domain_call["method"],
        domain_call["url"],
        content=big,
        headers={**auth_headers, "Content-Type": "application/json"},
    )
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"

    def chunks():
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"a" * 65536

    streamed = client.request(
        domain_call["method"],
        domain_call["url"],
        content=chunks(),
        headers={**auth_headers, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413, streamed.text
    assert streamed.headers["content-type"] == "application/problem+json"


def test_cors_is_off_by_default(client) -> None:
    preflight = client.options("/healthz", headers={"Origin": "https://evil.example",
                               "Access-Control-Request-Method": "GET"})  # fmt: skip
    assert "access-control-allow-origin" not in preflight.headers
    plain = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in plain.headers


def test_health_and_readiness(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready" and ready.json()["release"]


@pytest.mark.integration
def test_in_flight_requests_finish_on_shutdown(settings, auth_headers) -> None:
    app = create_platform_app(settings, [probe])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None,
                                           timeout_graceful_shutdown=10))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    result: dict[str, httpx.Response] = {}

    def call() -> None:
        result["slow"] = httpx.get(f"http://127.0.0.1:{port}/slow", headers=auth_headers,
                                   timeout=10)  # fmt: skip

    caller = threading.Thread(target=call)
    caller.start()
    in_progress = app.state.platform.metrics.http_in_progress
    while in_progress._value.get() < 1 and time.monotonic() < deadline + 10:
        time.sleep(0.01)
    server.should_exit = True  # what uvicorn does on SIGTERM
    caller.join(10)
    thread.join(10)
    assert result["slow"].status_code == 200 and result["slow"].json() == {"finished": "yes"}
    assert not thread.is_alive()


def test_the_401_help_text_is_not_mangled_by_the_redactor(client, domain_call) -> None:
    refused = client.request(domain_call["method"], domain_call["url"], json=domain_call["json"])
    assert refused.status_code == 401
    assert refused.json()["detail"] == (
        "missing credentials: send X-API-Key: <key> or Authorization: Bearer <token>"
    )


def test_a_422_never_echoes_a_secret_shaped_value(client, auth_headers, domain_call) -> None:
    leaked = "sk-live-" + "a" * 32
    body = {**domain_call["json"], "message": leaked * 10}  # too long: a 422 that shows values
    response = client.request(domain_call["method"], domain_call["url"], json=body,
                              headers=auth_headers)  # fmt: skip
    assert response.status_code == 422
    assert leaked not in response.text and "REDACTED" in response.text


def test_an_api_key_reaches_only_the_tenants_it_is_bound_to(settings) -> None:
    from goldenpath_chassis.security import hash_key

    bound, unbound = "key-for-alpha-0001", "key-for-nobody-002"
    configured = settings.model_copy(update={
        "api_key_hashes": [hash_key(bound), hash_key(unbound)],
        "api_key_tenants": {hash_key(bound): ["alpha"]},
    })  # fmt: skip
    with TestClient(create_app(configured)) as client:

        def status(key: str, tenant: str) -> int:
            return client.get(f"/v1/tenants/{tenant}", headers={"X-API-Key": key}).status_code

        assert status(bound, "alpha") == 200
        assert status(bound, "bravo") == 403
        assert status(unbound, "alpha") == 403
        assert status("dev-api-key", "bravo") == 200  # the operator key: every tenant
        refused = client.get("/v1/tenants/bravo", headers={"X-API-Key": bound}).json()
        assert refused["detail"] == "tenant='bravo' is not a tenant this credential may reach"


def test_a_token_reaches_the_tenants_its_claims_name() -> None:
    from goldenpath_chassis.security import Caller, jwt_tenants

    assert jwt_tenants({"tenant": "alpha"}) == {"alpha"}
    assert jwt_tenants({"tenants": ["alpha", "bravo"]}) == {"alpha", "bravo"}
    assert jwt_tenants({}) == frozenset()
    caller = Caller("sub:x", "jwt", {}, jwt_tenants({"tenant": "alpha"}))
    assert caller.may_access("alpha") and not caller.may_access("bravo")


def test_roles_come_from_the_key_configuration_or_the_token_claim() -> None:
    from goldenpath_chassis.errors import Forbidden
    from goldenpath_chassis.security import Authenticator, hash_key, jwt_roles

    approver, plain = "key-approver-0001", "key-plain-000002"
    auth = Authenticator(
        "api-key",
        [hash_key(approver), hash_key(plain)],
        key_tenants={hash_key(approver): ["alpha"], hash_key(plain): ["alpha"]},
        key_roles={hash_key(approver): ["approver"]},
    )
    assert auth.authenticate(None, approver).roles == {"approver"}
    caller = auth.authenticate(None, plain)
    assert caller.roles == frozenset()
    with pytest.raises(Forbidden, match="approving needs the 'approver' role"):
        caller.require_role("approver", "approving")
    assert jwt_roles({"roles": ["approver", "viewer"]}) == {"approver", "viewer"}
    assert jwt_roles({"roles": "approver viewer"}) == {"approver", "viewer"}
    assert jwt_roles({}) == frozenset()

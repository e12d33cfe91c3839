"""Schemathesis against the running service (uvicorn on 127.0.0.1, real database and model):
inputs generated from the OpenAPI schema of every operation never get a server error. Each
refusal is problem+json; a 503 (a dependency down, the kill switch) is allowed, a 500 never.
Bounded (20 examples an operation, no deadline) so it stays under a minute."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from conftest import HANDBOOK, bearer, make_settings
from hypothesis import HealthCheck, Phase, settings
from stubs import StubServer

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.platform.config import DEVELOPMENT_SECRETS
from {{ cookiecutter.package_name }}.settings import Settings

EXAMPLES = 20


@pytest.fixture(scope="module")
def live(new_database, stub, signing_key, tmp_path_factory):
    """(base URL, operator headers) of the service, serving, with one tenant's document."""
    service_settings = make_settings(new_database(), stub, tmp_path_factory.mktemp("api"))
    if service_settings.auth_mode == "jwt":
        headers = {"Authorization": bearer(signing_key, tenants=["*"], roles=["admin"])}
    else:
        headers = {"X-API-Key": "dev-api-key"}
    with StubServer(create_app(service_settings), lifespan="on") as server:
        document = {"tenant": "fuzz", "documents": [{"source": "h.md", "text": HANDBOOK}]}
        stored = httpx.post(f"{server.url}/v1/documents", json=document, headers=headers,
                            timeout=60)  # fmt: skip
        assert stored.status_code == 200, stored.text
        yield server.url, headers


# The schema the running service serves at /openapi.json, built without starting anything
# (schemathesis's `from_fixture` needs a pytest internal that pytest 9 removed).
schema = schemathesis.openapi.from_dict(
    create_app(Settings(environment="test", database_url="postgresql://unused")).openapi()
)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_generated_input_never_gets_a_server_error(case, live):
    base_url, headers = live
    if case.path.startswith("/admin"):  # the operator's admin token, so the handlers run
        headers = {"Authorization": f"Bearer {DEVELOPMENT_SECRETS['admin_token']}"}
    response = case.call(base_url=base_url, headers=headers, timeout=30)
    where = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    assert response.status_code < 500 or response.status_code == 503, where
    if response.status_code >= 400:
        content_type = {k.lower(): v for k, v in response.headers.items()}["content-type"][0]
        assert content_type.startswith("application/problem+json"), where

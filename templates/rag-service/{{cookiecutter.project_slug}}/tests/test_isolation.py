"""Tenant isolation: two tenants, and neither sees the other's text through query, stream,
cache or delete; and a credential reaches only the tenants it is bound to, on every route."""

from __future__ import annotations

import json
import uuid

import pytest
from conftest import bearer, ingest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.platform.security import hash_key

SECRET_A = "The Falcon launch code is FALCON-1234 and only team A knows it."
SECRET_B = "The Falcon launch code is HERON-9876 and only team B knows it."


def test_tenants_never_see_each_other(client, auth_headers, app):
    a, b = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    ingest(client, auth_headers, a, **{"falcon.txt": SECRET_A})
    ingest(client, auth_headers, b, **{"falcon.txt": SECRET_B})
    question = "What is the Falcon launch code?"
    for tenant, own, other in ((a, "FALCON-1234", "HERON-9876"), (b, "HERON-9876", "FALCON-1234")):
        for _ in range(2):  # the second answer comes from the cache
            body = client.post("/v1/query", json={"tenant": tenant, "question": question},
                               headers=auth_headers).json()  # fmt: skip
            text = body["answer"] + str(body["citations"])
            assert own in text and other not in text
        if "/v1/query/stream" in app.openapi()["paths"]:
            stream = client.post("/v1/query/stream", json={"tenant": tenant, "question": question},
                                 headers=auth_headers).text  # fmt: skip
            assert own in stream and other not in stream
    # Deleting in one tenant leaves the other's document, chunks and answers alone.
    assert client.delete(f"/v1/documents?tenant={a}&source=falcon.txt",
                         headers=auth_headers).status_code == 200  # fmt: skip
    body = client.post("/v1/query", json={"tenant": b, "question": question},
                       headers=auth_headers).json()  # fmt: skip
    assert "HERON-9876" in body["answer"]
    gone = client.post("/v1/query", json={"tenant": a, "question": question}, headers=auth_headers)
    assert gone.status_code == 404
    assert app.state.rag.store.chunk_count(b) == 1
    listed = client.get(f"/v1/documents?tenant={a}", headers=auth_headers).json()["documents"]
    assert listed == []


def attacks(own: str, other: str) -> list[tuple[str, str, dict]]:
    """Every route, aimed at another tenant's data (duplicate names included)."""
    question = {"tenant": other, "question": "What is the Falcon launch code?"}
    planted = {"tenant": other, "documents": [{"source": "planted.md", "text": "Planted."}]}
    duplicate = json.dumps(planted)[:-1] + f', "tenant": "{other}"}}'
    return [
        ("POST", "/v1/query", {"json": question}),
{%- if cookiecutter.streaming == "y" %}
        ("POST", "/v1/query/stream", {"json": question}),
{%- endif %}
        ("GET", f"/v1/documents?tenant={other}", {}),
        ("GET", f"/v1/documents?tenant={own}&tenant={other}", {}),
        ("POST", "/v1/documents", {"json": planted}),
        ("POST", "/v1/documents", {"content": duplicate,
                                   "headers": {"Content-Type": "application/json"}}),
        ("DELETE", f"/v1/documents?tenant={other}&source=secret.md", {}),
    ]  # fmt: skip


@pytest.mark.parametrize("scheme", ["api-key", "jwt"])
def test_a_credential_reaches_no_tenant_it_is_not_bound_to(settings, signing_key, tenant, scheme):
    other = f"{tenant}-other"
    key = f"key-of-{tenant}"
    configured = settings.model_copy(update={
        "auth_mode": scheme,
        "api_key_hashes": [hash_key(key)],
        "api_key_tenants": {hash_key(key): [tenant]},
    })  # fmt: skip
    if scheme == "jwt":
        own = {"Authorization": bearer(signing_key, tenant=tenant)}
        operator = {"Authorization": bearer(signing_key, tenants=[tenant, other])}
    else:
        own, operator = {"X-API-Key": key}, {"X-API-Key": "dev-api-key"}
    with TestClient(create_app(configured)) as client:
        ingest(client, operator, other, **{"secret.md": SECRET_B})
        ingest(client, own, tenant, **{"mine.md": SECRET_A})
        for method, url, options in attacks(tenant, other):
            headers = {**own, **options.pop("headers", {})}
            response = client.request(method, url, headers=headers, **options)
            assert response.status_code == 403, (method, url, response.text)
            assert "HERON" not in response.text
            assert response.json()["detail"] == (
                f"tenant={other!r} is not a tenant this credential may reach"
            )
        listed = client.get(f"/v1/documents?tenant={other}", headers=operator).json()
        assert [doc["source"] for doc in listed["documents"]] == ["secret.md"]

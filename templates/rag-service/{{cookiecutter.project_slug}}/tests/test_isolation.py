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


QUESTION = "What is the Falcon launch code?"
CASES = ("own tenant", "other tenant", "no tenant", "repeated parameter", "duplicate JSON key")


def routes(app) -> list[tuple[str, str, str, dict | None]]:
    """(name, method, path, JSON body without the tenant) of every route a tenant reaches,
    and one admin route (a tenant credential is no admin credential there)."""
    planted = {"documents": [{"source": "planted.md", "text": "Planted: the launch code is X."}]}
    found = [
        ("query", "POST", "/v1/query", {"question": QUESTION}),
        ("stream", "POST", "/v1/query/stream", {"question": QUESTION}),
        ("list", "GET", "/v1/documents", None),
        ("ingest", "POST", "/v1/documents", planted),
        ("delete", "DELETE", "/v1/documents?source=planted.md", None),
        ("retrievals", "GET", "/v1/retrievals", None),
        ("admin", "GET", "/admin/releases", None),
    ]
    paths = app.openapi()["paths"]
    return [route for route in found if route[2].partition("?")[0] in paths]


def request_for(case: str, method: str, path: str, body: dict | None, own: str, other: str):
    """The request one case sends: the tenant named in the body (or the query string)."""
    content, named = None, {"tenant": own}
    if case == "other tenant":
        named = {"tenant": other}
    elif case == "no tenant":
        named = {}
    if body is None:  # tenant in the query string
        url = f"{path}{'&' if '?' in path else '?'}"
        url += "&".join(f"tenant={value}" for value in named.values())
        if case == "repeated parameter":
            url += f"&tenant={other}"
        elif case == "duplicate JSON key":  # a JSON body even where the route reads none
            content = '{"tenant": "%s", "tenant": "%s"}' % (own, other)  # noqa: UP031
        return url, content
    url = path + (f"?tenant={own}&tenant={other}" if case == "repeated parameter" else "")
    content = json.dumps({**body, **named})
    if case == "duplicate JSON key":
        content = content[:-1] + f', "tenant": "{other}"}}'
    return url, content


EXPECTED = {"own tenant": 200, "other tenant": 403, "no tenant": 200,
            "repeated parameter": 400, "duplicate JSON key": 400}  # fmt: skip


@pytest.mark.parametrize("scheme", ["api-key", "jwt"])
def test_every_route_times_every_tenant_case_reads_and_writes_only_its_own_tenant(
    settings, signing_key, tenant, scheme
):
    """Every route x {own, other, none, repeated parameter, duplicate JSON key}: the exact
    status each answers, and 0 reads or writes of the other tenant (its answers, listings,
    documents and retrieval log compared before and after)."""
    other = f"{tenant}-other"
    key = f"key-of-{tenant}"
    configured = settings.model_copy(update={
        "auth_mode": scheme,
        "api_key_hashes": [hash_key(key)],
        "api_key_tenants": {hash_key(key): [tenant]},
        "api_key_roles": {hash_key(key): ["admin"]},  # the strongest role: only tenancy refuses
    })  # fmt: skip
    if scheme == "jwt":
        own = {"Authorization": bearer(signing_key, "own", tenant=tenant, roles=["admin"])}
        operator = {"Authorization": bearer(signing_key, tenants=[tenant, other], roles=["admin"])}
    else:
        own, operator = {"X-API-Key": key}, {"X-API-Key": "dev-api-key"}
    with TestClient(create_app(configured)) as client:
        ingest(client, operator, other, **{"secret.md": SECRET_B})
        ingest(client, own, tenant, **{"mine.md": SECRET_A})
        store = client.app.state.rag.store
        before = (store.list_documents(other), store.list_retrievals(other, 1000))
        cross_reads = cross_writes = cells = 0
        for case in CASES:
            for name, method, path, body in routes(client.app):
                url, content = request_for(case, method, path, body, tenant, other)
                headers = {**own, "Content-Type": "application/json"} if content else own
                response = client.request(method, url, content=content, headers=headers)
                cells += 1
                expected = 401 if name == "admin" else EXPECTED[case]
                assert response.status_code == expected, (case, name, url, response.text)
                cross_reads += "HERON" in response.text or "secret.md" in response.text
                if response.status_code == 200 and response.headers["content-type"].startswith(
                    "application/json"
                ):
                    assert response.json().get("tenant", tenant) == tenant, (case, name)
        after = (store.list_documents(other), store.list_retrievals(other, 1000))
        cross_writes += before[0] != after[0]
        cross_reads += before[1] != after[1]  # a read of the other tenant would be logged
        assert (cells, cross_reads, cross_writes) == (5 * len(routes(client.app)), 0, 0)
        mine = store.list_retrievals(tenant, 1000)
        caller = f"key:{hash_key(key)[:16]}" if scheme == "api-key" else "sub:own"
        assert mine and {row["caller"] for row in mine} == {caller}
        assert {"mine.md"} == {source for row in mine for source in row["sources"]}


ROLE_GRANTS = {
    "none": set(),
    "reader": {"query", "list"},
    "writer": {"query", "list", "ingest", "delete"},
    "admin": {"query", "list", "ingest", "delete", "retrievals"},
}


@pytest.mark.parametrize("scheme", ["api-key", "jwt"])
def test_each_role_does_what_it_names_and_no_more(settings, signing_key, tenant, scheme):
    keys = {role: f"key-{role}-{tenant}" for role in ROLE_GRANTS}
    if scheme == "jwt":
        credentials = {role: {"Authorization": bearer(
            signing_key, role, tenant=tenant, roles=[] if role == "none" else [role]
        )} for role in ROLE_GRANTS}  # fmt: skip
        operator = {"Authorization": bearer(signing_key, tenants=["*"], roles=["admin"])}
    else:
        credentials = {role: {"X-API-Key": key} for role, key in keys.items()}
        operator = {"X-API-Key": "dev-api-key"}
    configured = settings.model_copy(update={
        "auth_mode": scheme,
        "api_key_hashes": [hash_key(key) for key in keys.values()],
        "api_key_tenants": {hash_key(key): [tenant] for key in keys.values()},
        "api_key_roles": {hash_key(key): [] if role == "none" else [role]
                          for role, key in keys.items()},
    })  # fmt: skip
    calls = {
        "query": ("POST", "/v1/query", {"question": QUESTION}),
        "list": ("GET", "/v1/documents", None),
        "ingest": ("POST", "/v1/documents", {"documents": [{"source": "m.md", "text": SECRET_A}]}),
        "delete": ("DELETE", "/v1/documents?source=m.md", None),
        "retrievals": ("GET", "/v1/retrievals", None),
    }
    with TestClient(create_app(configured)) as client:
        for role, allowed in ROLE_GRANTS.items():
            ingest(client, operator, tenant, **{"m.md": SECRET_A})
            for name, (method, path, body) in calls.items():
                headers = credentials[role]
                response = client.request(method, path, json=body, headers=headers)
                if name in allowed:
                    assert response.status_code == 200, (role, name, response.text)
                    continue
                assert response.status_code == 403, (role, name, response.text)
                detail = response.json()["detail"]
                assert "role (or a stronger one), which this credential lacks" in detail


def test_a_credential_of_several_tenants_must_name_one(client, auth_headers):
    response = client.get("/v1/documents", headers=auth_headers)
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "tenant is required: this credential reaches several tenants"
    )

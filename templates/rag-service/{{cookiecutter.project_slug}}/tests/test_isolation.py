"""Tenant isolation: two tenants, and neither sees the other's text through query, stream,
cache or delete."""

from __future__ import annotations

import uuid

from conftest import ingest

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

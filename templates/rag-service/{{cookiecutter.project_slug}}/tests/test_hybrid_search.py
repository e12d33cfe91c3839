"""Hybrid search: full-text rank fused with vector rank (RRF) finds exact identifiers."""

from __future__ import annotations

from conftest import ingest

from {{ cookiecutter.package_name }}.store import Search


def test_hybrid_is_on_and_fuses_full_text(client, auth_headers, tenant, app, settings):
    assert settings.hybrid_search is True
    docs = {f"note-{i}.txt": f"Team note {i}: the deploy pipeline runs nightly checks."
            for i in range(6)}  # fmt: skip
    docs["errors.txt"] = "Error code QX-7781 means the disk quota of the build agent is full."
    ingest(client, auth_headers, tenant, **docs)
    service = app.state.rag
    vector = service.embedder.embed_query("QX-7781")
    fused = service.store.search(Search(tenant, vector, 3, text="what does qx 7781 mean"))
    assert fused[0].source == "errors.txt"
    assert fused[0].rank_score > fused[-1].rank_score
    assert all(hit.rank_score < 0.04 for hit in fused)  # RRF scores, not cosine


def test_hybrid_query_end_to_end(client, auth_headers, tenant):
    ingest(
        client,
        auth_headers,
        tenant,
        **{"errors.txt": "Error code QX-7781 means the disk quota of the build agent is full."},
    )
    body = client.post("/v1/query", json={"tenant": tenant, "question": "What is error QX-7781?"},
                       headers=auth_headers).json()  # fmt: skip
    assert body["citations"][0]["document"] == "errors.txt"

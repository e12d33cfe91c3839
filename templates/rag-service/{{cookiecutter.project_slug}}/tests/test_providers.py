"""The model endpoints over real HTTP on 127.0.0.1: OpenAI-compatible (langchain-openai) and
Bedrock (langchain-aws with a boto3 client pointed at a local stub via endpoint_url)."""

from __future__ import annotations

import pytest
from conftest import HANDBOOK, ingest, make_settings
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.main import create_app

MODES = [
    pytest.param("openai-compatible", "langchain_openai", "openai", id="openai-compatible"),
    pytest.param("bedrock", "langchain_aws", "bedrock", id="bedrock"),
]


@pytest.mark.parametrize(("mode", "module", "prefix"), MODES)
def test_generation_and_embeddings_through_the_endpoint(
    mode, module, prefix, database_url, stub, tmp_path, auth_headers, tenant
):
    pytest.importorskip(module)
    settings = make_settings(database_url, stub, tmp_path, generation_mode=mode, embeddings=mode)
    stub.app.state.calls.clear()
    with TestClient(create_app(settings)) as client:
        ingest(client, auth_headers, tenant, **{"handbook.md": HANDBOOK})
        question = {"tenant": tenant, "question": "When does the on-call rotation change?"}
        body = client.post("/v1/query", json=question, headers=auth_headers).json()
        assert body["mode"] == mode and body["label"] == ""
        assert "Monday" in body["answer"] and body["citations"][0]["document"] == "handbook.md"
        streamed = client.post("/v1/query/stream", json=question, headers=auth_headers)
        if streamed.status_code == 200:  # absent when the streaming endpoint is off
            assert "Monday" in streamed.text and "event: citations" in streamed.text
        metrics = client.get("/metrics").text
        assert 'genai_tokens_total{direction="input"' in metrics
    calls = set(stub.app.state.calls)
    assert any(call.startswith(prefix) for call in calls)
    assert ("openai-embeddings" if mode == "openai-compatible" else "bedrock-invoke") in calls


def test_endpoint_failure_is_a_502(database_url, stub, tmp_path, auth_headers, tenant):
    pytest.importorskip("langchain_openai")
    settings = make_settings(database_url, stub, tmp_path, generation_mode="openai-compatible",
                             embeddings="openai-compatible")  # fmt: skip
    with TestClient(create_app(settings)) as client:
        ingest(client, auth_headers, tenant, **{"handbook.md": HANDBOOK})
        client.app.state.rag.generator.settings = settings.model_copy(
            update={"openai_base_url": f"{stub.url}/missing/v1"}
        )
        client.app.state.rag.generator._models.clear()
        response = client.post("/v1/query", headers=auth_headers, json={
            "tenant": tenant, "question": "When does the on-call rotation change?"})  # fmt: skip
    assert response.status_code == 502
    assert "openai-compatible model" in response.json()["detail"]

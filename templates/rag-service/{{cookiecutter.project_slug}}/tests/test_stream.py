"""POST /v1/query/stream: tokens first, then citations, then done, as server-sent events."""

from __future__ import annotations

import json

from conftest import HANDBOOK, ingest


def events(text: str) -> list[tuple[str, dict]]:
    found = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        found.append((lines["event"], json.loads(lines["data"])))
    return found


def test_stream_sends_tokens_then_citations(client, auth_headers, tenant):
    ingest(client, auth_headers, tenant, **{"handbook.md": HANDBOOK})
    body = {"tenant": tenant, "question": "When does the on-call rotation change?"}
    response = client.post("/v1/query/stream", json=body, headers=auth_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    found = events(response.text)
    kinds = [kind for kind, _ in found]
    assert kinds[-2:] == ["citations", "done"] and kinds.count("token") >= 2
    text = "".join(data["text"] for kind, data in found if kind == "token")
    assert "Monday" in text
    assert found[-2][1]["citations"][0]["document"] == "handbook.md"
    assert found[-1][1]["refused"] is False


def test_stream_refuses_when_nothing_is_relevant(client, auth_headers, tenant):
    ingest(client, auth_headers, tenant, **{"handbook.md": HANDBOOK})
    body = {"tenant": tenant, "question": "What is the boiling point of tungsten?"}
    found = events(client.post("/v1/query/stream", json=body, headers=auth_headers).text)
    assert found[0][1]["text"].startswith("I don't know")
    assert found[-1][1]["refused"] is True


def test_stream_errors_are_plain_problems(client, auth_headers):
    response = client.post("/v1/query/stream", json={"tenant": "ghost", "question": "Hi?"},
                           headers=auth_headers)  # fmt: skip
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")

"""The OpenAPI document tells the truth: every response a /v1 route really gives (errors
included, provoked here one by one) is declared for that operation, with the media type it
really has (problem+json for errors), and no request gets a 5xx."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def document(client) -> dict:
    return client.get("/openapi.json").json()


def operation(document: dict, method: str, path: str) -> dict:
    for template, operations in document["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return operations[method.lower()]
    raise AssertionError(f"{method} {path} is not in the OpenAPI document")


def test_every_error_a_route_gives_is_declared_as_problem_json(
    client, document, auth_headers, approver_headers, globex_headers, examples, decision_body
):
    done = client.post("/v1/runs", json={"task": examples.lookup.task}, headers=auth_headers)
    thread = done.json()["thread_id"]
    risky = client.post("/v1/runs", json={"task": examples.risky.task}, headers=auth_headers).json()
    body = (
        decision_body(risky, "approve", "contract")
        if risky["pending_approval"]
        else {
            "decisions": [
                {"tool_call_id": "x", "action": "approve", "message": "m", "args_hash": "0" * 64}
            ]
        }
    )
    huge = {"task": "x" * 2_000_000}
    cases = [
        ("POST", "/v1/runs", {"task": examples.lookup.task}, {}),  # 401
        ("POST", "/v1/runs", {"task": ""}, auth_headers),  # 422
        ("POST", "/v1/runs", huge, auth_headers),  # 413
        ("POST", "/v1/runs", {"task": "x", "tenant": "acme"}, globex_headers),  # 403
        ("GET", f"/v1/runs/{thread}", None, auth_headers),  # 200
        ("GET", "/v1/runs/missing", None, auth_headers),  # 404
        ("GET", "/v1/runs/..%2F..", None, auth_headers),  # 404/422
        ("POST", f"/v1/runs/{thread}/resume", None, auth_headers),  # 409
        ("POST", "/v1/runs/missing/resume", None, auth_headers),  # 404
        ("POST", f"/v1/runs/{risky['thread_id']}/decisions", body, auth_headers),  # 403/409
        ("POST", f"/v1/runs/{thread}/decisions", body, approver_headers),  # 409
        ("POST", f"/v1/runs/{thread}/decisions", {"decisions": []}, approver_headers),  # 422
        ("GET", f"/v1/runs/{thread}/events", None, auth_headers),  # 200 text/event-stream
        ("GET", "/v1/runs/missing/events", None, auth_headers),  # 404
        ("GET", "/v1/audit/verify", None, auth_headers),  # 200
        ("GET", "/v1/audit/verify", None, {}),  # 401
    ]
    seen = set()
    for method, path, payload, headers in cases:
        response = client.request(method, path, json=payload, headers=headers)
        assert response.status_code < 500, (method, path, response.text)
        declared = operation(document, method, path.split("?")[0])["responses"]
        status = str(response.status_code)
        assert status in declared, f"{method} {path} answered {status}, declared: {list(declared)}"
        media = response.headers["content-type"].split(";")[0]
        assert media in declared[status].get("content", {media: None}), (method, path, media)
        if response.status_code >= 400:
            assert media == "application/problem+json", (method, path)
            assert {"type", "title", "status", "detail"} <= set(response.json())
        seen.add(response.status_code)
    assert {200, 401, 403, 404, 409, 413, 422} <= seen


def test_every_v1_operation_declares_a_response_model_and_problem_errors(document):
    for path, operations in document["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, spec in operations.items():
            ok = spec["responses"]["200"]["content"]
            assert "application/json" in ok or "text/event-stream" in ok, (method, path)
            for status in ("401", "403", "422", "429", "503"):
                assert "application/problem+json" in spec["responses"][status]["content"], (
                    method,
                    path,
                    status,
                )
    assert "Problem" in document["components"]["schemas"]

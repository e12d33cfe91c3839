"""POST /v1/predict: the release's predictor in process; the safe fallback under the kill
switch."""

from __future__ import annotations

import pytest


def test_preview_runs_the_callers_release(client, auth_headers):
    texts = ["The refund for the broken invoice.", "Ray Data"]
    response = client.post("/v1/predict", json={"texts": texts}, headers=auth_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["fallback"] is False and body["track"] == "active"
    assert [row["text"] for row in body["rows"]] == texts
{%- if cookiecutter.task == "embeddings" %}
    first, second = (row["embedding"] for row in body["rows"])
    assert len(first) == len(second) == 384
    assert sum(x * x for x in first) ** 0.5 == pytest.approx(1.0, abs=1e-4)
{%- else %}
    first, second = body["rows"]
    assert first["matched_keywords"] == ["broken", "invoice", "refund"]
    assert first["keyword_score"] == pytest.approx(3 / 6)
    assert second["keyword_score"] == 0.0  # under min_words
{%- endif %}


def test_preview_serves_the_fallback_under_the_kill_switch(client, auth_headers, admin_headers):
    switch = {"enabled": True, "reason": "drill"}
    assert client.post("/admin/kill-switch", json=switch, headers=admin_headers).status_code == 200
    body = client.post("/v1/predict", json={"texts": ["x"]}, headers=auth_headers).json()
    assert body["fallback"] is True and body["rows"] == []
    assert body["detail"] == client.app.state.platform.releases.safe_fallback


def test_preview_is_for_a_few_texts(client, auth_headers):
    response = client.post("/v1/predict", json={"texts": ["x"] * 33}, headers=auth_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "texts"
    assert client.post("/v1/predict", json={"texts": []}, headers=auth_headers).status_code == 422

"""Ingestion: formats, folders, S3 (moto), idempotency, replacement, deletion, atomicity and
bad files skipped with their reason."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import boto3
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import HANDBOOK, ingest
from fastapi.testclient import TestClient
from moto import mock_aws

from {{ cookiecutter.package_name }}.chunking import Chunk
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.ingest import (
    RawDocument,
    SkipDocument,
    iter_location,
    parse,
    require_s3_prefix,
)
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.platform.errors import Forbidden
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.store import DocumentWrite


def make_pdf(text: str) -> bytes:
    """A minimal, valid one-page PDF showing `text` (offsets computed, so readers accept it)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF".encode()
    return out


def test_parses_text_markdown_html_and_pdf():
    assert parse(RawDocument("a.txt", b"Plain words here.")).text == "Plain words here."
    markdown = parse(RawDocument("b.md", b"# Title\n\nBody text."))
    assert markdown.title == "Title" and markdown.content_type == "text/markdown"
    markup = b"<title>T</title><h2>Sec</h2><p>Hi there</p><script>x</script>"
    html = parse(RawDocument("c.html", markup))
    assert html.title == "T" and "## Sec" in html.text and "x" not in html.text.split()
    pdf = parse(RawDocument("d.pdf", make_pdf("Invoices are paid in 45 days")))
    assert "Invoices are paid in 45 days" in pdf.text


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (RawDocument("x.bin", b"\x00\x01"), "unsupported file type '.bin'"),
        (RawDocument("x.txt", b"abc\x00\xff\xfe binary"), "binary content"),
        (RawDocument("x.pdf", b"%PDF-1.4 this is not really a pdf"), "PDF"),
        (RawDocument("x.md", b"  \n "), "empty document"),
    ],
)
def test_bad_files_are_skipped_with_reason(raw, reason):
    with pytest.raises(SkipDocument, match=reason):
        parse(raw)


def test_api_ingest_is_idempotent_and_replaces_changed(client, auth_headers, tenant):
    first = ingest(client, auth_headers, tenant, **{"handbook.md": HANDBOOK, "b.txt": "Bee text."})
    assert sorted(first["ingested"]) == ["b.txt", "handbook.md"] and first["chunks"] >= 2
    again = ingest(client, auth_headers, tenant, **{"handbook.md": HANDBOOK})
    assert again["unchanged"] == ["handbook.md"] and again["chunks"] == 0
    changed = ingest(client, auth_headers, tenant, **{"handbook.md": HANDBOOK + "\nNew line."})
    assert changed["replaced"] == ["handbook.md"]
    listed = client.get(f"/v1/documents?tenant={tenant}", headers=auth_headers).json()
    assert [d["source"] for d in listed["documents"]] == ["b.txt", "handbook.md"]


def test_api_ingest_reports_skipped_files(client, auth_headers, tenant):
    body = {"tenant": tenant, "documents": [
        {"source": "ok.txt", "text": "Fine text for the index."},
        {"source": "broken.pdf", "content_base64": base64.b64encode(b"%PDF-1.7 garbage").decode()},
        {"source": "blob.txt", "content_base64": base64.b64encode(b"\x00\x00\x01").decode()},
    ]}  # fmt: skip
    report = client.post("/v1/documents", json=body, headers=auth_headers).json()
    assert report["ingested"] == ["ok.txt"]
    reasons = {item["source"]: item["reason"] for item in report["skipped"]}
    assert "PDF" in reasons["broken.pdf"] and "binary" in reasons["blob.txt"]


def test_api_ingest_refuses_bad_requests(client, auth_headers):
    response = client.post("/v1/documents", json={"tenant": "Bad Tenant!", "documents": []},
                           headers=auth_headers)  # fmt: skip
    assert response.status_code == 422 and response.json()["detail"].startswith("tenant:")
    document = {"source": "x.txt", "text": "t", "content_base64": "eA=="}
    both = {"tenant": "a", "documents": [document]}
    assert client.post("/v1/documents", json=both, headers=auth_headers).status_code == 422


def test_delete_removes_document_and_its_chunks(client, auth_headers, tenant, app):
    ingest(client, auth_headers, tenant, **{"handbook.md": HANDBOOK, "other.txt": "Other text."})
    url = f"/v1/documents?tenant={tenant}&source=handbook.md"
    assert client.delete(url, headers=auth_headers).status_code == 200
    assert client.delete(url, headers=auth_headers).status_code == 404
    store = app.state.rag.store
    assert store.content_hash(tenant, "handbook.md") is None
    assert store.chunk_count(tenant) == 1


def test_a_failed_write_leaves_the_old_document_whole(client, auth_headers, tenant, app):
    ingest(client, auth_headers, tenant, **{"handbook.md": HANDBOOK})
    store = app.state.rag.store
    before = store.chunk_count(tenant)
    chunks = [Chunk(0, "first"), Chunk(1, "second")]
    good = np.ones(store.dimension, dtype=np.float32)
    bad = np.ones(store.dimension + 1, dtype=np.float32)  # the second row fails inside COPY
    with pytest.raises(Exception, match="dimension"):
        store.write_document(tenant, "handbook.md", "new-hash", "", "text/plain", chunks,
                             [good, bad])  # fmt: skip
    assert store.chunk_count(tenant) == before
    assert store.content_hash(tenant, "handbook.md") != "new-hash"


def test_a_failing_document_in_a_batch_rolls_back_alone(client, auth_headers, tenant, app):
    store = app.state.rag.store
    good = np.ones((1, store.dimension), dtype=np.float32)
    bad = np.ones((2, store.dimension + 1), dtype=np.float32)  # fails inside its COPY
    chunks = [Chunk(0, "first"), Chunk(1, "second")]
    results = store.write_documents(tenant, [
        DocumentWrite("a.txt", "h-a", "", "text/plain", chunks[:1], good),
        DocumentWrite("b.txt", "h-b", "", "text/plain", chunks, bad),
        DocumentWrite("c.txt", "h-c", "", "text/plain", chunks[:1], good),
    ])  # fmt: skip
    assert results[0] == "ingested" and results[2] == "ingested"
    assert isinstance(results[1], Exception) and "dimension" in str(results[1])
    assert store.content_hash(tenant, "b.txt") is None
    assert store.chunk_count(tenant) == 2


@mock_aws
def test_s3_prefix_is_listed_and_read():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="docs")
    s3.put_object(Bucket="docs", Key="kb/a.md", Body=b"# A\n\nAlpha text.")
    s3.put_object(Bucket="docs", Key="kb/b.pdf", Body=make_pdf("Beta text"))
    s3.put_object(Bucket="docs", Key="other/c.txt", Body=b"not in the prefix")
    found = list(iter_location("s3://docs/kb/", 10_000, "us-east-1"))
    assert [doc.source for doc in found] == ["s3://docs/kb/a.md", "s3://docs/kb/b.pdf"]
    assert "Beta text" in parse(found[1]).text


@mock_aws
def test_an_s3_object_that_cannot_be_read_is_skipped_and_the_others_are_stored(monkeypatch):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="docs")
    for key in ("kb/a.md", "kb/b.md", "kb/c.md"):
        s3.put_object(Bucket="docs", Key=key, Body=f"# {key}\n\nText of {key}.".encode())
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    real = BaseClient._make_api_call

    def flaky(self, operation, params):
        if operation == "GetObject" and params["Key"] == "kb/b.md":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", flaky)
    found = list(iter_location("s3://docs/kb/", 10_000, "us-east-1"))
    assert [getattr(doc, "source", None) for doc in found] == ["s3://docs/kb/a.md", None,
                                                                "s3://docs/kb/c.md"]  # fmt: skip
    source, reason = found[1]
    assert source == "s3://docs/kb/b.md" and reason.startswith("could not be read: ClientError")


def test_cli_refuses_an_s3_prefix_outside_the_tenants(settings, monkeypatch, tenant):
    monkeypatch.setenv("DATABASE_URL", settings.database_url.get_secret_value())
    monkeypatch.setenv("S3_ALLOWED_PREFIXES", json.dumps({tenant: [f"s3://docs/{tenant}/"]}))
    result = CliRunner().invoke(main, ["ingest", "s3://docs/other/", "--tenant", tenant])
    assert result.exit_code == 1
    assert f"s3_uri='s3://docs/other/' is outside the S3 prefixes tenant='{tenant}'" in (
        result.output
    )


def test_cli_ingests_a_folder_with_a_report(settings, tmp_path, monkeypatch, tenant):
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "handbook.md").write_text(HANDBOOK)
    (folder / "sub" / "page.html").write_text("<h1>Page</h1><p>Some page text here.</p>")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.5 broken")
    (folder / "image.png").write_bytes(b"\x89PNG\x00")
    for key, value in settings.model_dump(mode="json").items():
        if value is not None and not isinstance(value, (list, dict)):
            monkeypatch.setenv(key.upper(), str(value))
    monkeypatch.setenv("DATABASE_URL", settings.database_url.get_secret_value())
    result = CliRunner().invoke(main, ["ingest", str(folder), "--tenant", tenant])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert sorted(report["ingested"]) == ["handbook.md", "sub/page.html"]
    assert {item["source"] for item in report["skipped"]} == {"scan.pdf", "image.png"}
    assert "ingested 2, replaced 0, unchanged 0, skipped 2" in result.stderr
    again = CliRunner().invoke(main, ["ingest", str(folder), "--tenant", tenant])
    assert "ingested 0, replaced 0, unchanged 2, skipped 2" in again.stderr


def test_cli_refuses_a_bad_tenant_and_path(tmp_path: Path):
    result = CliRunner().invoke(main, ["ingest", str(tmp_path), "--tenant", "No Such"])
    assert result.exit_code == 2 and "lowercase" in result.output


def test_iter_location_refuses_a_missing_path(tmp_path: Path):
    from {{ cookiecutter.package_name }}.platform.errors import BadRequest

    with pytest.raises(BadRequest, match="neither a file"):
        list(iter_location(str(tmp_path / "nope"), 100))


def test_the_body_limit_admits_the_largest_document_the_api_advertises(
    client, auth_headers, settings, tenant
):
    """One limit, set once: an 800 kB file in base64 JSON is within the body limit (no 413)."""
    assert settings.max_body_bytes >= settings.max_document_bytes * 4 // 3
    blob = base64.b64encode(b"%PDF-1.5\n" + os.urandom(800_000)).decode()
    body = {"tenant": tenant, "documents": [{"source": "big.pdf", "content_base64": blob}]}
    response = client.post("/v1/documents", json=body, headers=auth_headers)
    assert response.status_code == 200, response.text[:300]
    assert [item["source"] for item in response.json()["skipped"]] == ["big.pdf"]  # no text


def test_a_body_limit_below_the_document_limit_is_refused_naming_both():
    with pytest.raises(ValueError, match="max_body_bytes=1048576 is below what max_document_bytes"):
        Settings(max_body_bytes=1_048_576, max_document_bytes=20_000_000)


def test_a_control_character_in_a_source_is_skipped_naming_it_and_the_batch_is_stored(
    client, auth_headers, tenant
):
    body = {"tenant": tenant, "documents": [
        {"source": "good.md", "text": "A valid document."},
        {"source": "bad\u0000name.md", "text": "Its name holds a NUL."},
        {"source": "nul-inside.md", "text": "Text with a NUL\u0000 byte."},
    ]}  # fmt: skip
    response = client.post("/v1/documents", json=body, headers=auth_headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["ingested"] == ["good.md"]
    refused = "source: control character U+0000 at position 3 is not allowed in a source name"
    assert report["skipped"] == [
        {"source": "bad\u0000name.md", "reason": refused},
        {"source": "nul-inside.md", "reason": "binary content: not a text document"},
    ]
    listed = client.get(f"/v1/documents?tenant={tenant}", headers=auth_headers).json()
    assert [doc["source"] for doc in listed["documents"]] == ["good.md"]
    again = client.get("/healthz")  # the connection and the service are fine
    assert again.status_code == 200


def test_a_writer_thread_error_reaches_the_caller_as_its_problem(
    client, auth_headers, tenant, monkeypatch
):
    from {{ cookiecutter.package_name }} import ingestion as ingestion_module
    from {{ cookiecutter.package_name }}.platform.errors import Unavailable

    def broken(text: str) -> str:
        raise Unavailable("injection screening is unavailable: rules failed to load")

    monkeypatch.setattr(ingestion_module, "screening", broken)  # runs on the writer thread
    docs = {f"d{i}.md": f"Document number {i} about the rotation." for i in range(3)}
    body = {"tenant": tenant, "documents": [{"source": s, "text": t} for s, t in docs.items()]}
    response = client.post("/v1/documents", json=body, headers=auth_headers)
    assert response.status_code == 503, response.text
    assert response.json()["detail"] == "injection screening is unavailable: rules failed to load"
    assert response.headers["content-type"] == "application/problem+json"
    listed = client.get(f"/v1/documents?tenant={tenant}", headers=auth_headers).json()
    assert listed["documents"] == []  # nothing half-written


def test_an_s3_prefix_without_credentials_is_a_502_naming_the_uri(
    settings, auth_headers, tenant, monkeypatch
):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask beyond this machine
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # no credentials cached by other tests
    local = settings.model_copy(update={
        "aws_endpoint_url": "http://127.0.0.1:9",  # closed
        "s3_allowed_prefixes": {tenant: ["s3://docs-bucket/kb/"]},
    })  # fmt: skip
    with TestClient(create_app(local)) as client:
        body = {"tenant": tenant, "s3_uri": "s3://docs-bucket/kb/"}
        response = client.post("/v1/documents", json=body, headers=auth_headers)
    assert response.status_code == 502, response.text
    assert response.json()["detail"].startswith(
        "s3_uri='s3://docs-bucket/kb/' could not be read: NoCredentialsError"
    )


@pytest.mark.parametrize(
    "uri",
    ["s3://docs-bucket/other/", "s3://docs-bucket/kb-evil/", "s3://docs-bucket", "s3://bucket/kb/"],
)
def test_an_s3_uri_outside_the_tenants_prefixes_is_a_403_before_any_read(uri, tenant):
    allowed = {tenant: ["s3://docs-bucket/kb"], "other": ["s3://docs-bucket/other/"]}
    with pytest.raises(Forbidden, match=f"s3_uri={uri!r} is outside the S3 prefixes tenant="):
        require_s3_prefix(uri, tenant, allowed)
    require_s3_prefix("s3://docs-bucket/kb/a.md", tenant, allowed)  # inside: no error
    require_s3_prefix("s3://docs-bucket/kb", tenant, allowed)


def test_the_api_refuses_an_s3_prefix_not_configured_for_the_tenant(client, auth_headers, tenant):
    body = {"tenant": tenant, "s3_uri": "s3://docs-bucket/kb/"}
    response = client.post("/v1/documents", json=body, headers=auth_headers)
    assert response.status_code == 403, response.text
    assert "none configured; see S3_ALLOWED_PREFIXES" in response.json()["detail"]

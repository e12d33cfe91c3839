"""Read documents from a folder, a file or an S3 prefix and turn them into plain text.

Text, Markdown, HTML and PDF are understood; anything else, binary content posing as text,
an unparsable PDF or an empty file is skipped with its reason, never half-ingested.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .platform.errors import BadRequest, Forbidden, UpstreamError

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
}
ALLOWED = ", ".join(sorted(set(CONTENT_TYPES.values())))


@dataclass(frozen=True)
class RawDocument:
    """Bytes as found, before parsing; `source` identifies it within a tenant."""

    source: str
    data: bytes
    content_type: str | None = None


@dataclass(frozen=True)
class ParsedDocument:
    source: str
    title: str
    text: str
    content_type: str


class SkipDocument(Exception):
    """This document is left out of the ingestion; the message is the reason reported."""


@dataclass
class IngestReport:
    """What one ingestion run did, per document."""

    ingested: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    chunks: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "ingested": len(self.ingested),
            "replaced": len(self.replaced),
            "unchanged": len(self.unchanged),
            "skipped": len(self.skipped),
            "chunks": self.chunks,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "ingested": self.ingested,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "chunks": self.chunks,
        }


def content_type_of(source: str, declared: str | None = None) -> str:
    if declared:
        if declared not in CONTENT_TYPES.values():
            raise SkipDocument(f"content_type {declared!r} is not supported; allowed: {ALLOWED}")
        return declared
    suffix = Path(source.split("?")[0]).suffix.lower()
    if suffix not in CONTENT_TYPES:
        raise SkipDocument(f"unsupported file type {suffix or '(none)'!r}; allowed: {ALLOWED}")
    return CONTENT_TYPES[suffix]


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse(raw: RawDocument) -> ParsedDocument:
    """Turn bytes into text and a title, or raise SkipDocument with the reason."""
    if found := _CONTROL.search(raw.source):
        raise SkipDocument(
            f"source: control character U+{ord(found.group()):04X} at position {found.start()}"
            " is not allowed in a source name"
        )
    content_type = content_type_of(raw.source, raw.content_type)
    if not raw.data.strip():
        raise SkipDocument("empty document")
    if content_type == "application/pdf":
        title, text = _parse_pdf(raw.data)
    else:
        decoded = _decode_text(raw.data)
        if content_type == "text/html":
            title, text = _parse_html(decoded)
        else:
            text = decoded
            title = _first_heading(text) if content_type == "text/markdown" else ""
    text = text.replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL (PDFs carry it)
    if not text:
        raise SkipDocument("no text found in the document")
    return ParsedDocument(raw.source, title or _first_line(text), text, content_type)


def _decode_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise SkipDocument("binary content: not a text document")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SkipDocument(f"not UTF-8 text (byte {exc.start})") from None


def _parse_pdf(data: bytes) -> tuple[str, str]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise SkipDocument(f"unparsable PDF: {exc}") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise SkipDocument("PDF has no extractable text (image-only pages need OCR first)")
    return title, text


def _parse_html(markup: str) -> tuple[str, str]:
    """Visible text, with h1-h3 turned into Markdown headings so sections are kept."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "nav", "footer"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    for level in (1, 2, 3):
        for heading in soup.find_all(f"h{level}"):
            heading.replace_with(f"\n\n{'#' * level} {heading.get_text(' ', strip=True)}\n\n")
    body = soup.body or soup
    text = body.get_text("\n")
    text = re.sub(r"\n\s*\n+", "\n\n", text)
    return title, "\n".join(line.strip() for line in text.splitlines())


def _first_heading(text: str) -> str:
    match = re.search(r"^#{1,3}\s+(.+)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else ""


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:120].strip()


# -- where documents come from ---------------------------------------------------------------
def iter_location(
    location: str,
    max_bytes: int,
    aws_region: str = "us-east-1",
    aws_endpoint_url: str | None = None,
) -> Iterator[RawDocument | tuple[str, str]]:
    """Documents under a folder, one file, or an S3 prefix; too-large ones as (source, reason)."""
    if location.startswith("s3://"):
        yield from _iter_s3(location, max_bytes, aws_region, aws_endpoint_url)
        return
    path = Path(location)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    else:
        raise BadRequest(f"path={location!r} is neither a file, a folder nor an s3:// URI")
    for file in files:
        source = file.name if file == path else file.relative_to(path).as_posix()
        size = file.stat().st_size
        if size > max_bytes:
            yield source, f"{size} bytes is over the limit of {max_bytes}"
            continue
        yield RawDocument(source, file.read_bytes())


def require_s3_prefix(uri: str, tenant: str, allowed: dict[str, list[str]]) -> None:
    """Refuse (403) an S3 URI outside the tenant's allowed prefixes (`S3_ALLOWED_PREFIXES`):
    the pod's role may read more buckets than any one tenant should ingest from. A prefix
    ends at a `/` or is matched whole, so `s3://b/team` never admits `s3://b/team-other`."""
    for prefix in allowed.get(tenant, []):
        if uri == prefix or uri.startswith(prefix if prefix.endswith("/") else prefix + "/"):
            return
    raise Forbidden(
        f"s3_uri={uri!r} is outside the S3 prefixes tenant={tenant!r} may ingest from"
        f" ({allowed.get(tenant) or 'none configured'}; see S3_ALLOWED_PREFIXES)"
    )


def _iter_s3(
    uri: str, max_bytes: int, region: str, endpoint_url: str | None
) -> Iterator[RawDocument | tuple[str, str]]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise BadRequest(f"uri={uri!r} names no bucket: use s3://bucket/prefix")
    s3 = boto3.client("s3", region_name=region, endpoint_url=endpoint_url)
    try:
        yield from _s3_documents(s3, uri, bucket, prefix, max_bytes)
    except (BotoCoreError, ClientError) as exc:  # no credentials, access denied, no bucket
        detail = f"s3_uri={uri!r} could not be read: {type(exc).__name__}: {exc}"
        raise UpstreamError(detail) from None


def _s3_documents(
    s3: Any, uri: str, bucket: str, prefix: str, max_bytes: int
) -> Iterator[RawDocument | tuple[str, str]]:
    """An object that cannot be read is skipped with the reason (the others are stored, as
    for a folder); a listing that fails (credentials, bucket, access) fails the whole call,
    before any of its documents is stored."""
    from botocore.exceptions import BotoCoreError, ClientError

    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/"):
                continue
            source = f"s3://{bucket}/{key}"
            if item["Size"] > max_bytes:
                yield source, f"{item['Size']} bytes is over the limit of {max_bytes}"
                continue
            try:
                data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except (BotoCoreError, ClientError) as exc:
                yield source, f"could not be read: {type(exc).__name__}: {exc}"
                continue
            yield RawDocument(source, data)

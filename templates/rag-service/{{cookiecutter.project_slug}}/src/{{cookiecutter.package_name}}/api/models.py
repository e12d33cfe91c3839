"""Request bodies: validation here gives a 422 problem naming the field and what is allowed."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TENANT = r"^[a-z0-9][a-z0-9_-]{0,62}$"
FILTER_KEYS = ("source", "title", "heading", "content_type")
MAX_TOP_K = 20


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, description="Up to MAX_QUESTION_CHARS characters.")
    tenant: str | None = Field(
        default=None, pattern=TENANT, description="Default: the credential's only tenant."
    )
    top_k: int | None = Field(default=None, ge=1, le=MAX_TOP_K, description="Default: release.")
    filters: dict[str, str] = Field(
        default_factory=dict, description=f"Exact match on chunk metadata: {', '.join(FILTER_KEYS)}"
    )

    @field_validator("filters")
    @classmethod
    def _known_keys(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(FILTER_KEYS))
        if unknown:
            raise ValueError(f"unknown filter keys {unknown}; allowed: {list(FILTER_KEYS)}")
        return value


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(
        min_length=1,
        max_length=1024,
        description="Identifies it in the tenant. A source holding a control character (NUL,"
        " newline) is skipped with its reason; the batch's other documents are stored.",
    )
    text: str | None = Field(default=None, description="Text, Markdown or HTML content.")
    content_base64: str | None = Field(default=None, description="Any supported file, base64.")
    content_type: str | None = Field(default=None, description="Default: from the extension.")

    @model_validator(mode="after")
    def _one_content(self) -> DocumentIn:
        if (self.text is None) == (self.content_base64 is None):
            raise ValueError("give exactly one of text or content_base64")
        return self

    def data(self) -> bytes:
        if self.text is not None:
            return self.text.encode("utf-8")
        try:
            return base64.b64decode(self.content_base64 or "", validate=True)
        except binascii.Error:
            return b""  # reported as an empty document, skipped with its reason


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: str | None = Field(
        default=None, pattern=TENANT, description="Default: the credential's only tenant."
    )
    documents: list[DocumentIn] = Field(default_factory=list, max_length=500)
    s3_uri: str | None = Field(default=None, pattern=r"^s3://[a-z0-9.-]{3,63}(/.*)?$")

    @model_validator(mode="after")
    def _one_origin(self) -> IngestRequest:
        if bool(self.documents) == bool(self.s3_uri):
            raise ValueError("give either documents or s3_uri")
        return self


# -- responses: every route declares its 200 body, so the OpenAPI document describes it ------
class CitationOut(BaseModel):
    index: int = Field(description="The [n] marker in the answer.")
    document: str
    title: str
    chunk: int = Field(description="Position of the chunk in its document.")
    chunk_id: int
    score: float = Field(description="Cosine similarity of the chunk to the question.")
    snippet: str
    heading: str = ""


class AnswerOut(BaseModel):
    answer: str
    citations: list[CitationOut]
    refused: bool = Field(description="No document answers the question: said so, not guessed.")
    fallback: bool = Field(description="The kill switch is on: the safe fallback answer.")
    mode: str
    label: str = Field(description="How the answer was made (e.g. extractive), for the user.")
    model: str
    release: str
    flagged_chunks: int = Field(description="Retrieved chunks dropped by injection screening.")
    cached: bool


class SkippedOut(BaseModel):
    source: str
    reason: str


class IngestOut(BaseModel):
    tenant: str
    ingested: list[str]
    replaced: list[str]
    unchanged: list[str]
    skipped: list[SkippedOut]
    chunks: int = Field(description="Chunks written.")


class DocumentOut(BaseModel):
    source: str
    title: str
    content_type: str
    chunk_count: int
    content_hash: str
    ingested_at: datetime


class DocumentsOut(BaseModel):
    tenant: str
    documents: list[DocumentOut]


class DeletedOut(BaseModel):
    tenant: str
    deleted: str


class RetrievalOut(BaseModel):
    caller: str = Field(description="Who asked: key:<digest prefix> or sub:<JWT subject>.")
    at: datetime
    release: str
    route: str
    question_sha256: str
    sources: list[str]
    chunk_ids: list[int]
    cached: bool


class RetrievalsOut(BaseModel):
    tenant: str
    retrievals: list[RetrievalOut]

"""Every retrieval, per tenant: who asked, when, under which release, and which documents
(and chunks) the answer drew on. The question itself is kept as a SHA-256 digest only."""

SQL = """
CREATE TABLE retrievals (
    id BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    caller TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    release TEXT NOT NULL,
    route TEXT NOT NULL,
    question_sha256 TEXT NOT NULL,
    sources TEXT[] NOT NULL,
    chunk_ids BIGINT[] NOT NULL,
    cached BOOLEAN NOT NULL
);
CREATE INDEX retrievals_tenant_at ON retrievals (tenant, at DESC);
"""

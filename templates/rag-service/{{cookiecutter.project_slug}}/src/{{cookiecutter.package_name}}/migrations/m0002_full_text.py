"""Full-text search column and index for hybrid search (full-text + vector, fused by RRF)."""

SQL = """
ALTER TABLE chunks
    ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED;
CREATE INDEX chunks_tsv ON chunks USING gin (tsv);
"""

"""Each chunk's quotable units' vectors (float32, unit order of `segmentation.segment`), pooled
at ingestion from the chunk's own forward pass, so an extractive answer embeds no sentence at
query time. NULL for chunks written before, or by an embedder that exposes no tokens."""

SQL = """
ALTER TABLE chunks ADD COLUMN unit_vectors BYTEA;
"""

"""Injection-screening verdict per chunk, written at ingestion (`<ruleset>:<category>`).
NULL for chunks stored before: those are screened when retrieved."""

SQL = """
ALTER TABLE chunks ADD COLUMN screening TEXT;
"""

"""PostgreSQL + pgvector: the one store, in the chassis's database (embedded pgserver locally,
Aurora in production).

Every query names the tenant in its WHERE clause: isolation is enforced here, in SQL, on every
path. Each document is written in one transaction, so a failure leaves no partial chunks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import psycopg
from pgvector.psycopg import register_vector, register_vector_async
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from .chunking import Chunk
from .migrations import load_migrations
from .platform.database import connect, connection_kwargs
from .platform.errors import Unavailable

log = logging.getLogger(__name__)
WriteOutcome = Literal["ingested", "replaced", "unchanged"]
RRF_K = 60  # reciprocal rank fusion constant (Cormack et al.)
_MIGRATION_LOCK = 7_240_001  # advisory lock id: one replica migrates at a time
EF_SEARCH = "SET hnsw.ef_search = 100"  # filtered HNSW scans need more than the default 40


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk: `score` is cosine similarity, `rank_score` what ordered it."""

    chunk_id: int
    source: str
    title: str
    chunk_index: int
    text: str
    metadata: dict[str, Any]
    score: float
    rank_score: float
    screening: str | None = None  # injection verdict stored at ingestion (guardrails)
    # Cosine of each of the chunk's quotable units (segmentation order) to the question, from
    # the unit vectors written at ingestion; None where none were stored.
    unit_scores: np.ndarray | None = None


@dataclass(frozen=True)
class DocumentWrite:
    """One parsed, chunked and embedded document, ready to be written."""

    source: str
    content_hash: str
    title: str
    content_type: str
    chunks: Sequence[Chunk]
    vectors: np.ndarray
    screenings: Sequence[str | None] | None = None  # injection verdicts, one per chunk
    # Per chunk, one vector per quotable unit (segmentation.segment order), or None.
    unit_vectors: Sequence[np.ndarray | None] | None = None


class Store:
    """Two pools on one database: a thread-safe one for ingestion, the CLI and evaluation,
    and an asyncio one for the query route, so a search waits on the event loop instead of
    holding a worker thread (`aopen` in the app's lifespan starts it)."""

    def __init__(self, url: str, dimension: int, pool_size: int = 8) -> None:
        self.url, self.dimension = url, dimension
        options: dict[str, Any] = {
            "min_size": 1,
            "max_size": pool_size,
            "kwargs": connection_kwargs(url, autocommit=True, row_factory=dict_row),
            "open": False,
        }
        self.pool = ConnectionPool(url, configure=self._configure, name="rag-store", **options)
        self._options = options
        self.apool = self._new_apool()

    def _new_apool(self) -> AsyncConnectionPool[Any]:
        """An asyncio pool belongs to the event loop that opens it and cannot be reopened:
        each `aopen` after an `aclose` (a CLI or evaluation run) gets a fresh one."""
        return AsyncConnectionPool(
            self.url, configure=self._aconfigure, name="rag-store-async", **self._options
        )

    @staticmethod
    def _configure(conn: psycopg.Connection[Any]) -> None:
        register_vector(conn)
        conn.execute(EF_SEARCH)

    @staticmethod
    async def _aconfigure(conn: psycopg.AsyncConnection[Any]) -> None:
        await register_vector_async(conn)
        await conn.execute(EF_SEARCH)

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        try:
            self.migrate()
            self.pool.open(wait=True, timeout=30)
        except (psycopg.OperationalError, TimeoutError) as exc:
            raise Unavailable(f"the database is not reachable: {exc}") from exc

    def close(self) -> None:
        self.pool.close()

    async def aopen(self) -> None:
        try:
            await self.apool.open(wait=True, timeout=30)
        except (psycopg.OperationalError, TimeoutError) as exc:
            raise Unavailable(f"the database is not reachable: {exc}") from exc

    async def aclose(self) -> None:
        await self.apool.close()
        self.apool = self._new_apool()

    def ping(self) -> bool:
        with self.pool.connection(timeout=5) as conn:
            return conn.execute("SELECT 1 AS ok").fetchone() is not None

    def migrate(self) -> list[int]:
        """Apply pending migrations under an advisory lock; return the versions applied."""
        applied: list[int] = []
        with connect(self.url, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                    " name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
                for migration in load_migrations():
                    if migration.version in done:
                        continue
                    with conn.transaction():
                        conn.execute(migration.sql.replace("{dimension}", str(self.dimension)))
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                            (migration.version, migration.name),
                        )
                    applied.append(migration.version)
                    log.info("migration applied", extra={"version": migration.version})
                self._check_dimension(conn)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
        return applied

    def _check_dimension(self, conn: psycopg.Connection[Any]) -> None:
        row = conn.execute(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'chunks'::regclass"
            " AND attname = 'embedding'"
        ).fetchone()
        if row and row[0] != self.dimension:
            raise Unavailable(
                f"the store holds {row[0]}-dimensional vectors but embedding_dimension="
                f"{self.dimension}: re-create the store or use the matching embedding model"
            )

    # -- documents ---------------------------------------------------------------------------
    def content_hash(self, tenant: str, source: str) -> str | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT content_hash FROM documents WHERE tenant = %s AND source = %s",
                (tenant, source),
            ).fetchone()
        return row["content_hash"] if row else None

    def write_document(
        self,
        tenant: str,
        source: str,
        content_hash: str,
        title: str,
        content_type: str,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        screenings: Sequence[str | None] | None = None,
        unit_vectors: Sequence[np.ndarray | None] | None = None,
    ) -> WriteOutcome:
        """Insert or replace one document and all its chunks in a single transaction;
        `screenings` are the chunks' injection verdicts (None: screened when retrieved)."""
        document = DocumentWrite(
            source, content_hash, title, content_type, chunks, vectors, screenings, unit_vectors
        )
        (result,) = self.write_documents(tenant, [document])
        if isinstance(result, Exception):
            raise result
        return result

    def write_documents(
        self, tenant: str, documents: Sequence[DocumentWrite]
    ) -> list[WriteOutcome | Exception]:
        """Write several documents in one transaction, each under its own savepoint: a
        document that fails rolls back alone (no partial chunks, its old version kept) and
        is returned as its exception; the others commit together, with one WAL flush
        instead of one per document."""
        results: list[WriteOutcome | Exception] = []
        with self.pool.connection() as conn, conn.transaction():
            for document in documents:
                try:
                    with conn.transaction():
                        results.append(self._write(conn, tenant, document))
                except Exception as exc:  # this document's savepoint is rolled back
                    results.append(exc)
        return results

    @staticmethod
    def _write(conn: psycopg.Connection[Any], tenant: str, doc: DocumentWrite) -> WriteOutcome:
        row = conn.execute(
            "SELECT id, content_hash FROM documents WHERE tenant = %s AND source = %s FOR UPDATE",
            (tenant, doc.source),
        ).fetchone()
        if row and row["content_hash"] == doc.content_hash:
            return "unchanged"
        outcome: WriteOutcome
        if row:
            conn.execute("DELETE FROM chunks WHERE document_id = %s", (row["id"],))
            conn.execute(
                "UPDATE documents SET content_hash = %s, title = %s, content_type = %s,"
                " chunk_count = %s, ingested_at = now() WHERE id = %s",
                (doc.content_hash, doc.title, doc.content_type, len(doc.chunks), row["id"]),
            )
            document_id, outcome = row["id"], "replaced"
        else:
            inserted = conn.execute(
                "INSERT INTO documents (tenant, source, content_hash, title, content_type,"
                " chunk_count) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (tenant, doc.source, doc.content_hash, doc.title, doc.content_type,
                 len(doc.chunks)),
            ).fetchone()  # fmt: skip
            assert inserted is not None
            document_id, outcome = inserted["id"], "ingested"
        with conn.cursor().copy(
            "COPY chunks (document_id, tenant, chunk_index, text, metadata, embedding,"
            " screening, unit_vectors) FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "text", "int4", "text", "jsonb", "vector", "text", "bytea"])
            verdicts = doc.screenings or [None] * len(doc.chunks)
            units = doc.unit_vectors or [None] * len(doc.chunks)
            # The document's source and title travel in every chunk's metadata, so search
            # returns citations without joining documents.
            owner = {"source": doc.source, **({"title": doc.title} if doc.title else {})}
            rows = zip(doc.chunks, doc.vectors, verdicts, units, strict=True)
            for chunk, vector, verdict, unit_vectors in rows:
                copy.write_row(
                    (document_id, tenant, chunk.index, chunk.text,
                     Jsonb({**chunk.metadata, **owner}), vector, verdict,
                     None if unit_vectors is None else _packed(unit_vectors))
                )  # fmt: skip
        return outcome

    def delete_document(self, tenant: str, source: str) -> bool:
        with self.pool.connection() as conn:
            deleted = conn.execute(
                "DELETE FROM documents WHERE tenant = %s AND source = %s RETURNING id",
                (tenant, source),
            ).fetchone()
        return deleted is not None

    def list_documents(self, tenant: str) -> list[dict[str, Any]]:
        with self.pool.connection() as conn:
            return conn.execute(
                "SELECT source, title, content_type, chunk_count, content_hash, ingested_at"
                " FROM documents WHERE tenant = %s ORDER BY source",
                (tenant,),
            ).fetchall()

    def tenant_exists(self, tenant: str) -> bool:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT 1 AS found FROM documents WHERE tenant = %s LIMIT 1", (tenant,)
            ).fetchone()
        return row is not None

    def chunk_count(self, tenant: str | None = None) -> int:
        with self.pool.connection() as conn:
            if tenant is None:
                row = conn.execute("SELECT count(*) AS n FROM chunks").fetchone()
            else:
                row = conn.execute(
                    "SELECT count(*) AS n FROM chunks WHERE tenant = %s", (tenant,)
                ).fetchone()
        return int(row["n"]) if row else 0

    def chunk_texts(self, tenant: str, chunk_ids: list[int]) -> dict[int, str]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, text FROM chunks WHERE tenant = %s AND id = ANY(%s)",
                (tenant, chunk_ids),
            ).fetchall()
        return {row["id"]: row["text"] for row in rows}

    # -- retrieval log -----------------------------------------------------------------------
    async def arecord_retrieval(self, record: RetrievalRecord) -> None:
        """One row per answer drawn from the tenant's documents (on the asyncio pool)."""
        async with self.apool.connection() as conn:
            await conn.execute(_RECORD_SQL, record.row())

    def list_retrievals(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        with self.pool.connection() as conn:
            return conn.execute(
                "SELECT caller, at, release, route, question_sha256, sources, chunk_ids, cached"
                " FROM retrievals WHERE tenant = %s ORDER BY at DESC, id DESC LIMIT %s",
                (tenant, limit),
            ).fetchall()

    # -- search ------------------------------------------------------------------------------
    def search(self, search: Search) -> list[Hit]:
        with self.pool.connection() as conn:
            rows = conn.execute(*search.sql()).fetchall()
        return [_hit(row, search) for row in rows]

    async def asearch(self, search: Search) -> list[Hit]:
        """`search` on the asyncio pool."""
        async with self.apool.connection() as conn:
            rows = await (await conn.execute(*search.sql())).fetchall()
        return [_hit(row, search) for row in rows]


@dataclass(frozen=True)
class RetrievalRecord:
    """Who read which of a tenant's documents, through which route and release."""

    tenant: str
    caller: str
    release: str
    route: str
    question_sha256: str
    sources: list[str]
    chunk_ids: list[int]
    cached: bool

    def row(self) -> tuple[Any, ...]:
        return (self.tenant, self.caller, self.release, self.route, self.question_sha256,
                self.sources, self.chunk_ids, self.cached)  # fmt: skip


_RECORD_SQL = (
    "INSERT INTO retrievals (tenant, caller, release, route, question_sha256, sources,"
    " chunk_ids, cached) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)


@dataclass(frozen=True)
class Search:
    """Top chunks of one tenant by cosine similarity; with `text`, fused with full-text rank
    by reciprocal rank fusion. Each ranking orders and limits `chunks` alone, so the HNSW
    and GIN indexes serve it. Source and title come from the chunk's own metadata (written
    with it), so no join is needed on the hot path."""

    tenant: str
    vector: np.ndarray
    limit: int
    filters: dict[str, str] | None = None
    text: str | None = None

    def sql(self) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {"tenant": self.tenant, "q": self.vector, "k": self.limit}
        where = "c.tenant = %(tenant)s"
        if self.filters:
            where += " AND c.metadata @> %(filters)s"
            params["filters"] = Jsonb(self.filters)
        columns = "c.id, c.chunk_index, c.text, c.metadata, c.screening, c.unit_vectors"
        terms = _tsquery_terms(self.text) if self.text else ""
        if not terms:
            sql = f"""
                SELECT {columns}, 1 - (c.embedding <=> %(q)s) AS score FROM chunks c
                WHERE {where} ORDER BY c.embedding <=> %(q)s LIMIT %(k)s
            """  # noqa: S608 (only fixed fragments are interpolated)
            return sql, params
        params.update(terms=terms, pool=max(self.limit * 4, 20), rrf=RRF_K)
        sql = f"""
            WITH v AS (
                SELECT id, row_number() OVER (ORDER BY distance) AS r FROM (
                    SELECT c.id, c.embedding <=> %(q)s AS distance FROM chunks c
                    WHERE {where} ORDER BY c.embedding <=> %(q)s LIMIT %(pool)s
                ) n
            ), t AS (
                SELECT id, row_number() OVER (ORDER BY rank DESC) AS r FROM (
                    SELECT c.id, ts_rank_cd(c.tsv, query) AS rank
                    FROM chunks c, to_tsquery('english', %(terms)s) query
                    WHERE {where} AND c.tsv @@ query ORDER BY rank DESC LIMIT %(pool)s
                ) m
            ), f AS (
                SELECT id, COALESCE(1.0 / (%(rrf)s + v.r), 0)
                         + COALESCE(1.0 / (%(rrf)s + t.r), 0) AS rank_score
                FROM v FULL OUTER JOIN t USING (id) ORDER BY rank_score DESC LIMIT %(k)s
            )
            SELECT {columns}, 1 - (c.embedding <=> %(q)s) AS score, f.rank_score
            FROM f JOIN chunks c ON c.id = f.id ORDER BY f.rank_score DESC
        """  # noqa: S608 (the ranked rows are this tenant's; joined by primary key)
        return sql, params


def _hit(row: dict[str, Any], search: Search) -> Hit:
    score = float(row["score"])
    metadata = row["metadata"]
    return Hit(
        chunk_id=row["id"],
        source=metadata["source"],
        title=metadata.get("title", ""),
        chunk_index=row["chunk_index"],
        text=row["text"],
        metadata=metadata,
        score=score,
        rank_score=float(row.get("rank_score", score)),
        screening=row["screening"],
        unit_scores=_unit_scores(row["unit_vectors"], search.vector),
    )


def _packed(vectors: np.ndarray) -> bytes:
    return np.ascontiguousarray(vectors, dtype="<f4").tobytes()


def _unit_scores(data: bytes | None, question: np.ndarray) -> np.ndarray | None:
    if data is None:
        return None
    units = np.frombuffer(data, dtype="<f4").reshape(-1, len(question))
    return units @ np.asarray(question, dtype=np.float32)


def _tsquery_terms(text: str) -> str:
    """Words of the question OR-ed together; only [a-z0-9] survive, so no tsquery syntax."""
    words = dict.fromkeys(re.findall(r"[a-z0-9]{2,}", text.lower()))
    return " | ".join(list(words)[:32])

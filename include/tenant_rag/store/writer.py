"""Atomic page replacement: one transaction per batch of pages deletes their old rows and binary-COPYs the new ones.

Within ONE transaction the pages' old documents/parents/chunks are deleted and the new rows copied (binary, types
set explicitly, vectors pre-encoded with numpy in pgvector's wire format) straight into the generation's tables, and
the generation's term statistics (``g<n>_terms``, ``g<n>_totals``) take the difference: the terms of the new chunks
added, those of the deleted ones subtracted. The chunks' terms come analysed (``ChunkRow.lexical``), so the
database stores them as they are. Parents and chunks carry their page's readers.
A crash anywhere rolls the whole transaction back: readers see each page either old or new, never a mix, and never
twice. Staging tables are not needed for that: MVCC hides the uncommitted rows from every other session.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.abc import Buffer
from psycopg.adapt import Dumper
from psycopg.pq import Format

from tenant_rag.db import ensure_vector_types
from tenant_rag.store.generations import lock_pages, lock_store
from tenant_rag.store.names import StoreNames
from tenant_rag.store.schema import compact_term_stats
from tenant_rag.text_analysis import ChunkTerms

DOCUMENT_COLUMNS = (
    ("page_id", "text"),
    ("space_key", "text"),
    ("title", "text"),
    ("url", "text"),
    ("rel_path", "text"),
    ("version", "int4"),
    ("content_hash", "text"),
    ("meta_hash", "text"),
    ("breadcrumbs", "text[]"),
    ("labels", "text[]"),
    ("last_modified", "timestamptz"),
    ("parent_page_id", "text"),
    ("parents", "int4"),
    ("chunks", "int4"),
    ("readers", "text[]"),
)
PARENT_COLUMNS = (
    ("parent_id", "text"),
    ("page_id", "text"),
    ("ordinal", "int4"),
    ("text", "text"),
    ("heading_path", "text[]"),
    ("readers", "text[]"),
)
CHUNK_COLUMNS = (
    ("chunk_id", "text"),
    ("parent_id", "text"),
    ("page_id", "text"),
    ("space_key", "text"),
    ("ordinal", "int4"),
    ("text", "text"),
    ("context", "text"),
    ("text_hash", "text"),
    ("model_id", "text"),
    ("embedding", "vector"),
    ("terms", "text"),
    ("freqs", "text"),
    ("length", "int4"),
    ("readers", "text[]"),
)


@dataclass(frozen=True)
class DocumentRow:
    page_id: str
    space_key: str
    title: str
    url: str | None
    rel_path: str
    version: int | None
    content_hash: str
    meta_hash: str
    breadcrumbs: list[str]
    labels: list[str]
    last_modified: datetime | None
    parent_page_id: str | None
    parents: int
    chunks: int
    readers: list[str]  # who may read the page (``tenant_rag.permissions.reader_principals``); its rows inherit it


@dataclass(frozen=True)
class ParentRow:
    parent_id: str
    page_id: str
    ordinal: int
    text: str
    heading_path: list[str]


@dataclass(frozen=True)
class ChunkRow:
    chunk_id: str
    parent_id: str
    page_id: str
    space_key: str
    ordinal: int
    text: str
    context: str
    text_hash: str
    model_id: str
    embedding: np.ndarray = field(repr=False)
    lexical: ChunkTerms = field(repr=False)


@dataclass(frozen=True)
class PageRows:
    """Everything one page contributes to a generation."""

    document: DocumentRow
    parents: list[ParentRow]
    chunks: list[ChunkRow]


class _EncodedVector(bytes):
    """A vector already in pgvector's binary wire format (dimension, unused, big-endian float4 values)."""


class _EncodedVectorDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: Any) -> Buffer | None:
        return obj


def _encode_vectors(vectors: Sequence[np.ndarray]) -> list[_EncodedVector]:
    """pgvector's binary format for many vectors at once (numpy, no per-row Python packing)."""
    if not vectors:
        return []
    try:
        matrix = np.stack([np.asarray(v, dtype=np.float32) for v in vectors])
    except ValueError:  # vectors of different lengths: encode one by one, the server reports the bad one
        return [encoded for v in vectors for encoded in _encode_vectors([v])]
    count, dims = matrix.shape
    header = np.array([dims, 0], dtype=">u2").tobytes()
    body = matrix.astype(">f4", copy=False).view(np.uint8).reshape(count, 4 * dims)
    return [_EncodedVector(header + row.tobytes()) for row in body]


def _copy(
    conn: psycopg.Connection[Any],
    table: sql.Composable,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[Sequence[Any]],
) -> None:
    names = sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(table, names)
    with conn.cursor() as cursor:
        if any(pg_type == "vector" for _, pg_type in columns):
            vector_oid = conn.adapters.types["vector"].oid
            dumper = type("_VectorDumper", (_EncodedVectorDumper,), {"oid": vector_oid})
            cursor.adapters.register_dumper(_EncodedVector, dumper)
        with cursor.copy(statement) as copy:
            copy.set_types([pg_type for _, pg_type in columns])
            for row in rows:
                copy.write_row(row)


def _document_rows(pages: Sequence[PageRows]) -> Iterator[tuple[Any, ...]]:
    for page in pages:
        d = page.document
        yield (
            d.page_id,
            d.space_key,
            d.title,
            d.url,
            d.rel_path,
            d.version,
            d.content_hash,
            d.meta_hash,
            d.breadcrumbs,
            d.labels,
            d.last_modified,
            d.parent_page_id,
            d.parents,
            d.chunks,
            d.readers,
        )


def _parent_rows(pages: Sequence[PageRows]) -> Iterator[tuple[Any, ...]]:
    for page in pages:
        for p in page.parents:
            yield (p.parent_id, p.page_id, p.ordinal, p.text, p.heading_path, page.document.readers)


def _chunk_rows(pages: Sequence[PageRows]) -> Iterator[tuple[Any, ...]]:
    chunks = [(c, page.document.readers) for page in pages for c in page.chunks]
    vectors = _encode_vectors([c.embedding for c, _ in chunks])
    for (c, readers), vector in zip(chunks, vectors, strict=True):
        yield (
            c.chunk_id,
            c.parent_id,
            c.page_id,
            c.space_key,
            c.ordinal,
            c.text,
            c.context,
            c.text_hash,
            c.model_id,
            vector,
            c.lexical.terms,
            c.lexical.freqs,
            c.lexical.length,
            readers,
        )


# Appends to a generation's term statistics what a set of chunks contributes (``{sign}`` 1) or took away (-1): one
# row per term (its chunk count) and one total (chunks, summed length). Appends lock nothing, so parallel writers
# never wait for each other. ``{rows}`` yields the chunks' ``terms`` and ``length``.
_TERM_DELTA_SQL = """
WITH c AS MATERIALIZED ({rows}),
t AS (INSERT INTO {terms} (term, df)
      SELECT term, {sign} * count(*) FROM c, unnest(string_to_array(c.terms, ' ')) AS term GROUP BY term)
INSERT INTO {totals} (chunks, length) SELECT {sign} * count(*), {sign} * coalesce(sum(length), 0) FROM c
"""


def _term_delta(
    conn: psycopg.Connection[Any], names: StoreNames, generation: int, rows: sql.Composable, sign: int, page_ids: Any
) -> None:
    conn.execute(
        sql.SQL(_TERM_DELTA_SQL).format(
            rows=rows,
            terms=names.gen_table(generation, "terms"),
            totals=names.gen_table(generation, "totals"),
            sign=sql.Literal(sign),
        ),
        {"pages": page_ids},
    )


def _delete_existing(conn: psycopg.Connection[Any], names: StoreNames, generation: int, page_ids: list[str]) -> int:
    """Delete what the generation holds for ``page_ids``: chunks (their terms subtracted from the term statistics),
    parents and documents (in the caller's transaction, by page id); returns how many pages were there."""
    chunks = names.gen_table(generation, "chunks")
    gone = sql.SQL("DELETE FROM {} WHERE page_id = ANY(%(pages)s) RETURNING terms, length").format(chunks)
    _term_delta(conn, names, generation, gone, -1, page_ids)
    pages = 0
    for kind in ("parents", "documents"):
        pages = conn.execute(
            sql.SQL("DELETE FROM {} WHERE page_id = ANY(%s)").format(names.gen_table(generation, kind)),
            (page_ids,),
        ).rowcount
    return pages


def replace_pages(conn: psycopg.Connection[Any], names: StoreNames, generation: int, pages: Sequence[PageRows]) -> None:
    """Replace ``pages`` (their old rows, if any, and the new ones) in one transaction.

    The old rows are deleted and the new ones copied (binary COPY) straight into the generation's tables inside
    that transaction, and the term statistics updated by the difference: until it commits readers see the old
    version, afterwards the new one, never a mix. The transaction locks its pages (``lock_pages``): writers of
    other pages of the same store may run at the same time.
    """
    if not pages:
        return
    ensure_vector_types(conn)
    page_ids = [page.document.page_id for page in pages]
    chunks = names.gen_table(generation, "chunks")
    with conn.transaction():
        lock_pages(conn, names, page_ids)
        _delete_existing(conn, names, generation, page_ids)
        _copy(conn, names.gen_table(generation, "documents"), DOCUMENT_COLUMNS, _document_rows(pages))
        _copy(conn, names.gen_table(generation, "parents"), PARENT_COLUMNS, _parent_rows(pages))
        _copy(conn, chunks, CHUNK_COLUMNS, _chunk_rows(pages))
        new = sql.SQL("SELECT terms, length FROM {} WHERE page_id = ANY(%(pages)s)").format(chunks)
        _term_delta(conn, names, generation, new, 1, page_ids)


def delete_pages(conn: psycopg.Connection[Any], names: StoreNames, generation: int, page_ids: Sequence[str]) -> int:
    """Delete pages (documents, parents and chunks) in one transaction; returns how many were there."""
    if not page_ids:
        return 0
    with conn.transaction():
        lock_pages(conn, names, page_ids)
        return _delete_existing(conn, names, generation, list(page_ids))


def analyze_generation(conn: psycopg.Connection[Any], names: StoreNames, generation: int) -> None:
    """After a run changed a generation: VACUUM (ANALYZE) so the planner has fresh statistics and the term
    statistics shed the row versions their updates left; first the term statistics the page swaps appended are
    folded into a row per term (``compact_term_stats``, under the store lock).

    Needs an autocommit connection (VACUUM cannot run inside a transaction).
    """
    with conn.transaction():
        lock_store(conn, names)
        compact_term_stats(conn, names, generation)
    for kind in ("documents", "parents", "chunks", "terms"):
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(names.gen_table(generation, kind)))

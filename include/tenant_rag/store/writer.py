"""Atomic page replacement: binary COPY into temporary staging tables, then one swap per batch of pages.

Within ONE transaction the batch's rows are copied (binary, types set explicitly, vectors through pgvector's
dumper) into ``ON COMMIT DROP`` temporary tables, the pages' old documents/parents/chunks are deleted and the staged
rows inserted. A crash anywhere rolls the whole transaction back: readers see each page either old or new, never a
mix, and never twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from tenant_rag.db import ensure_vector_types
from tenant_rag.store.generations import lock_store
from tenant_rag.store.schema import StoreNames

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
)
PARENT_COLUMNS = (
    ("parent_id", "text"),
    ("page_id", "text"),
    ("ordinal", "int4"),
    ("text", "text"),
    ("heading_path", "text[]"),
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


@dataclass(frozen=True)
class PageRows:
    """Everything one page contributes to a generation."""

    document: DocumentRow
    parents: list[ParentRow]
    chunks: list[ChunkRow]


def _copy(conn: psycopg.Connection[Any], table: str, columns: Sequence[tuple[str, str]], rows: Sequence[Any]) -> None:
    names = sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(sql.Identifier(table), names)
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types([pg_type for _, pg_type in columns])
        for row in rows:
            copy.write_row(astuple(row) if not isinstance(row, ChunkRow) else _chunk_tuple(row))


def _chunk_tuple(row: ChunkRow) -> tuple[Any, ...]:
    return (
        row.chunk_id,
        row.parent_id,
        row.page_id,
        row.space_key,
        row.ordinal,
        row.text,
        row.context,
        row.text_hash,
        row.model_id,
        row.embedding,
    )


def _stage(
    conn: psycopg.Connection[Any], names: StoreNames, generation: int, kind: str, columns: Sequence[tuple[str, str]]
) -> str:
    temp = f"_stage_{kind}"
    column_list = sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns)
    conn.execute(
        sql.SQL("CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(temp), column_list, names.gen_table(generation, kind)
        )
    )
    return temp


def _move(
    conn: psycopg.Connection[Any],
    names: StoreNames,
    generation: int,
    kind: str,
    temp: str,
    columns: Sequence[tuple[str, str]],
) -> None:
    column_list = sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns)
    conn.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
            names.gen_table(generation, kind), column_list, column_list, sql.Identifier(temp)
        )
    )


def replace_pages(conn: psycopg.Connection[Any], names: StoreNames, generation: int, pages: Sequence[PageRows]) -> None:
    """Replace ``pages`` (their old rows, if any, and the new ones) in one transaction."""
    if not pages:
        return
    ensure_vector_types(conn)
    with conn.transaction():
        staged = {
            "documents": (_stage(conn, names, generation, "documents", DOCUMENT_COLUMNS), DOCUMENT_COLUMNS),
            "parents": (_stage(conn, names, generation, "parents", PARENT_COLUMNS), PARENT_COLUMNS),
            "chunks": (_stage(conn, names, generation, "chunks", CHUNK_COLUMNS), CHUNK_COLUMNS),
        }
        _copy(conn, staged["documents"][0], DOCUMENT_COLUMNS, [page.document for page in pages])
        _copy(conn, staged["parents"][0], PARENT_COLUMNS, [row for page in pages for row in page.parents])
        _copy(conn, staged["chunks"][0], CHUNK_COLUMNS, [row for page in pages for row in page.chunks])
        lock_store(conn, names)
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE page_id = ANY(%s)").format(names.gen_table(generation, "documents")),
            ([page.document.page_id for page in pages],),
        )
        for kind in ("documents", "parents", "chunks"):
            temp, columns = staged[kind]
            _move(conn, names, generation, kind, temp, columns)


def delete_pages(conn: psycopg.Connection[Any], names: StoreNames, generation: int, page_ids: Sequence[str]) -> int:
    """Delete pages (their parents and chunks cascade) in one transaction; returns how many were there."""
    if not page_ids:
        return 0
    with conn.transaction():
        lock_store(conn, names)
        cursor = conn.execute(
            sql.SQL("DELETE FROM {} WHERE page_id = ANY(%s)").format(names.gen_table(generation, "documents")),
            (list(page_ids),),
        )
        return cursor.rowcount


def analyze_generation(conn: psycopg.Connection[Any], names: StoreNames, generation: int) -> None:
    """After a run changed a generation: VACUUM (ANALYZE) so the planner has fresh statistics (row counts feed the
    lexical idf) and the visibility map lets the term counts of lexical search skip the heap.

    Needs an autocommit connection (VACUUM cannot run inside a transaction).
    """
    for kind in ("documents", "parents", "chunks"):
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(names.gen_table(generation, kind)))

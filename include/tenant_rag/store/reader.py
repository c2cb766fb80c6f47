"""Admin-side reads of a generation: what is indexed (for change detection), stored vectors (for reuse), counts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from tenant_rag.db import ensure_vector_types
from tenant_rag.store.names import StoreNames


@dataclass(frozen=True)
class IndexedPage:
    page_id: str
    space_key: str
    rel_path: str
    version: int | None
    content_hash: str
    meta_hash: str
    chunks: int
    readers_hash: str | None = None  # ``tenant_rag.changes.readers_hash`` of its readers (None: not recorded)


def generation_exists(conn: psycopg.Connection[Any], names: StoreNames, generation: int) -> bool:
    row = conn.execute(
        "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text))", (names.schema, f"g{int(generation)}_documents")
    ).fetchone()
    return row is not None and row[0] is not None


# ``tenant_rag.changes.readers_hash`` in SQL: sha256 of the principals joined by U+001F
_READERS_HASH = "encode(sha256(convert_to(array_to_string(readers, chr(31)), 'UTF8')), 'hex')"


def has_readers(conn: psycopg.Connection[Any], names: StoreNames, generation: int) -> bool:
    """Whether a generation's documents carry readers (store format 3 on)."""
    row = conn.execute(
        "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(format('%%I.%%I', %s::text, %s::text))"
        " AND attname = 'readers' AND NOT attisdropped",
        (names.schema, f"g{int(generation)}_documents"),
    ).fetchone()
    return row is not None


def _indexed_pages_sql(conn: psycopg.Connection[Any], names: StoreNames, generation: int) -> sql.Composed:
    """The ``IndexedPage`` fields of every document of a generation, in field order."""
    readers = _READERS_HASH if has_readers(conn, names, generation) else "NULL::text"
    return sql.SQL(
        "SELECT page_id, space_key, rel_path, version, content_hash, meta_hash, chunks, " + readers + " FROM {}"
    ).format(names.gen_table(generation, "documents"))


def indexed_pages(conn: psycopg.Connection[Any], names: StoreNames, generation: int) -> dict[str, IndexedPage]:
    """page_id -> what the generation holds for it (empty when the generation has no tables yet)."""
    if not generation_exists(conn, names, generation):
        return {}
    rows = conn.execute(_indexed_pages_sql(conn, names, generation)).fetchall()
    return {row[0]: IndexedPage(*row) for row in rows}


def iter_indexed_pages(conn: psycopg.Connection[Any], names: StoreNames, generation: int) -> Iterator[IndexedPage]:
    """``indexed_pages`` as a stream in page_id order (code-point order), a row at a time from the server."""
    if not generation_exists(conn, names, generation):
        return
    statement = sql.SQL('{} ORDER BY page_id COLLATE "C"').format(_indexed_pages_sql(conn, names, generation))
    for row in conn.cursor().stream(statement):
        yield IndexedPage(*row)


def stored_vectors(
    conn: psycopg.Connection[Any], names: StoreNames, generation: int, text_hashes: Iterable[str], model_id: str
) -> dict[str, np.ndarray]:
    """text_hash -> a stored vector of the same text embedded by ``model_id`` (for chunk-level reuse)."""
    wanted = sorted(set(text_hashes))
    if not wanted or not generation_exists(conn, names, generation):
        return {}
    ensure_vector_types(conn)
    found: dict[str, np.ndarray] = {}
    step = 5000
    for start in range(0, len(wanted), step):
        rows = conn.execute(
            sql.SQL(
                "SELECT DISTINCT ON (text_hash) text_hash, embedding FROM {}"
                " WHERE text_hash = ANY(%s) AND model_id = %s"
            ).format(names.gen_table(generation, "chunks")),
            (wanted[start : start + step], model_id),
        ).fetchall()
        for text_hash, vector in rows:
            found[text_hash] = vector.to_numpy().astype(np.float32, copy=True)
    return found


def generation_counts(conn: psycopg.Connection[Any], names: StoreNames, generation: int) -> dict[str, int]:
    """Rows per table of a generation (zeros when it does not exist)."""
    if not generation_exists(conn, names, generation):
        return {"documents": 0, "parents": 0, "chunks": 0}
    counts = {}
    for kind in ("documents", "parents", "chunks"):
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(names.gen_table(generation, kind))).fetchone()
        counts[kind] = int(row[0]) if row else 0
    return counts

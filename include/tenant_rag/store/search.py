"""Vector retrieval inside one generation of one customer's store, and the parents' records.

Every function expects a connection inside a transaction already switched to the customer's tenant role
(``SET LOCAL ROLE``), so the database itself refuses any other schema. Children are searched and grouped to their
parents; each function returns distinct parents, best first.

- vector: HNSW cosine search (``hnsw.iterative_scan = relaxed_order`` under a space filter) and an over-fetch that
  grows until ``k`` distinct parents are found, then an exact grouped scan if the index still came back short.
- lexical (``lexical_search``) and hybrid (``hybrid_search``) search live beside this module and return the
  same ``Hit``s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from tenant_rag.store.names import StoreNames

MAX_EF_SEARCH = 1000
# hnsw.ef_search grows with the store: chunks / EF_PER_CHUNKS, between MIN_EF_SEARCH and MAX_AUTO_EF_SEARCH (and
# never below the rows fetched). Measured (bench 3, 256-d WordLlama vectors, top-10 parents): 2k chunks reach
# recall 0.95 at 40 (where a larger ef only walks the whole graph), 10k chunks need 100 (40 gave 0.88).
MIN_EF_SEARCH = 40
MAX_AUTO_EF_SEARCH = 200
EF_PER_CHUNKS = 100
# %(local)s: true inside a transaction (the usual case), false for the session of a tenant's own autocommit
# connection (``vector_records`` with ``session_role``), where the next query re-sets them anyway.
SCAN_SETTINGS_SQL = """
SELECT set_config('hnsw.iterative_scan', %(iterative)s, %(local)s),
       set_config('hnsw.ef_search', least(%(max_ef)s, greatest(%(fetch)s, %(min_ef)s, (
         SELECT CASE WHEN reltuples < 0 THEN %(unknown_ef)s ELSE least(reltuples / %(per)s, %(max_auto)s) END
         FROM pg_class WHERE oid = %(table)s::regclass)))::int::text, %(local)s)
"""
MAX_VECTOR_FETCH = 4000


def iterative_mode(space_keys: Sequence[str] | None) -> str:
    """``hnsw.iterative_scan`` for a search: only a filter can starve the scan (``ef_search`` is never below the
    rows fetched), so an unfiltered one skips the iterative bookkeeping."""
    return "relaxed_order" if space_keys else "off"


def scan_settings(
    names: StoreNames, generation: int, space_keys: Sequence[str] | None, *, local: bool
) -> dict[str, Any]:
    """Parameters of ``SCAN_SETTINGS_SQL`` for one search (add ``fetch``, the rows the query will ask for)."""
    return {
        "iterative": iterative_mode(space_keys),
        "local": local,
        "max_ef": MAX_EF_SEARCH,
        "min_ef": MIN_EF_SEARCH,
        "max_auto": MAX_AUTO_EF_SEARCH,
        "unknown_ef": MAX_AUTO_EF_SEARCH // 2,
        "per": EF_PER_CHUNKS,
        "table": f"{names.schema}.g{int(generation)}_chunks",
    }


@dataclass(frozen=True)
class Hit:
    parent_id: str
    score: float
    vector_rank: int | None = None
    lexical_rank: int | None = None


@dataclass(frozen=True)
class ParentRecord:
    parent_id: str
    page_id: str
    text: str
    heading_path: tuple[str, ...]
    title: str
    url: str | None
    space_key: str
    rel_path: str
    breadcrumbs: tuple[str, ...]
    labels: tuple[str, ...]
    version: int | None
    last_modified: datetime | None


def _space_filter(space_keys: Sequence[str] | None) -> tuple[sql.Composable, tuple[Any, ...]]:
    if not space_keys:
        return sql.SQL(""), ()
    return sql.SQL(" WHERE space_key = ANY(%s)"), (list(space_keys),)


def vector_parents(
    conn: psycopg.Connection[Any],
    names: StoreNames,
    generation: int,
    query_vector: np.ndarray,
    k: int,
    space_keys: Sequence[str] | None = None,
) -> list[Hit]:
    """The ``k`` parents whose best child is closest (cosine) to ``query_vector``; exactly k when available.

    Each attempt is ONE round trip: the scan settings (``set_config(..., true)``, local to the transaction; the
    ``ef_search`` derived on the server from the store's size) and the HNSW query go out together in a pipeline,
    with the query vector in binary.
    """
    chunks = names.gen_table(generation, "chunks")
    where, params = _space_filter(space_keys)
    vector = np.asarray(query_vector, dtype=np.float32)
    fetch = max(4 * k, 40)
    settings = scan_settings(names, generation, space_keys, local=True)
    best: dict[str, float] = {}
    while True:
        # the row count is a literal so that a prepared statement keeps one generic plan (see vector_records)
        statement = sql.SQL(
            "SELECT parent_id, embedding <=> %b AS distance FROM {}{} ORDER BY distance LIMIT {}"
        ).format(chunks, where, sql.Literal(int(fetch)))
        with conn.pipeline():
            conn.execute(SCAN_SETTINGS_SQL, {**settings, "fetch": fetch})
            cursor = conn.execute(statement, (vector, *params))
        rows = cursor.fetchall()
        best = {}
        for parent_id, distance in rows:
            if parent_id not in best or distance < best[parent_id]:
                best[parent_id] = float(distance)
        if len(best) >= k or len(rows) < fetch or fetch >= MAX_VECTOR_FETCH:
            break
        fetch = min(fetch * 4, MAX_VECTOR_FETCH)
    if len(best) < k:  # the approximate scan came back short (e.g. a selective filter): scan exactly
        rows = conn.execute(
            sql.SQL(
                "SELECT parent_id, min(embedding <=> %b) AS distance FROM {}{}"
                " GROUP BY parent_id ORDER BY distance LIMIT %s"
            ).format(chunks, where),
            (vector, *params, k),
        ).fetchall()
        best = {parent_id: float(distance) for parent_id, distance in rows}
    ranked = sorted(best.items(), key=lambda item: (item[1], item[0]))[:k]
    return [Hit(parent_id, 1.0 - distance, vector_rank=rank) for rank, (parent_id, distance) in enumerate(ranked, 1)]


# The columns of a ParentRecord, read from parents ``p`` joined with their page ``d`` (see ``parent_record``).
PARENT_RECORD_COLUMNS = (
    "p.parent_id, p.page_id, p.text, p.heading_path, d.title, d.url, d.space_key, d.rel_path,"
    " d.breadcrumbs, d.labels, d.version, d.last_modified"
)
# The page of each parent by primary key (LATERAL ... LIMIT 1 keeps the planner from hashing the whole documents
# table for a handful of parents).
PAGE_OF_PARENT = "CROSS JOIN LATERAL (SELECT * FROM {documents} AS doc WHERE doc.page_id = p.page_id LIMIT 1) AS d"


def parent_record(row: Sequence[Any]) -> ParentRecord:
    """A ParentRecord from the first columns of a row selected with ``PARENT_RECORD_COLUMNS``."""
    return ParentRecord(
        parent_id=row[0],
        page_id=row[1],
        text=row[2],
        heading_path=tuple(row[3] or ()),
        title=row[4],
        url=row[5],
        space_key=row[6],
        rel_path=row[7],
        breadcrumbs=tuple(row[8] or ()),
        labels=tuple(row[9] or ()),
        version=row[10],
        last_modified=row[11],
    )


def load_parents(
    conn: psycopg.Connection[Any], names: StoreNames, generation: int, parent_ids: Sequence[str]
) -> dict[str, ParentRecord]:
    """Text, heading path and page metadata of the given parents."""
    if not parent_ids:
        return {}
    statement = sql.SQL("SELECT " + PARENT_RECORD_COLUMNS + " FROM {parents} AS p " + PAGE_OF_PARENT).format(
        parents=names.gen_table(generation, "parents"), documents=names.gen_table(generation, "documents")
    ) + sql.SQL(" WHERE p.parent_id = ANY(%s)")
    rows = conn.execute(statement, (list(parent_ids),)).fetchall()
    return {row[0]: parent_record(row) for row in rows}


def with_records(
    conn: psycopg.Connection[Any], names: StoreNames, generation: int, hits: Sequence[Hit]
) -> list[tuple[Hit, ParentRecord]]:
    """Each hit with its parent's record, in the hits' order (a parent gone since the search is left out)."""
    records = load_parents(conn, names, generation, [hit.parent_id for hit in hits])
    return [(hit, records[hit.parent_id]) for hit in hits if hit.parent_id in records]

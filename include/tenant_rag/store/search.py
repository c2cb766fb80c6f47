"""Vector retrieval inside one generation of one customer's store (the parents' rows are read by ``parent_records``).

Children are searched and grouped to their pages: one page fills at most one slot, so each function returns the
best parent of each of the ``k`` pages whose best child is closest (cosine) to the query vector, best first (exactly
``k`` when the store has ``k`` pages; the parent is the one holding that best child).
One search serves both answers: ``vector_parents`` (the ranking, for hybrid search) and ``vector_parent_records``
(the ranking with the parents' rows, in the same statement, for the vector query mode).

- HNSW cosine search (``hnsw.iterative_scan = relaxed_order`` under a space filter) that over-fetches children (at
  least ``4 k``, 40) and groups them in SQL; when that yields fewer than ``k`` pages while more children exist,
  the fetch grows; if it still comes back short (a selective space filter), an exact grouped scan answers.
- Under permission enforcement with ``rag.permissions_vector_search: exact`` (the default) the exact grouped scan of
  the readable chunks answers at once: the HNSW walk past hidden neighbours takes measurably longer when hidden pages
  lie near the question (``bench.permission_timing``), the scan's time depends only on what the table holds.
- Each attempt is ONE round trip: the scan settings (the ``ef_search`` derived on the server from the store's size)
  and the search go out together in a pipeline, with the query vector in binary.
- lexical (``lexical_search``) and hybrid (``hybrid_search``) search live beside this module and return the
  same ``Hit``s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from tenant_rag.db import set_local_role
from tenant_rag.store.hits import Hit
from tenant_rag.store.names import StoreNames
from tenant_rag.store.parent_records import (
    PAGE_OF_PARENT,
    PARENT_RECORD_COLUMNS,
    ParentRecord,
    parent_record,
    with_records,
)
from tenant_rag.store.visibility import FORGET_PERMISSIONS_SQL, SET_PERMISSIONS_SQL, permission_settings

MAX_EF_SEARCH = 1000
# hnsw.ef_search grows with the store: chunks / EF_PER_CHUNKS, between MIN_EF_SEARCH and MAX_AUTO_EF_SEARCH (and
# never below the rows fetched). Measured (bench 3, 256-d WordLlama vectors, top-10 parents): 2k chunks reach
# recall 0.95 at 40 (where a larger ef only walks the whole graph), 10k chunks need 100 (40 gave 0.88).
MIN_EF_SEARCH = 40
MAX_AUTO_EF_SEARCH = 200
EF_PER_CHUNKS = 100
# %(local)s: true inside a transaction (the usual case), false for the session of a tenant's own autocommit
# connection (``vector_parent_records`` with ``session_role``), where the next query re-sets them anyway.
SCAN_SETTINGS_SQL = """
SELECT set_config('hnsw.iterative_scan', %(iterative)s, %(local)s),
       set_config('hnsw.ef_search', least(%(max_ef)s, greatest(%(fetch)s, %(min_ef)s, (
         SELECT CASE WHEN reltuples < 0 THEN %(unknown_ef)s ELSE least(reltuples / %(per)s, %(max_auto)s) END
         FROM pg_class WHERE oid = %(table)s::regclass)))::int::text, %(local)s)
"""
MAX_VECTOR_FETCH = 4000


def iterative_mode(space_keys: Sequence[str] | None, filtered: bool = False) -> str:
    """``hnsw.iterative_scan`` for a search: only a filter (spaces, or the permission views under enforcement) can
    starve the scan (``ef_search`` is never below the rows fetched), so an unfiltered one skips the iterative
    bookkeeping."""
    return "relaxed_order" if space_keys or filtered else "off"


def scan_settings(
    names: StoreNames, generation: int, space_keys: Sequence[str] | None, *, local: bool
) -> dict[str, Any]:
    """Parameters of ``SCAN_SETTINGS_SQL`` for one search (add ``fetch``, the rows the query will ask for)."""
    return {
        "iterative": iterative_mode(space_keys, names.filtered),
        "local": local,
        "max_ef": MAX_EF_SEARCH,
        "min_ef": MIN_EF_SEARCH,
        "max_auto": MAX_AUTO_EF_SEARCH,
        "unknown_ef": MAX_AUTO_EF_SEARCH // 2,
        "per": EF_PER_CHUNKS,
        "table": f"{names.schema}.g{int(generation)}_chunks",
    }


# the best child of each page (DISTINCT ON page_id), then the k best of those
_SEARCH_SQL = """
WITH hits AS MATERIALIZED (
  SELECT parent_id, page_id, embedding <=> %(vector)b AS distance FROM {chunks}{where} ORDER BY distance LIMIT {fetch}),
pages AS (SELECT DISTINCT ON (page_id) parent_id, distance FROM hits ORDER BY page_id, distance, parent_id),
best AS (SELECT parent_id, distance FROM pages ORDER BY distance, parent_id LIMIT {k})
SELECT b.parent_id, b.distance, (SELECT count(*) FROM hits) AS fetched{records}
FROM best AS b{join}
ORDER BY b.distance, b.parent_id
"""
# with the records: the parents' columns after (parent_id, distance, fetched), read by ``parent_record(row[3:])``
_RECORD_COLUMNS = ", " + PARENT_RECORD_COLUMNS
_RECORD_JOIN = "\nJOIN {parents} AS p ON p.parent_id = b.parent_id\n" + PAGE_OF_PARENT
_EXACT_SQL = (
    "SELECT parent_id, distance FROM (SELECT DISTINCT ON (page_id) parent_id, embedding <=> %(vector)b AS distance"
    " FROM {chunks}{where} ORDER BY page_id, distance, parent_id) AS pages ORDER BY distance, parent_id LIMIT {k}"
)
# the tenant's own session: its role, who is asking (``visibility``) and the scan settings in one statement
# (set_config fails unless the session may be that role: never another tenant's, and the pipeline then skips the
# search)
_ROLE_AND_SCAN_SETTINGS_SQL = SCAN_SETTINGS_SQL.replace(
    "SELECT ",
    "SELECT set_config('role', %(role)s, false), set_config('tenant_rag.permissions', %(permissions)s, false),"
    " set_config('tenant_rag.principals', %(principals)s, false),\n       ",
    1,
)


def vector_parents(
    conn: psycopg.Connection[Any],
    names: StoreNames,
    generation: int,
    query_vector: np.ndarray,
    k: int,
    space_keys: Sequence[str] | None = None,
) -> list[Hit]:
    """The best parent of each of the ``k`` best pages, best first; expects a transaction switched to the customer's
    tenant role."""
    rows = None
    if not names.exact_when_filtered:
        rows = _hnsw_rows(conn, names, generation, query_vector, k, space_keys, records=False, session=None)
    return _exact_hits(conn, names, generation, query_vector, k, space_keys) if rows is None else _hits(rows)


def vector_parent_records(
    conn: psycopg.Connection[Any],
    names: StoreNames,
    generation: int,
    query_vector: np.ndarray,
    k: int,
    space_keys: Sequence[str] | None = None,
    *,
    session_role: str | None = None,
    permissions: Mapping[str, str] | None = None,
) -> list[tuple[Hit, ParentRecord]]:
    """The best parent of each of the ``k`` best pages with its record, best first.

    Without ``session_role`` it expects a transaction already switched to the customer's tenant role, with its
    permission settings made (``visibility.SET_PERMISSIONS_SQL``). With it, it expects an autocommit connection
    logged in as that role (the tenant's own pool): the role, ``permissions`` (``visibility.permission_settings``;
    none: nobody's, so a view shows nothing) and the scan settings are then set for the session in the same round
    trip as the search, with no transaction around it (one statement answers).
    """
    session = None
    if session_role is not None:
        session = {"role": session_role, **(permissions or permission_settings([]))}
    rows = None
    if not names.exact_when_filtered:
        rows = _hnsw_rows(conn, names, generation, query_vector, k, space_keys, records=True, session=session)
    if rows is not None:
        return [(hit, parent_record(row[3:])) for hit, row in zip(_hits(rows), rows, strict=True)]
    if session is None:
        return with_records(conn, names, generation, _exact_hits(conn, names, generation, query_vector, k, space_keys))
    with conn.transaction():
        set_local_role(conn, session["role"])
        asker = {name: session[name] for name in ("permissions", "principals")}
        conn.execute(SET_PERMISSIONS_SQL, {**asker, "local": True})
        return with_records(conn, names, generation, _exact_hits(conn, names, generation, query_vector, k, space_keys))


def _hnsw_rows(
    conn: psycopg.Connection[Any],
    names: StoreNames,
    generation: int,
    query_vector: np.ndarray,
    k: int,
    space_keys: Sequence[str] | None,
    *,
    records: bool,
    session: Mapping[str, str] | None,
) -> list[tuple[Any, ...]] | None:
    """Rows ``(parent_id, distance, fetched[, record columns])`` of the ``k`` best pages; None when short of k.

    The row counts are literals, not parameters: with ``LIMIT $n`` the planner's generic plan assumes a tenth of
    the table and loses to a custom plan, so every query was planned again; with literals the server keeps one
    generic plan per prepared statement (psycopg prepares a statement after a few executions on a connection),
    and each fetch size is its own statement.
    """
    settings = scan_settings(names, generation, space_keys, local=session is None)
    params = {"vector": np.asarray(query_vector, dtype=np.float32), "spaces": list(space_keys or ())}
    record_parts = {
        "records": sql.SQL(_RECORD_COLUMNS if records else ""),
        "join": sql.SQL(_RECORD_JOIN if records else "").format(
            parents=names.gen_table(generation, "parents"), documents=names.gen_table(generation, "documents")
        ),
    }
    fetch = max(4 * k, 40)
    while True:
        statement = sql.SQL(_SEARCH_SQL).format(
            chunks=names.gen_table(generation, "chunks"),
            where=_space_filter(space_keys),
            fetch=sql.Literal(int(fetch)),
            k=sql.Literal(int(k)),
            **record_parts,
        )
        with conn.pipeline():
            if session is not None:
                conn.execute(_ROLE_AND_SCAN_SETTINGS_SQL, {**settings, "fetch": fetch, **session})
            else:
                conn.execute(SCAN_SETTINGS_SQL, {**settings, "fetch": fetch})
            cursor = conn.execute(statement, params)
            if session is not None:
                conn.execute(FORGET_PERMISSIONS_SQL)  # same round trip: the session keeps no asker after it
        rows = cursor.fetchall()
        fetched = int(rows[0][2]) if rows else 0
        if len(rows) >= k:
            return rows
        if fetched < fetch or fetch >= MAX_VECTOR_FETCH:
            return None
        fetch = min(fetch * 4, MAX_VECTOR_FETCH)


def _exact_hits(
    conn: psycopg.Connection[Any],
    names: StoreNames,
    generation: int,
    query_vector: np.ndarray,
    k: int,
    space_keys: Sequence[str] | None,
) -> list[Hit]:
    """The exact grouped scan, for when the approximate one came back short (a small store, a selective filter)."""
    statement = sql.SQL(_EXACT_SQL).format(
        chunks=names.gen_table(generation, "chunks"), where=_space_filter(space_keys), k=sql.Literal(int(k))
    )
    params = {"vector": np.asarray(query_vector, dtype=np.float32), "spaces": list(space_keys or ())}
    return _hits(conn.execute(statement, params).fetchall())


def _hits(rows: Sequence[Sequence[Any]]) -> list[Hit]:
    return [Hit(row[0], 1.0 - float(row[1]), vector_rank=rank) for rank, row in enumerate(rows, 1)]


def _space_filter(space_keys: Sequence[str] | None) -> sql.Composable:
    return sql.SQL(" WHERE space_key = ANY(%(spaces)s)") if space_keys else sql.SQL("")

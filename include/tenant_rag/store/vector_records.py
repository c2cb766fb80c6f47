"""Vector search that returns the parents themselves: HNSW search, grouping to parents and the parents' rows in one
statement (one round trip with the scan settings), for the vector query mode.

Same ranking as ``search.vector_parents`` + ``search.load_parents``: the ``k`` parents whose best child is closest
(cosine) to the query vector. The HNSW scan over-fetches children (at least ``4 k``, 40) and groups them; when that
yields fewer than ``k`` parents while more children exist, the fetch grows; if it still comes back short (a
selective space filter), the two-step path with its exact fallback answers instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from tenant_rag.db import set_local_role
from tenant_rag.store.names import StoreNames
from tenant_rag.store.search import (
    MAX_VECTOR_FETCH,
    PAGE_OF_PARENT,
    PARENT_RECORD_COLUMNS,
    SCAN_SETTINGS_SQL,
    Hit,
    ParentRecord,
    parent_record,
    scan_settings,
    vector_parents,
    with_records,
)

_FUSED_SQL = (
    """
WITH hits AS MATERIALIZED (
  SELECT parent_id, embedding <=> %(vector)b AS distance FROM {chunks}{where} ORDER BY distance LIMIT {fetch}),
best AS (
  SELECT parent_id, min(distance) AS distance FROM hits GROUP BY parent_id ORDER BY distance, parent_id LIMIT {k})
SELECT """
    + PARENT_RECORD_COLUMNS
    + """, b.distance, (SELECT count(*) FROM hits) AS fetched
FROM best AS b
JOIN {parents} AS p ON p.parent_id = b.parent_id
"""
    + PAGE_OF_PARENT
    + """
ORDER BY b.distance, b.parent_id
"""
)


# the tenant's own session: its role and the scan settings in one statement (set_config fails unless the session
# may be that role: never another tenant's, and the pipeline then skips the search)
_ROLE_AND_SCAN_SETTINGS_SQL = SCAN_SETTINGS_SQL.replace(
    "SELECT ", "SELECT set_config('role', %(role)s, false),\n       ", 1
)


def vector_parent_records(
    conn: psycopg.Connection[Any],
    names: StoreNames,
    generation: int,
    query_vector: np.ndarray,
    k: int,
    space_keys: Sequence[str] | None = None,
    *,
    session_role: str | None = None,
) -> list[tuple[Hit, ParentRecord]]:
    """The ``k`` best parents (exactly k when the store has them) with their records, best first.

    Without ``session_role`` it expects a transaction already switched to the customer's tenant role. With it, it
    expects an autocommit connection logged in as that role (the tenant's own pool): the role and the scan
    settings are then set for the session in the same round trip as the search, with no transaction around it
    (one statement answers). Without a space filter the HNSW scan needs no iterative scan (``ef_search`` is never
    below the rows fetched); with one, ``relaxed_order`` keeps it going past filtered-out rows.

    The row counts are literals, not parameters: with ``LIMIT $n`` the planner's generic plan assumes a tenth of
    the table and loses to a custom plan, so every query was planned again; with literals the server keeps one
    generic plan per prepared statement (psycopg prepares a statement after a few executions on a connection),
    and each fetch size is its own statement.
    """
    where = sql.SQL(" WHERE space_key = ANY(%(spaces)s)") if space_keys else sql.SQL("")
    settings = scan_settings(names, generation, space_keys, local=session_role is None)
    params = {"vector": np.asarray(query_vector, dtype=np.float32), "spaces": list(space_keys or ())}
    fetch = max(4 * k, 40)
    while True:
        statement = sql.SQL(_FUSED_SQL).format(
            chunks=names.gen_table(generation, "chunks"),
            where=where,
            parents=names.gen_table(generation, "parents"),
            documents=names.gen_table(generation, "documents"),
            fetch=sql.Literal(int(fetch)),
            k=sql.Literal(int(k)),
        )
        with conn.pipeline():
            if session_role is not None:
                conn.execute(_ROLE_AND_SCAN_SETTINGS_SQL, {**settings, "fetch": fetch, "role": session_role})
            else:
                conn.execute(SCAN_SETTINGS_SQL, {**settings, "fetch": fetch})
            cursor = conn.execute(statement, params)
        rows = cursor.fetchall()
        fetched = int(rows[0][13]) if rows else 0
        if len(rows) >= k or fetched < fetch or fetch >= MAX_VECTOR_FETCH:
            break
        fetch = min(fetch * 4, MAX_VECTOR_FETCH)
    if len(rows) < k:  # a small store, a selective filter or a short scan: the two-step path, exact if need be
        if session_role is None:
            return _two_step(conn, names, generation, query_vector, k, space_keys)
        with conn.transaction():
            set_local_role(conn, session_role)
            return _two_step(conn, names, generation, query_vector, k, space_keys)
    return [
        (Hit(row[0], 1.0 - float(row[12]), vector_rank=rank), parent_record(row)) for rank, row in enumerate(rows, 1)
    ]


def _two_step(
    conn: psycopg.Connection[Any],
    names: StoreNames,
    generation: int,
    query_vector: np.ndarray,
    k: int,
    space_keys: Sequence[str] | None,
) -> list[tuple[Hit, ParentRecord]]:
    return with_records(conn, names, generation, vector_parents(conn, names, generation, query_vector, k, space_keys))

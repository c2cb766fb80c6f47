"""The bounded query history of a customer's store: one row per answered query, the oldest trimmed past the limit.

Both functions run on a connection already acting as the customer's tenant role (the role may read and write its
own ``query_history`` table and nothing else).
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from langchain_core.documents import Document
from psycopg import sql

from tenant_rag.db import set_local
from tenant_rag.store.names import StoreNames

COLUMNS = ("id", "asked_at", "question", "mode", "top_k", "latency_ms", "generation", "page_ids")


def record_query(
    conn: psycopg.Connection[Any],
    names: StoreNames,
    question: str,
    mode: str,
    k: int,
    generation: int,
    documents: list[Document],
    limit: int,
    started: float,
) -> None:
    """Record a query answered since ``started`` (``time.perf_counter``) inside the caller's transaction and keep
    the newest ``limit`` rows."""
    set_local(conn, "synchronous_commit", "off")  # a history row may be lost in a crash; fine
    latency_ms = (time.perf_counter() - started) * 1000.0
    row = conn.execute(
        sql.SQL(
            "INSERT INTO {} (question, mode, top_k, latency_ms, generation, page_ids)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id"
        ).format(names.history),
        (question, mode, k, latency_ms, generation, [d.metadata["page_id"] for d in documents]),
    ).fetchone()
    if row is not None and row[0] > limit:
        conn.execute(sql.SQL("DELETE FROM {} WHERE id <= %s").format(names.history), (row[0] - limit,))


def recent_queries(conn: psycopg.Connection[Any], names: StoreNames, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` most recent queries, newest first, as dictionaries keyed by ``COLUMNS``."""
    rows = conn.execute(
        sql.SQL("SELECT {} FROM {} ORDER BY id DESC LIMIT %s").format(
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), names.history
        ),
        (limit,),
    ).fetchall()
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]

"""The vector query keeps one generic plan per connection instead of planning every query again, and the HNSW
index stays its plan through the permission views."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from psycopg import sql

from tenant_rag.db import admin_connection, ensure_vector_types, set_local_role, tenant_pool
from tenant_rag.store.generations import Target, activate, register_target, signature_for
from tenant_rag.store.names import StoreNames
from tenant_rag.store.schema import STORE_FORMAT, create_store, store_names
from tenant_rag.store.search import vector_parent_records
from tenant_rag.store.visibility import SET_PERMISSIONS_SQL, permission_settings
from tenant_rag.store.writer import ChunkRow, DocumentRow, PageRows, ParentRow, analyze_generation, replace_pages
from tenant_rag.text_analysis import analyzer_for
from tests.integration.rag.rag_core_support import make_config, rag_pools  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("rag_pools")

PAGES, CHUNKS_PER_PAGE, DIMS = 500, 20, 256  # 10,000 chunks: big enough for the HNSW index to be the plan


def _pages(rng: np.random.Generator) -> list[PageRows]:
    pages = []
    for p in range(PAGES):
        page_id = f"p{p}"
        vectors = rng.normal(size=(CHUNKS_PER_PAGE, DIMS)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        parents = [ParentRow(f"{page_id}#{n}", page_id, n, f"parent {n} of {page_id}", []) for n in range(10)]
        lex = analyzer_for("english").chunk_terms("text", "")
        chunks = [
            ChunkRow(f"{page_id}#{n // 2}.c{n}", f"{page_id}#{n // 2}", page_id, "ENG", n, "text", "", "h", "m", v, lex)
            for n, v in enumerate(vectors)
        ]
        document = DocumentRow(
            page_id, "ENG", f"Page {p}", None, f"ENG/{page_id}.md", 1, "c", "m", [], [], None, None, 10, 20, ["*"]
        )
        pages.append(PageRows(document, parents, chunks))
    return pages


def _store(pg_url: str, customer: str) -> StoreNames:
    config = make_config(customer)
    names = store_names(config)
    with admin_connection(pg_url) as conn:
        ensure_vector_types(conn, create=True)
        create_store(conn, names)
        register_target(conn, names, Target(1, "new", signature_for(config.rag)))
        replace_pages(conn, names, 1, _pages(np.random.default_rng(7)))
        activate(conn, names, 1)
        analyze_generation(conn, names, 1)
    return names


def _scans(plan: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(node type, index name) of every scan in an EXPLAIN (FORMAT JSON) plan tree."""
    found = [(plan["Node Type"], plan.get("Index Name"))] if "Relation Name" in plan else []
    for child in plan.get("Plans", ()):
        found += _scans(child)
    return found


def test_the_permission_views_keep_the_hnsw_index_as_the_plan(pg_url: str) -> None:
    """The planner cannot know the permission settings when it plans. Written ``off OR readers && ...``, the views'
    filter was estimated at 1.5 % of the rows, so a sequential scan and sort of every chunk beat the HNSW index for
    ``ORDER BY distance LIMIT 40``, in ``off`` mode too (bench/results/permissions.md); the filter must leave the
    index the plan with the permissions off and enforced alike."""
    names = _store(pg_url, "planviews")
    query = np.random.default_rng(3).normal(size=DIMS).astype(np.float32)
    for principals in (None, ["u:someone", "g:staff", "*"]):
        reading = names.reading(STORE_FORMAT, enforced=principals is not None)
        statement = sql.SQL("EXPLAIN (FORMAT JSON) SELECT parent_id FROM {} ORDER BY embedding <=> %s LIMIT 40")
        with tenant_pool(pg_url, names.role).connection() as conn, conn.transaction():
            ensure_vector_types(conn)
            set_local_role(conn, names.role)
            conn.execute(SET_PERMISSIONS_SQL, {**permission_settings(principals), "local": True})
            row = conn.execute(statement.format(reading.gen_table(1, "chunks")), (query,)).fetchone()
        assert row is not None
        assert _scans(row[0][0]["Plan"]) == [("Index Scan", "g1_chunks_embedding_idx")], principals


def test_repeated_vector_searches_reuse_one_generic_plan(pg_url: str) -> None:
    """With ``LIMIT $n`` the planner's generic plan assumed a tenth of the table, lost to a custom plan, and every
    query on a 10k-chunk store was planned again. The row counts are literals now.

    psycopg prepares a statement on its 6th execution and the server plans the first 5 executions of a prepared
    statement as custom plans; every later execution must reuse the generic plan, with the same answers."""
    names = _store(pg_url, "plans")
    queries = np.random.default_rng(8).normal(size=(20, DIMS)).astype(np.float32)
    reading, off = names.reading(STORE_FORMAT, enforced=False), permission_settings(None)

    def search(conn: Any, q: np.ndarray) -> list[Any]:
        return vector_parent_records(conn, reading, 1, q, 10, session_role=names.role, permissions=off)

    with tenant_pool(pg_url, names.role).connection() as conn:
        answers = [
            [
                hit.parent_id
                for hit, _ in vector_parent_records(conn, reading, 1, q, 10, session_role=names.role, permissions=off)
            ]
            for q in queries
        ]
        plans = conn.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%%WITH hits AS%%'"
        ).fetchall()
        again = [
            [
                hit.parent_id
                for hit, _ in vector_parent_records(conn, reading, 1, q, 10, session_role=names.role, permissions=off)
            ]
            for q in queries[:3]
        ]
    assert all(len(answer) == 10 for answer in answers)
    assert plans == [(len(queries) - 10, 5)]
    assert again == answers[:3]  # the generic plan answers as the first (unprepared, custom-planned) executions

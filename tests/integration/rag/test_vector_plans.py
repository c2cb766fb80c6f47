"""The vector query keeps one generic plan per connection instead of planning every query again."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tenant_rag.db import admin_connection, ensure_vector_types, tenant_pool
from tenant_rag.store.generations import Target, activate, register_target, signature_for
from tenant_rag.store.schema import STORE_FORMAT, create_store, store_names
from tenant_rag.store.search import vector_parent_records
from tenant_rag.store.visibility import permission_settings
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


def test_repeated_vector_searches_reuse_one_generic_plan(pg_url: str) -> None:
    """With ``LIMIT $n`` the planner's generic plan assumed a tenth of the table, lost to a custom plan, and every
    query on a 10k-chunk store was planned again. The row counts are literals now.

    psycopg prepares a statement on its 6th execution and the server plans the first 5 executions of a prepared
    statement as custom plans; every later execution must reuse the generic plan, with the same answers."""
    config = make_config("plans")
    names = store_names(config)
    rng = np.random.default_rng(7)
    with admin_connection(pg_url) as conn:
        ensure_vector_types(conn, create=True)
        create_store(conn, names)
        register_target(conn, names, Target(1, "new", signature_for(config.rag)))
        replace_pages(conn, names, 1, _pages(rng))
        activate(conn, names, 1)
        analyze_generation(conn, names, 1)
    queries = rng.normal(size=(20, DIMS)).astype(np.float32)
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
